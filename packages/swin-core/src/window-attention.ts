import { Dropout, Linear, linear, Module, matMul, truncNormal } from '@swin/nn';
import { relativePositionBias, relativePositionIndex } from '@swin/rel-pos-bias';
import * as tf from '@tensorflow/tfjs-core';
import { assertPositiveInts, fail } from './validate.js';

/** Options of {@link WindowAttention} (official kwargs). */
export interface WindowAttentionOptions {
  /** Learnable bias of `qkv`. Default true. */
  qkvBias?: boolean;
  /** Overrides the scale `headDim ** -0.5` (Python `qk_scale or ...`: 0/null/undefined mean default). */
  qkScale?: number | null;
  /** Dropout on the attention weights (training only). Default 0. */
  attnDrop?: number;
  /** Dropout after `proj` (training only). Default 0. */
  projDrop?: number;
}

/**
 * Official Swin `WindowAttention` (W-MSA / SW-MSA with relative position bias).
 *
 * Keys: `relative_position_bias_table` `[(2wh-1)(2ww-1), numHeads]`, buffer `relative_position_index`
 * `[N, N]` (recomputed, verified on load), `qkv.weight` `[3C, C]`, `qkv.bias`, `proj.weight` `[C, C]`,
 * `proj.bias`.
 *
 * Input: window tokens `[B*nW, N, C]` (`N = wh*ww`, tokens row-major in a window, windows batch-major);
 * optional additive mask `[nW, N, N]` broadcast over the batch (window `b*nW + w` gets `mask[w]`).
 * Output `[B*nW, N, C]`. `qkv` channels split as `[3][heads][headDim]`; `q` is scaled before `q @ k^T`,
 * then bias, then mask, softmax over keys, `@ v`, `proj`.
 */
export class WindowAttention extends Module {
  readonly relativePositionBiasTable: tf.Variable;
  readonly qkv: Linear;
  readonly proj: Linear;
  readonly attnDrop: Dropout;
  readonly projDrop: Dropout;
  readonly window: [number, number];
  readonly headDim: number;
  readonly scale: number;

  constructor(
    readonly dim: number,
    window: number | readonly [number, number],
    readonly numHeads: number,
    opts: WindowAttentionOptions = {},
  ) {
    super();
    const fn = 'WindowAttention';
    this.window = typeof window === 'number' ? [window, window] : [window[0], window[1]];
    const [wh, ww] = this.window;
    assertPositiveInts(fn, { dim, numHeads, windowH: wh, windowW: ww });
    if (dim % numHeads !== 0) fail(fn, `dim=${dim} is not divisible by numHeads=${numHeads}`);
    this.headDim = dim / numHeads;
    this.scale = opts.qkScale || this.headDim ** -0.5;
    this.relativePositionBiasTable = this.param(
      'relative_position_bias_table',
      [(2 * wh - 1) * (2 * ww - 1), numHeads],
      truncNormal(0.02),
    );
    this.buffer('relative_position_index', { compute: () => relativePositionIndex(wh, ww) });
    this.qkv = this.child('qkv', new Linear(dim, 3 * dim, { bias: opts.qkvBias ?? true }));
    this.attnDrop = this.child('attn_drop', new Dropout(opts.attnDrop ?? 0));
    this.proj = this.child('proj', new Linear(dim, dim));
    this.projDrop = this.child('proj_drop', new Dropout(opts.projDrop ?? 0));
  }

  /** Tokens per window `wh * ww`. */
  get numTokens(): number {
    return this.window[0] * this.window[1];
  }

  /** The relative position bias `[numHeads, N, N]` gathered from the (learnable) table. */
  relativePositionBias(): tf.Tensor3D {
    return relativePositionBias(this.relativePositionBiasTable, this.window);
  }

