/**
 * `@swin/swin-mlp`: Swin-MLP (microsoft/Swin-Transformer `models/swin_mlp.py`) on TensorFlow.js with the
 * official state_dict keys. Feature maps are channels-last `[B, H, W, C]`.
 *
 * @packageDocumentation
 */
export {
  checkMap,
  clampWindow,
  normEpsFromKwarg,
  SwinMLPBlock,
  type SwinMLPBlockOptions,
  swinMlpBlockMacs,
  swinMlpBlockOptionsFromKwargs,
} from './block.js';
export {
  DEFAULT_SWIN_MLP_CONFIG,
  dropPathRates,
  imgSizePair,
  resolveSwinMlpConfig,
  type SwinMLPConfig,
  stageResolutions,
  swinMlpConfigFromKwargs,
} from './config.js';
export { stageBlockWindow, swinMlpMacs, swinMlpParamCount } from './counting.js';
export { SwinMLP, type SwinMLPForwardOutputs, SwinMLPLayer, type SwinMLPLayerOptions } from './model.js';
export {
  createSwinMLP,
  listSwinMlpModels,
  SWIN_MLP_PRESETS,
  type SwinMLPModelName,
  type SwinMLPPreset,
  swinMlpPresetConfig,
} from './presets.js';
export {
  type HeadMatMulMode,
  headTokenMix,
  setHeadMatMulMode,
  windowSpatialMlp,
} from './spatial-mlp.js';
