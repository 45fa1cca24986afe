import {
  assertTensorInput,
  attentionCore,
  Conv2d,
  checkPositiveInt,
  Dropout,
  gelu,
  LayerNorm,
  Linear,
  Module,
  mergeHeads,
  normal,
  SwinConfigError,
  SwinInputError,
  smallBatchMatMul,
  splitHeads,
} from '@swin/nn';
import * as tf from '@tensorflow/tfjs-core';
import { adaptiveAvgPool2d } from './resample.js';

/**
 * Multi-head scaled dot-product attention `softmax(q k^T * scale) v` per head. q `[B, N, C]`, k/v `[B, M, C]`
 * (channels `[heads][head_dim]`) -> `[B, N, C]`.
 *
 * The products run in `@swin/nn`'s `attentionCore` (a WebAssembly SIMD kernel with the scale and softmax
 * fused, on cpu and wasm; tfjs-wasm's own batched matMul is a scalar loop). When `attnDrop` is active
 * (training, `p > 0`) the probabilities are materialised for the dropout mask and the two products go
 * through `smallBatchMatMul` (same kernel, transposes free).
 */
export function multiHeadAttention(
  q: tf.Tensor3D,
  k: tf.Tensor3D,
  v: tf.Tensor3D,
  numHeads: number,
  scale: number,
  attnDrop?: Dropout,
): tf.Tensor3D {
  return tf.tidy(() => {
    const [qh] = splitHeads(q, 1, numHeads);
    const [kh] = splitHeads(k, 1, numHeads);
    const [vh] = splitHeads(v, 1, numHeads);
    return attendHeads(qh, kh, vh, numHeads, scale, attnDrop);
  });
}

/**
 * {@link multiHeadAttention} on heads already split: `qh` `[B*nh, N, hd]`, `kh` / `vh` `[B*nh, M, hd]`
 * (groups batch-major, head-minor, as `splitHeads` of `@swin/nn` gives them) -> `[B, N, nh*hd]`. The head
 * split / merge run as `@swin/nn`'s copy kernels where registered (no Slice of a fused projection).
 */
function attendHeads(
  qh: tf.Tensor3D,
  kh: tf.Tensor3D,
  vh: tf.Tensor3D,
  numHeads: number,
  scale: number,
  attnDrop?: Dropout,
): tf.Tensor3D {
  let o: tf.Tensor3D;
  if (attnDrop?.training && attnDrop.p > 0) {
    const s = tf.mul(smallBatchMatMul(qh, kh, false, true), scale);
    const attn = attnDrop.forward(tf.softmax(s, -1)) as tf.Tensor3D;
    o = smallBatchMatMul(attn, vh);
  } else {
    o = attentionCore(qh, kh, vh, { scale });
  }
  return mergeHeads(o, numHeads);
}

/** Options of `SRAttention`. */
export interface SRAttentionOptions {
  /** Spatial reduction: keys/values come from a Conv(kernel = stride = srRatio) + LayerNorm of the map. */
  srRatio?: number;
  /** Bias of `q` and `kv` (official default false; every factory sets true). */
  qkvBias?: boolean;
  /** Overrides `head_dim ** -0.5`. */
  qkScale?: number | null;
  /** PVT v2 linear SRA: AdaptiveAvgPool2d(poolSize) -> 1x1 conv -> LN -> GELU; `srRatio` is ignored. */
  linear?: boolean;
  /** Pooled size of linear SRA (7 in the reference). */
  poolSize?: number;
  attnDrop?: number;
  projDrop?: number;
  /** eps of `attn.norm` (the reference's plain `nn.LayerNorm`: 1e-5). */
  normEps?: number;
  /** v2-style conv init (`normal(0, sqrt(2 / fan_out))`, zero bias) instead of PyTorch's default. */
  convInitV2?: boolean;
  /** Name used in error messages (e.g. `block2.0.attn`). */
  name?: string;
}

/** Re-initialises a conv like the official v2 `_init_weights`: N(0, sqrt(2 / fan_out)), bias 0. */
export function initConvV2(conv: Conv2d, groups = 1): void {
  const fanOut = (conv.kernel[0] * conv.kernel[1] * conv.outChannels) / groups;
  tf.tidy(() => {
    conv.weight.assign(normal(Math.sqrt(2 / fanOut))(conv.weight.shape));
    conv.bias?.assign(tf.zerosLike(conv.bias));
  });
}

