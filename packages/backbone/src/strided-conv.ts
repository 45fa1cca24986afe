import { assertTensorInput, Conv2d, type Downsample, LayerNorm, Module, SwinInputError } from '@swin/nn';
import * as tf from '@tensorflow/tfjs-core';

/** Options of {@link StridedConvEmbed}. */
export interface StridedConvOptions {
  kernel: number;
  stride: number;
  /** Symmetric zero padding (PyTorch). Default 0. */
  padding?: number;
  /** LayerNorm after the conv. Default true. */
  norm?: boolean;
  /** LayerNorm epsilon. Default 1e-5. */
  normEps?: number;
}

/**
 * A plain strided convolution downsample: Conv2d(`inChannels` -> `outChannels`, `kernel`, `stride`,
 * `padding`, bias) then an optional LayerNorm. Keys `proj.*`, `norm.*` (like the patch embeddings).
 *
 * x `[B, H, W, inChannels]` -> `[B, H', W', outChannels]` with `H' = floor((H + 2p - k) / s) + 1`
 * (PyTorch conv arithmetic: a remainder the stride cannot cover is dropped).
 */
export class StridedConvEmbed extends Module implements Downsample {
  readonly proj: Conv2d;
  readonly norm: LayerNorm | null;
  readonly kernel: number;
  readonly stride: number;
  readonly padding: number;

  constructor(
    readonly inChannels: number,
    readonly outChannels: number,
    opts: StridedConvOptions,
  ) {
    super();
    this.kernel = opts.kernel;
    this.stride = opts.stride;
    this.padding = opts.padding ?? 0;
    this.proj = this.child(
      'proj',
      new Conv2d(inChannels, outChannels, this.kernel, { stride: this.stride, padding: this.padding }),
    );
    this.norm =
      (opts.norm ?? true) ? this.child('norm', new LayerNorm(outChannels, opts.normEps ?? 1e-5)) : null;
  }

  /** `[floor((H + 2p - k) / s) + 1, ...]`. */
  outSize(H: number, W: number): [number, number] {
    return this.proj.outSize(H, W);
  }

  /** x `[B, H, W, inChannels]` -> `[B, H', W', outChannels]`. */
  forward(x: tf.Tensor4D): tf.Tensor4D {
    assertTensorInput('StridedConvEmbed.forward', x, { rank: 4, channels: this.inChannels });
    if (x.rank !== 4 || x.shape[3] !== this.inChannels) {
      throw new SwinInputError(
        `StridedConvEmbed.forward: expected NHWC [B, H, W, ${this.inChannels}], got shape [${x.shape}]`,
      );
    }
    const [h, w] = this.outSize(x.shape[1], x.shape[2]);
    if (h < 1 || w < 1) {
      throw new SwinInputError(
        `StridedConvEmbed.forward: a ${x.shape[1]}x${x.shape[2]} map gives an empty ${h}x${w} output ` +
          `(kernel ${this.kernel}, stride ${this.stride}, padding ${this.padding})`,
      );
    }
    return tf.tidy(() => {
      const y = this.proj.forward(x);
      return this.norm ? this.norm.forward(y) : y;
    });
  }

  /** Conv multiply-accumulates of one `H x W` map (the norm is not counted). */
  macs(H: number, W: number): number {
    return this.proj.macs(H, W);
  }
}
