import * as tf from '@tensorflow/tfjs-core';
import { conv2d, depthwiseConv2d, dropout, dropPath, gelu, layerNorm, linear } from './functional.js';
import { kaimingUniform, ones, truncNormal, zeros } from './init.js';
import { Module } from './module.js';
import { SwinConfigError } from './validate.js';

/** PyTorch `nn.Linear`: x `[..., in]` -> `[..., out]`. Keys `weight` `[out, in]`, `bias` `[out]`. */
export class Linear extends Module {
  readonly weight: tf.Variable;
  readonly bias: tf.Variable | null;
  constructor(
    readonly inFeatures: number,
    readonly outFeatures: number,
    opts: { bias?: boolean } = {},
  ) {
    super();
    checkPositiveInt('Linear', { inFeatures, outFeatures });
    this.weight = this.param('weight', [outFeatures, inFeatures], truncNormal(0.02), { layout: 'linear' });
    this.bias = (opts.bias ?? true) ? this.param('bias', [outFeatures], zeros) : null;
  }
  forward(x: tf.Tensor): tf.Tensor {
    return linear(x, this.weight, this.bias);
  }
  /** Multiply-accumulates for `tokens` input rows. */
  macs(tokens: number): number {
    return tokens * this.inFeatures * this.outFeatures;
  }
}

/** PyTorch `nn.LayerNorm(dim, eps)` over the last axis. Keys `weight`, `bias` `[dim]`. */
export class LayerNorm extends Module {
  readonly weight: tf.Variable;
  readonly bias: tf.Variable;
  constructor(
    readonly dim: number,
    readonly eps = 1e-5,
  ) {
    super();
    checkPositiveInt('LayerNorm', { dim });
    this.weight = this.param('weight', [dim], ones);
    this.bias = this.param('bias', [dim], zeros);
  }
  forward<T extends tf.Tensor>(x: T): T {
    if (x.shape[x.rank - 1] !== this.dim) {
      throw new SwinConfigError(
        `LayerNorm(${this.dim}): input's last axis is ${x.shape[x.rank - 1]} (shape [${x.shape}])`,
      );
    }
    return layerNorm(x, this.weight, this.bias, this.eps) as T;
  }
}

/**
 * PyTorch `nn.BatchNorm2d` on NHWC maps. Eval mode uses the running statistics; training mode uses the
 * batch statistics (running statistics are then updated with `momentum`).
 * Keys `weight`, `bias`, `running_mean`, `running_var` `[C]`, buffer `num_batches_tracked`.
 */
export class BatchNorm2d extends Module {
  readonly weight: tf.Variable;
  readonly bias: tf.Variable;
  readonly runningMean: tf.Variable;
  readonly runningVar: tf.Variable;
  constructor(
    readonly numFeatures: number,
    readonly eps = 1e-5,
    readonly momentum = 0.1,
  ) {
    super();
    this.weight = this.param('weight', [numFeatures], ones);
    this.bias = this.param('bias', [numFeatures], zeros);
    this.runningMean = this.param('running_mean', [numFeatures], zeros, { trainable: false });
    this.runningVar = this.param('running_var', [numFeatures], ones, { trainable: false });
    this.buffer('num_batches_tracked', { compute: () => tf.scalar(0, 'int32'), verify: false });
  }
  forward(x: tf.Tensor4D): tf.Tensor4D {
    if (x.rank !== 4 || x.shape[3] !== this.numFeatures) {
      throw new SwinConfigError(
        `BatchNorm2d(${this.numFeatures}): expected NHWC input with ${this.numFeatures} channels, got [${x.shape}]`,
      );
    }
    if (!this.training) {
      return tf.tidy(() => {
        const scale = tf.mul(this.weight, tf.rsqrt(tf.add(this.runningVar, this.eps)));
        return tf.add(tf.mul(tf.sub(x, this.runningMean), scale), this.bias) as tf.Tensor4D;
      });
    }
    const { mean, variance } = tf.moments(x, [0, 1, 2]);
    const n = x.size / this.numFeatures;
    tf.tidy(() => {
      const m = this.momentum;
      this.runningMean.assign(tf.add(tf.mul(this.runningMean, 1 - m), tf.mul(mean, m)));
      const unbiased = tf.mul(variance, n / Math.max(n - 1, 1));
      this.runningVar.assign(tf.add(tf.mul(this.runningVar, 1 - m), tf.mul(unbiased, m)));
    });
    const y = tf.tidy(() =>
      tf.add(tf.mul(tf.mul(tf.sub(x, mean), tf.rsqrt(tf.add(variance, this.eps))), this.weight), this.bias),
    );
    mean.dispose();
    variance.dispose();
    return y as tf.Tensor4D;
  }
}

/**
 * PyTorch `nn.Conv2d` (groups 1) on NHWC maps, symmetric padding. Keys `weight` `[out, in, kh, kw]`
 * (stored HWIO), `bias` `[out]`. x `[B, H, W, in]` -> `[B, Ho, Wo, out]`.
 */
