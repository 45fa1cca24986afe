import {
  assertTensorInput,
  attentionCore,
  Conv2d,
  DepthwiseConv2d,
  Dropout,
  gelu,
  LayerNorm,
  Linear,
  Module,
  mergeHeads,
  SwinInputError,
  smallBatchMatMul,
  splitHeads,
} from '@swin/nn';
import * as tf from '@tensorflow/tfjs-core';
import { checkAttentionArgs, reductionKernels } from './config.js';
import { shuntedAttentionMacs } from './counts.js';
import { officialConvInit } from './init.js';
import { checkSize, reducedSizes } from './sizes.js';

/** Options of {@link ShuntedAttention} (official `Attention.__init__` kwargs). */
export interface ShuntedAttentionOptions {
  /** [`num_heads`] default 8. Must divide `dim`; must be even when `srRatio > 1`. */
  numHeads?: number;
  /** [`qkv_bias`] default false. */
  qkvBias?: boolean;
  /** [`qk_scale`] default `null` = `head_dim ** -0.5` (0 also falls back, like Python's `or`). */
  qkScale?: number | null;
  /** [`attn_drop`] default 0. */
  attnDrop?: number;
  /** [`proj_drop`] default 0. */
  projDrop?: number;
  /** [`sr_ratio`] 1, 2, 4 or 8 (default 1). */
  srRatio?: number;
  /** Prefix for error messages (e.g. `block2.0.attn`); defaults to the class name. */
  label?: string;
}

/**
 * Shunted self-attention (official `Attention` of `SSA.py`), state_dict keys exactly as the reference:
 *
 * - `sr_ratio` 8 / 4 / 2: `q`, `kv1`, `kv2`, `sr1`, `norm1`, `sr2`, `norm2`, `local_conv1`, `local_conv2`,
 *   `proj`. The heads split into two halves. Branch 1 reduces the map with a conv of kernel = stride = sr
 *   (`sr1`), branch 2 with kernel = stride = sr/2 (`sr2`, a 1x1 conv for sr 2); each reduced map goes
 *   through LayerNorm (eps 1e-5) and GELU, then `kv<b>` (C -> C, split `[k | v]` of C/2 each, heads
 *   `[heads/2][head_dim]`). `v` gets its depthwise 3x3 conv added on the reduced map (`local_conv<b>`)
 *   BEFORE `attn @ v`. Outputs `[x1, x2]` are concatenated on channels, then `proj`.
 * - `sr_ratio` 1: `q`, `kv` (C -> 2C, `[k | v]`), `local_conv`, `proj`; output `attn @ v + local_conv(v)`
 *   (the local conv is added AFTER the attention product).
 *
 * Maps whose size is not a multiple of the reduction are handled as the reference does (the strided
 * convs drop the remainder); maps smaller than the sr1 kernel throw a clear error.
 */
export class ShuntedAttention extends Module {
  readonly dim: number;
  readonly numHeads: number;
  readonly headDim: number;
  readonly scale: number;
  readonly srRatio: number;
  readonly label: string;
  readonly q: Linear;
  readonly proj: Linear;
  readonly attnDrop: Dropout;
  readonly projDrop: Dropout;
  /** sr_ratio 1 only. */
  readonly kv: Linear | null = null;
  readonly localConv: DepthwiseConv2d | null = null;
  /** sr_ratio > 1 only: per branch `[branch 1, branch 2]`. */
  readonly sr: [Conv2d, Conv2d] | null = null;
  readonly norms: [LayerNorm, LayerNorm] | null = null;
  readonly kvs: [Linear, Linear] | null = null;
  readonly localConvs: [DepthwiseConv2d, DepthwiseConv2d] | null = null;

