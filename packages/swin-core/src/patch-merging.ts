import { type Downsample, LayerNorm, Linear, Module, SwinInputError } from '@swin/nn';
import * as tf from '@tensorflow/tfjs-core';
import { assertNHWC, assertPositiveInts } from './validate.js';

/**
 * The 2x2 space-to-depth of Swin `PatchMerging`, in the official concatenation order
 * `x0 = x[0::2, 0::2], x1 = x[1::2, 0::2], x2 = x[0::2, 1::2], x3 = x[1::2, 1::2]` (row offset first).
 * x `[B, H, W, C]` with even H, W -> `[B, H/2, W/2, 4C]`. A reshape + transpose: differentiable everywhere.
 */
export function mergePatches2x2(x: tf.Tensor4D): tf.Tensor4D {
  const [B, H, W, C] = x.shape;
  if (H % 2 || W % 2) throw new SwinInputError(`mergePatches2x2: H=${H}, W=${W} must be even (pad first)`);
  return tf.tidy(() => {
    // [B, H/2, r, W/2, c, C] -> [B, H/2, W/2, c, r, C]: channel block index c*2 + r gives x0, x1, x2, x3.
    const v = tf.reshape(x, [B, H / 2, 2, W / 2, 2, C]);
    return tf.reshape(tf.transpose(v, [0, 1, 3, 4, 2, 5]), [B, H / 2, W / 2, 4 * C]);
  });
}

/**
 * Swin `PatchMerging(dim)`: 2x2 neighbourhood concat -> LayerNorm(4C) -> Linear(4C -> 2C, no bias).
 * Keys `reduction.weight` `[2C, 4C]`, `norm.weight`, `norm.bias` `[4C]`.
 *
 * x `[B, H, W, C]` -> `[B, ceil(H/2), ceil(W/2), 2C]`. Odd H/W are zero-padded by one row/column at the
 * bottom/right first (as in the Swin detection backbone); even sizes are exactly the official module.
 */
export class PatchMerging extends Module implements Downsample {
  readonly reduction: Linear;
  readonly norm: LayerNorm;
  readonly inChannels: number;
  readonly outChannels: number;

  /**
   * @param dim input channels C
   * @param opts `eps` of the LayerNorm (default 1e-5); `outDim` output channels (default 2C)
   */
  constructor(
    readonly dim: number,
    opts: { eps?: number; outDim?: number } = {},
  ) {
    super();
    const outDim = opts.outDim ?? 2 * dim;
    assertPositiveInts('PatchMerging', { dim, outDim });
    this.inChannels = dim;
    this.outChannels = outDim;
    // Registration order follows the official module: reduction, then norm.
    this.reduction = this.child('reduction', new Linear(4 * dim, outDim, { bias: false }));
    this.norm = this.child('norm', new LayerNorm(4 * dim, opts.eps ?? 1e-5));
  }

  /** `[ceil(H/2), ceil(W/2)]`. */
  outSize(H: number, W: number): [number, number] {
    return [Math.ceil(H / 2), Math.ceil(W / 2)];
  }

  /** x `[B, H, W, C]` -> `[B, ceil(H/2), ceil(W/2), 2C]`. */
  forward(x: tf.Tensor4D): tf.Tensor4D {
    assertNHWC('PatchMerging.forward', x, this.dim);
    const [, H, W] = x.shape;
    return tf.tidy(() => {
      const xp =
        H % 2 || W % 2
          ? (tf.pad(x, [
              [0, 0],
              [0, H % 2],
              [0, W % 2],
              [0, 0],
            ]) as tf.Tensor4D)
          : x;
      return this.reduction.forward(this.norm.forward(mergePatches2x2(xp))) as tf.Tensor4D;
    });
  }

  /** Official `PatchMerging.flops()`: `H*W*C` (norm) + `(H/2)(W/2) * 4C * 2C` (on the padded map). */
  macs(H: number, W: number): number {
    return patchMergingMacs(H, W, this.dim, this.outChannels);
  }
}

/** Official `PatchMerging.flops()` on the padded map (`ceil` to even sizes). */
export function patchMergingMacs(H: number, W: number, dim: number, outDim = 2 * dim): number {
  const Ho = Math.ceil(H / 2);
  const Wo = Math.ceil(W / 2);
  return 4 * Ho * Wo * dim + Ho * Wo * 4 * dim * outDim;
}
