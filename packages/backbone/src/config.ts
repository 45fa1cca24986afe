/**
 * The declarative, JSON-serialisable description of a hierarchical backbone. Each stage names its
 * downsample (how it enters the stage) and its block kind with that kind's options, so stages of
 * different attention kinds compose: e.g. Shunted stages 1-2 under Swin stages 3-4.
 *
 * Shapes: the image enters as `[B, H, W, inChans]`; stage `i` outputs `[B, H_i, W_i, dim_i]`.
 */

/** How a stage enters: changes resolution and channels `[B, H, W, Cin]` -> `[B, H', W', dim]`. */
export type DownsampleConfig =
  /**
   * Swin / PVT v1 PatchEmbed: conv kernel = stride = `patchSize`, then LayerNorm (if `norm`, default true;
   * eps `normEps`, default 1e-5). `remainder`: what happens to rows/columns that do not fill a patch:
   * `'pad'` (default, Swin: zero-pad bottom/right, output `ceil(H/p)`) or `'drop'` (PVT v1 / PyTorch conv:
   * output `floor(H/p)`; requires `norm`).
   */
  | { kind: 'patch_embed'; patchSize: number; norm?: boolean; normEps?: number; remainder?: 'pad' | 'drop' }
  /** PVT v2 / Shunted OverlapPatchEmbed: conv `patchSize` x `patchSize`, `stride`, padding `patchSize // 2`, LayerNorm. */
  | { kind: 'overlap_patch_embed'; patchSize: number; stride: number; normEps?: number }
  /**
   * Swin PatchMerging: 2x2 neighbourhood concat (official order), LayerNorm(4C), Linear(4C -> dim, no bias).
   * The official module maps C -> 2C; here the output width is the stage's `dim` (any value), so
   * `dim = 2 * previous dim` is the official layer. Odd maps are zero-padded to even first.
   */
  | { kind: 'patch_merging'; normEps?: number }
  /**
   * Shunted Transformer conv stem (`Head`): stride 4, 3 input channels and 64 output channels (both
   * hard-coded by the reference), so only as the first stage of a 3-channel model with `dim` 64.
   */
  | { kind: 'shunted_stem'; numConv: number }
  /** A plain strided convolution (padding default 0) + optional LayerNorm (default true, eps 1e-5). Keys `proj.*`, `norm.*`. */
  | {
      kind: 'strided_conv';
      kernel: number;
      stride: number;
      padding?: number;
      norm?: boolean;
      normEps?: number;
    };

/**
 * The blocks of a stage. Every kind maps `[B, H, W, dim]` -> `[B, H, W, dim]`. Common options:
 * `mlpRatio` (default 4, hidden width `int(dim * mlpRatio)`), `qkvBias` (default true, the value of every
 * official preset), `qkScale` (default null = `headDim ** -0.5`).
 */
export type BlockConfig =
  /**
   * Swin W-MSA / SW-MSA (`@swin/swin-core` SwinTransformerBlock); odd blocks shifted by
   * `windowSize // 2` when `shift` (default true). Window clamping as the official code, from the stage's
   * map size at `imgSize`; any input size runs (padding + mask).
   */
  | {
      kind: 'swin';
      numHeads: number;
      windowSize: number;
      shift?: boolean;
      mlpRatio?: number;
      qkvBias?: boolean;
      qkScale?: number | null;
      /** Learnable relative position bias (default true; false: an ablation without it). */
      relativePositionBias?: boolean;
    }
  /** Swin-MLP (`@swin/swin-mlp`): per-head spatial MLP in (zero-padding-)shifted windows. */
  | { kind: 'swin_mlp'; numHeads: number; windowSize: number; shift?: boolean; mlpRatio?: number }
  /**
   * Shunted self-attention (`@swin/shunted-attention` Block): two reduction ratios per block
   * (`srRatio` 8, 4, 2; or 1 = no reduction), `numHeads` even when `srRatio > 1`, + detail-specific FFN.
   */
  | {
      kind: 'shunted';
      numHeads: number;
      srRatio: number;
      mlpRatio?: number;
      qkvBias?: boolean;
      qkScale?: number | null;
    }
  /** PVT v1 spatial-reduction attention + plain MLP (`@swin/pvt` PVTBlock). */
  | {
      kind: 'pvt_sra';
      numHeads: number;
      srRatio: number;
      mlpRatio?: number;
      qkvBias?: boolean;
      qkScale?: number | null;
    }
  /** PVT v2 attention (conv SR, or `linear`: 7x7 average pooling; `srRatio` then unused) + conv FFN. */
  | {
      kind: 'pvt_v2';
      numHeads: number;
      srRatio: number;
      linear?: boolean;
      mlpRatio?: number;
      qkvBias?: boolean;
      qkScale?: number | null;
    }
  /** Plain global multi-head self-attention (ViT-style, `@swin/pvt` GlobalAttentionBlock): the quadratic baseline. */
  | { kind: 'global'; numHeads: number; mlpRatio?: number; qkvBias?: boolean; qkScale?: number | null };

export type BlockKind = BlockConfig['kind'];
export type DownsampleKind = DownsampleConfig['kind'];

/** One stage: `downsample`, then `depth` blocks of `block` kind at width `dim`, then an optional norm. */
export interface StageConfig {
  dim: number;
  depth: number;
  downsample: DownsampleConfig;
  block: BlockConfig;
  /**
   * LayerNorm eps of the blocks' norm1/norm2. Default: the official factories' value for the block kind
   * (swin, swin_mlp 1e-5; shunted, pvt_sra, pvt_v2, global 1e-6).
   */
  blockNormEps?: number;
  /** Stage-end LayerNorm (Shunted / PVT v2 `norm{i}`); `true` = eps 1e-6. */
  norm?: boolean | { eps: number };
  /**
   * PVT v1 per-stage learned position embedding `stages.{i}.pos_embed` `[1, h*w, dim]` on the stage's map
   * at `imgSize` (resized bilinearly, align_corners=False, at other sizes), added after the downsample,
   * followed by dropout `dropRate`. On the last stage of a `headPool: 'cls'` model it has one extra first
   * row for the class token (`[1, 1 + h*w, dim]`, as PVT v1's `pos_embed4`).
   */
  posEmbed?: boolean;
}

/** A whole backbone (and optional classifier). */
export interface BackboneConfig {
  /** Free-form name, kept in saved files. */
  name?: string;
  /** Construction resolution: Swin window clamping and PVT position embeddings depend on it. Default 224. */
  imgSize?: number | [number, number];
  inChans?: number;
  /** Classes of the linear head; 0 = no head (features only). */
  numClasses?: number;
  stages: StageConfig[];
  /** LayerNorm `norm` over the last stage before pooling (Swin / PVT v1 `norm`); `true` = eps 1e-5. */
  finalNorm?: boolean | { eps: number };
  /**
   * Pooling before the head: mean over tokens (default) or a class token (PVT v1): `cls_token` `[1, 1, C]`
   * is prepended to the last stage's tokens (its blocks must accept it: `pvt_sra` with `srRatio` 1, or
   * `global`), and the head reads its output.
   */
  headPool?: 'avg' | 'cls';
  /** Stochastic depth, linearly increasing over all blocks (training only). */
  dropPathRate?: number;
  /** Dropout after attention projections, in MLPs and after position embeddings (training only). */
  dropRate?: number;
  /** Dropout on attention weights (training only). */
  attnDropRate?: number;
}
