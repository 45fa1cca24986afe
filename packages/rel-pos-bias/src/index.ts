export {
  clearRelPosCache,
  relativePositionBias,
  relativePositionIndex,
  relativePositionIndexArray,
} from './relative-position.js';
export { bicubicInterpolationMatrix, resizeBiasTable } from './resize.js';
export { biasTableSize, type WindowSize } from './validate.js';
