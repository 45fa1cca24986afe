import * as tf from '@tensorflow/tfjs-core';
import type { Initializer } from './module.js';

/** Zeros. */
export const zeros: Initializer = (shape) => tf.zeros(shape);
/** Ones. */
export const ones: Initializer = (shape) => tf.ones(shape);
/** A constant value. */
export const constant =
  (value: number): Initializer =>
  (shape) =>
    tf.fill(shape, value);
/** timm's `trunc_normal_(std)`: normal truncated at two standard deviations. */
export const truncNormal =
  (std: number): Initializer =>
  (shape) =>
    tf.truncatedNormal(shape, 0, std);
/** PyTorch's default Linear/Conv init: uniform in +-1/sqrt(fanIn). */
export const kaimingUniform =
  (fanIn: number): Initializer =>
  (shape) => {
    const bound = 1 / Math.sqrt(Math.max(fanIn, 1));
    return tf.randomUniform(shape, -bound, bound);
  };
