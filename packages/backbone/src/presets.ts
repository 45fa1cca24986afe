/**
 * Every named preset of every attention package, as a {@link BackboneConfig}, with the key map from the
 * package's official state-dict keys to the backbone's, and one registry (`createModel`) that builds the
 * package's own model class.
 */
import { describeValue, didYouMean, quoteName, SwinConfigError } from '@swin/nn';
import {
  createPVT,
  PVT_PRESETS,
  type PVTConfig,
  type PVTModel,
  type PVTPresetName,
  pvtConfig,
  v1PosEmbedGrids,
} from '@swin/pvt';
import {
  createShunted,
  SHUNTED_PRESETS,
  type ShuntedConfig,
  type ShuntedPresetName,
  type ShuntedTransformer,
  shuntedPresetConfig,
} from '@swin/shunted-attention';
import {
  createSwin,
  type HierarchicalConfig,
  resolveSwinConfig,
  SWIN_PRESETS,
  type SwinConfig,
  type SwinModelName,
  type SwinTransformer,
  swinPresetConfig,
} from '@swin/swin-core';
import {
  createSwinMLP,
  resolveSwinMlpConfig,
  SWIN_MLP_PRESETS,
  type SwinMLP,
  type SwinMLPConfig,
  type SwinMLPModelName,
  swinMlpPresetConfig,
} from '@swin/swin-mlp';
import type * as tf from '@tensorflow/tfjs-core';
import type { BackboneConfig, BlockConfig, StageConfig } from './config.js';
import { resolveBackboneConfig, stageSizes } from './resolve.js';

/** The package a preset comes from. */
export type PresetFamily = 'swin' | 'swin_mlp' | 'shunted' | 'pvt_v1' | 'pvt_v2';

/** Every preset name of every package. */
export type PresetName = SwinModelName | SwinMLPModelName | ShuntedPresetName | PVTPresetName;

/** Overrides of a preset: the package's own config fields (e.g. `{ numClasses: 10, depths: [...] }`). */
export type PresetOverrides =
  | Partial<SwinConfig>
  | Partial<SwinMLPConfig>
  | Partial<ShuntedConfig>
  | Partial<PVTConfig>;

/** A model built by {@link createModel}: the package's own class. */
export type PresetModel = SwinTransformer | SwinMLP | ShuntedTransformer | PVTModel;

/** The family of a preset name (throws, listing every known name, for an unknown one). */
export function presetFamily(name: string, where = 'presetFamily'): PresetFamily {
  if (typeof name !== 'string') {
    throw new SwinConfigError(
      `${where}: the preset name must be a string, got ${describeValue(name)} (known: ${listPresets().join(', ')})`,
    );
  }
  if (Object.hasOwn(SWIN_PRESETS, name)) return 'swin';
  if (Object.hasOwn(SWIN_MLP_PRESETS, name)) return 'swin_mlp';
  if (Object.hasOwn(SHUNTED_PRESETS, name)) return 'shunted';
  if (Object.hasOwn(PVT_PRESETS, name))
    return PVT_PRESETS[name as PVTPresetName].version === 1 ? 'pvt_v1' : 'pvt_v2';
  const known = listPresets();
  const guess = didYouMean(name, known);
  throw new SwinConfigError(
    `${where}: unknown preset ${quoteName(name)}` +
      `${guess ? ` (did you mean '${guess}'?)` : ''} (known: ${known.join(', ')})`,
  );
}

/** Every preset name, package by package. */
export function listPresets(): PresetName[] {
  return [
    ...(Object.keys(SWIN_PRESETS) as SwinModelName[]),
    ...(Object.keys(SWIN_MLP_PRESETS) as SwinMLPModelName[]),
    ...(Object.keys(SHUNTED_PRESETS) as ShuntedPresetName[]),
    ...(Object.keys(PVT_PRESETS) as PVTPresetName[]),
  ];
}

/**
 * Builds preset `name` with the PACKAGE's own model class (`SwinTransformer`, `SwinMLP`,
 * `ShuntedTransformer`, `PyramidVisionTransformer(V2)`), randomly initialised; `overrides` are that
 * package's config fields.
 */