  /** `dim`: channels C of the tokens. See {@link ShuntedAttentionOptions}. */
  constructor(dim: number, opts: ShuntedAttentionOptions = {}) {
    super();
    const numHeads = opts.numHeads ?? 8;
    const srRatio = opts.srRatio ?? 1;
    this.label = opts.label ?? 'ShuntedAttention';
    checkAttentionArgs(this.label, dim, numHeads, srRatio);
    this.dim = dim;
    this.numHeads = numHeads;
    this.headDim = dim / numHeads;
    this.scale = opts.qkScale || this.headDim ** -0.5;
    this.srRatio = srRatio;
    const bias = opts.qkvBias ?? false;
    // Registration order = the reference's state_dict order.
    this.q = this.child('q', new Linear(dim, dim, { bias }));
    this.attnDrop = this.child('attn_drop', new Dropout(opts.attnDrop ?? 0));
    this.proj = this.child('proj', new Linear(dim, dim));
    this.projDrop = this.child('proj_drop', new Dropout(opts.projDrop ?? 0));
    const ks = reductionKernels(srRatio);
    if (ks) {
      const half = dim / 2;
      const sr1 = this.child('sr1', new Conv2d(dim, dim, ks[0], { stride: ks[0] }));
      const norm1 = this.child('norm1', new LayerNorm(dim, 1e-5));
      const sr2 = this.child('sr2', new Conv2d(dim, dim, ks[1], { stride: ks[1] }));
      const norm2 = this.child('norm2', new LayerNorm(dim, 1e-5));
      const kv1 = this.child('kv1', new Linear(dim, dim, { bias }));
      const kv2 = this.child('kv2', new Linear(dim, dim, { bias }));
      const lc1 = this.child('local_conv1', new DepthwiseConv2d(half, 3, 1));
      const lc2 = this.child('local_conv2', new DepthwiseConv2d(half, 3, 1));
      this.sr = [sr1, sr2];
      this.norms = [norm1, norm2];
      this.kvs = [kv1, kv2];
      this.localConvs = [lc1, lc2];
      for (const c of [sr1, sr2, lc1, lc2]) officialConvInit(c);
    } else {
      this.kv = this.child('kv', new Linear(dim, dim * 2, { bias }));
      this.localConv = this.child('local_conv', new DepthwiseConv2d(dim, 3, 1));
      officialConvInit(this.localConv);
    }
  }

  /** NHWC interface: x `[B, H, W, C]` -> `[B, H, W, C]`. */
  forward(x: tf.Tensor4D): tf.Tensor4D {
    assertTensorInput(`${this.label}.forward`, x, { rank: 4, channels: this.dim });
    if (x.rank !== 4)
      throw new SwinInputError(
        `${this.label}.forward: expected NHWC [B, H, W, ${this.dim}], got shape [${x.shape}]`,
      );
    const [B, H, W] = x.shape;
    return tf.tidy(() => {
      const y = this.forwardTokens(tf.reshape(x, [B, H * W, x.shape[3]]), H, W);
      return tf.reshape(y, [B, H, W, this.dim]);
    });
  }