export class Conv2d extends Module {
  readonly weight: tf.Variable;
  readonly bias: tf.Variable | null;
  readonly kernel: [number, number];
  readonly stride: [number, number];
  readonly padding: [number, number];
  /** Whether gradients flow into the input (false for image stems). */
  readonly inputGradient: boolean;
  constructor(
    readonly inChannels: number,
    readonly outChannels: number,
    kernel: number | [number, number],
    opts: {
      stride?: number | [number, number];
      padding?: number | [number, number];
      bias?: boolean;
      /**
       * false: no gradient into the input (an image stem: the backward pass computes the filter gradient
       * only, the input is treated as a constant). Default true.
       */
      inputGradient?: boolean;
    } = {},
  ) {
    super();
    this.inputGradient = opts.inputGradient ?? true;
    this.kernel = pair(kernel);
    this.stride = pair(opts.stride ?? 1);
    this.padding = pair(opts.padding ?? 0);
    checkPositiveInt('Conv2d', { inChannels, outChannels, kh: this.kernel[0], kw: this.kernel[1] });
    const fanIn = inChannels * this.kernel[0] * this.kernel[1];
    this.weight = this.param('weight', [outChannels, inChannels, ...this.kernel], kaimingUniform(fanIn), {
      layout: 'conv2d',
    });
    this.bias = (opts.bias ?? true) ? this.param('bias', [outChannels], kaimingUniform(fanIn)) : null;
  }
  forward(x: tf.Tensor4D): tf.Tensor4D {
    return conv2d(x, this.weight as tf.Tensor4D, this.bias as tf.Tensor1D | null, {
      stride: this.stride,
      padding: this.padding,
      inputGradient: this.inputGradient,
    });
  }
  /** Output size for an `H x W` input. */
  outSize(H: number, W: number): [number, number] {
    return [
      Math.floor((H + 2 * this.padding[0] - this.kernel[0]) / this.stride[0]) + 1,
      Math.floor((W + 2 * this.padding[1] - this.kernel[1]) / this.stride[1]) + 1,
    ];
  }
  /** Multiply-accumulates for an `H x W` input (batch 1). */
  macs(H: number, W: number): number {
    const [Ho, Wo] = this.outSize(H, W);
    return Ho * Wo * this.outChannels * this.inChannels * this.kernel[0] * this.kernel[1];
  }
}

/**
 * PyTorch depthwise `nn.Conv2d(C, C, k, padding=p, groups=C)`, stride 1, on NHWC maps.
 * Keys `weight` `[C, 1, k, k]` (stored `[k, k, C, 1]`), `bias` `[C]`.
 */
export class DepthwiseConv2d extends Module {
  readonly weight: tf.Variable;
  readonly bias: tf.Variable | null;
  constructor(
    readonly channels: number,
    readonly kernel = 3,
    readonly padding = 1,
    opts: { bias?: boolean } = {},
  ) {
    super();
    const fanIn = kernel * kernel;
    this.weight = this.param('weight', [channels, 1, kernel, kernel], kaimingUniform(fanIn), {
      layout: 'depthwise',
    });
    this.bias = (opts.bias ?? true) ? this.param('bias', [channels], kaimingUniform(fanIn)) : null;
  }
  forward(x: tf.Tensor4D): tf.Tensor4D {
    return depthwiseConv2d(x, this.weight as tf.Tensor4D, this.bias as tf.Tensor1D | null, {
      padding: this.padding,
    });
  }
  macs(H: number, W: number): number {
    return H * W * this.channels * this.kernel * this.kernel;
  }
}

/** Inverted dropout, active in training mode only. */
export class Dropout extends Module {
  constructor(readonly p = 0) {
    super();
  }
  forward(x: tf.Tensor): tf.Tensor {
    return dropout(x, this.p, this.training);
  }
}

/** Stochastic depth (timm `DropPath`), per sample, active in training mode only. */
export class DropPath extends Module {
  constructor(readonly p = 0) {
    super();
  }
  forward(x: tf.Tensor): tf.Tensor {
    return dropPath(x, this.p, this.training);
  }
}

/**
 * The transformer MLP `fc1 -> GELU -> drop -> fc2 -> drop` (timm/Swin `Mlp`).
 * x `[..., in]` -> `[..., out]`. Keys `fc1.*`, `fc2.*`.
 */
export class Mlp extends Module {
  readonly fc1: Linear;
  readonly fc2: Linear;
  readonly drop: Dropout;
  constructor(inFeatures: number, hiddenFeatures: number, outFeatures = inFeatures, drop = 0) {
    super();
    this.fc1 = this.child('fc1', new Linear(inFeatures, hiddenFeatures));
    this.fc2 = this.child('fc2', new Linear(hiddenFeatures, outFeatures));
    this.drop = this.child('drop', new Dropout(drop));
  }
  forward(x: tf.Tensor): tf.Tensor {
    return tf.tidy(() => this.drop.forward(this.fc2.forward(this.drop.forward(gelu(this.fc1.forward(x))))));
  }
  macs(tokens: number): number {
    return this.fc1.macs(tokens) + this.fc2.macs(tokens);
  }
}

export function pair(v: number | [number, number]): [number, number] {
  return typeof v === 'number' ? [v, v] : [v[0], v[1]];
}

/** Throws a clear error unless every value is a positive integer. */
export function checkPositiveInt(where: string, values: Record<string, number>): void {
  for (const [k, v] of Object.entries(values)) {
    if (!Number.isInteger(v) || v <= 0)
      throw new SwinConfigError(`${where}: ${k} must be a positive integer, got ${v}`);
  }
}
