import * as tf from '@tensorflow/tfjs-core';
import { Lru } from './lru.js';
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
 * One-hot selection matrix `S [k*k, 2k-1]` with `S[a*k + b, a - b + k - 1] = 1` (row-major).
 * The bias-table gradient contracts the upstream gradient with `S_h` and `S_w` (see README).
 */
function offsetSelector(k: number): Float32Array {
  const d = 2 * k - 1;
  const s = new Float32Array(k * k * d);
  for (let a = 0; a < k; a++) for (let b = 0; b < k; b++) s[(a * k + b) * d + (a - b + k - 1)] = 1;
  return s;
}

/** Transpose of `offsetSelector(k)`: `[2k-1, k*k]`. */
function offsetSelectorT(k: number): Float32Array {
  const d = 2 * k - 1;
  const s = new Float32Array(d * k * k);
  for (let a = 0; a < k; a++) for (let b = 0; b < k; b++) s[(a - b + k - 1) * k * k + (a * k + b)] = 1;
  return s;
}

interface RelPosEntry {
  /** int32 `[N*N]`: the flattened relative position index. */
  flat: tf.Tensor1D;
  /** float32 `[wh*wh, 2wh-1]`: offset selector along the height axis (gradient only). */
  selH: tf.Tensor2D;
  /** float32 `[2ww-1, ww*ww]`: transposed offset selector along the width axis (gradient only). */
  selWT: tf.Tensor2D;
}

/** Maximum number of (backend, wh, ww) entries kept; the least recently used one is disposed. */
const CACHE_LIMIT = 32;

const cache = new Lru<RelPosEntry>(CACHE_LIMIT, (e) => {
  for (const t of [e.flat, e.selH, e.selWT]) if (!t.isDisposed) t.dispose();
});

function isAlive(e: RelPosEntry): boolean {
  return !e.flat.isDisposed && !e.selH.isDisposed && !e.selWT.isDisposed;
}

/** Cached static tensors for a window on the current backend (created once, kept, LRU-bounded). */
function entryFor(wh: number, ww: number): RelPosEntry {
  const key = `${tf.getBackend()}|${wh}x${ww}`;
  const hit = cache.get(key);
  if (hit && isAlive(hit)) return hit;
  const entry: RelPosEntry = {
    flat: tf.keep(tf.tensor1d(relativePositionIndexArray(wh, ww), 'int32')),
    selH: tf.keep(tf.tensor2d(offsetSelector(wh), [wh * wh, 2 * wh - 1], 'float32')),
    selWT: tf.keep(tf.tensor2d(offsetSelectorT(ww), [2 * ww - 1, ww * ww], 'float32')),
  };
  cache.set(key, entry);
  return entry;
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
 * Gradient of {@link relativePositionBias} w.r.t. the table, without a scatter/segment-sum kernel.
 *
 * `dTable[(dh, dw), h] = sum over (i, j) with h_i - h_j = dh, w_i - w_j = dw of dy[h, i, j]`. The
 * relative index is separable (`index = rowOffset * (2ww-1) + colOffset`), so this sum is two small
 * one-hot matrix products: first over the `(h_i, h_j)` pairs with `S_h [wh*wh, 2wh-1]`, then over
 * the `(w_i, w_j)` pairs with `S_w^T [2ww-1, ww*ww]`. Only plain (untransposed) `matMul`,
 * `reshape` and `transpose` are used, so it runs on every backend (wasm has no
 * `UnsortedSegmentSum`) and sums exactly the same terms as a scatter-add would.
 *
 * @param dy `[nH, N, N]` upstream gradient
 * @returns `[(2wh-1)(2ww-1), nH]`
 */
function biasTableGrad(dy: tf.Tensor, e: RelPosEntry, wh: number, ww: number, nH: number): tf.Tensor2D {
  return tf.tidy(() => {
    const dh = 2 * wh - 1;
    const dw = 2 * ww - 1;
    // dy[h, hi, wi, hj, wj] -> [wi, wj, h, hi, hj]
    const g = tf.transpose(tf.reshape(dy, [nH, wh, ww, wh, ww]), [2, 4, 0, 1, 3]);
    // sum over (hi, hj) pairs with the same row offset: [ww*ww*nH, wh*wh] x [wh*wh, dh]
    const byRow = tf.matMul(tf.reshape(g, [ww * ww * nH, wh * wh]), e.selH);
    // sum over (wi, wj) pairs with the same column offset: [dw, ww*ww] x [ww*ww, nH*dh]
    const byBoth = tf.matMul(e.selWT, tf.reshape(byRow, [ww * ww, nH * dh]));
    // [dw, nH, dh] -> [dh, dw, nH] -> [T, nH]
    return tf.reshape(tf.transpose(tf.reshape(byBoth, [dw, nH, dh]), [2, 0, 1]), [dh * dw, nH]);
  });
}

/**
 * Relative position bias of window attention: gathers the rows of the learnable table by the
 * relative position index and lays them out per head, exactly like the official Swin
 * `WindowAttention.forward`:
 * `table[index.view(-1)].view(N, N, nH).permute(2, 0, 1)`.
 *
 * Differentiable w.r.t. `table` on every backend: the forward pass is a `gather`, the backward pass
 * is a custom gradient made of two small one-hot `matMul`s (see README, "Gradient"), because the
 * default gather gradient needs `UnsortedSegmentSum`, which the wasm backend lacks.
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
  const n = wh * ww;
  const e = entryFor(wh, ww);
  const f = tf.customGrad((...inputs: Array<tf.Tensor | tf.GradSaveFunc>) => ({
    value: tf.transpose(tf.reshape(tf.gather(inputs[0] as tf.Tensor, e.flat), [n, n, nH]), [2, 0, 1]),
    gradFunc: (dy: tf.Tensor) => biasTableGrad(dy, e, wh, ww, nH),
  }));
  return tf.tidy(() => f(table) as tf.Tensor3D);
}
