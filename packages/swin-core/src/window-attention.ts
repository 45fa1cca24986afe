import {
  attentionCore,
  Dropout,
  Linear,
  linear,
  Module,
  matMul,
  mergeHeads,
  splitHeads,
  truncNormal,
} from '@swin/nn';
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
  /**
   * Learnable relative position bias (the official design). Default true; false (an ablation, not an
   * official model) drops the table and its index buffer: attention is then position-blind inside a window.
   */
  relativePositionBias?: boolean;
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
  /** `null` when built with `relativePositionBias: false`. */
  readonly relativePositionBiasTable: tf.Variable | null;
  readonly qkv: Linear;
  readonly proj: Linear;
  readonly attnDrop: Dropout;
  readonly projDrop: Dropout;
  readonly window: [number, number];
  readonly headDim: number;
  readonly scale: number;
  private readonly biasCache = new DerivedCache();

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
    if (opts.relativePositionBias ?? true) {
      this.relativePositionBiasTable = this.param(
        'relative_position_bias_table',
        [(2 * wh - 1) * (2 * ww - 1), numHeads],
        truncNormal(0.02),
      );
      this.buffer('relative_position_index', { compute: () => relativePositionIndex(wh, ww) });
    } else {
      this.relativePositionBiasTable = null;
    }
    this.qkv = this.child('qkv', new Linear(dim, 3 * dim, { bias: opts.qkvBias ?? true }));
    this.attnDrop = this.child('attn_drop', new Dropout(opts.attnDrop ?? 0));
    this.proj = this.child('proj', new Linear(dim, dim));
    this.projDrop = this.child('proj_drop', new Dropout(opts.projDrop ?? 0));
  }

  /** Tokens per window `wh * ww`. */
  get numTokens(): number {
    return this.window[0] * this.window[1];
  }

  /**
   * The relative position bias `[numHeads, N, N]` gathered from the (learnable) table (a new tensor,
   * the caller owns it). The forward pass keeps one between inference passes (see
   * {@link clearWindowAttentionCache}); while gradients are recorded it gathers it afresh.
   * @throws when built with `relativePositionBias: false`.
   */
  relativePositionBias(): tf.Tensor3D {
    if (!this.relativePositionBiasTable)
      fail(
        'WindowAttention.relativePositionBias',
        'this attention was built with relativePositionBias: false',
      );
    return relativePositionBias(this.relativePositionBiasTable, this.window);
  }

  /**
   * x `[B*nW, N, C]`, mask `[nW, N, N]` (0 / -100) or null -> `[B*nW, N, C]`.
   */
  forward(x: tf.Tensor3D, mask: tf.Tensor3D | null = null): tf.Tensor3D {
    this.checkInputs('WindowAttention.forward', x, mask);
    const nH = this.numHeads;
    return tf.tidy(() => {
      // one qkv product (output channels [3][heads][hd]), then q, k, v [Bn*nH, N, hd]
      const qkv = linear(x, this.qkv.weight, this.qkv.bias) as tf.Tensor3D;
      const [q, k, v] = splitHeads(qkv, 3, nH);
      const o = this.attend(q, k, v, mask); // [Bn*nH, N, hd]
      const merged = mergeHeads(o, nH); // [Bn, N, C]
      const out = linear(merged, this.proj.weight, this.proj.bias);
      return this.projDrop.forward(out) as tf.Tensor3D;
    });
  }

  /**
   * The attention probabilities of {@link forward}: `softmax(q k^T * scale + bias + mask)` over the keys,
   * for window tokens x `[B*nW, N, C]` and the same optional mask `[nW, N, N]` -> `[B*nW, numHeads, N, N]`
   * (window-major as x; `probs[w, h, i, j]` is how much query token `i` of window `w` takes from key token
   * `j` in head `h`; every row sums to 1, pairs the mask separates get ~`exp(-100)`).
   *
   * These are exactly the weights forward applies: `probs @ v`, heads merged, then `proj`, is forward's
   * output (`attention.test.ts` checks it). Attention dropout is not applied (it is random and only active
   * in training). A new tensor: the caller owns it.
   * @throws SwinConfigError naming `WindowAttention.attentionProbs` on a bad x or mask shape (forward's checks)
   */
  attentionProbs(x: tf.Tensor3D, mask: tf.Tensor3D | null = null): tf.Tensor4D {
    this.checkInputs('WindowAttention.attentionProbs', x, mask);
    const nH = this.numHeads;
    const N = this.numTokens;
    return tf.tidy(() => {
      const qkv = linear(x, this.qkv.weight, this.qkv.bias) as tf.Tensor3D;
      const [q, k] = splitHeads(qkv, 3, nH); // [Bn*nH, N, hd] each
      return tf.reshape(this.probs(q, k, mask), [x.shape[0], nH, N, N]) as tf.Tensor4D;
    });
  }

  /** Validates forward's inputs (x `[B*nW, N, C]`, mask `[nW, N, N]` dividing the windows), naming `fn`. */
  private checkInputs(fn: string, x: tf.Tensor3D, mask: tf.Tensor3D | null): void {
    const N = this.numTokens;
    const C = this.dim;
    if (x?.rank !== 3) fail(fn, `x must be 3-D window tokens [B*nW, N, C], got shape [${x?.shape}]`);
    if (x.shape[1] !== N || x.shape[2] !== C) {
      fail(
        fn,
        `x has shape [${x.shape}], expected [B*nW, ${N}, ${C}] (window ${this.window[0]}x${this.window[1]}, dim ${C})`,
      );
    }
    if (mask) {
      if (mask.rank !== 3 || mask.shape[1] !== N || mask.shape[2] !== N) {
        fail(fn, `mask has shape [${mask.shape}], expected [nW, ${N}, ${N}]`);
      }
      if (x.shape[0] % mask.shape[0] !== 0) {
        fail(fn, `B*nW=${x.shape[0]} windows is not a multiple of the mask's nW=${mask.shape[0]}`);
      }
    }
  }

  /** Drops the relative position bias kept between inference passes (rebuilt when needed). */
  releaseCaches(): void {
    this.biasCache.dispose();
  }

  /** Disposes the parameters and the cached relative position bias. */
  override dispose(): void {
    this.releaseCaches();
    super.dispose();
  }

  /**
   * q, k, v `[Bn*nH, N, hd]` (groups window-major, head-minor), mask `[nW, N, N]` -> `[Bn*nH, N, hd]`:
   * `softmax(q k^T * scale + bias + mask) v`. Runs `attentionCore` of `@swin/nn` (one fused kernel per
   * direction on wasm / cpu, a registered backend kernel on webgpu) unless attention dropout is active,
   * which needs the probabilities: then plain tfjs ops.
   */
  private attend(q: tf.Tensor3D, k: tf.Tensor3D, v: tf.Tensor3D, mask: tf.Tensor3D | null): tf.Tensor3D {
    if (!(this.training && this.attnDrop.p > 0)) {
      const bias = this.currentBias();
      return attentionCore(q, k, v, { bias, mask, numHeads: this.numHeads, scale: this.scale });
    }
    return matMul(this.attnDrop.forward(this.probs(q, k, mask)) as tf.Tensor3D, v);
  }

  /** The relative position bias `[nH, N, N]` (cached without a gradient tape), or null without one. */
  private currentBias(): tf.Tensor3D | null {
    const table = this.relativePositionBiasTable;
    if (!table) return null;
    return recordingGradients()
      ? this.relativePositionBias()
      : (this.biasCache.get([table], () => [this.relativePositionBias()])[0] as tf.Tensor3D);
  }

  /**
   * q, k `[Bn*nH, N, hd]`, mask `[nW, N, N]` -> `softmax(q k^T * scale + bias + mask)` `[Bn*nH, N, N]`
   * with plain tfjs ops (the reference of `attentionCore`'s fused kernels).
   */
  private probs(q: tf.Tensor3D, k: tf.Tensor3D, mask: tf.Tensor3D | null): tf.Tensor3D {
    const nH = this.numHeads;
    const N = this.numTokens;
    const G = q.shape[0];
    const Bn = G / nH;
    const bias = this.currentBias(); // [nH, N, N]
    let attn: tf.Tensor = matMul(tf.mul(q, this.scale) as tf.Tensor3D, tf.transpose(k, [0, 2, 1]));
    attn = tf.reshape(attn, [Bn, nH, N, N]);
    if (bias) attn = tf.add(attn, bias);
    if (mask) {
      const nW = mask.shape[0];
      attn = tf.add(tf.reshape(attn, [Bn / nW, nW, nH, N, N]), tf.reshape(mask, [1, nW, 1, N, N]));
    }
    return tf.softmax(tf.reshape(attn, [G, N, N])) as tf.Tensor3D;
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

/** True unless tfjs is certainly not recording a gradient tape (inside `tf.grad`, `variableGrads`, ...). */
function recordingGradients(): boolean {
  const state = (tf.engine() as unknown as { state?: { gradientDepth?: number } }).state;
  return state?.gradientDepth !== 0;
}

/** Every {@link DerivedCache} currently holding tensors. */
const liveCaches = new Set<DerivedCache>();

/**
 * Tensors derived from parameters (the relative position bias gathered from its table), kept between
 * forward passes while the sources keep their value: the key is the sources' dataIds (`Variable.assign`
 * gives a variable a new one) and the backend. Released by `dispose()` of the Swin modules, by
 * {@link clearWindowAttentionCache}, and otherwise at the next lookup of any cache once a source has
 * been disposed (a model disposed by a container that does not know about the cache).
 */
class DerivedCache {
  private sources: tf.Tensor[] = [];
  private key: unknown[] = [];
  private backend = '';
  private value: tf.Tensor[] | null = null;

  get(sources: tf.Tensor[], make: () => tf.Tensor[]): tf.Tensor[] {
    for (const c of liveCaches) if (c.sources.some((t) => t.isDisposed)) c.dispose();
    const backend = tf.getBackend();
    const v = this.value;
    if (
      v &&
      backend === this.backend &&
      sources.length === this.key.length &&
      sources.every((s, i) => s.dataId === this.key[i]) &&
      v.every((t) => !t.isDisposed)
    ) {
      return v;
    }
    this.dispose();
    const made = tf.tidy(make);
    for (const t of made) tf.keep(t);
    this.value = made;
    this.sources = [...sources];
    this.key = sources.map((s) => s.dataId);
    this.backend = backend;
    liveCaches.add(this);
    return made;
  }

  dispose(): void {
    if (this.value) tf.dispose(this.value);
    this.value = null;
    this.sources = [];
    this.key = [];
    liveCaches.delete(this);
  }
}

/**
 * Disposes the relative position biases that {@link WindowAttention} keeps between inference passes
 * (one `[numHeads, N, N]` tensor per attention module; rebuilt on the next forward). Returns how many
 * were released.
 */
export function clearWindowAttentionCache(): number {
  const n = liveCaches.size;
  for (const c of [...liveCaches]) c.dispose();
  return n;
}
