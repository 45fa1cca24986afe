/**
 * Configuration of the Shunted Transformer, mirroring the keyword arguments of the official
 * `ShuntedTransformer.__init__` (OliverRensu/Shunted-Transformer `SSA.py`) in camelCase, plus the
 * official presets `shunted_t`, `shunted_s`, `shunted_b`.
 */
import { type FieldSpec, field, SwinConfigError, validateConfig } from '@swin/nn';
/** Constructor arguments of {@link ShuntedTransformer} (official kwarg in brackets). */
export interface ShuntedConfig {
  /** [`img_size`] Nominal input size. Unused by the computation (as in the reference). */
  imgSize: number;
  /** [`patch_size`] Unused by the reference (its stem always reduces by 4); kept for config parity. */
  patchSize: number;
  /** [`in_chans`] Input channels. The reference stem hard-codes 3, so this must be 3. */
  inChans: number;
  /** [`num_classes`] Classifier outputs; 0 gives no head (`forward` returns the pooled features). */
  numClasses: number;
  /** [`embed_dims`] Channels per stage; `embedDims[0]` must be 64 (hard-coded by the stem). */
  embedDims: number[];
  /** [`num_heads`] Attention heads per stage; must be even where `srRatios[i] > 1`. */
  numHeads: number[];
  /** [`mlp_ratios`] Mlp hidden width = `int(dim * ratio)`. */
  mlpRatios: number[];
  /** [`qkv_bias`] Bias on `q`, `kv`, `kv1`, `kv2`. */
  qkvBias: boolean;
  /** [`qk_scale`] Attention scale; `null` (or 0, like Python's `or`) means `head_dim ** -0.5`. */
  qkScale: number | null;
  /** [`drop_rate`] Dropout after `proj` and in the Mlp. */
  dropRate: number;
  /** [`attn_drop_rate`] Dropout on the attention probabilities. */
  attnDropRate: number;
  /** [`drop_path_rate`] Stochastic depth, increased linearly over all blocks from 0. */
  dropPathRate: number;
  /**
   * [`norm_layer`] Epsilon of the block norms (`norm1`, `norm2`) and stage norms (`norm<i>`): the
   * official factories pass `partial(nn.LayerNorm, eps=1e-6)`. Stem, patch-embed and attention-internal
   * LayerNorms always use 1e-5, BatchNorm 1e-5.
   */
  normEps: number;
  /** [`depths`] Blocks per stage. */
  depths: number[];
  /** [`sr_ratios`] Spatial reduction per stage: 8, 4, 2 (two-scale shunted attention) or 1. */
  srRatios: number[];
  /** [`num_stages`] Number of stages (1 to 4). */
  numStages: number;
  /** [`num_conv`] Extra 3x3 conv + BN + ReLU layers in the stem (`Head`). */
  numConv: number;
}

/**
 * Defaults of `new ShuntedTransformer()` / `resolveShuntedConfig({})`: the reference class's defaults for
 * the kwargs its factories leave alone (img 224, 3 channels, 1000 classes, no dropout, 4 stages), and
 * Shunted-T's values for the ones every factory sets. (The reference class's own defaults,
 * `num_heads=[1, 2, 4, 8]`, cannot run: stage 0 would split one head into two groups.)
 */
export const SHUNTED_DEFAULTS: Readonly<ShuntedConfig> = Object.freeze({
  imgSize: 224,
  patchSize: 4,
  inChans: 3,
  numClasses: 1000,
  embedDims: [64, 128, 256, 512],
  numHeads: [2, 4, 8, 16],
  mlpRatios: [8, 8, 4, 4],
  qkvBias: true,
  qkScale: null,
  dropRate: 0,
  attnDropRate: 0,
  dropPathRate: 0,
  normEps: 1e-6,
  depths: [1, 2, 4, 1],
  srRatios: [8, 4, 2, 1],
  numStages: 4,
  numConv: 0,
});

/** Names of the official presets. */
export type ShuntedPresetName = 'shunted_t' | 'shunted_s' | 'shunted_b';

