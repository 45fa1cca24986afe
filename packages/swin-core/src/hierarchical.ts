/**
 * The skeleton shared by the hierarchical Swin-style classifiers (Swin Transformer here, Swin-MLP in
 * `@swin/swin-mlp`): config validation, the MAC / parameter counters and the preset lookup. Each family
 * supplies only what differs (its token mixer and its extra config fields).
 */
import { assertOptionsObject, type FieldSpec, field, lookupOwn, validateConfig } from '@swin/nn';
import { patchEmbedMacs } from './patch-embed.js';
import { patchMergingMacs } from './patch-merging.js';
import { fail } from './validate.js';

/**
 * Config fields every hierarchical Swin-style classifier has: patch embedding, stages of `depths[i]`
 * blocks at `embedDim * 2**i` channels (PatchMerging in between), the final LayerNorm and the head.
 * The defaults are the official ones of both `SwinTransformer` and `SwinMLP`.
 */
export interface HierarchicalConfig {
  /** Image size the model is built for: drives the per-block window clamping (and the shapes that depend on it) and `absolute_pos_embed`. Default 224. */
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
  /** Heads per stage (attention heads; spatial-MLP heads of `C/heads` channels each). Default `[3, 6, 12, 24]`. */
  numHeads: number[];
  /** Window size (clamped per block to the stage resolution). Default 7. */
  windowSize: number;
  /** Channel-MLP hidden ratio. Default 4. */
  mlpRatio: number;
  /** Dropout rate (after the position embedding, in the MLPs and projections). Default 0. */
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

/** `[H, W]` of `imgSize`. */
export function imgSizePair(c: Pick<HierarchicalConfig, 'imgSize'>): [number, number] {
  return typeof c.imgSize === 'number' ? [c.imgSize, c.imgSize] : [c.imgSize[0], c.imgSize[1]];
}

/** Per-block stochastic depth rates: `torch.linspace(0, rate, total)` (`total = sum(depths)`). */
export function dropPathRates(rate: number, total: number): number[] {
  if (total <= 1) return new Array(total).fill(0);
  return Array.from({ length: total }, (_, i) => (rate * i) / (total - 1));
}

/**
 * The `[H, W]` map of each stage for an `H x W` image: `ceil(H/patch)`, then halved (rounding up, the
 * padded PatchMerging) per stage. Equal to the official `patches_resolution // 2**i` when sizes divide.
 */
export function stageResolutions(
  c: Pick<HierarchicalConfig, 'patchSize' | 'depths'>,
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

/** Field types of the {@link HierarchicalConfig} fields (families add theirs). */
export const HIERARCHICAL_SCHEMA: Readonly<Record<keyof HierarchicalConfig, FieldSpec>> = Object.freeze({
  imgSize: field.size,
  patchSize: field.positiveInt,
  inChans: field.positiveInt,
  numClasses: field.nonNegativeInt,
  embedDim: field.positiveInt,
  depths: field.positiveIntArray,
  numHeads: field.positiveIntArray,
  windowSize: field.positiveInt,
  mlpRatio: field.positiveNumber,
  dropRate: field.rate,
  dropPathRate: field.rate,
  ape: field.boolean,
  patchNorm: field.boolean,
  normEps: field.positiveNumber,
});

function isPosInt(v: unknown): v is number {
  return typeof v === 'number' && Number.isInteger(v) && v > 0;
}

/**
 * Fills `defaults` into `partial` and validates the {@link HierarchicalConfig} fields; `rateKeys` are the
 * fields that must lie in `[0, 1)`. Errors are `'<fn>: ...'` naming the bad field. Returns a fresh config
 * (arrays copied).
 */
export function resolveHierarchicalConfig<C extends HierarchicalConfig>(
  fn: string,
  defaults: Readonly<C>,
  partial: Partial<C>,
  rateKeys: readonly (keyof C & string)[],
  extraSchema: Readonly<Record<string, FieldSpec>> = {},
): C {
  const schema: Record<string, FieldSpec> = {};
  for (const k of Object.keys(defaults)) {
    schema[k] = (HIERARCHICAL_SCHEMA as Record<string, FieldSpec>)[k] ?? extraSchema[k] ?? field.any;
  }
  validateConfig(fn, partial, schema);
  const defined = Object.fromEntries(Object.entries(partial).filter(([, v]) => v !== undefined));
  const c: C = {
    ...defaults,
    depths: [...defaults.depths],
    numHeads: [...defaults.numHeads],
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
  for (const k of rateKeys) {
    const v = c[k] as unknown as number;
    if (!(v >= 0 && v < 1)) fail(fn, `${k} must be in [0, 1), got ${v}`);
  }
  if (!(c.normEps > 0)) fail(fn, `normEps must be > 0, got ${c.normEps}`);
  return c;
}

/** One block of a hierarchical model, as the counters pass it to the per-family callbacks. */
export interface StageBlock {
  /** Stage index. */
  stage: number;
  /** Block index inside the stage (odd blocks are the shifted ones). */
  block: number;
  /** Channels of the stage, `embedDim * 2**stage`. */
  dim: number;
  /** Heads of the stage. */
  numHeads: number;
  /** `[H, W]` map of the stage at the built `imgSize` (drives the window clamping). */
  built: [number, number];
}

/**
 * Multiply-accumulates of one `H x W` image (default: `imgSize`) through a hierarchical model, from the
 * (resolved) config alone: patch-embed conv (+ norm), `blockMacs(block, h, w)` for every block on its
 * stage's `h x w` map, PatchMerging, the final norm with the official quirk
 * `numFeatures * Hp * Wp // 2**numLayers`, and the head. `fn` names the caller in the size error.
 */
export function hierarchicalMacs(
  fn: string,
  c: HierarchicalConfig,
  H: number | undefined,
  W: number | undefined,
  blockMacs: (block: StageBlock, h: number, w: number) => number,
): number {
  const [H0, W0] = imgSizePair(c);
  const h = H ?? H0;
  const w = W ?? W0;
  if (!Number.isInteger(h) || !Number.isInteger(w) || h <= 0 || w <= 0) {
    fail(fn, `H and W must be positive integers, got ${H}x${W}`);
  }
  const built = stageResolutions(c, H0, W0);
  const run = stageResolutions(c, h, w);
  let m = patchEmbedMacs(h, w, [c.patchSize, c.patchSize], c.inChans, c.embedDim, c.patchNorm);
  const n = c.depths.length;
  for (let i = 0; i < n; i++) {
    const dim = c.embedDim * 2 ** i;
    const [hi, wi] = run[i];
    for (let j = 0; j < c.depths[i]; j++) {
      m += blockMacs({ stage: i, block: j, dim, numHeads: c.numHeads[i], built: built[i] }, hi, wi);
    }
    if (i < n - 1) m += patchMergingMacs(hi, wi, dim);
  }
  const numFeatures = c.embedDim * 2 ** (n - 1);
  m += Math.floor((numFeatures * run[0][0] * run[0][1]) / 2 ** n);
  m += numFeatures * c.numClasses;
  return m;
}

/**
 * Trainable parameters of a hierarchical model from the (resolved) config alone (no weights allocated):
 * patch embedding (+ norm, + `absolute_pos_embed`), per block norm1, norm2, the channel MLP and
 * `mixerParams(block)` (the token mixer: attention, spatial MLP, ...), PatchMerging, the final norm and
 * the head.
 */
export function hierarchicalParamCount(
  c: HierarchicalConfig,
  mixerParams: (block: StageBlock) => number,
): number {
  const [H0, W0] = imgSizePair(c);
  const built = stageResolutions(c, H0, W0);
  const p = c.patchSize;
  const E = c.embedDim;
  let n = c.inChans * E * p * p + E + (c.patchNorm ? 2 * E : 0);
  if (c.ape) n += built[0][0] * built[0][1] * E;
  const L = c.depths.length;
  for (let i = 0; i < L; i++) {
    const dim = E * 2 ** i;
    const hidden = Math.floor(dim * c.mlpRatio);
    for (let j = 0; j < c.depths[i]; j++) {
      n += 4 * dim; // norm1, norm2
      n += mixerParams({ stage: i, block: j, dim, numHeads: c.numHeads[i], built: built[i] });
      n += dim * hidden + hidden + hidden * dim + dim; // mlp
    }
    if (i < L - 1) n += 4 * dim * 2 * dim + 2 * 4 * dim; // PatchMerging reduction + norm
  }
  const F = E * 2 ** (L - 1);
  n += 2 * F;
  if (c.numClasses > 0) n += F * c.numClasses + c.numClasses;
  return n;
}

/**
 * The config of preset `name` of `table` with `overrides` applied (`undefined` overrides ignored, arrays
 * copied). Throws `'<creator>: unknown model ...'` listing the known names.
 */
export function hierarchicalPresetConfig<C extends HierarchicalConfig>(
  creator: string,
  table: Readonly<Record<string, { config: Partial<C> }>>,
  name: string,
  overrides: Partial<C> = {},
): Partial<C> {
  const c = lookupOwn(creator, table, name, 'model').config;
  assertOptionsObject(creator, overrides, 'overrides');
  return {
    ...c,
    depths: [...(c.depths ?? [])],
    numHeads: [...(c.numHeads ?? [])],
    ...Object.fromEntries(Object.entries(overrides).filter(([, v]) => v !== undefined)),
  };
}

/** Official snake_case constructor kwargs of the {@link HierarchicalConfig} fields (`norm_layer` aside). */
export const HIERARCHICAL_KWARGS: Readonly<Record<string, keyof HierarchicalConfig>> = Object.freeze({
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
});

/**
 * Converts official constructor kwargs (snake_case, as in the fixtures' `config.kwargs`) to a partial
 * config: `keyMap` maps kwarg names to config fields, `norm_layer` goes through `normEps` (its result,
 * when defined, becomes `normEps`), kwargs in `ignored` are dropped, arrays are copied and unknown kwargs
 * throw `'<fn>: unknown official kwarg ...'`.
 */
export function configFromKwargs<C extends HierarchicalConfig>(
  fn: string,
  kwargs: Record<string, unknown>,
  keyMap: Readonly<Record<string, keyof C>>,
  normEps: (normLayer: unknown) => number | undefined,
  ignored: readonly string[] = [],
): Partial<C> {
  const out: Record<string, unknown> = {};
  for (const [k, v] of Object.entries(kwargs)) {
    if (k === 'norm_layer') {
      const eps = normEps(v);
      if (eps !== undefined) out.normEps = eps;
      continue;
    }
    if (ignored.includes(k)) continue;
    const key = keyMap[k];
    if (!key || !Object.hasOwn(keyMap, k)) fail(fn, `unknown official kwarg '${k}'`);
    out[key as string] = Array.isArray(v) ? [...v] : v;
  }
  return out as Partial<C>;
}
