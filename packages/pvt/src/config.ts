/**
 * Configurations of PVT v1 (`PyramidVisionTransformer`, whai362/PVT `classification/pvt.py`) and PVT v2
 * (`PyramidVisionTransformerV2`, `classification/pvt_v2.py`), with the official factory presets.
 */
import { type FieldSpec, field, lookupOwn, SwinConfigError, validateConfig } from '@swin/nn';

/** Full configuration of a PVT v1 or v2 classifier (the official constructor arguments, camelCased). */
export interface PVTConfig {
  /** 1: `PyramidVisionTransformer` (pvt.py); 2: `PyramidVisionTransformerV2` (pvt_v2.py). */
  version: 1 | 2;
  /**
   * Training resolution (square side or `[H, W]`). v1: fixes the stored `pos_embed<i>` grids
   * (`img_size // patch_size`, then halved per stage as the reference computes it); v2: unused.
   */
  imgSize: number | [number, number];
  /** v1 stage-1 patch (kernel = stride). v2 ignores it (7x7 stride 4 overlapping embed). */
  patchSize: number;
  inChans: number;
  /** 0 = no head (`forward` returns the pooled features). */
  numClasses: number;
  embedDims: number[];
  numHeads: number[];
  mlpRatios: number[];
  depths: number[];
  /** Spatial-reduction ratios (kernel = stride of `attn.sr`); 1 = no reduction. v2 `linear` ignores them. */
  srRatios: number[];
  /** Bias of `attn.q` and `attn.kv`. */
  qkvBias: boolean;
  /** Overrides `head_dim ** -0.5`. */
  qkScale: number | null;
  /** v2 only: linear SRA (`AdaptiveAvgPool2d(7)` + 1x1 conv + LN + GELU) and ReLU in the Mlp ("li" models). */
  linear: boolean;
  /** eps of the model's `norm_layer` (blocks, v2 stage norms, v1 final norm): 1e-6 in all factories. */
  normEps: number;
  dropRate: number;
  attnDropRate: number;
  dropPathRate: number;
}

export type PVTPresetName =
  | 'pvt_tiny'
  | 'pvt_small'
  | 'pvt_medium'
  | 'pvt_large'
  | 'pvt_v2_b0'
  | 'pvt_v2_b1'
  | 'pvt_v2_b2'
  | 'pvt_v2_b3'
  | 'pvt_v2_b4'
  | 'pvt_v2_b5'
  | 'pvt_v2_b2_li';

const BASE: Omit<PVTConfig, 'version' | 'embedDims' | 'depths' | 'mlpRatios' | 'linear'> = {
  imgSize: 224,
  patchSize: 4,
  inChans: 3,
  numClasses: 1000,
  numHeads: [1, 2, 5, 8],
  srRatios: [8, 4, 2, 1],
  qkvBias: true,
  qkScale: null,
  normEps: 1e-6,
  dropRate: 0,
  attnDropRate: 0,
  dropPathRate: 0,
};

const WIDE = [64, 128, 320, 512];

function preset(version: 1 | 2, depths: number[], extra: Partial<PVTConfig> = {}): Readonly<PVTConfig> {
  return Object.freeze({
    ...BASE,
    version,
    embedDims: WIDE,
    depths,
    mlpRatios: [8, 8, 4, 4],
    linear: false,
    ...extra,
  });
}

/**
 * The official model factories (`pvt_tiny` ... `pvt_large` in pvt.py, `pvt_v2_b0` ... `pvt_v2_b5`,
 * `pvt_v2_b2_li` in pvt_v2.py): all use patch 4, heads [1, 2, 5, 8], sr [8, 4, 2, 1], qkv_bias, LayerNorm 1e-6.
 */