/**
 * PVT spatial-reduction attention (`Attention` of pvt.py and pvt_v2.py). Queries from every token; keys and
 * values from the map reduced by `sr` (Conv kernel = stride = sr_ratio, then LayerNorm 1e-5, no activation)
 * when `srRatio > 1`, or (v2 `linear`) from `AdaptiveAvgPool2d(7)` -> 1x1 conv -> LayerNorm -> GELU.
 * `kv` output channels split `[k | v]`, each `[heads][head_dim]`. Keys: `q`, `kv`, `proj`, `sr`, `norm`.
 *
 * A remainder of the map that the stride-sr conv cannot cover is dropped, as in PyTorch (5x7, sr 2 -> 2x3).
 */
export class SRAttention extends Module {
  readonly q: Linear;
  readonly kv: Linear;
  readonly proj: Linear;
  readonly sr: Conv2d | null = null;
  readonly norm: LayerNorm | null = null;
  readonly attnDrop: Dropout;
  readonly projDrop: Dropout;
  readonly headDim: number;
  readonly scale: number;
  readonly srRatio: number;
  readonly linear: boolean;
  readonly poolSize: number;
  readonly name: string;

  constructor(
    readonly dim: number,
    readonly numHeads = 8,
    opts: SRAttentionOptions = {},
  ) {
    super();
    this.name = opts.name ?? 'SRAttention';
    checkPositiveInt(this.name, { dim, numHeads });
    if (dim % numHeads !== 0) {
      throw new SwinConfigError(`${this.name}: dim ${dim} should be divisible by num_heads ${numHeads}`);
    }
    this.srRatio = opts.srRatio ?? 1;
    this.linear = opts.linear ?? false;
    this.poolSize = opts.poolSize ?? 7;
    checkPositiveInt(this.name, { srRatio: this.srRatio, poolSize: this.poolSize });
    this.headDim = dim / numHeads;
    this.scale = opts.qkScale || this.headDim ** -0.5;
    const qkvBias = opts.qkvBias ?? false;
    this.q = this.child('q', new Linear(dim, dim, { bias: qkvBias }));
    this.kv = this.child('kv', new Linear(dim, dim * 2, { bias: qkvBias }));
    this.attnDrop = this.child('attn_drop', new Dropout(opts.attnDrop ?? 0));
    this.proj = this.child('proj', new Linear(dim, dim));
    this.projDrop = this.child('proj_drop', new Dropout(opts.projDrop ?? 0));
    const eps = opts.normEps ?? 1e-5;
    if (this.linear) {
      this.sr = this.child('sr', new Conv2d(dim, dim, 1));
      this.norm = this.child('norm', new LayerNorm(dim, eps));
    } else if (this.srRatio > 1) {
      this.sr = this.child('sr', new Conv2d(dim, dim, this.srRatio, { stride: this.srRatio }));
      this.norm = this.child('norm', new LayerNorm(dim, eps));
    }
    if (this.sr && opts.convInitV2) initConvV2(this.sr);
  }

  /** Size `[h, w]` of the key/value grid for an `H x W` map. */
  kvSize(H: number, W: number): [number, number] {
    if (this.linear) return [this.poolSize, this.poolSize];
    if (this.srRatio > 1) return [Math.floor(H / this.srRatio), Math.floor(W / this.srRatio)];
    return [H, W];
  }

  /** Throws a clear error if an `H x W` map cannot be reduced by `sr_ratio`. */
  checkSize(H: number, W: number): void {
    if (!this.linear && this.srRatio > 1 && (H < this.srRatio || W < this.srRatio)) {
      throw new SwinInputError(
        `${this.name}: the ${H}x${W} feature map is smaller than sr_ratio ${this.srRatio} ` +
          `(the ${this.srRatio}x${this.srRatio} stride-${this.srRatio} reduction conv needs H, W >= ${this.srRatio})`,
      );
    }
  }

