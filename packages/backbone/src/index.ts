/**
 * `@swin/backbone`: hybrid hierarchical backbones whose stages mix Swin, Swin-MLP, Shunted, PVT v1/v2 and
 * global-attention blocks, built from one JSON-serialisable config. Feature maps are channels-last
 * `[B, H, W, C]`.
 *
 * @packageDocumentation
 */
export * from './config.js';
export { backboneMacs, backboneMacsByStage, backboneParamCount, type StageMacs } from './counting.js';
export { CONFIG_METADATA_KEY, loadBackbone, saveBackbone } from './io.js';
export {
  BLOCK_KINDS,
  type BlockContext,
  type BlockKindSpec,
  DOWNSAMPLE_KINDS,
  type DownsampleKindSpec,
} from './kinds.js';
export {
  type BackboneOutputs,
  BackboneStage,
  type BackboneStageOptions,
  createBackbone,
  disposeOutputs,
  HybridBackbone,
} from './model.js';
export {
  convertPresetStateDict,
  createModel,
  listPresets,
  type PresetFamily,
  type PresetModel,
  type PresetName,
  type PresetOverrides,
  presetConfig,
  presetFamily,
  presetKeyMap,
  pvtToBackboneConfig,
  shuntedToBackboneConfig,
  swinMlpToBackboneConfig,
  swinToBackboneConfig,
} from './presets.js';
export {
  downsampleStride,
  dropPathSchedule,
  type ResolvedBackboneConfig,
  type ResolvedStageConfig,
  resolveBackboneConfig,
  stageReductions,
  stageSizes,
} from './resolve.js';
export { StridedConvEmbed, type StridedConvOptions } from './strided-conv.js';
