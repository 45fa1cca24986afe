import {
  assertTensorInput,
  DropPath,
  type FeatureBlock,
  LayerNorm,
  Mlp,
  Module,
  SwinInputError,
} from '@swin/nn';
import * as tf from '@tensorflow/tfjs-core';
import { GlobalAttention, SRAttention } from './attention.js';
import { ConvMlp } from './layers.js';

/** Options shared by the PVT blocks. */
export interface PVTBlockOptions {
  mlpRatio?: number;
  srRatio?: number;
  qkvBias?: boolean;
  qkScale?: number | null;
  /** eps of norm1/norm2 (the model's `norm_layer`; 1e-6 in every official factory). */
  normEps?: number;
  drop?: number;
  attnDrop?: number;
  dropPath?: number;
  /** Name used in error messages (e.g. `block2.0`). */
  name?: string;
}

function checkMap(name: string, x: tf.Tensor, dim: number): void {
  assertTensorInput(`${name}.forward`, x, { rank: 4, channels: dim });
}

/**
 * The pre-norm residual block the three PVT-family blocks share: `x + drop_path(attn(norm1(x)))`, then
 * `x + drop_path(mlp(norm2(x)))`. Children are registered in the reference's order (`norm1`, `attn`,
 * `drop_path`, `norm2`, `mlp`); subclasses choose the attention and MLP and how they are called.
 */
abstract class PreNormBlock<A extends Module, M extends Module> extends Module implements FeatureBlock {
  readonly norm1: LayerNorm;
  readonly attn: A;
  readonly dropPath: DropPath;
  readonly norm2: LayerNorm;
  readonly mlp: M;
  readonly hidden: number;
  readonly name: string;
  constructor(
    readonly dim: number,
    readonly numHeads: number,
    opts: { name?: string; normEps?: number; dropPath?: number; mlpRatio?: number },
    defaultName: string,
    makeAttn: (name: string) => A,
    makeMlp: (hidden: number) => M,
  ) {
    super();
    this.name = opts.name ?? defaultName;
    const eps = opts.normEps ?? 1e-6;
    this.norm1 = this.child('norm1', new LayerNorm(dim, eps));
    this.attn = this.child('attn', makeAttn(`${this.name}.attn`));
    this.dropPath = this.child('drop_path', new DropPath(opts.dropPath ?? 0));
    this.norm2 = this.child('norm2', new LayerNorm(dim, eps));
    this.hidden = Math.trunc(dim * (opts.mlpRatio ?? 4));
    this.mlp = this.child('mlp', makeMlp(this.hidden));
  }

  /** The two residual branches, with `attn` and `mlp` applied as the subclass calls them. */
  protected residual<T extends tf.Tensor>(x: T, attn: (t: T) => tf.Tensor, mlp: (t: T) => tf.Tensor): T {
    return tf.tidy(() => {
      const a = tf.add(x, this.dropPath.forward(attn(this.norm1.forward(x)))) as T;
      return tf.add(a, this.dropPath.forward(mlp(this.norm2.forward(a)))) as T;
    });
  }

  /** NHWC `[B, H, W, dim]` -> `[B, H, W, dim]`. */
  abstract forward(x: tf.Tensor4D): tf.Tensor4D;
  abstract macs(H: number, W: number): number;
}

/** Runs a token-level block on an NHWC map: `[B, H, W, C]` -> tokens `[B, H*W, C]` -> back. */
function onTokens(x: tf.Tensor4D, f: (tokens: tf.Tensor3D) => tf.Tensor3D): tf.Tensor4D {
  const [B, H, W, C] = x.shape;
  return tf.tidy(() => tf.reshape(f(tf.reshape(x, [B, H * W, C]) as tf.Tensor3D), x.shape) as tf.Tensor4D);
}

/**
 * PVT v1 `Block`: `x + attn(norm1(x))`, `x + mlp(norm2(x))` with SR attention and the plain Mlp
 * (`fc1 -> GELU -> fc2`). Keys `norm1`, `attn.{q,kv,proj,sr,norm}`, `norm2`, `mlp.{fc1,fc2}`.
 * `forward`: NHWC `[B, H, W, dim]` -> same; `forwardTokens` also takes PVT v1's last-stage tokens with the
 * class token first (`[B, 1 + H*W, dim]`, sr_ratio 1 only).
 */
export class PVTBlock extends PreNormBlock<SRAttention, Mlp> {
  constructor(dim: number, numHeads: number, opts: PVTBlockOptions = {}) {
    super(
      dim,
      numHeads,
      opts,
      'PVTBlock',
      (name) =>
        new SRAttention(dim, numHeads, {
          srRatio: opts.srRatio ?? 1,
          qkvBias: opts.qkvBias ?? false,
          qkScale: opts.qkScale,
          attnDrop: opts.attnDrop,
          projDrop: opts.drop,
          name,
        }),
      (hidden) => new Mlp(dim, hidden, dim, opts.drop ?? 0),
    );
  }

  /** Tokens `[B, N, dim]` of an `H x W` map (`N = H*W`, or `1 + H*W` with a class token first) -> same. */
  forwardTokens(x: tf.Tensor3D, H: number, W: number): tf.Tensor3D {
    return this.residual(
      x,
      (t) => this.attn.forwardTokens(t, H, W),
      (t) => this.mlp.forward(t),
    );
  }