  /**
   * Tokens `[B, N, dim]` of an `H x W` map (token `h * W + w`) -> `[B, N, dim]`. With a reduction, `N` must be
   * `H * W`; without one any `N` works (PVT v1's last stage carries a class token: `N = 1 + H * W`).
   */
  forwardTokens(x: tf.Tensor3D, H: number, W: number): tf.Tensor3D {
    assertTensorInput(`${this.name}.forwardTokens`, x, { rank: 3, channels: this.dim });
    if (x.rank !== 3 || x.shape[2] !== this.dim) {
      throw new SwinInputError(`${this.name}: expected tokens [B, N, ${this.dim}], got shape [${x.shape}]`);
    }
    const [B, N] = x.shape;
    const reduces = this.sr !== null;
    if (reduces && N !== H * W) {
      throw new SwinInputError(
        `${this.name}: ${N} tokens do not form the ${H}x${W} map the spatial reduction needs (H*W = ${H * W})`,
      );
    }
    this.checkSize(H, W);
    return tf.tidy(() => {
      const q = this.q.forward(x) as tf.Tensor3D;
      let src: tf.Tensor3D = x;
      if (reduces) {
        let m = tf.reshape(x, [B, H, W, this.dim]) as tf.Tensor4D;
        if (this.linear) m = adaptiveAvgPool2d(m, this.poolSize);
        const r = this.sr!.forward(m);
        const [, h, w] = r.shape;
        src = tf.reshape(this.norm!.forward(r), [B, h * w, this.dim]) as tf.Tensor3D;
        if (this.linear) src = gelu(src) as tf.Tensor3D;
      }
      const kv = this.kv.forward(src) as tf.Tensor3D; // [B, M, 2 dim] = [k | v]
      const [qh] = splitHeads(q, 1, this.numHeads);
      const [kh, vh] = splitHeads(kv, 2, this.numHeads);
      const o = attendHeads(qh, kh, vh, this.numHeads, this.scale, this.attnDrop);
      return this.projDrop.forward(this.proj.forward(o)) as tf.Tensor3D;
    });
  }

  /** NHWC map `[B, H, W, dim]` -> `[B, H, W, dim]`. */
  forward(x: tf.Tensor4D): tf.Tensor4D {
    assertTensorInput(`${this.name}.forward`, x, { rank: 4, channels: this.dim });
    if (x.rank !== 4)
      throw new SwinInputError(`${this.name}: expected NHWC [B, H, W, ${this.dim}], got [${x.shape}]`);
    const [B, H, W, C] = x.shape;
    return tf.tidy(
      () =>
        tf.reshape(this.forwardTokens(tf.reshape(x, [B, H * W, C]) as tf.Tensor3D, H, W), [
          B,
          H,
          W,
          C,
        ]) as tf.Tensor4D,
    );
  }

  /**
   * Multiply-accumulates of one image: q, kv, proj (Linear, no bias), the reduction conv and both attention
   * products. `tokens` = query tokens (default `H*W`; PVT v1's last stage has `1 + H*W`); `attnTokens` overrides
   * the token count used for the attention products only (the official counter uses `H*W` there);
   * `extras` adds what mmcv's counter also counts here (conv bias, LayerNorm 2/element, pooling 1/input element).
   */
  macs(H: number, W: number, opts: { tokens?: number; attnTokens?: number; extras?: boolean } = {}): number {
    const C = this.dim;
    const N = opts.tokens ?? H * W;
    const Na = opts.attnTokens ?? N;
    const [h, w] = this.kvSize(H, W);
    const M = this.sr ? h * w : N;
    const Ma = this.sr ? h * w : Na;
    let total = 2 * N * C * C + M * C * 2 * C + 2 * Na * Ma * C;
    if (this.sr) {
      const k = this.linear ? 1 : this.srRatio;
      total += h * w * C * C * k * k;
      if (opts.extras) total += 3 * h * w * C + (this.linear ? H * W * C : 0);
    }
    return total;
  }
}

/** Options of `GlobalAttention`. */
export interface GlobalAttentionOptions {
  qkvBias?: boolean;
  qkScale?: number | null;
  attnDrop?: number;
  projDrop?: number;
  name?: string;
}

/**
 * Plain global multi-head self-attention (ViT / timm `Attention`): `qkv` Linear(C -> 3C) split
 * `[3][heads][head_dim]`, softmax(q k^T * scale) v, `proj`. Quadratic in the number of tokens.
 * Keys `qkv.*`, `proj.*`.
 */
