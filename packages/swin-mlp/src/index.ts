/**
 * `@swin/swin-mlp`: Swin-MLP (microsoft/Swin-Transformer `models/swin_mlp.py`) on TensorFlow.js.
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
export { headTokenMix, windowSpatialMlp } from './spatial-mlp.js';
