import { TensorLruCache } from '@swin/window-ops';
import * as tf from '@tensorflow/tfjs-core';
import { checkInt, toPair, type WindowSize } from './validate.js';

/**
 * The relative position index of a `wh x ww` window as a plain array, identical to the official
 * Swin `WindowAttention.relative_position_index` buffer.
 *
 * Tokens are numbered row-major inside the window (`i = h_i * ww + w_i`, `N = wh * ww`), and
 * `index[i * N + j] = (h_i - h_j + wh - 1) * (2ww - 1) + (w_i - w_j + ww - 1)`, the row of the
 * bias table `[(2wh-1)(2ww-1), nH]` used for query token `i` and key token `j`.
 *
 * @param wh window height (integer >= 1)
 * @param ww window width (integer >= 1), defaults to `wh`
 * @returns `Int32Array` of length `N * N` (row-major `[N, N]`), values in `[0, (2wh-1)(2ww-1))`
 */
export function relativePositionIndexArray(wh: number, ww: number = wh): Int32Array {
  checkInt('relativePositionIndexArray', 'wh', wh);
  checkInt('relativePositionIndexArray', 'ww', ww);
  const n = wh * ww;
  const out = new Int32Array(n * n);
  const span = 2 * ww - 1;
  for (let i = 0; i < n; i++) {
    const hi = Math.floor(i / ww);
    const wi = i % ww;
    const row = i * n;
    for (let j = 0; j < n; j++) {
      const hj = Math.floor(j / ww);
      const wj = j % ww;
      out[row + j] = (hi - hj + wh - 1) * span + (wi - wj + ww - 1);
    }
  }
  return out;
}

/**
 * One-hot offset selector `S [k*k, 2k-1]` (row-major) with `S[a*k + b, a - b + k - 1] = 1`, or its
 * transpose `[2k-1, k*k]` when `transposed`. The relative index is separable,
 * `index(i, j) = (h_i - h_j + wh - 1) * (2ww - 1) + (w_i - w_j + ww - 1)`, so the bias and its
 * gradient are products with `S_h` (height pairs) and `S_w` (width pairs); see README, "Gradient".
 */
function offsetSelector(k: number, transposed: boolean): tf.Tensor2D {
  const d = 2 * k - 1;
  const s = new Float32Array(k * k * d);
  for (let a = 0; a < k; a++) {
    for (let b = 0; b < k; b++) {
      if (transposed) s[(a - b + k - 1) * k * k + (a * k + b)] = 1;
      else s[(a * k + b) * d + (a - b + k - 1)] = 1;
    }
  }
  return tf.tensor2d(s, transposed ? [d, k * k] : [k * k, d], 'float32');
}

interface RelPosEntry {
  /** int32 `[N*N]`: the flattened relative position index. */
  flat: tf.Tensor1D;
  /** float32 `[wh*wh, 2wh-1]` height offset selector `S_h` (gradient). */
  selH: tf.Tensor2D;
  /** float32 `[ww*ww, 2ww-1]` width offset selector `S_w` (gradient). */
  selW: tf.Tensor2D;
  /** float32 `[2wh-1, wh*wh]` = `S_h^T` (matMul forward). */
  selHT: tf.Tensor2D;
  /** float32 `[2ww-1, ww*ww]` = `S_w^T` (matMul forward). */
  selWT: tf.Tensor2D;
}

const entryTensors = (e: RelPosEntry) => [e.flat, e.selH, e.selW, e.selHT, e.selWT];

/** Maximum number of (backend, wh, ww) entries kept; the least recently used one is disposed. */
const CACHE_LIMIT = 32;

const cache = new TensorLruCache<RelPosEntry>(CACHE_LIMIT, entryTensors);