export const PVT_PRESETS: Readonly<Record<PVTPresetName, Readonly<PVTConfig>>> = Object.freeze({
  pvt_tiny: preset(1, [2, 2, 2, 2]),
  pvt_small: preset(1, [3, 4, 6, 3]),
  pvt_medium: preset(1, [3, 4, 18, 3]),
  pvt_large: preset(1, [3, 8, 27, 3]),
  pvt_v2_b0: preset(2, [2, 2, 2, 2], { embedDims: [32, 64, 160, 256] }),
  pvt_v2_b1: preset(2, [2, 2, 2, 2]),
  pvt_v2_b2: preset(2, [3, 4, 6, 3]),
  pvt_v2_b3: preset(2, [3, 4, 18, 3]),
  pvt_v2_b4: preset(2, [3, 8, 27, 3]),
  pvt_v2_b5: preset(2, [3, 6, 40, 3], { mlpRatios: [4, 4, 4, 4] }),
  pvt_v2_b2_li: preset(2, [3, 4, 6, 3], { linear: true }),
});

/** Preset names, in table order. */
export const PVT_PRESET_NAMES = Object.keys(PVT_PRESETS) as PVTPresetName[];

/** Field types of {@link PVTConfig} (unknown keys are refused with a did-you-mean). */
export const PVT_CONFIG_SCHEMA: Readonly<Record<keyof PVTConfig, FieldSpec>> = Object.freeze({
  version: field.oneOf(1, 2),
  imgSize: field.size,
  patchSize: field.positiveInt,
  inChans: field.positiveInt,
  numClasses: field.nonNegativeInt,
  embedDims: field.positiveIntArray,
  numHeads: field.positiveIntArray,
  mlpRatios: field.positiveNumberArray,
  depths: field.nonNegativeIntArray,
  srRatios: field.positiveIntArray,
  qkvBias: field.boolean,
  qkScale: field.numberOrNull,
  linear: field.boolean,
  normEps: field.positiveNumber,
  dropRate: field.rate,
  attnDropRate: field.rate,
  dropPathRate: field.rate,
});

/**
 * A preset's config with `overrides` applied (a new, validated object). `where` names the caller in errors.
 */
export function pvtConfig(
  name: PVTPresetName,
  overrides: Partial<PVTConfig> = {},
  where = 'pvtConfig',
): PVTConfig {
  const base = lookupOwn(where, PVT_PRESETS, name);
  validateConfig(where, overrides, PVT_CONFIG_SCHEMA);
  const defined = Object.fromEntries(Object.entries(overrides ?? {}).filter(([, v]) => v !== undefined));
  const cfg: PVTConfig = {
    ...base,
    ...defined,
    embedDims: [...(overrides.embedDims ?? base.embedDims)],
    numHeads: [...(overrides.numHeads ?? base.numHeads)],
    mlpRatios: [...(overrides.mlpRatios ?? base.mlpRatios)],
    depths: [...(overrides.depths ?? base.depths)],
    srRatios: [...(overrides.srRatios ?? base.srRatios)],
  };
  validatePVTConfig(cfg, where);
  return cfg;
}

/** Fills defaults (pvt_v2_b2-like / pvt_small-like) for a partial config and validates it. */
export function resolvePVTConfig(
  cfg: Partial<PVTConfig> & Pick<PVTConfig, 'version'>,
  where = 'resolvePVTConfig',
): PVTConfig {
  return pvtConfig(cfg.version === 1 ? 'pvt_small' : 'pvt_v2_b2', cfg, where);
}

/** The `[H, W]` of the training resolution. */
export function imgSizePair(cfg: Pick<PVTConfig, 'imgSize'>): [number, number] {
  return typeof cfg.imgSize === 'number' ? [cfg.imgSize, cfg.imgSize] : [cfg.imgSize[0], cfg.imgSize[1]];
}

/**
 * v1: the stored `pos_embed<i+1>` grid of each stage, as the reference's `PatchEmbed` computes it
 * (`img_size // patch_size` for stage 1, `(img_size // 2**(i+1)) // 2` after).
 */
export function v1PosEmbedGrids(cfg: PVTConfig): [number, number][] {
  const [ih, iw] = imgSizePair(cfg);
  return cfg.embedDims.map((_, i) => {
    if (i === 0) return [Math.floor(ih / cfg.patchSize), Math.floor(iw / cfg.patchSize)];
    const d = 2 ** (i + 1);
    return [Math.floor(Math.floor(ih / d) / 2), Math.floor(Math.floor(iw / d) / 2)];
  });
}

