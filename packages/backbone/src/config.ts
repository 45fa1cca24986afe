/**
 * The declarative, JSON-serialisable description of a hierarchical backbone. Each stage names its
 * downsample (how it enters the stage) and its block kind with that kind's options, so stages of
 * different attention kinds compose: e.g. Shunted stages 1-2 under Swin stages 3-4.
 *
 * Shapes: the image enters as `[B, H, W, inChans]`; stage `i` outputs `[B, H_i, W_i, dim_i]`.
 */

/** How a stage enters: changes resolution and channels `[B, H, W, Cin]` -> `[B, H', W', dim]`. */
export type DownsampleConfig =
  /** Swin / PVT v1 PatchEmbed: conv kernel = stride = `patchSize`, then LayerNorm (if `norm`, default true). */
  | { kind: 'patch_embed'; patchSize: number; norm?: boolean; normEps?: number }
  /** PVT v2 / Shunted OverlapPatchEmbed: conv `patchSize` x `patchSize`, `stride`, padding `patchSize // 2`, LayerNorm. */
  | { kind: 'overlap_patch_embed'; patchSize: number; stride: number; normEps?: number }
  /** Swin PatchMerging: 2x2 neighbourhood concat (official order), LayerNorm(4C), Linear(4C -> dim). */
  | { kind: 'patch_merging'; normEps?: number }
  /** Shunted Transformer conv stem (`Head`): stride 4, 64 channels (hard-coded by the reference). */
  | { kind: 'shunted_stem'; numConv: number }
  /** A plain strided convolution (+ optional LayerNorm). */
  | {
      kind: 'strided_conv';
      kernel: number;
      stride: number;
      padding?: number;
      norm?: boolean;
      normEps?: number;
    };

/** The blocks of a stage. Every kind maps `[B, H, W, dim]` -> `[B, H, W, dim]`. */
export type BlockConfig =
  /** Swin W-MSA / SW-MSA; odd blocks shifted by `windowSize // 2` when `shift` (default true). */
  | {
      kind: 'swin';
      numHeads: number;
      windowSize: number;
      shift?: boolean;
      mlpRatio?: number;
      qkvBias?: boolean;
      qkScale?: number | null;
    }
  /** Swin-MLP: per-head spatial MLP in (zero-padding-)shifted windows. */
  | { kind: 'swin_mlp'; numHeads: number; windowSize: number; shift?: boolean; mlpRatio?: number }
  /** Shunted self-attention (two reduction ratios per block) + detail-specific FFN. */
  | { kind: 'shunted'; numHeads: number; srRatio: number; mlpRatio?: number; qkvBias?: boolean }
  /** PVT v1 spatial-reduction attention + plain MLP. */
  | { kind: 'pvt_sra'; numHeads: number; srRatio: number; mlpRatio?: number; qkvBias?: boolean }
  /** PVT v2 attention (conv SR, or `linear`: 7x7 average pooling) + conv FFN. */
  | {
      kind: 'pvt_v2';
      numHeads: number;
      srRatio: number;
      linear?: boolean;
      mlpRatio?: number;
      qkvBias?: boolean;
    }
  /** Plain global multi-head self-attention (ViT-style): the quadratic baseline. */
  | { kind: 'global'; numHeads: number; mlpRatio?: number; qkvBias?: boolean };

export type BlockKind = BlockConfig['kind'];
export type DownsampleKind = DownsampleConfig['kind'];

/** One stage: `downsample`, then `depth` blocks of `block` kind at width `dim`, then an optional norm. */
export interface StageConfig {
  dim: number;
  depth: number;
  downsample: DownsampleConfig;
  block: BlockConfig;
  /** LayerNorm eps of the blocks' norm1/norm2 (Swin 1e-5; Shunted/PVT factories 1e-6). */
  blockNormEps?: number;
  /** Stage-end LayerNorm (Shunted / PVT v2 `norm{i}`); `true` = eps 1e-6. */
  norm?: boolean | { eps: number };
  /** PVT v1 per-stage learned position embedding (resized bilinearly at other input sizes). */
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
  /** LayerNorm over the last stage before pooling (Swin `norm`); `true` = eps 1e-5. */
  finalNorm?: boolean | { eps: number };
  /** Pooling before the head: mean over tokens (default) or a class token (PVT v1). */
  headPool?: 'avg' | 'cls';
  /** Stochastic depth, linearly increasing over all blocks (training only). */
  dropPathRate?: number;
  dropRate?: number;
  attnDropRate?: number;
}
