import { normEpsFromKwarg } from './block.js';

/**
 * Constructor arguments of {@link SwinMLP}: the official `SwinMLP(...)` kwargs in camelCase
 * (`norm_layer` becomes `normEps`; `use_checkpoint` has no equivalent).
 */
export interface SwinMLPConfig {
  /** Image size the model is built for: drives the per-block window clamping (and so the `spatial_mlp` shapes) and `absolute_pos_embed`. Default 224. */
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
  /** Spatial-MLP heads per stage (each head mixes `C/heads` channels, e.g. "C24" = 24 channels per head). Default `[3, 6, 12, 24]`. */
  numHeads: number[];
  /** Window size (clamped per block like Swin). Default 7. */
  windowSize: number;
  /** Channel-MLP hidden ratio. Default 4. */
  mlpRatio: number;
  /** Dropout rate (after the position embedding and in the MLPs). Default 0. */
  dropRate: number;
  /** Stochastic depth rate, linearly increasing over all blocks. Default 0.1 (official default). */
  dropPathRate: number;
  /** Absolute position embedding after the patch embedding. Default false. */
  ape: boolean;
  /** LayerNorm after the patch embedding. Default true. */
  patchNorm: boolean;
  /** Epsilon of every LayerNorm (official `nn.LayerNorm` default). Default 1e-5. */
  normEps: number;
}

/** Official defaults of `SwinMLP.__init__`. */
export const DEFAULT_SWIN_MLP_CONFIG: Readonly<SwinMLPConfig> = Object.freeze({
  imgSize: 224,
  patchSize: 4,
  inChans: 3,
  numClasses: 1000,
  embedDim: 96,
  depths: [2, 2, 6, 2],
  numHeads: [3, 6, 12, 24],
  windowSize: 7,
  mlpRatio: 4,
  dropRate: 0,
  dropPathRate: 0.1,
  ape: false,
  patchNorm: true,
  normEps: 1e-5,
});

function fail(message: string): never {
  throw new Error(`SwinMLPConfig: ${message}`);
}

function isPosInt(v: unknown): v is number {
  return typeof v === 'number' && Number.isInteger(v) && v > 0;
}

/** Fills defaults and validates; throws a clear error naming the bad field. */
export function resolveSwinMlpConfig(partial: Partial<SwinMLPConfig> = {}): SwinMLPConfig {
  for (const k of Object.keys(partial)) {
    if (!(k in DEFAULT_SWIN_MLP_CONFIG)) {
      fail(`unknown option '${k}' (known: ${Object.keys(DEFAULT_SWIN_MLP_CONFIG).join(', ')})`);
    }
  }
  const defined = Object.fromEntries(Object.entries(partial).filter(([, v]) => v !== undefined));
  const c: SwinMLPConfig = {
    ...DEFAULT_SWIN_MLP_CONFIG,
    depths: [...DEFAULT_SWIN_MLP_CONFIG.depths],
    numHeads: [...DEFAULT_SWIN_MLP_CONFIG.numHeads],
    ...defined,
  };
  const img = typeof c.imgSize === 'number' ? [c.imgSize, c.imgSize] : c.imgSize;
  if (!Array.isArray(img) || img.length !== 2 || !img.every(isPosInt)) {
    fail(`imgSize must be a positive integer or [H, W], got ${JSON.stringify(c.imgSize)}`);
  }
  c.imgSize = typeof c.imgSize === 'number' ? c.imgSize : [img[0], img[1]];
  for (const k of ['patchSize', 'inChans', 'embedDim', 'windowSize'] as const) {
    if (!isPosInt(c[k])) fail(`${k} must be a positive integer, got ${c[k]}`);
  }
  if (!Number.isInteger(c.numClasses) || c.numClasses < 0) {
    fail(`numClasses must be an integer >= 0, got ${c.numClasses}`);
  }
  if (!Array.isArray(c.depths) || c.depths.length === 0 || !c.depths.every(isPosInt)) {
    fail(`depths must be a non-empty array of positive integers, got ${JSON.stringify(c.depths)}`);
  }
  if (!Array.isArray(c.numHeads) || c.numHeads.length !== c.depths.length || !c.numHeads.every(isPosInt)) {
    fail(
      `numHeads must be ${c.depths.length} positive integers (one per stage), got ${JSON.stringify(c.numHeads)}`,
    );
  }
  c.depths = [...c.depths];
  c.numHeads = [...c.numHeads];
  for (let i = 0; i < c.depths.length; i++) {
    const dim = c.embedDim * 2 ** i;
    if (dim % c.numHeads[i] !== 0) {
      fail(`stage ${i}: dim=${dim} (embedDim*2^${i}) is not divisible by numHeads[${i}]=${c.numHeads[i]}`);
    }
  }
  if (!(c.mlpRatio > 0)) fail(`mlpRatio must be > 0, got ${c.mlpRatio}`);
  for (const k of ['dropRate', 'dropPathRate'] as const) {
    if (!(c[k] >= 0 && c[k] < 1)) fail(`${k} must be in [0, 1), got ${c[k]}`);
  }
  if (!(c.normEps > 0)) fail(`normEps must be > 0, got ${c.normEps}`);
  return c;
}