/** What each official factory (`shunted_t/s/b` in `SSA.py`) passes. */
export const SHUNTED_PRESETS: Readonly<Record<ShuntedPresetName, Readonly<Partial<ShuntedConfig>>>> =
  Object.freeze({
    shunted_t: {
      patchSize: 4,
      embedDims: [64, 128, 256, 512],
      numHeads: [2, 4, 8, 16],
      mlpRatios: [8, 8, 4, 4],
      qkvBias: true,
      normEps: 1e-6,
      depths: [1, 2, 4, 1],
      srRatios: [8, 4, 2, 1],
      numConv: 0,
    },
    shunted_s: {
      patchSize: 4,
      embedDims: [64, 128, 256, 512],
      numHeads: [2, 4, 8, 16],
      mlpRatios: [8, 8, 4, 4],
      qkvBias: true,
      normEps: 1e-6,
      depths: [2, 4, 12, 1],
      srRatios: [8, 4, 2, 1],
      numConv: 1,
    },
    shunted_b: {
      patchSize: 4,
      embedDims: [64, 128, 256, 512],
      numHeads: [2, 4, 8, 16],
      mlpRatios: [8, 8, 4, 4],
      qkvBias: true,
      normEps: 1e-6,
      depths: [3, 4, 24, 2],
      srRatios: [8, 4, 2, 1],
      numConv: 2,
    },
  });

/** Reduction ratios the reference defines (`sr_ratio` 8, 4, 2 two-branch, 1 plain). */
export const SHUNTED_SR_RATIOS: readonly number[] = [1, 2, 4, 8];

/** Channels of the stem output (hard-coded to 64 by the reference `Head`). */
export const STEM_CHANNELS = 64;

/**
 * The two reduction kernels (= strides) of shunted attention for `srRatio`: `[sr, sr / 2]`
 * (8 -> 8x8 and 4x4, 4 -> 4x4 and 2x2, 2 -> 2x2 and 1x1), or `null` for `srRatio` 1.
 */
export function reductionKernels(srRatio: number): [number, number] | null {
  checkSrRatio('reductionKernels', srRatio);
  return srRatio === 1 ? null : [srRatio, srRatio / 2];
}

/** Throws unless `srRatio` is one of 1, 2, 4, 8. */
export function checkSrRatio(where: string, srRatio: number): void {
  if (!SHUNTED_SR_RATIOS.includes(srRatio)) {
    throw new SwinConfigError(
      `${where}: sr_ratio ${srRatio} is not supported; the reference defines shunted attention only for ` +
        `sr_ratio 8, 4, 2 (two reduction branches) and 1 (no reduction)`,
    );
  }
}

/**
 * Checks the attention arguments like the reference (plus the constraints the reference only hits at
 * run time): `dim % numHeads == 0`, and `numHeads` even when `srRatio > 1` (the heads split into two groups).
 */
export function checkAttentionArgs(where: string, dim: number, numHeads: number, srRatio: number): void {
  if (!Number.isInteger(dim) || dim <= 0)
    throw new SwinConfigError(`${where}: dim must be a positive integer, got ${dim}`);
  if (!Number.isInteger(numHeads) || numHeads <= 0)
    throw new SwinConfigError(`${where}: num_heads must be a positive integer, got ${numHeads}`);
  checkSrRatio(where, srRatio);
  if (dim % numHeads !== 0)
    throw new SwinConfigError(`${where}: dim ${dim} should be divided by num_heads ${numHeads}`);
  if (srRatio > 1 && numHeads % 2 !== 0) {
    throw new SwinConfigError(
      `${where}: num_heads must be even when sr_ratio > 1 (the heads are split into two groups, one per ` +
        `reduction branch), got num_heads ${numHeads} with sr_ratio ${srRatio}`,
    );
  }
}

const ARRAY_KEYS = ['embedDims', 'numHeads', 'mlpRatios', 'depths', 'srRatios'] as const;

/** Field types of {@link ShuntedConfig} (unknown keys are refused with a did-you-mean). */
export const SHUNTED_CONFIG_SCHEMA: Readonly<Record<keyof ShuntedConfig, FieldSpec>> = Object.freeze({
  imgSize: field.size,
  patchSize: field.positiveInt,
  inChans: field.positiveInt,
  numClasses: field.nonNegativeInt,
  embedDims: field.positiveIntArray,
  numHeads: field.positiveIntArray,
  mlpRatios: field.positiveNumberArray,
  qkvBias: field.boolean,
  qkScale: field.numberOrNull,
  dropRate: field.rate,
  attnDropRate: field.rate,
  dropPathRate: field.rate,
  normEps: field.positiveNumber,
  depths: field.nonNegativeIntArray,
  srRatios: field.positiveIntArray,
  numStages: field.positiveInt,
  numConv: field.nonNegativeInt,
});

