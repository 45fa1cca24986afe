import type * as tf from '@tensorflow/tfjs-core';
import type { Module } from './module.js';

/**
 * The contracts every attention package implements, so that stages of different kinds compose into one
 * hierarchical backbone. Feature maps between blocks and stages are channels-last `[B, H, W, C]`;
 * token sequences `[B, N, C]` exist only inside blocks.
 */

/** A block: `[B, H, W, dim]` -> `[B, H, W, dim]` (residual attention/MLP block of any kind). */
export interface FeatureBlock extends Module {
  /** Channels in and out. */
  readonly dim: number;
  forward(x: tf.Tensor4D): tf.Tensor4D;
  /** Multiply-accumulates of one image of `H x W` tokens (the official `flops()` convention). */
  macs(H: number, W: number): number;
}

/** A resolution-changing layer: `[B, H, W, inChannels]` -> `[B, H', W', outChannels]`. */
export interface Downsample extends Module {
  readonly inChannels: number;
  readonly outChannels: number;
  forward(x: tf.Tensor4D): tf.Tensor4D;
  /** Output size for an `H x W` input. */
  outSize(H: number, W: number): [number, number];
  /** Multiply-accumulates of one image of size `H x W`. */
  macs(H: number, W: number): number;
}

/** Where a stage's output sits in the pyramid. */
export interface FeatureInfo {
  /** Channels of the stage output. */
  channels: number;
  /** Total stride relative to the input image. */
  reduction: number;
  /** Name of the module producing it (dotted key prefix). */
  module: string;
}

/** Everything a classifier computes in one pass, for parity checks and dense heads. */
export interface ForwardOutputs {
  /** Output of the (first) patch embedding, NHWC. */
  embed: tf.Tensor4D;
  /** Per-stage outputs, NHWC `[B, H_i, W_i, C_i]`. */
  features: tf.Tensor4D[];
  /** Input of the classifier `[B, numFeatures]`. */
  preLogits: tf.Tensor2D;
  /** `[B, numClasses]`. */
  logits: tf.Tensor2D;
}

/**
 * The uniform model API (timm style) of every preset model and hybrid backbone.
 * Input images are NHWC `[B, H, W, inChans]`.
 */
export interface VisionModel extends Module {
  readonly numClasses: number;
  /** Channels of the last stage (width of `preLogits`). */
  readonly numFeatures: number;
  readonly featureInfo: FeatureInfo[];
  /** Multi-scale stage outputs, NHWC, for FPN/UPerNet-style heads. */
  forwardFeatures(x: tf.Tensor4D): tf.Tensor4D[];
  /** Classifier on the last stage output: final norm (if any) -> pool -> head. `preLogits` stops before the head. */
  forwardHead(last: tf.Tensor4D, opts?: { preLogits?: boolean }): tf.Tensor2D;
  /** Logits `[B, numClasses]`. */
  forward(x: tf.Tensor4D): tf.Tensor2D;
  /** Multiply-accumulates of one `H x W` image (official `flops()` convention). */
  macs(H: number, W: number): number;
}