/** `[H, W]` of `imgSize`. */
export function imgSizePair(c: Pick<SwinMLPConfig, 'imgSize'>): [number, number] {
  return typeof c.imgSize === 'number' ? [c.imgSize, c.imgSize] : [c.imgSize[0], c.imgSize[1]];
}

/** Per-block stochastic depth rates: `torch.linspace(0, rate, total)`. */
export function dropPathRates(rate: number, total: number): number[] {
  if (total <= 1) return new Array(total).fill(0);
  return Array.from({ length: total }, (_, i) => (rate * i) / (total - 1));
}

/**
 * The `[H, W]` map of each stage for an `H x W` image: `ceil(H/patch)`, then halved (rounding up, the
 * padded PatchMerging) per stage. Equal to the official `patches_resolution // 2**i` when sizes divide.
 */
export function stageResolutions(
  c: Pick<SwinMLPConfig, 'patchSize' | 'depths'>,
  H: number,
  W: number,
): [number, number][] {
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

const KEY_MAP: Record<string, keyof SwinMLPConfig> = {
  img_size: 'imgSize',
  patch_size: 'patchSize',
  in_chans: 'inChans',
  num_classes: 'numClasses',
  embed_dim: 'embedDim',
  depths: 'depths',
  num_heads: 'numHeads',
  window_size: 'windowSize',
  mlp_ratio: 'mlpRatio',
  drop_rate: 'dropRate',
  drop_path_rate: 'dropPathRate',
  ape: 'ape',
  patch_norm: 'patchNorm',
};

/**
 * Converts the official `SwinMLP(**kwargs)` keyword arguments (snake_case, as in the parity fixtures'
 * `config.kwargs`) to a {@link SwinMLPConfig}. `norm_layer` may be `{"__layer__": "LayerNorm", "eps": x}`.
 * `use_checkpoint` is accepted and ignored; unknown keys throw.
 */
export function swinMlpConfigFromKwargs(kwargs: Record<string, unknown>): Partial<SwinMLPConfig> {
  const out: Record<string, unknown> = {};
  for (const [k, v] of Object.entries(kwargs)) {
    if (k === 'norm_layer') {
      const eps = normEpsFromKwarg(v);
      if (eps !== undefined) out.normEps = eps;
      continue;
    }
    if (k === 'use_checkpoint') continue;
    const key = KEY_MAP[k];
    if (!key) throw new Error(`swinMlpConfigFromKwargs: unknown official kwarg '${k}'`);
    out[key] = Array.isArray(v) ? [...v] : v;
  }
  return out as Partial<SwinMLPConfig>;
}