/**
 * Merges `overrides` over {@link SHUNTED_DEFAULTS} and validates the result with clear errors
 * (each message names the offending stage and values). Returns a fresh, deep-copied config.
 */
export function resolveShuntedConfig(overrides: Partial<ShuntedConfig> = {}): ShuntedConfig {
  validateConfig('ShuntedTransformer', overrides, SHUNTED_CONFIG_SCHEMA);
  const defined = Object.fromEntries(Object.entries(overrides ?? {}).filter(([, v]) => v !== undefined));
  const cfg: ShuntedConfig = { ...SHUNTED_DEFAULTS, ...defined } as ShuntedConfig;
  for (const k of ARRAY_KEYS) cfg[k] = [...(cfg[k] as number[])];
  const where = 'ShuntedTransformer';
  const S = cfg.numStages;
  if (!Number.isInteger(S) || S < 1 || S > 4)
    throw new SwinConfigError(`${where}: num_stages must be 1, 2, 3 or 4, got ${S}`);
  for (const k of ARRAY_KEYS) {
    if (!Array.isArray(cfg[k]) || cfg[k].length < S)
      throw new SwinConfigError(`${where}: ${k} needs at least num_stages=${S} entries, got [${cfg[k]}]`);
  }
  if (cfg.inChans !== 3)
    throw new SwinConfigError(
      `${where}: in_chans must be 3, got ${cfg.inChans} (the reference stem hard-codes 3 input channels)`,
    );
  if (cfg.embedDims[0] !== STEM_CHANNELS)
    throw new SwinConfigError(
      `${where}: embed_dims[0] must be ${STEM_CHANNELS}, got ${cfg.embedDims[0]} (the reference stem Head hard-codes 64 channels)`,
    );
  if (!Number.isInteger(cfg.numClasses) || cfg.numClasses < 0)
    throw new SwinConfigError(`${where}: num_classes must be a non-negative integer, got ${cfg.numClasses}`);
  if (!Number.isInteger(cfg.numConv) || cfg.numConv < 0)
    throw new SwinConfigError(`${where}: num_conv must be a non-negative integer, got ${cfg.numConv}`);
  if (!(cfg.normEps > 0)) throw new SwinConfigError(`${where}: normEps must be positive, got ${cfg.normEps}`);
  for (const [k, v] of [
    ['dropRate', cfg.dropRate],
    ['attnDropRate', cfg.attnDropRate],
    ['dropPathRate', cfg.dropPathRate],
  ] as const) {
    if (!(v >= 0 && v < 1)) throw new SwinConfigError(`${where}: ${k} must be in [0, 1), got ${v}`);
  }
  for (let i = 0; i < S; i++) {
    const stage = `${where} stage ${i}`;
    const dim = cfg.embedDims[i];
    checkAttentionArgs(stage, dim, cfg.numHeads[i], cfg.srRatios[i]);
    if (!Number.isInteger(cfg.depths[i]) || cfg.depths[i] < 0)
      throw new SwinConfigError(`${stage}: depth must be a non-negative integer, got ${cfg.depths[i]}`);
    const hidden = Math.trunc(dim * cfg.mlpRatios[i]);
    if (!(hidden >= 1))
      throw new SwinConfigError(
        `${stage}: mlp_ratio ${cfg.mlpRatios[i]} gives a hidden width of ${hidden} for dim ${dim}`,
      );
  }
  return cfg;
}

/** Mlp hidden width of stage `i`: `int(dim * mlp_ratio)` as in the reference. */
export function mlpHidden(dim: number, ratio: number): number {
  return Math.trunc(dim * ratio);
}

/**
 * Stochastic depth rate of every block, `torch.linspace(0, drop_path_rate, sum(depths))`, per stage.
 */
export function dropPathRates(cfg: ShuntedConfig): number[][] {
  const depths = cfg.depths.slice(0, cfg.numStages);
  const total = depths.reduce((a, b) => a + b, 0);
  const all = Array.from({ length: total }, (_, j) => (total > 1 ? (cfg.dropPathRate * j) / (total - 1) : 0));
  const out: number[][] = [];
  let cur = 0;
  for (const d of depths) {
    out.push(all.slice(cur, cur + d));
    cur += d;
  }
  return out;
}