  /**
   * Token interface of the reference `forward(x, H, W)`: x `[B, N, C]` with `N = H * W` (token index
   * `h * W + w`) -> `[B, N, C]`.
   */
  forwardTokens(x: tf.Tensor3D, H: number, W: number): tf.Tensor3D {
    this.checkTokens(x, H, W);
    const reduced = reducedSizes(H, W, this.srRatio, this.label);
    const [B, N, C] = x.shape;
    const nh = this.numHeads;
    return tf.tidy(() => {
      const q = this.q.forward(x) as tf.Tensor3D;
      // Heads through @swin/nn's splitHeads / mergeHeads (one copy kernel each where registered, reading
      // only its columns; tfjs-wasm's Slice copies its whole input first).
      let out: tf.Tensor3D;
      if (reduced && this.sr && this.norms && this.kvs && this.localConvs) {
        const half = C / 2;
        const nh2 = nh / 2;
        const xm = tf.reshape(x, [B, H, W, C]) as tf.Tensor4D;
        // branch b's heads are heads [b*nh2, (b+1)*nh2) of q (channels [b*half, (b+1)*half)): [B*nh2, N, hd]
        const qParts = splitHeads(q, 2, nh2);
        const merged: tf.Tensor[] = [];
        for (let b = 0; b < 2; b++) {
          const [h, w] = reduced[b];
          const M = h * w;
          const r = gelu(this.norms[b].forward(this.sr[b].forward(xm)));
          const kv = this.kvs[b].forward(r) as tf.Tensor4D; // [B, h, w, C] = [k | v]
          const [kh] = splitHeads(tf.reshape(kv, [B, M, C]) as tf.Tensor3D, 2, nh2);
          let v = tf.slice(kv, [0, 0, 0, half], [B, h, w, half]) as tf.Tensor4D;
          v = tf.add(v, this.localConvs[b].forward(v));
          const [vh] = splitHeads(tf.reshape(v, [B, M, half]) as tf.Tensor3D, 1, nh2);
          merged.push(mergeHeads(attend(qParts[b], kh, vh, this.scale, this.attnDrop), nh2)); // [B, N, half]
        }
        out = tf.concat(merged, 2) as tf.Tensor3D;
      } else {
        const kv = this.kv!.forward(x) as tf.Tensor3D; // [B, N, 2C] = [k | v]
        const [qh] = splitHeads(q, 1, nh);
        const [kh, vh] = splitHeads(kv, 2, nh);
        const o = mergeHeads(attend(qh, kh, vh, this.scale, this.attnDrop), nh);
        const v = tf.slice(kv, [0, 0, C], [B, N, C]);
        const lc = this.localConv!.forward(tf.reshape(v, [B, H, W, C]) as tf.Tensor4D);
        out = tf.add(o, tf.reshape(lc, [B, N, C]));
      }
      return this.projDrop.forward(this.proj.forward(out)) as tf.Tensor3D;
    });
  }

  /** Multiply-accumulates for one `H x W` map (see {@link shuntedAttentionMacs}). */
  macs(H: number, W: number): number {
    return shuntedAttentionMacs(this.dim, this.srRatio, H, W);
  }

  private checkTokens(x: tf.Tensor, H: number, W: number): void {
    checkSize(this.label, H, W);
    assertTensorInput(this.label, x, { rank: 3, channels: this.dim });
    if (x.rank !== 3 || x.shape[2] !== this.dim) {
      throw new SwinInputError(`${this.label}: expected tokens [B, N, ${this.dim}], got shape [${x.shape}]`);
    }
    if (x.shape[1] !== H * W) {
      throw new SwinInputError(
        `${this.label}: ${x.shape[1]} tokens do not form the ${H}x${W} map (expected ${H * W})`,
      );
    }
  }
}

/**
 * Multi-head attention of queries `qh` `[B*nh, N, hd]` over keys `kh` / values `vh` `[B*nh, M, hd]` (groups
 * batch-major, head-minor): `softmax(q k^T * scale) v` per head -> `[B*nh, N, hd]`.
 *
 * The products run in `@swin/nn`'s `attentionCore` (a WebAssembly SIMD kernel with the scale and softmax
 * fused, on cpu and wasm; tfjs-wasm's own batched matMul is a scalar loop). With attention dropout active
 * (training, `attn_drop > 0`) the probabilities must be materialised for the dropout mask, so the two
 * products go through `smallBatchMatMul` instead (same kernel, transposes free).
 */
function attend(
  qh: tf.Tensor3D,
  kh: tf.Tensor3D,
  vh: tf.Tensor3D,
  scale: number,
  attnDrop: Dropout,
): tf.Tensor3D {
  if (attnDrop.training && attnDrop.p > 0) {
    const s = tf.mul(smallBatchMatMul(qh, kh, false, true), scale);
    const attn = attnDrop.forward(tf.softmax(s, -1)) as tf.Tensor3D;
    return smallBatchMatMul(attn, vh);
  }
  return attentionCore(qh, kh, vh, { scale });
}
