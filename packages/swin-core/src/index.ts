/**
 * `@swin/swin-core`: Swin Transformer (W-MSA / SW-MSA) on TensorFlow.js with the official
 * microsoft/Swin-Transformer state_dict keys, loading Microsoft and timm checkpoints.
 * Feature maps are channels-last `[B, H, W, C]`; token sequences `[B, N, C]`.
 *
 * @packageDocumentation
 */
export { effectiveWindow, type SwinBlockOptions, SwinTransformerBlock, swinBlockMacs } from './block.js';
export {
  describeSwinCheckpoint,
  detectSwinLayout,
  exportTimmLayout,
  type LoadSwinCheckpointOptions,
  loadSwinCheckpoint,
  type SwinCheckpointLayout,
  type SwinLoadReport,
  stripWrapperPrefix,
  timmToMicrosoftLayout,
} from './checkpoint.js';
export {
  DEFAULT_SWIN_CONFIG,
  dropPathRates,
  imgSizePair,
  resolveSwinConfig,
  type SwinConfig,
  stageResolutions,
} from './config.js';
export { swinMacs, swinParamCount } from './counting.js';
export {
  configFromKwargs,
  HIERARCHICAL_KWARGS,
  type HierarchicalConfig,
  hierarchicalMacs,
  hierarchicalParamCount,
  hierarchicalPresetConfig,
  resolveHierarchicalConfig,
  type StageBlock,
} from './hierarchical.js';
export {
  HierarchicalClassifier,
  type HierarchicalForwardOutputs,
  type HierarchicalStage,
  HierarchicalStageBase,
  type StageSpec,
  type WindowedBlock,
} from './hierarchical-model.js';
export { BasicLayer, type BasicLayerOptions, type SwinForwardOutputs, SwinTransformer } from './model.js';
export { swinConfigFromOfficial } from './official.js';
export { PatchEmbed, type PatchEmbedOptions, patchEmbedMacs } from './patch-embed.js';
export { mergePatches2x2, PatchMerging, patchMergingMacs } from './patch-merging.js';
export {
  createSwin,
  listSwinModels,
  SWIN_PRESETS,
  type SwinModelName,
  type SwinPreset,
  swinPresetConfig,
} from './presets.js';
export {
  clearWindowAttentionCache,
  WindowAttention,
  type WindowAttentionOptions,
  windowAttentionMacs,
} from './window-attention.js';
