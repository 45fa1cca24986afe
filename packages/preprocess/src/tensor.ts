/** The tfjs side of the package: the evaluation transform as a tensor. */
import * as tf from '@tensorflow/tfjs-core';
import { type EvalTransformConfig, evalTransformArray } from './transform.js';
import type { RGBImage } from './types.js';

/**
 * timm's evaluation transform as a model input: {@link evalTransformArray} in a tensor.
 * @param img `[H, W, 3]` uint8 RGB (from {@link decodeImage} or {@link loadImage}).
 * @returns a new `tf.Tensor4D` `[1, S, S, 3]` float32, NHWC (the caller disposes it).
 * @throws {PreprocessError} for a malformed image or config (no tensor is created then).
 */
export function evalTransform(img: RGBImage, cfg: EvalTransformConfig): tf.Tensor4D {
  const { data, shape } = evalTransformArray(img, cfg);
  return tf.tensor4d(data, shape, 'float32');
}
