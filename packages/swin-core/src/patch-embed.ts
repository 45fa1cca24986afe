import { Conv2d, type Downsample, LayerNorm, Module } from '@swin/nn';
import * as tf from '@tensorflow/tfjs-core';
import { assertNHWC, assertPositiveInts, toPair } from './validate.js';

/** Options of {@link PatchEmbed}. */
export interface PatchEmbedOptions {
  /** Patch size `p` or `[ph, pw]` (conv kernel = stride). Default 4. */
  patchSize?: number | [number, number];
  /** Input channels. Default 3. */
  inChans?: number;
  /** Output channels. Default 96. */
  embedDim?: number;
  /** LayerNorm after the projection (official `patch_norm`). Default true. */
  norm?: boolean;
  /** LayerNorm epsilon. Default 1e-5. */
  eps?: number;
}

/**
 * Swin `PatchEmbed`: non-overlapping `p x p` convolution (kernel = stride = patch) then an optional
 * LayerNorm. Keys `proj.weight` `[embedDim, inChans, ph, pw]`, `proj.bias`, `norm.weight`, `norm.bias`.
 *
 * x `[B, H, W, inChans]` -> `[B, ceil(H/ph), ceil(W/pw), embedDim]`. Sizes that are not multiples of the
 * patch are zero-padded at the bottom/right first (as the Swin detection/segmentation backbones do);
 * for multiples of the patch this is exactly the official classification `PatchEmbed`.
 */
export class PatchEmbed extends Module implements Downsample {
  readonly proj: Conv2d;
  readonly norm: LayerNorm | null;
  readonly patchSize: [number, number];
  readonly inChannels: number;
  readonly outChannels: number;

  constructor(opts: PatchEmbedOptions = {}) {
    super();
    this.patchSize = toPair(opts.patchSize ?? 4);
    this.inChannels = opts.inChans ?? 3;
    this.outChannels = opts.embedDim ?? 96;
    assertPositiveInts('PatchEmbed', {
      patchH: this.patchSize[0],
      patchW: this.patchSize[1],
      inChans: this.inChannels,
      embedDim: this.outChannels,
    });
    this.proj = this.child(
      'proj',
      new Conv2d(this.inChannels, this.outChannels, this.patchSize, { stride: this.patchSize }),
    );
    this.norm =
      (opts.norm ?? true) ? this.child('norm', new LayerNorm(this.outChannels, opts.eps ?? 1e-5)) : null;
  }

  /** Output size `[ceil(H/ph), ceil(W/pw)]`. */
  outSize(H: number, W: number): [number, number] {
    return [Math.ceil(H / this.patchSize[0]), Math.ceil(W / this.patchSize[1])];
  }

  /** x `[B, H, W, inChans]` -> `[B, ceil(H/ph), ceil(W/pw), embedDim]`. */
  forward(x: tf.Tensor4D): tf.Tensor4D {
    assertNHWC('PatchEmbed.forward', x, this.inChannels);
    const [, H, W] = x.shape;
    const [ph, pw] = this.patchSize;
    const padH = (ph - (H % ph)) % ph;
    const padW = (pw - (W % pw)) % pw;
    return tf.tidy(() => {
      const xp =
        padH || padW
          ? tf.pad(x, [
              [0, 0],
              [0, padH],
              [0, padW],
              [0, 0],
            ])
          : x;
      const y = this.proj.forward(xp as tf.Tensor4D);
      return this.norm ? this.norm.forward(y) : y;
    });
  }

  /** Official `PatchEmbed.flops()` for an `H x W` image: conv MACs + LayerNorm (`Ho*Wo*embedDim`). */
  macs(H: number, W: number): number {
    return patchEmbedMacs(H, W, this.patchSize, this.inChannels, this.outChannels, this.norm !== null);
  }
}

/** Official `PatchEmbed.flops()` (padded sizes `ceil(H/p)`; equal to the official one when `p` divides). */
export function patchEmbedMacs(
  H: number,
  W: number,
  patch: [number, number],
  inChans: number,
  embedDim: number,
  norm: boolean,
): number {
  const Ho = Math.ceil(H / patch[0]);
  const Wo = Math.ceil(W / patch[1]);
  let m = Ho * Wo * embedDim * inChans * patch[0] * patch[1];
  if (norm) m += Ho * Wo * embedDim;
  return m;
}
