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
  evalTransform,
  evalTransformArray,
} from './transform.js';
export {
  checkRGBImage,
  PreprocessError,
  RESAMPLE_FILTERS,
  type ResampleFilter,
  type RGBImage,
} from './types.js';
