/**
 * `createModel(name)`: a registry name (timm or official, with or without a pretrained tag) -> the family
 * package's own model class, with the head sized for the tag's classes.
 */
import {
  backboneParamCount,
  createBackbone,
  createModel as createPreset,
  type HybridBackbone,
  type PresetModel,
  type PresetOverrides,
  swinToBackboneConfig,
} from '@swin/backbone';
import {
  type PVTConfig,
  type PVTPresetName,
  PyramidVisionTransformer,
  PyramidVisionTransformerV2,
  pvtConfig,
  pvtParamCount,
} from '@swin/pvt';
import {
  type ShuntedConfig,
  type ShuntedPresetName,
  ShuntedTransformer,
  shuntedParamCount,
  shuntedPresetConfig,
} from '@swin/shunted-attention';
import { type SwinConfig, SwinTransformer, swinParamCount, swinPresetConfig } from '@swin/swin-core';
import { SwinMLP, type SwinMLPConfig, swinMlpParamCount, swinMlpPresetConfig } from '@swin/swin-mlp';
import { configFromTimmKwargs } from './kwargs.js';
import { attachPretrainedCfg } from './pretrained.js';
import { type ResolvedModel, resolveModel, UnknownModelError } from './registry.js';

/**
 * A model built by {@link createModel}: the family package's class (`SwinTransformer`, `SwinMLP`,
 * `ShuntedTransformer`, a PVT), or a `@swin/backbone` `HybridBackbone` of Swin stages for per-stage windows (Swin-S3).
 */
export type RegistryModel = PresetModel | HybridBackbone;

/** Config fields of the family (camelCase, e.g. `{ numClasses: 10, imgSize: 256 }`) replacing the preset's. */
export type ModelOverrides = PresetOverrides;

/** A complete config of any family, as {@link buildFromConfig} takes it. */
export type FamilyConfig =
  | {
      family: 'swin';
      config: Partial<SwinConfig>;
      /** One window size per stage (Swin-S3); `config.windowSize` is then ignored. */
      stageWindows?: number[];
    }
  | { family: 'swin-mlp'; config: Partial<SwinMLPConfig> }
  | { family: 'shunted'; config: Partial<ShuntedConfig> }
  | { family: 'pvt-v1' | 'pvt-v2'; config: Partial<PVTConfig> };

/**
 * Builds model `name` (randomly initialised; see `loadPretrained` for weights). The head has the
 * `numClasses` of the name's pretrained tag (21841 for `.ms_in22k`) unless `overrides.numClasses` says
 * otherwise. Input NHWC `[B, H, W, 3]`, `forward` -> logits `[B, numClasses]`.
 *
 * @throws UnknownModelError for unknown names (with suggestions) and for listed architectures that cannot be
 *   built here (Swin-S3: per-stage window sizes), saying why.
 */
export function createModel(name: string, overrides: ModelOverrides = {}): RegistryModel {
  const r = resolveModel(name);
  return createResolved(r, overrides);
}

/** {@link createModel} for an already resolved name. */
export function createResolved(r: ResolvedModel, overrides: ModelOverrides = {}): RegistryModel {
  const cfg = { ...r.pretrainedCfg };
  if (overrides.numClasses !== undefined && overrides.numClasses !== cfg.numClasses) {
    cfg.numClasses = overrides.numClasses;
    cfg.labelSet = cfg.numClasses === 1000 ? 'imagenet-1k' : 'custom';
  }
  return attachPretrainedCfg(createUnattached(r, overrides), cfg);
}

function createUnattached(r: ResolvedModel, overrides: ModelOverrides): RegistryModel {
  if (r.arch.preset === null) {
    if (!r.arch.timmArgs)
      throw new UnknownModelError(`createModel: ${r.name} cannot be built: ${r.arch.unsupported}`);
    // timm-only architectures (Swin-S3): timm's kwargs, built at the pretrained input size
    const size = r.pretrainedCfg.inputSize;
    const fc = configFromTimmKwargs(r.family, {
      ...r.arch.timmArgs,
      img_size: [size[1], size[2]],
      num_classes: r.pretrainedCfg.numClasses,
    });
    return buildFromConfig({ ...fc, config: { ...fc.config, ...overrides } } as FamilyConfig);
  }
  return createPreset(r.arch.preset, {
    numClasses: r.pretrainedCfg.numClasses,
    ...overrides,
  } as PresetOverrides);
}

/**
 * Builds a model of `family` from its config (what `configFromTimmKwargs`, a yacs config or a hub
 * `config.json` give) with the family's own class; unset fields take that class's defaults.
 */
export function buildFromConfig(fc: FamilyConfig): RegistryModel {
  switch (fc.family) {
    case 'swin':
      return fc.stageWindows
        ? swinStageWindowBackbone(fc.config, fc.stageWindows)
        : new SwinTransformer(fc.config);
    case 'swin-mlp':
      return new SwinMLP(fc.config);
    case 'shunted':
      return new ShuntedTransformer(fc.config);
    case 'pvt-v1':
      return new PyramidVisionTransformer({ ...fc.config, version: 1 });
    case 'pvt-v2':
      return new PyramidVisionTransformerV2({ ...fc.config, version: 2 });
  }
}

/**
 * A Swin with one window size per stage (timm's Swin-S3 `window_size=(7, 7, 14, 7)`), as a `@swin/backbone`
 * HybridBackbone whose stages are Swin stages (same blocks, clamping, PatchMerging, norm and head as
 * `SwinTransformer`; keys via `convertPresetStateDict`). Input NHWC `[B, H, W, inChans]`.
 */
export function swinStageWindowBackbone(config: Partial<SwinConfig>, windows: number[]): HybridBackbone {
  const bc = swinToBackboneConfig(config, 'swin_stage_windows');
  if (windows.length !== bc.stages.length) {
    throw new Error(`swinStageWindowBackbone: ${windows.length} window sizes for ${bc.stages.length} stages`);
  }
  bc.stages.forEach((s, i) => {
    (s.block as { windowSize: number }).windowSize = windows[i];
  });
  return createBackbone(bc);
}

/**
 * Trainable parameters of model `name` (with `overrides`), from its config alone: nothing is allocated, so the
 * largest models can be sized without building them.
 */
export function countParams(name: string, overrides: ModelOverrides = {}): number {
  const r = resolveModel(name);
  const o = { numClasses: r.pretrainedCfg.numClasses, ...overrides } as Record<string, unknown>;
  const preset = r.arch.preset;
  if (preset === null) {
    const size = r.pretrainedCfg.inputSize;
    const fc = configFromTimmKwargs(r.family, { ...r.arch.timmArgs, img_size: [size[1], size[2]] });
    if (fc.family !== 'swin' || !fc.stageWindows) throw new Error(`countParams: cannot size ${r.name}`);
    const bc = swinToBackboneConfig({ ...fc.config, ...o }, r.name);
    bc.stages.forEach((s, i) => {
      (s.block as { windowSize: number }).windowSize = (fc.stageWindows as number[])[i];
    });
    return backboneParamCount(bc);
  }
  switch (r.family) {
    case 'swin':
      return swinParamCount(swinPresetConfig(preset, o));
    case 'swin-mlp':
      return swinMlpParamCount(swinMlpPresetConfig(preset, o));
    case 'shunted':
      return shuntedParamCount(shuntedPresetConfig(preset as ShuntedPresetName, o));
    default:
      return pvtParamCount(pvtConfig(preset as PVTPresetName, o));
  }
}
