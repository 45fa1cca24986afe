import { fail } from './validate.js';

/**
 * Constructor arguments of {@link SwinTransformer}: the official `SwinTransformer(...)` kwargs in
 * camelCase (`norm_layer` becomes `normEps`; `use_checkpoint`/`fused_window_process` have no equivalent).
 */
export interface SwinConfig {
  /** Image size the model is built for (drives window clamping, `attn_mask` buffers, `absolute_pos_embed`). Default 224. */
  imgSize: number | [number, number];
  /** Patch size of the patch embedding. Default 4. */
  patchSize: number;
  /** Input channels. Default 3. */
  inChans: number;
  /** Classes of the head; 0 = no head (`forward` returns the pooled features). Default 1000. */
  numClasses: number;
  /** Channels of stage 0 (doubled at each PatchMerging). Default 96. */
  embedDim: number;
  /** Blocks per stage. Default `[2, 2, 6, 2]`. */
  depths: number[];
  /** Attention heads per stage. Default `[3, 6, 12, 24]`. */
  numHeads: number[];
  /** Window size (clamped per block, see `SwinTransformerBlock`). Default 7. */
  windowSize: number;
  /** MLP hidden ratio. Default 4. */
  mlpRatio: number;
  /** Bias of the qkv projections. Default true. */
  qkvBias: boolean;
  /** Attention scale override (default `headDim ** -0.5`). Default null. */
  qkScale: number | null;
  /** Dropout rate (after the position embedding, attention proj, MLP). Default 0. */
  dropRate: number;
  /** Attention-weight dropout rate. Default 0. */
  attnDropRate: number;
  /** Stochastic depth rate, linearly increasing over all blocks. Default 0.1 (official default). */
  dropPathRate: number;
  /** Absolute position embedding after the patch embedding. Default false. */
  ape: boolean;
  /** LayerNorm after the patch embedding. Default true. */
  patchNorm: boolean;
  /** Epsilon of every LayerNorm (official `nn.LayerNorm` default). Default 1e-5. */
  normEps: number;
}

/** Official defaults of `SwinTransformer.__init__` (Swin-T shape). */
export const DEFAULT_SWIN_CONFIG: Readonly<SwinConfig> = Object.freeze({
  imgSize: 224,
  patchSize: 4,
  inChans: 3,
  numClasses: 1000,
  embedDim: 96,
  depths: [2, 2, 6, 2],
  numHeads: [3, 6, 12, 24],
  windowSize: 7,
  mlpRatio: 4,
  qkvBias: true,
  qkScale: null,
  dropRate: 0,
  attnDropRate: 0,
  dropPathRate: 0.1,
  ape: false,
  patchNorm: true,
  normEps: 1e-5,
});

function isPosInt(v: unknown): v is number {
  return typeof v === 'number' && Number.isInteger(v) && v > 0;
}

/** Fills defaults and validates; throws a clear error naming the bad field. */
export function resolveSwinConfig(partial: Partial<SwinConfig> = {}): SwinConfig {
  const fn = 'SwinConfig';
  for (const k of Object.keys(partial)) {
    if (!(k in DEFAULT_SWIN_CONFIG)) {
      fail(fn, `unknown option '${k}' (known: ${Object.keys(DEFAULT_SWIN_CONFIG).join(', ')})`);
    }
  }
  const defined = Object.fromEntries(Object.entries(partial).filter(([, v]) => v !== undefined));
  const c: SwinConfig = {
    ...DEFAULT_SWIN_CONFIG,
    depths: [...DEFAULT_SWIN_CONFIG.depths],
    numHeads: [...DEFAULT_SWIN_CONFIG.numHeads],
    ...defined,
  };
  const img = typeof c.imgSize === 'number' ? [c.imgSize, c.imgSize] : c.imgSize;
  if (!Array.isArray(img) || img.length !== 2 || !img.every(isPosInt)) {
    fail(fn, `imgSize must be a positive integer or [H, W], got ${JSON.stringify(c.imgSize)}`);
  }
  c.imgSize = typeof c.imgSize === 'number' ? c.imgSize : [img[0], img[1]];
  for (const k of ['patchSize', 'inChans', 'embedDim', 'windowSize'] as const) {
    if (!isPosInt(c[k])) fail(fn, `${k} must be a positive integer, got ${c[k]}`);
  }
  if (!Number.isInteger(c.numClasses) || c.numClasses < 0) {
    fail(fn, `numClasses must be an integer >= 0, got ${c.numClasses}`);
  }
  if (!Array.isArray(c.depths) || c.depths.length === 0 || !c.depths.every(isPosInt)) {
    fail(fn, `depths must be a non-empty array of positive integers, got ${JSON.stringify(c.depths)}`);
  }
  if (!Array.isArray(c.numHeads) || c.numHeads.length !== c.depths.length || !c.numHeads.every(isPosInt)) {
    fail(
      fn,
      `numHeads must be ${c.depths.length} positive integers (one per stage), got ${JSON.stringify(c.numHeads)}`,
    );
  }
  c.depths = [...c.depths];
  c.numHeads = [...c.numHeads];
  for (let i = 0; i < c.depths.length; i++) {
    const dim = c.embedDim * 2 ** i;
    if (dim % c.numHeads[i] !== 0) {
      fail(
        fn,
        `stage ${i}: dim=${dim} (embedDim*2^${i}) is not divisible by numHeads[${i}]=${c.numHeads[i]}`,
      );
    }
  }
  if (!(c.mlpRatio > 0)) fail(fn, `mlpRatio must be > 0, got ${c.mlpRatio}`);
  for (const k of ['dropRate', 'attnDropRate', 'dropPathRate'] as const) {
    if (!(c[k] >= 0 && c[k] < 1)) fail(fn, `${k} must be in [0, 1), got ${c[k]}`);
  }
  if (!(c.normEps > 0)) fail(fn, `normEps must be > 0, got ${c.normEps}`);
  return c;
}

/** `[H, W]` of `imgSize`. */
export function imgSizePair(c: Pick<SwinConfig, 'imgSize'>): [number, number] {
  return typeof c.imgSize === 'number' ? [c.imgSize, c.imgSize] : [c.imgSize[0], c.imgSize[1]];
}

/** Per-block stochastic depth rates: `torch.linspace(0, rate, sum(depths))`. */
export function dropPathRates(rate: number, total: number): number[] {
  if (total <= 1) return new Array(total).fill(0);
  return Array.from({ length: total }, (_, i) => (rate * i) / (total - 1));
}

/**
 * The `[H, W]` map of each stage for an `H x W` image: `ceil(H/patch)`, then halved (rounding up, the
 * padded PatchMerging) per stage. Equal to the official `patches_resolution // 2**i` when sizes divide.
 */
export function stageResolutions(c: SwinConfig, H: number, W: number): [number, number][] {
  let h = Math.ceil(H / c.patchSize);
  let w = Math.ceil(W / c.patchSize);
  const out: [number, number][] = [];
  for (let i = 0; i < c.depths.length; i++) {
    out.push([h, w]);
    h = Math.ceil(h / 2);
    w = Math.ceil(w / 2);
  }
  return out;
}