  /**
   * x `[B*nW, N, C]`, mask `[nW, N, N]` (0 / -100) or null -> `[B*nW, N, C]`.
   */
  forward(x: tf.Tensor3D, mask: tf.Tensor3D | null = null): tf.Tensor3D {
    const fn = 'WindowAttention.forward';
    const N = this.numTokens;
    const C = this.dim;
    if (x?.rank !== 3) fail(fn, `x must be 3-D window tokens [B*nW, N, C], got shape [${x?.shape}]`);
    if (x.shape[1] !== N || x.shape[2] !== C) {
      fail(
        fn,
        `x has shape [${x.shape}], expected [B*nW, ${N}, ${C}] (window ${this.window[0]}x${this.window[1]}, dim ${C})`,
      );
    }
    const Bn = x.shape[0];
    if (mask) {
      if (mask.rank !== 3 || mask.shape[1] !== N || mask.shape[2] !== N) {
        fail(fn, `mask has shape [${mask.shape}], expected [nW, ${N}, ${N}]`);
      }
      if (Bn % mask.shape[0] !== 0) {
        fail(fn, `B*nW=${Bn} windows is not a multiple of the mask's nW=${mask.shape[0]}`);
      }
    }
    const nH = this.numHeads;
    const hd = this.headDim;
    return tf.tidy(() => {
      // q, k, v as three products with column blocks of the qkv weight (output channels [3][heads][hd]),
      // then 4-D transposes: the fused [Bn, N, 3, nH, hd] 5-D transpose is ~100x slower on tfjs-wasm.
      const xf = tf.reshape(x, [Bn * N, C]);
      const w = this.qkv.weight;
      const b = this.qkv.bias;
      const part = (i: number) =>
        linear(xf, tf.slice(w, [0, i * C], [C, C]), b ? tf.slice(b, [i * C], [C]) : null);
      const q = tf.transpose(tf.reshape(tf.mul(part(0), this.scale), [Bn, N, nH, hd]), [0, 2, 1, 3]);
      const kT = tf.transpose(tf.reshape(part(1), [Bn, N, nH, hd]), [0, 2, 3, 1]);
      const v = tf.transpose(tf.reshape(part(2), [Bn, N, nH, hd]), [0, 2, 1, 3]);
      let attn: tf.Tensor = matMul(
        tf.reshape(q, [Bn * nH, N, hd]) as tf.Tensor3D,
        tf.reshape(kT, [Bn * nH, hd, N]) as tf.Tensor3D,
      );
      const bias = this.relativePositionBias(); // [nH, N, N]
      attn = tf.add(tf.reshape(attn, [Bn, nH, N, N]), bias);
      if (mask) {
        const nW = mask.shape[0];
        attn = tf.add(tf.reshape(attn, [Bn / nW, nW, nH, N, N]), tf.reshape(mask, [1, nW, 1, N, N]));
      }
      attn = tf.softmax(tf.reshape(attn, [Bn * nH, N, N]));
      attn = this.attnDrop.forward(attn);
      const o = matMul(attn as tf.Tensor3D, tf.reshape(v, [Bn * nH, N, hd]) as tf.Tensor3D); // [Bn*nH, N, hd]
      const merged = tf.reshape(tf.transpose(tf.reshape(o, [Bn, nH, N, hd]), [0, 2, 1, 3]), [Bn, N, C]);
      const out = linear(merged, this.proj.weight, this.proj.bias);
      return this.projDrop.forward(out) as tf.Tensor3D;
    });
  }

  /** Official `WindowAttention.flops(N)` for one window of `N` tokens. */
  macs(N: number = this.numTokens): number {
    return windowAttentionMacs(this.dim, this.numHeads, N);
  }
}

/** Official `WindowAttention.flops(N)`: qkv, `q @ k^T`, `attn @ v`, proj for one window of `N` tokens. */
export function windowAttentionMacs(dim: number, numHeads: number, N: number): number {
  const hd = Math.floor(dim / numHeads);
  return N * dim * 3 * dim + numHeads * N * hd * N + numHeads * N * N * hd + N * dim * dim;
}