/** Throws a clear error for an inconsistent config. */
export function validatePVTConfig(cfg: PVTConfig, where = `PVT v${cfg.version} config`): void {
  if (cfg.version !== 1 && cfg.version !== 2)
    throw new SwinConfigError(`${where}: version must be 1 or 2, got ${cfg.version}`);
  const n = cfg.embedDims.length;
  if (n < 1) throw new SwinConfigError(`${where}: embedDims is empty`);
  for (const [k, arr] of Object.entries({
    numHeads: cfg.numHeads,
    mlpRatios: cfg.mlpRatios,
    depths: cfg.depths,
    srRatios: cfg.srRatios,
  })) {
    if (arr.length !== n)
      throw new SwinConfigError(`${where}: ${k} has ${arr.length} entries but embedDims has ${n} stages`);
  }
  for (let i = 0; i < n; i++) {
    const dim = cfg.embedDims[i];
    const h = cfg.numHeads[i];
    if (!Number.isInteger(dim) || dim <= 0)
      throw new SwinConfigError(`${where}: embedDims[${i}] = ${dim} must be a positive integer`);
    if (!Number.isInteger(h) || h <= 0)
      throw new SwinConfigError(`${where}: numHeads[${i}] = ${h} must be a positive integer`);
    if (dim % h !== 0) {
      throw new SwinConfigError(`${where}: stage ${i + 1} dim ${dim} is not divisible by num_heads ${h}`);
    }
    if (!Number.isInteger(cfg.depths[i]) || cfg.depths[i] < 0)
      throw new SwinConfigError(`${where}: depths[${i}] = ${cfg.depths[i]} must be a non-negative integer`);
    if (!Number.isInteger(cfg.srRatios[i]) || cfg.srRatios[i] < 1)
      throw new SwinConfigError(`${where}: srRatios[${i}] = ${cfg.srRatios[i]} must be a positive integer`);
    if (!(cfg.mlpRatios[i] > 0))
      throw new SwinConfigError(`${where}: mlpRatios[${i}] = ${cfg.mlpRatios[i]} must be > 0`);
    if (Math.trunc(dim * cfg.mlpRatios[i]) < 1)
      throw new SwinConfigError(
        `${where}: stage ${i + 1} MLP hidden width int(${dim} * ${cfg.mlpRatios[i]}) is 0`,
      );
  }
  if (!Number.isInteger(cfg.inChans) || cfg.inChans <= 0)
    throw new SwinConfigError(`${where}: inChans = ${cfg.inChans} must be a positive integer`);
  if (!Number.isInteger(cfg.numClasses) || cfg.numClasses < 0)
    throw new SwinConfigError(`${where}: numClasses = ${cfg.numClasses} must be a non-negative integer`);
  if (cfg.version === 1) {
    if (!Number.isInteger(cfg.patchSize) || cfg.patchSize <= 0)
      throw new SwinConfigError(`${where}: patchSize = ${cfg.patchSize} must be a positive integer`);
    if (cfg.linear) throw new SwinConfigError(`${where}: linear (Li-SRA) exists only in PVT v2`);
    const last = n - 1;
    if (cfg.srRatios[last] > 1 && cfg.depths[last] > 0) {
      throw new SwinConfigError(
        `${where}: the last stage carries a class token, so its sr_ratio must be 1 (got ${cfg.srRatios[last]}); the reference cannot reshape 1+H*W tokens into a map`,
      );
    }
    const [ih, iw] = imgSizePair(cfg);
    if (ih % cfg.patchSize !== 0 || iw % cfg.patchSize !== 0) {
      throw new SwinConfigError(
        `${where}: patchSize ${cfg.patchSize} does not divide imgSize ${ih}x${iw} (stage 1 patch_embed1 would drop ` +
          `${ih % cfg.patchSize}x${iw % cfg.patchSize} pixels and the pos_embed grids would not match the reference)`,
      );
    }
    const grids = v1PosEmbedGrids(cfg);
    grids.forEach(([gh, gw], i) => {
      if (gh <= 0 || gw <= 0) {
        throw new SwinConfigError(
          `${where}: imgSize ${imgSizePair(cfg).join('x')} gives an empty ${gh}x${gw} pos_embed${i + 1} grid (stage ${i + 1})`,
        );
      }
    });
  }
  for (const [k, v] of Object.entries({
    normEps: cfg.normEps,
    dropRate: cfg.dropRate,
    attnDropRate: cfg.attnDropRate,
    dropPathRate: cfg.dropPathRate,
  })) {
    if (!(v >= 0) || (k !== 'normEps' && v >= 1))
      throw new SwinConfigError(`${where}: ${k} = ${v} is out of range`);
  }
}

