/**
 * `createModel(name)`: a registry name (timm or official, with or without a pretrained tag) -> the family
 * package's own model class, with the head sized for the tag's classes.
 */
import { createModel as createPreset, type PresetModel, type PresetOverrides } from '@swin/backbone';
import { type PVTConfig, PyramidVisionTransformer, PyramidVisionTransformerV2 } from '@swin/pvt';
import { type ShuntedConfig, ShuntedTransformer } from '@swin/shunted-attention';
import { type SwinConfig, SwinTransformer } from '@swin/swin-core';
import { SwinMLP, type SwinMLPConfig } from '@swin/swin-mlp';
import { type ResolvedModel, resolveModel, UnknownModelError } from './registry.js';

/** A model built by {@link createModel}: `SwinTransformer`, `SwinMLP`, `ShuntedTransformer` or a PVT. */
export type RegistryModel = PresetModel;

/** Config fields of the family (camelCase, e.g. `{ numClasses: 10, imgSize: 256 }`) replacing the preset's. */
export type ModelOverrides = PresetOverrides;

/** A complete config of any family, as {@link buildFromConfig} takes it. */
export type FamilyConfig =
  | { family: 'swin'; config: Partial<SwinConfig> }
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
  if (r.arch.preset === null) {
    throw new UnknownModelError(`createModel: ${r.name} cannot be built: ${r.arch.unsupported}`);
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
      return new SwinTransformer(fc.config);
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