/** Cached static tensors for a window on the current backend (created once, kept, LRU-bounded). */
function entryFor(wh: number, ww: number): RelPosEntry {
  return cache.getOrCreate(`${tf.getBackend()}|${wh}x${ww}`, () => ({
    flat: tf.keep(tf.tensor1d(relativePositionIndexArray(wh, ww), 'int32')),
    selH: tf.keep(offsetSelector(wh, false)),
    selW: tf.keep(offsetSelector(ww, false)),
    selHT: tf.keep(offsetSelector(wh, true)),
    selWT: tf.keep(offsetSelector(ww, true)),
  }));
}

/**
 * Disposes every cached relative-position tensor (index and gradient selectors) on all backends.
 * Safe to call at any time; the next call rebuilds what it needs.
 */
export function clearRelPosCache(): void {
  cache.clear();
}

/**
 * The relative position index of a `wh x ww` window as an int32 tensor `[N, N]`, `N = wh * ww`,
 * equal to the official Swin `WindowAttention.relative_position_index` (see
 * {@link relativePositionIndexArray} for the formula).
 *
 * The data is built once per (backend, wh, ww) and cached (bounded LRU, {@link clearRelPosCache});
 * the returned tensor is a new handle on the cached data that **the caller owns** and may dispose
 * (or leave to an enclosing `tf.tidy`); disposing it does not affect the cache.
 *
 * @param wh window height (integer >= 1)
 * @param ww window width (integer >= 1), defaults to `wh`
 * @returns int32 `[N, N]`
 */
export function relativePositionIndex(wh: number, ww: number = wh): tf.Tensor2D {
  checkInt('relativePositionIndex', 'wh', wh);
  checkInt('relativePositionIndex', 'ww', ww);
  const n = wh * ww;
  const { flat } = entryFor(wh, ww);
  return tf.reshape(flat, [n, n]);
}

/**
 * Forward pass as two one-hot `matMul`s (no gather): used on wasm, where it is 2-10x faster than
 * `gather` (whose wasm kernel is slow). Exact: every output is `1 * table[t, h]` plus zeros (for
 * finite tables; a NaN/Inf entry would spread through the zero products).
 *
 * `table [Dh, Dw, nH] -> [nH, Dw, Dh] -x S_h^T-> [nH, Dw, hi*hj] -> [nH, hi*hj, Dw] -x S_w^T->
 * [nH, hi, hj, wi, wj] -> [nH, hi, wi, hj, wj] = [nH, N, N]`
 */
function biasByMatMul(t: tf.Tensor, e: RelPosEntry, wh: number, ww: number, nH: number): tf.Tensor3D {
  const dh = 2 * wh - 1;
  const dw = 2 * ww - 1;
  const a = tf.transpose(tf.reshape(t, [dh, dw, nH]), [2, 1, 0]);
  const b = tf.matMul(tf.reshape(a, [nH * dw, dh]), e.selHT);
  const c = tf.transpose(tf.reshape(b, [nH, dw, wh * wh]), [0, 2, 1]);
  const d = tf.matMul(tf.reshape(c, [nH * wh * wh, dw]), e.selWT);
  const n = wh * ww;
  return tf.reshape(tf.transpose(tf.reshape(d, [nH * wh, wh, ww, ww]), [0, 2, 1, 3]), [nH, n, n]);
}

/** Forward pass as the official gather + permute (fastest on cpu and on GPU backends). */
function biasByGather(t: tf.Tensor, e: RelPosEntry, wh: number, ww: number, nH: number): tf.Tensor3D {
  const n = wh * ww;
  return tf.transpose(tf.reshape(tf.gather(t, e.flat), [n, n, nH]), [2, 0, 1]);
}