export class GlobalAttention extends Module {
  readonly qkv: Linear;
  readonly proj: Linear;
  readonly attnDrop: Dropout;
  readonly projDrop: Dropout;
  readonly scale: number;
  readonly name: string;
  constructor(
    readonly dim: number,
    readonly numHeads = 8,
    opts: GlobalAttentionOptions = {},
  ) {
    super();
    this.name = opts.name ?? 'GlobalAttention';
    checkPositiveInt(this.name, { dim, numHeads });
    if (dim % numHeads !== 0) {
      throw new SwinConfigError(`${this.name}: dim ${dim} should be divisible by num_heads ${numHeads}`);
    }
    this.scale = opts.qkScale || (dim / numHeads) ** -0.5;
    this.qkv = this.child('qkv', new Linear(dim, 3 * dim, { bias: opts.qkvBias ?? true }));
    this.attnDrop = this.child('attn_drop', new Dropout(opts.attnDrop ?? 0));
    this.proj = this.child('proj', new Linear(dim, dim));
    this.projDrop = this.child('proj_drop', new Dropout(opts.projDrop ?? 0));
  }

  /** Tokens `[B, N, dim]` -> `[B, N, dim]`. */
  forwardTokens(x: tf.Tensor3D): tf.Tensor3D {
    assertTensorInput(`${this.name}.forwardTokens`, x, { rank: 3, channels: this.dim });
    if (x.rank !== 3 || x.shape[2] !== this.dim) {
      throw new SwinInputError(`${this.name}: expected tokens [B, N, ${this.dim}], got shape [${x.shape}]`);
    }
    return tf.tidy(() => {
      const qkv = this.qkv.forward(x) as tf.Tensor3D; // [B, N, 3C] = [q | k | v]
      const [qh, kh, vh] = splitHeads(qkv, 3, this.numHeads);
      const o = attendHeads(qh, kh, vh, this.numHeads, this.scale, this.attnDrop);
      return this.projDrop.forward(this.proj.forward(o)) as tf.Tensor3D;
    });
  }

  /** NHWC `[B, H, W, dim]` -> `[B, H, W, dim]` (every token attends to every token). */
  forward(x: tf.Tensor4D): tf.Tensor4D {
    assertTensorInput(`${this.name}.forward`, x, { rank: 4, channels: this.dim });
    if (x.rank !== 4)
      throw new SwinInputError(`${this.name}: expected NHWC [B, H, W, ${this.dim}], got [${x.shape}]`);
    const [B, H, W, C] = x.shape;
    return tf.tidy(
      () =>
        tf.reshape(this.forwardTokens(tf.reshape(x, [B, H * W, C]) as tf.Tensor3D), [
          B,
          H,
          W,
          C,
        ]) as tf.Tensor4D,
    );
  }

  /** qkv + proj + the two N x N attention products. */
  macs(H: number, W: number): number {
    const N = H * W;
    const C = this.dim;
    return N * C * 3 * C + N * C * C + 2 * N * N * C;
  }
}

/**
 * Builds an `SRAttention` from the official `Attention(**kwargs)` arguments (pvt.py / pvt_v2.py, snake_case:
 * `dim`, `num_heads`, `qkv_bias`, `qk_scale`, `attn_drop`, `proj_drop`, `sr_ratio`, `linear`). Unknown keys throw.
 */
export function srAttentionFromKwargs(kwargs: Record<string, unknown>, name?: string): SRAttention {
  const allowed = [
    'dim',
    'num_heads',
    'qkv_bias',
    'qk_scale',
    'attn_drop',
    'proj_drop',
    'sr_ratio',
    'linear',
  ];
  for (const k of Object.keys(kwargs)) {
    if (!allowed.includes(k)) throw new SwinConfigError(`srAttentionFromKwargs: unsupported argument '${k}'`);
  }
  return new SRAttention(kwargs['dim'] as number, (kwargs['num_heads'] as number | undefined) ?? 8, {
    qkvBias: (kwargs['qkv_bias'] as boolean | undefined) ?? false,
    qkScale: (kwargs['qk_scale'] as number | null | undefined) ?? null,
    attnDrop: (kwargs['attn_drop'] as number | undefined) ?? 0,
    projDrop: (kwargs['proj_drop'] as number | undefined) ?? 0,
    srRatio: (kwargs['sr_ratio'] as number | undefined) ?? 1,
    linear: (kwargs['linear'] as boolean | undefined) ?? false,
    name,
  });
}
