/**
 * `@swin/preprocess/array`: everything except the tfjs wrapper `evalTransform`, for workers and tools that do
 * not load TensorFlow.js (this entry imports no tfjs module).
 */
export { type DecodeOptions, decodeImage, type ImageInfo, MAX_IMAGE_PIXELS, probeImage } from './decode.js';
export { type ImageDataLike, type ImageSource, loadImage } from './load.js';
export { PRECISION_BITS, resizePIL, resizePILUnchecked } from './resize.js';
export {
  cropAndNormalize,
  cropSize,
  type EvalArray,
  type EvalTransformConfig,
  evalResize,
  evalResizeSize,
  evalTransformArray,
} from './transform.js';
export {
  checkRGBImage,
  PreprocessError,
  RESAMPLE_FILTERS,
  type ResampleFilter,
  type RGBImage,
} from './types.js';