/**
 * Gradient of {@link relativePositionBias} w.r.t. the table, without a scatter/segment-sum kernel.
 *
 * `dTable[(dh, dw), h] = sum of dy[h, i, j] over the (i, j) with h_i - h_j = dh, w_i - w_j = dw`.
 * The index is separable, so this is two small one-hot products: over the `(w_i, w_j)` pairs with
 * `S_w [ww*ww, 2ww-1]`, then over the `(h_i, h_j)` pairs with `S_h [wh*wh, 2wh-1]`. Only plain
 * (untransposed) `matMul`, `reshape` and 3-D/4-D `transpose` are used (a 5-D transpose is ~20x slower
 * on wasm), so it runs on every backend (wasm has no `UnsortedSegmentSum`, the gather gradient) and
 * adds exactly the terms a scatter-add would.
 *
 * `dy [nH, hi, wi, hj, wj] -> [nH*hi, hj, wi, wj] -x S_w-> [nH, hi*hj, Dw] -> [nH, Dw, hi*hj]
 * -x S_h-> [nH, Dw, Dh] -> [Dh, Dw, nH] = [T, nH]`
 *
 * @param dy `[nH, N, N]` upstream gradient
 * @returns `[(2wh-1)(2ww-1), nH]`
 */
function biasTableGrad(dy: tf.Tensor, e: RelPosEntry, wh: number, ww: number, nH: number): tf.Tensor2D {
  return tf.tidy(() => {
    const dh = 2 * wh - 1;
    const dw = 2 * ww - 1;
    const a = tf.transpose(tf.reshape(dy, [nH * wh, ww, wh, ww]), [0, 2, 1, 3]);
    const b = tf.matMul(tf.reshape(a, [nH * wh * wh, ww * ww]), e.selW);
    const c = tf.transpose(tf.reshape(b, [nH, wh * wh, dw]), [0, 2, 1]);
    const d = tf.matMul(tf.reshape(c, [nH * dw, wh * wh]), e.selH);
    return tf.reshape(tf.transpose(tf.reshape(d, [nH, dw, dh]), [2, 1, 0]), [dh * dw, nH]);
  });
}

/**
 * Relative position bias of window attention: gathers the rows of the learnable table by the
 * relative position index and lays them out per head, exactly like the official Swin
 * `WindowAttention.forward`:
 * `table[index.view(-1)].view(N, N, nH).permute(2, 0, 1)`.
 *
 * The forward pass is a `gather` (on wasm: two one-hot `matMul`s, same values, faster there). It is
 * differentiable w.r.t. `table` on every backend through a custom gradient made of two small one-hot
 * `matMul`s (see README, "Gradient"), because the default gather gradient needs
 * `UnsortedSegmentSum`, which the wasm backend lacks.
 *
 * @param table float32 `[(2wh-1)(2ww-1), nH]` relative position bias table
 * @param window `[wh, ww]` window size (or one number for a square window)
 * @returns float32 `[nH, N, N]`, `N = wh * ww`; add it to the attention logits `[B*nW, nH, N, N]`
 */
export function relativePositionBias(table: tf.Tensor, window: WindowSize): tf.Tensor3D {
  const fn = 'relativePositionBias';
  const [wh, ww] = toPair(fn, 'window', window);
  if (!(table instanceof tf.Tensor)) throw new Error(`${fn}: table must be a tf.Tensor`);
  const rows = (2 * wh - 1) * (2 * ww - 1);
  if (table.rank !== 2 || table.shape[0] !== rows) {
    throw new Error(
      `${fn}: table has shape [${table.shape.join(', ')}]; a ${wh}x${ww} window needs ` +
        `[(2*${wh}-1)*(2*${ww}-1), numHeads] = [${rows}, numHeads] (resize it with resizeBiasTable)`,
    );
  }
  if (table.dtype !== 'float32') {
    throw new Error(`${fn}: table has dtype ${table.dtype}, expected float32`);
  }
  const nH = table.shape[1] as number;
  const e = entryFor(wh, ww);
  const forward = tf.getBackend() === 'wasm' ? biasByMatMul : biasByGather;
  const f = tf.customGrad((...inputs: Array<tf.Tensor | tf.GradSaveFunc>) => ({
    value: forward(inputs[0] as tf.Tensor, e, wh, ww, nH),
    gradFunc: (dy: tf.Tensor) => biasTableGrad(dy, e, wh, ww, nH),
  }));
  return tf.tidy(() => f(table) as tf.Tensor3D);
}
