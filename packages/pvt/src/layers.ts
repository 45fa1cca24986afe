import {
  assertTensorInput,
  Conv2d,
  checkPositiveInt,
  DepthwiseConv2d,
  type Downsample,
  Dropout,
  gelu,
  LayerNorm,
  Linear,
  Module,
  normal,
  SwinInputError,
} from '@swin/nn';
import * as tf from '@tensorflow/tfjs-core';
import { initConvV2 } from './attention.js';

/**
 * PVT v1 `PatchEmbed`: non-overlapping Conv (kernel = stride = `patchSize`) + LayerNorm (1e-5).
 * NHWC `[B, H, W, inChannels]` -> `[B, floor(H/p), floor(W/p), outChannels]` (a remainder is dropped, as in
 * PyTorch). Keys `proj.*`, `norm.*`.
 */
export class PatchEmbed extends Module implements Downsample {
  readonly proj: Conv2d;
  readonly norm: LayerNorm;
  readonly name: string;
  constructor(
    readonly inChannels: number,
    readonly outChannels: number,
    readonly patchSize: number,
    opts: { normEps?: number; name?: string } = {},
  ) {
    super();
    this.name = opts.name ?? 'PatchEmbed';
    checkPositiveInt(this.name, { inChannels, outChannels, patchSize });
    this.proj = this.child('proj', new Conv2d(inChannels, outChannels, patchSize, { stride: patchSize }));
    this.norm = this.child('norm', new LayerNorm(outChannels, opts.normEps ?? 1e-5));
  }
  outSize(H: number, W: number): [number, number] {
    return [Math.floor(H / this.patchSize), Math.floor(W / this.patchSize)];
  }
  forward(x: tf.Tensor4D): tf.Tensor4D {
    checkInput(this.name, x, this.inChannels);
    const [, H, W] = x.shape;
    if (H < this.patchSize || W < this.patchSize) {
      throw new SwinInputError(
        `${this.name}: the ${H}x${W} input is smaller than the ${this.patchSize}x${this.patchSize} stride-${this.patchSize} patch (output would be empty)`,
      );
    }
    return tf.tidy(() => this.norm.forward(this.proj.forward(x)));
  }
  /** Conv MACs (+ bias and LayerNorm when `extras`, as mmcv counts them). */
  macs(H: number, W: number, opts: { extras?: boolean } = {}): number {
    const [h, w] = this.outSize(H, W);
    return this.proj.macs(H, W) + (opts.extras ? 3 * h * w * this.outChannels : 0);
  }
}

/**
 * PVT v2 `OverlapPatchEmbed`: Conv `patchSize x patchSize`, `stride`, padding `patchSize // 2` (7/4/3 for stage 1,
 * 3/2/1 after) + LayerNorm (1e-5). NHWC `[B, H, W, inChannels]` -> `[B, H', W', outChannels]` with
 * `H' = floor((H + 2p - k) / s) + 1`. Keys `proj.*`, `norm.*`.
 */
export class OverlapPatchEmbed extends Module implements Downsample {
  readonly proj: Conv2d;
  readonly norm: LayerNorm;
  readonly name: string;
  constructor(
    readonly inChannels: number,
    readonly outChannels: number,
    readonly patchSize = 7,
    readonly stride = 4,
    opts: {
      normEps?: number;
      name?: string;
      /** false for an embedding of the image (stage 1): no gradient into the input. Default true. */
      inputGradient?: boolean;
    } = {},
  ) {
    super();
    this.name = opts.name ?? 'OverlapPatchEmbed';
    checkPositiveInt(this.name, { inChannels, outChannels, patchSize, stride });
    const pad = Math.floor(patchSize / 2);
    this.proj = this.child(
      'proj',
      new Conv2d(inChannels, outChannels, patchSize, {
        stride,
        padding: pad,
        inputGradient: opts.inputGradient ?? true,
      }),
    );
    initConvV2(this.proj);
    this.norm = this.child('norm', new LayerNorm(outChannels, opts.normEps ?? 1e-5));
  }
  outSize(H: number, W: number): [number, number] {
    return this.proj.outSize(H, W);
  }
  forward(x: tf.Tensor4D): tf.Tensor4D {
    checkInput(this.name, x, this.inChannels);
    const [, H, W] = x.shape;
    const [h, w] = this.outSize(H, W);
    if (h < 1 || w < 1) {
      throw new SwinInputError(
        `${this.name}: the ${H}x${W} input gives an empty ${h}x${w} output for kernel ${this.patchSize}, stride ${this.stride}`,
      );
    }
    return tf.tidy(() => this.norm.forward(this.proj.forward(x)));
  }
  macs(H: number, W: number, opts: { extras?: boolean } = {}): number {
    const [h, w] = this.outSize(H, W);
    return this.proj.macs(H, W) + (opts.extras ? 3 * h * w * this.outChannels : 0);
  }
}

