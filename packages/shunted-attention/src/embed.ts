import {
  assertTensorInput,
  BatchNorm2d,
  Conv2d,
  type Downsample,
  LayerNorm,
  Module,
  ModuleList,
  SwinConfigError,
  SwinInputError,
} from '@swin/nn';
import * as tf from '@tensorflow/tfjs-core';
import { STEM_CHANNELS } from './config.js';
import { overlapPatchEmbedMacs, shuntedStemMacs } from './counts.js';
import { officialConvInit } from './init.js';
import { overlapEmbedOutSize, stemOutSize } from './sizes.js';

/** `nn.ReLU` (no parameters); occupies an index of the stem's `nn.Sequential` like in the reference. */
export class ReLU extends Module {
  forward(x: tf.Tensor4D): tf.Tensor4D {
    return tf.relu(x);
  }
}

type StemLayer = Conv2d | BatchNorm2d | ReLU;

/**
 * The convolutional stem of Shunted Transformer (reference `Head(num)`, `patch_embed1` of the model):
 * Conv 7x7 / stride 2 / pad 3 (3 -> 64, no bias) -> BatchNorm -> ReLU, `numConv` x [Conv 3x3 / pad 1
 * (64 -> 64, no bias) -> BatchNorm -> ReLU], Conv 2x2 / stride 2 (bias) -> LayerNorm(64, eps 1e-5).
 * Keys `conv.<i>.*` (indices of the reference `nn.Sequential`: convs at 0, 3, 6, ..., BatchNorms at 1, 4, ...,
 * BatchNorm buffers `running_mean`, `running_var`, `num_batches_tracked` accepted) and `norm.*`.
 * BatchNorm uses its running statistics in eval mode and the batch statistics in training mode.
 *
 * Implements `Downsample`: NHWC `[B, H, W, 3]` -> `[B, H', W', 64]` with `H' = floor(ceil(H / 2) / 2)`.
 */
export class ShuntedStem extends Module implements Downsample {
  readonly inChannels = 3;
  readonly outChannels = STEM_CHANNELS;
  readonly conv: ModuleList<StemLayer>;
  readonly norm: LayerNorm;

  constructor(readonly numConv = 0) {
    super();
    if (!Number.isInteger(numConv) || numConv < 0)
      throw new SwinConfigError(`ShuntedStem: num_conv must be a non-negative integer, got ${numConv}`);
    const C = STEM_CHANNELS;
    const layers: StemLayer[] = [
      // the image needs no gradient: the backward pass skips the stem's input gradient
      new Conv2d(3, C, 7, { stride: 2, padding: 3, bias: false, inputGradient: false }),
      new BatchNorm2d(C),
      new ReLU(),
    ];
    for (let i = 0; i < numConv; i++) {
      layers.push(new Conv2d(C, C, 3, { padding: 1, bias: false }), new BatchNorm2d(C), new ReLU());
    }
    layers.push(new Conv2d(C, C, 2, { stride: 2 }));
    for (const l of layers) if (l instanceof Conv2d) officialConvInit(l);
    this.conv = this.child('conv', new ModuleList<StemLayer>(layers));
    this.norm = this.child('norm', new LayerNorm(C, 1e-5));
  }

  /** NHWC `[B, H, W, 3]` -> `[B, H', W', 64]`. */
  forward(x: tf.Tensor4D): tf.Tensor4D {
    assertTensorInput('ShuntedStem.forward', x, { rank: 4, channels: 3 });
    if (x.rank !== 4 || x.shape[3] !== 3)
      throw new SwinInputError(`ShuntedStem: expected an NHWC image [B, H, W, 3], got shape [${x.shape}]`);
    stemOutSize(x.shape[1], x.shape[2]); // clear error for too-small inputs
    return tf.tidy(() => {
      let y = x;
      for (const layer of this.conv) y = layer.forward(y);
      return this.norm.forward(y);
    });
  }

  outSize(H: number, W: number): [number, number] {
    return stemOutSize(H, W);
  }

  macs(H: number, W: number): number {
    return shuntedStemMacs(this.numConv, H, W);
  }
}

/**
 * Overlapping patch embedding (reference `OverlapPatchEmbed`): Conv `patchSize x patchSize`, stride
 * `stride`, padding `patchSize // 2` (with bias) -> LayerNorm (eps 1e-5). Stages 2-4 of Shunted use
 * 3x3 / stride 2. Keys `proj.*`, `norm.*`. Implements `Downsample`: NHWC `[B, H, W, inChannels]` ->
 * `[B, ceil(H / 2), ceil(W / 2), outChannels]` for 3x3 / 2.
 */
export class OverlapPatchEmbed extends Module implements Downsample {
  readonly proj: Conv2d;
  readonly norm: LayerNorm;
  constructor(
    readonly inChannels: number,
    readonly outChannels: number,
    readonly patchSize = 3,
    readonly stride = 2,
  ) {
    super();
    this.proj = this.child(
      'proj',
      new Conv2d(inChannels, outChannels, patchSize, { stride, padding: Math.floor(patchSize / 2) }),
    );
    officialConvInit(this.proj);
    this.norm = this.child('norm', new LayerNorm(outChannels, 1e-5));
  }

  forward(x: tf.Tensor4D): tf.Tensor4D {
    assertTensorInput('OverlapPatchEmbed.forward', x, { rank: 4, channels: this.inChannels });
    if (x.rank !== 4 || x.shape[3] !== this.inChannels)
      throw new SwinInputError(
        `OverlapPatchEmbed: expected NHWC [B, H, W, ${this.inChannels}], got shape [${x.shape}]`,
      );
    overlapEmbedOutSize(x.shape[1], x.shape[2], this.patchSize, this.stride);
    return tf.tidy(() => this.norm.forward(this.proj.forward(x)));
  }

  outSize(H: number, W: number): [number, number] {
    return overlapEmbedOutSize(H, W, this.patchSize, this.stride);
  }

  macs(H: number, W: number): number {
    return overlapPatchEmbedMacs(this.inChannels, this.outChannels, H, W, this.patchSize, this.stride);
  }
}
