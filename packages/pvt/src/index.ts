export {
  GlobalAttention,
  type GlobalAttentionOptions,
  initConvV2,
  multiHeadAttention,
  SRAttention,
  type SRAttentionOptions,
  srAttentionFromKwargs,
} from './attention.js';
export {
  GlobalAttentionBlock,
  type GlobalAttentionBlockOptions,
  PVTBlock,
  type PVTBlockOptions,
  PVTv2Block,
} from './blocks.js';
export {
  dropPathRates,
  imgSizePair,
  PVT_CONFIG_SCHEMA,
  PVT_PRESET_NAMES,
  PVT_PRESETS,
  type PVTConfig,
  type PVTPresetName,
  pvtConfig,
  pvtConfigFromKwargs,
  resolvePVTConfig,
  v1PosEmbedGrids,
  validatePVTConfig,
} from './config.js';
export {
  checkPVTInputSize,
  type MacsConvention,
  type PVTMacsOptions,
  pvtMacs,
  pvtParamCount,
  pvtStageSizes,
} from './counts.js';
export { createPVT, type PVTModel, type PVTModelFor } from './factory.js';
export { ConvMlp, DWConv, OverlapPatchEmbed, PatchEmbed } from './layers.js';
export { disposeIntermediates, type PVTIntermediates, PyramidVisionTransformer } from './pvt-v1.js';
export {
  isTimmPVTv2StateDict,
  officialToTimmPVTv2,
  PyramidVisionTransformerV2,
  timmToOfficialPVTv2,
} from './pvt-v2.js';
export {
  adaptiveAvgPool2d,
  adaptiveAvgPoolWeights,
  bilinearResize,
  bilinearWeights,
  clearResampleCache,
  type ResampleKind,
  resample2d,
  resampleCacheSize,
} from './resample.js';