/** PVT v2 `DWConv`: a depthwise 3x3 conv (padding 1, bias) wrapped so its keys are `dwconv.*`. NHWC in/out. */
export class DWConv extends Module {
  readonly dwconv: DepthwiseConv2d;
  constructor(readonly dim: number) {
    super();
    this.dwconv = this.child('dwconv', new DepthwiseConv2d(dim, 3, 1));
    // v2 init: N(0, sqrt(2 / fan_out)), fan_out = 3 * 3 * C / groups = 9.
    tf.tidy(() => {
      this.dwconv.weight.assign(normal(Math.sqrt(2 / 9))(this.dwconv.weight.shape));
      this.dwconv.bias?.assign(tf.zerosLike(this.dwconv.bias));
    });
  }
  forward(x: tf.Tensor4D): tf.Tensor4D {
    return this.dwconv.forward(x);
  }
  macs(H: number, W: number): number {
    return this.dwconv.macs(H, W);
  }
}

/**
 * PVT v2 `Mlp`: `fc1 -> (ReLU if linear) -> DWConv (depthwise 3x3) -> GELU -> drop -> fc2 -> drop`; the
 * depthwise conv sits between fc1 and GELU with no residual. NHWC `[B, H, W, in]` -> `[B, H, W, out]`.
 * Keys `fc1.*`, `dwconv.dwconv.*`, `fc2.*` (timm's `dwconv.*` is converted by `timmToOfficialPVTv2`).
 */
export class ConvMlp extends Module {
  readonly fc1: Linear;
  readonly dwconv: DWConv;
  readonly fc2: Linear;
  readonly drop: Dropout;
  readonly hidden: number;
  constructor(
    readonly inFeatures: number,
    hiddenFeatures: number,
    readonly outFeatures = inFeatures,
    readonly opts: { linear?: boolean; drop?: number } = {},
  ) {
    super();
    this.hidden = hiddenFeatures;
    this.fc1 = this.child('fc1', new Linear(inFeatures, hiddenFeatures));
    this.dwconv = this.child('dwconv', new DWConv(hiddenFeatures));
    this.fc2 = this.child('fc2', new Linear(hiddenFeatures, outFeatures));
    this.drop = this.child('drop', new Dropout(opts.drop ?? 0));
  }
  forward(x: tf.Tensor4D): tf.Tensor4D {
    return tf.tidy(() => {
      let h = this.fc1.forward(x) as tf.Tensor4D;
      if (this.opts.linear) h = tf.relu(h);
      h = gelu(this.dwconv.forward(h)) as tf.Tensor4D;
      return this.drop.forward(this.fc2.forward(this.drop.forward(h))) as tf.Tensor4D;
    });
  }
  /** fc1, depthwise conv, fc2 (+ dwconv bias and ReLU when `extras`). */
  macs(H: number, W: number, opts: { extras?: boolean } = {}): number {
    const N = H * W;
    const base = N * this.inFeatures * this.hidden + N * this.hidden * 9 + N * this.hidden * this.outFeatures;
    if (!opts.extras) return base;
    return base + N * this.hidden + (this.opts.linear ? N * this.hidden : 0);
  }
}

function checkInput(name: string, x: tf.Tensor, c: number): void {
  assertTensorInput(`${name}.forward`, x, { rank: 4, channels: c });
}
