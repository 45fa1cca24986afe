export { ShuntedAttention, type ShuntedAttentionOptions } from './attention.js';
export { DWConv, ShuntedBlock, type ShuntedBlockOptions, ShuntedMlp } from './block.js';
export {
  checkAttentionArgs,
  dropPathRates,
  mlpHidden,
  reductionKernels,
  resolveShuntedConfig,
  SHUNTED_DEFAULTS,
  SHUNTED_PRESETS,
  SHUNTED_SR_RATIOS,
  type ShuntedConfig,
  type ShuntedPresetName,
  STEM_CHANNELS,
} from './config.js';
export {
  overlapPatchEmbedMacs,
  overlapPatchEmbedParams,
  shuntedAttentionMacs,
  shuntedAttentionParams,
  shuntedBlockMacs,
  shuntedBlockParams,
  shuntedMacs,
  shuntedMlpMacs,
  shuntedMlpParams,
  shuntedParamCount,
  shuntedStemMacs,
  shuntedStemParams,
} from './counts.js';
export { OverlapPatchEmbed, ReLU, ShuntedStem } from './embed.js';
export { officialConvInit } from './init.js';
export {
  createShunted,
  type ShuntedOutputs,
  ShuntedTransformer,
  shuntedPresetConfig,
} from './model.js';
export {
  attentionArgsFromKwargs,
  blockArgsFromKwargs,
  type OfficialNormLayer,
  type OfficialShuntedKwargs,
  shuntedConfigFromKwargs,
} from './official.js';
export { convOut, overlapEmbedOutSize, reducedSizes, shuntedStageSizes, stemOutSize } from './sizes.js';