export function createModel(name: PresetName | string, overrides: PresetOverrides = {}): PresetModel {
  switch (presetFamily(name, 'createModel')) {
    case 'swin':
      return createSwin(name, overrides as Partial<SwinConfig>);
    case 'swin_mlp':
      return createSwinMLP(name, overrides as Partial<SwinMLPConfig>);
    case 'shunted':
      return createShunted(name as ShuntedPresetName, overrides as Partial<ShuntedConfig>);
    default:
      return createPVT(name as PVTPresetName, overrides as Partial<PVTConfig>);
  }
}

/**
 * A completed Swin or Swin-MLP config as a backbone config: patch embed (padding odd sizes), PatchMerging
 * between stages, `block(i)` in stage `i`, final norm, average pooling.
 */
function hierarchicalToBackboneConfig(
  fn: string,
  c: HierarchicalConfig,
  name: string,
  attnDropRate: number,
  block: (i: number) => BlockConfig,
): BackboneConfig {
  if (c.ape) {
    throw new SwinConfigError(
      `${fn}: ape (absolute_pos_embed, bicubic resizing) has no backbone equivalent; use ape: false`,
    );
  }
  const eps = c.normEps;
  return {
    name,
    imgSize: typeof c.imgSize === 'number' ? c.imgSize : [c.imgSize[0], c.imgSize[1]],
    inChans: c.inChans,
    numClasses: c.numClasses,
    stages: c.depths.map(
      (depth, i): StageConfig => ({
        dim: c.embedDim * 2 ** i,
        depth,
        downsample:
          i === 0
            ? {
                kind: 'patch_embed',
                patchSize: c.patchSize,
                norm: c.patchNorm,
                normEps: eps,
                remainder: 'pad',
              }
            : { kind: 'patch_merging', normEps: eps },
        block: block(i),
        blockNormEps: eps,
      }),
    ),
    finalNorm: { eps },
    headPool: 'avg',
    dropRate: c.dropRate,
    attnDropRate,
    dropPathRate: c.dropPathRate,
  };
}

/** A Swin config (completed) as a backbone config. */
export function swinToBackboneConfig(config: Partial<SwinConfig>, name = 'swin'): BackboneConfig {
  const c = resolveSwinConfig(config);
  return hierarchicalToBackboneConfig('swinToBackboneConfig', c, name, c.attnDropRate, (i) => ({
    kind: 'swin',
    numHeads: c.numHeads[i],
    windowSize: c.windowSize,
    shift: true,
    mlpRatio: c.mlpRatio,
    qkvBias: c.qkvBias,
    qkScale: c.qkScale,
  }));
}

/** A Swin-MLP config (completed) as a backbone config. */
export function swinMlpToBackboneConfig(config: Partial<SwinMLPConfig>, name = 'swin_mlp'): BackboneConfig {
  const c = resolveSwinMlpConfig(config);
  return hierarchicalToBackboneConfig('swinMlpToBackboneConfig', c, name, 0, (i) => ({
    kind: 'swin_mlp',
    numHeads: c.numHeads[i],
    windowSize: c.windowSize,
    shift: true,
    mlpRatio: c.mlpRatio,
  }));
}

/** A (completed) Shunted config as a backbone config. */
export function shuntedToBackboneConfig(c: ShuntedConfig, name = 'shunted'): BackboneConfig {
  const stages: StageConfig[] = [];
  for (let i = 0; i < c.numStages; i++) {
    stages.push({
      dim: c.embedDims[i],
      depth: c.depths[i],
      downsample:
        i === 0
          ? { kind: 'shunted_stem', numConv: c.numConv }
          : { kind: 'overlap_patch_embed', patchSize: 3, stride: 2, normEps: 1e-5 },
      block: {
        kind: 'shunted',
        numHeads: c.numHeads[i],
        srRatio: c.srRatios[i],
        mlpRatio: c.mlpRatios[i],
        qkvBias: c.qkvBias,
        qkScale: c.qkScale,
      },
      blockNormEps: c.normEps,
      norm: { eps: c.normEps },
    });
  }
  return {
    name,
    imgSize: c.imgSize,
    inChans: c.inChans,
    numClasses: c.numClasses,
    stages,
    finalNorm: false,
    headPool: 'avg',
    dropRate: c.dropRate,
    attnDropRate: c.attnDropRate,
    dropPathRate: c.dropPathRate,
  };
}