/** Stochastic-depth rate of every block (`torch.linspace(0, drop_path_rate, sum(depths))`). */
export function dropPathRates(cfg: PVTConfig): number[] {
  const total = cfg.depths.reduce((a, b) => a + b, 0);
  return Array.from({ length: total }, (_, i) => (total <= 1 ? 0 : (cfg.dropPathRate * i) / (total - 1)));
}

/**
 * Converts the official constructor keyword arguments (`PyramidVisionTransformer(**kwargs)` /
 * `PyramidVisionTransformerV2(**kwargs)`, snake_case, `norm_layer` given as `{"eps": ...}` or a number) into a
 * `PVTConfig`. Unknown keys are rejected so that a silently ignored argument cannot hide a mismatch.
 */
export function pvtConfigFromKwargs(version: 1 | 2, kwargs: Record<string, unknown>): PVTConfig {
  const map: Record<string, keyof PVTConfig | null> = {
    img_size: 'imgSize',
    patch_size: 'patchSize',
    in_chans: 'inChans',
    num_classes: 'numClasses',
    embed_dims: 'embedDims',
    num_heads: 'numHeads',
    mlp_ratios: 'mlpRatios',
    depths: 'depths',
    sr_ratios: 'srRatios',
    qkv_bias: 'qkvBias',
    qk_scale: 'qkScale',
    linear: 'linear',
    drop_rate: 'dropRate',
    attn_drop_rate: 'attnDropRate',
    drop_path_rate: 'dropPathRate',
    norm_layer: 'normEps',
    num_stages: null,
  };
  const out: Partial<PVTConfig> = { version };
  for (const [k, v] of Object.entries(kwargs)) {
    if (!Object.hasOwn(map, k)) throw new SwinConfigError(`pvtConfigFromKwargs: unsupported argument '${k}'`);
    const key = map[k];
    if (key === null) {
      const depths = kwargs['depths'] as unknown[] | undefined;
      if (depths && v !== depths.length) {
        throw new SwinConfigError(
          `pvtConfigFromKwargs: num_stages ${v} differs from the ${depths.length} stages of depths`,
        );
      }
      continue;
    }
    if (key === 'normEps') {
      const eps = typeof v === 'number' ? v : (v as { eps?: number } | null)?.eps;
      out.normEps = eps ?? 1e-5; // a bare nn.LayerNorm
      continue;
    }
    (out as Record<string, unknown>)[key] = v;
  }
  if (!('norm_layer' in kwargs)) out.normEps = 1e-5; // the class default is nn.LayerNorm (eps 1e-5)
  const base: PVTConfig = {
    ...PVT_PRESETS[version === 1 ? 'pvt_small' : 'pvt_v2_b2'],
    // the classes' own defaults (not the factories')
    embedDims: [64, 128, 256, 512],
    numHeads: [1, 2, 4, 8],
    mlpRatios: [4, 4, 4, 4],
    depths: [3, 4, 6, 3],
    qkvBias: false,
    patchSize: 16,
  };
  const cfg: PVTConfig = { ...base, ...out } as PVTConfig;
  validatePVTConfig(cfg);
  return cfg;
}