  /** NHWC `[B, H, W, dim]` -> `[B, H, W, dim]`. */
  forward(x: tf.Tensor4D): tf.Tensor4D {
    checkMap(this.name, x, this.dim);
    return onTokens(x, (t) => this.forwardTokens(t, x.shape[1], x.shape[2]));
  }

  /** Linear layers, reduction conv and attention products (+ mmcv extras: conv bias, norms, when `extras`). */
  macs(H: number, W: number, opts: { tokens?: number; attnTokens?: number; extras?: boolean } = {}): number {
    const N = opts.tokens ?? H * W;
    return this.attn.macs(H, W, opts) + 2 * N * this.dim * this.hidden + (opts.extras ? 4 * N * this.dim : 0);
  }
}

/**
 * PVT v2 `Block`: `x + attn(norm1(x))`, `x + mlp(norm2(x))` with SR or linear-SR attention and the conv Mlp
 * (`fc1 -> (ReLU) -> DWConv -> GELU -> fc2`). Keys `norm1`, `attn.{q,kv,proj,sr,norm}`, `norm2`,
 * `mlp.{fc1,dwconv.dwconv,fc2}`. NHWC `[B, H, W, dim]` -> same.
 */
export class PVTv2Block extends PreNormBlock<SRAttention, ConvMlp> {
  constructor(dim: number, numHeads: number, opts: PVTBlockOptions & { linear?: boolean } = {}) {
    super(
      dim,
      numHeads,
      opts,
      'PVTv2Block',
      (name) =>
        new SRAttention(dim, numHeads, {
          srRatio: opts.srRatio ?? 1,
          qkvBias: opts.qkvBias ?? false,
          qkScale: opts.qkScale,
          attnDrop: opts.attnDrop,
          projDrop: opts.drop,
          linear: opts.linear ?? false,
          convInitV2: true,
          name,
        }),
      (hidden) => new ConvMlp(dim, hidden, dim, { linear: opts.linear ?? false, drop: opts.drop ?? 0 }),
    );
  }

  /** NHWC `[B, H, W, dim]` -> `[B, H, W, dim]`. */
  forward(x: tf.Tensor4D): tf.Tensor4D {
    checkMap(this.name, x, this.dim);
    return this.residual(
      x,
      (t) => this.attn.forward(t),
      (t) => this.mlp.forward(t),
    );
  }

  /** Tokens `[B, H*W, dim]` -> same (the reference's calling convention). */
  forwardTokens(x: tf.Tensor3D, H: number, W: number): tf.Tensor3D {
    assertTensorInput(`${this.name}.forwardTokens`, x, { rank: 3, channels: this.dim });
    const [B, N, C] = x.shape;
    if (N !== H * W) throw new SwinInputError(`${this.name}: ${N} tokens do not form a ${H}x${W} map`);
    return tf.tidy(
      () => tf.reshape(this.forward(tf.reshape(x, [B, H, W, C]) as tf.Tensor4D), x.shape) as tf.Tensor3D,
    );
  }

  macs(H: number, W: number, opts: { attnTokens?: number; extras?: boolean } = {}): number {
    return this.attn.macs(H, W, opts) + this.mlp.macs(H, W, opts) + (opts.extras ? 4 * H * W * this.dim : 0);
  }
}

/** Options of `GlobalAttentionBlock`. */
export interface GlobalAttentionBlockOptions {
  mlpRatio?: number;
  qkvBias?: boolean;
  qkScale?: number | null;
  normEps?: number;
  drop?: number;
  attnDrop?: number;
  dropPath?: number;
  name?: string;
}

/**
 * The quadratic baseline: a ViT block with plain global multi-head self-attention.
 * `x + attn(norm1(x))`, `x + mlp(norm2(x))`. Keys `norm1`, `attn.qkv`, `attn.proj`, `norm2`, `mlp.fc1`, `mlp.fc2`.
 * NHWC `[B, H, W, dim]` -> same (all `H*W` tokens attend to each other).
 */
export class GlobalAttentionBlock extends PreNormBlock<GlobalAttention, Mlp> {
  constructor(dim: number, numHeads: number, opts: GlobalAttentionBlockOptions = {}) {
    super(
      dim,
      numHeads,
      opts,
      'GlobalAttentionBlock',
      (name) =>
        new GlobalAttention(dim, numHeads, {
          qkvBias: opts.qkvBias ?? true,
          qkScale: opts.qkScale,
          attnDrop: opts.attnDrop,
          projDrop: opts.drop,
          name,
        }),
      (hidden) => new Mlp(dim, hidden, dim, opts.drop ?? 0),
    );
  }

  /** Tokens `[B, N, dim]` -> same. */
  forwardTokens(x: tf.Tensor3D): tf.Tensor3D {
    return this.residual(
      x,
      (t) => this.attn.forwardTokens(t),
      (t) => this.mlp.forward(t),
    );
  }

  /** NHWC `[B, H, W, dim]` -> `[B, H, W, dim]`. */
  forward(x: tf.Tensor4D): tf.Tensor4D {
    checkMap(this.name, x, this.dim);
    return onTokens(x, (t) => this.forwardTokens(t));
  }

  macs(H: number, W: number, opts: { extras?: boolean } = {}): number {
    const N = H * W;
    return this.attn.macs(H, W) + 2 * N * this.dim * this.hidden + (opts.extras ? 4 * N * this.dim : 0);
  }
}