/** A (completed) PVT v1 / v2 config as a backbone config. */
export function pvtToBackboneConfig(c: PVTConfig, name = `pvt_v${c.version}`): BackboneConfig {
  const v1 = c.version === 1;
  const stages = c.embedDims.map(
    (dim, i): StageConfig => ({
      dim,
      depth: c.depths[i],
      downsample: v1
        ? {
            kind: 'patch_embed',
            patchSize: i === 0 ? c.patchSize : 2,
            norm: true,
            normEps: 1e-5,
            remainder: 'drop',
          }
        : { kind: 'overlap_patch_embed', patchSize: i === 0 ? 7 : 3, stride: i === 0 ? 4 : 2, normEps: 1e-5 },
      block: v1
        ? {
            kind: 'pvt_sra',
            numHeads: c.numHeads[i],
            srRatio: c.srRatios[i],
            mlpRatio: c.mlpRatios[i],
            qkvBias: c.qkvBias,
            qkScale: c.qkScale,
          }
        : {
            kind: 'pvt_v2',
            numHeads: c.numHeads[i],
            srRatio: c.srRatios[i],
            linear: c.linear,
            mlpRatio: c.mlpRatios[i],
            qkvBias: c.qkvBias,
            qkScale: c.qkScale,
          },
      blockNormEps: c.normEps,
      ...(v1 ? { posEmbed: true } : { norm: { eps: c.normEps } }),
    }),
  );
  const out: BackboneConfig = {
    name,
    imgSize: typeof c.imgSize === 'number' ? c.imgSize : [c.imgSize[0], c.imgSize[1]],
    inChans: c.inChans,
    numClasses: c.numClasses,
    stages,
    finalNorm: v1 ? { eps: c.normEps } : false,
    headPool: v1 ? 'cls' : 'avg',
    dropRate: c.dropRate,
    attnDropRate: c.attnDropRate,
    dropPathRate: c.dropPathRate,
  };
  if (v1) {
    // The reference sizes pos_embed{i} as (img // 2^(i+1)) // 2, which is the stage map only for patch 4.
    const r = resolveBackboneConfig(out);
    const sizes = stageSizes(r, r.imgSize[0], r.imgSize[1], 'imgSize');
    const grids = v1PosEmbedGrids(c);
    sizes.forEach(([h, w], i) => {
      if (grids[i][0] !== h || grids[i][1] !== w) {
        throw new SwinConfigError(
          `pvtToBackboneConfig: the reference's pos_embed${i + 1} grid ${grids[i].join('x')} differs from the ` +
            `stage's ${h}x${w} map at imgSize ${r.imgSize.join('x')} (patchSize ${c.patchSize}); only grids equal ` +
            `to the stage maps are expressible`,
        );
      }
    });
  }
  return out;
}

/**
 * The backbone config of preset `name` (any package's) with `overrides` (the package's config fields)
 * applied: `createBackbone(presetConfig(name, o))` has the structure of `createModel(name, o)`, and computes
 * the same outputs after `convertPresetStateDict`.
 */
export function presetConfig(name: PresetName | string, overrides: PresetOverrides = {}): BackboneConfig {
  switch (presetFamily(name, 'presetConfig')) {
    case 'swin':
      return swinToBackboneConfig(swinPresetConfig(name, overrides as Partial<SwinConfig>), name);
    case 'swin_mlp':
      return swinMlpToBackboneConfig(swinMlpPresetConfig(name, overrides as Partial<SwinMLPConfig>), name);
    case 'shunted':
      return shuntedToBackboneConfig(
        shuntedPresetConfig(name as ShuntedPresetName, overrides as Partial<ShuntedConfig>),
        name,
      );
    default:
      return pvtToBackboneConfig(pvtConfig(name as PVTPresetName, overrides as Partial<PVTConfig>), name);
  }
}

type Rule = [RegExp, (m: RegExpMatchArray) => string];

const SWIN_RULES: Rule[] = [
  [/^patch_embed\.(.+)$/, (m) => `stages.0.downsample.${m[1]}`],
  [/^layers\.(\d+)\.blocks\.(.+)$/, (m) => `stages.${m[1]}.blocks.${m[2]}`],
  [/^layers\.(\d+)\.downsample\.(.+)$/, (m) => `stages.${Number(m[1]) + 1}.downsample.${m[2]}`],
  [/^(norm|head)\.(.+)$/, (m) => `${m[1]}.${m[2]}`],
];

const RULES: Record<PresetFamily, Rule[]> = {
  swin: SWIN_RULES,
  swin_mlp: SWIN_RULES,
  shunted: [
    [/^patch_embed(\d+)\.(.+)$/, (m) => `stages.${Number(m[1]) - 1}.downsample.${m[2]}`],
    [/^block(\d+)\.(.+)$/, (m) => `stages.${Number(m[1]) - 1}.blocks.${m[2]}`],
    [/^norm(\d+)\.(.+)$/, (m) => `stages.${Number(m[1]) - 1}.norm.${m[2]}`],
    [/^head\.(.+)$/, (m) => `head.${m[1]}`],
  ],
  pvt_v1: [
    [/^patch_embed(\d+)\.(.+)$/, (m) => `stages.${Number(m[1]) - 1}.downsample.${m[2]}`],
    [/^pos_embed(\d+)$/, (m) => `stages.${Number(m[1]) - 1}.pos_embed`],
    [/^block(\d+)\.(.+)$/, (m) => `stages.${Number(m[1]) - 1}.blocks.${m[2]}`],
    [/^(norm|head)\.(.+)$/, (m) => `${m[1]}.${m[2]}`],
    [/^cls_token$/, () => 'cls_token'],
  ],
  pvt_v2: [
    [/^patch_embed(\d+)\.(.+)$/, (m) => `stages.${Number(m[1]) - 1}.downsample.${m[2]}`],
    [/^block(\d+)\.(.+)$/, (m) => `stages.${Number(m[1]) - 1}.blocks.${m[2]}`],
    [/^norm(\d+)\.(.+)$/, (m) => `stages.${Number(m[1]) - 1}.norm.${m[2]}`],
    [/^head\.(.+)$/, (m) => `head.${m[1]}`],
  ],
};

/**
 * The key map of preset `name`'s family: official state-dict key -> backbone key. E.g. Swin
 * `layers.1.downsample.reduction.weight` -> `stages.2.downsample.reduction.weight` (the PatchMerging that
 * ends Microsoft stage 1 starts backbone stage 2), Shunted `norm2.weight` -> `stages.1.norm.weight`, PVT v1
 * `pos_embed3` -> `stages.2.pos_embed`. Throws naming the key for keys the family does not have.
 */
export function presetKeyMap(name: PresetName | string): (officialKey: string) => string {
  const family = presetFamily(name, 'presetKeyMap');
  const rules = RULES[family];
  return (key: string) => {
    for (const [re, f] of rules) {
      const m = key.match(re);
      if (m) return f(m);
    }
    throw new SwinConfigError(`presetKeyMap(${name}): '${key}' is not a ${family} state-dict key`);
  };
}

/**
 * Renames an official state dict of preset `name` (e.g. `createModel(name).stateDict()`, or a loaded
 * checkpoint in the package's official layout) to backbone keys. The tensors are shared, not copied.
 */
export function convertPresetStateDict(
  name: PresetName | string,
  stateDict: Record<string, tf.Tensor>,
): Record<string, tf.Tensor> {
  const map = presetKeyMap(name);
  const out: Record<string, tf.Tensor> = {};
  for (const [k, v] of Object.entries(stateDict)) {
    const nk = map(k);
    if (Object.hasOwn(out, nk))
      throw new SwinConfigError(`convertPresetStateDict(${name}): two keys map to '${nk}'`);
    out[nk] = v;
  }
  return out;
}
