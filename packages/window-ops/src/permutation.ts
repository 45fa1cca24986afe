import * as tf from '@tensorflow/tfjs-core';
import { TensorLruCache } from './lru.js';
import {
  assertPositiveInt,
  assertTiles,
  fail,
  mod,
  parseShift,
  parseWindow,
  type ShiftSize,
  type WindowSize,
} from './validate.js';

/** @internal Unchecked permutation; `sh`, `sw` already reduced modulo `H`, `W`. */
function buildPermutation(H: number, W: number, wh: number, ww: number, sh: number, sw: number): Int32Array {
  const perm = new Int32Array(H * W);
  const gridH = H / wh;
  const gridW = W / ww;
  let j = 0;
  for (let wi = 0; wi < gridH; wi++) {
    for (let wj = 0; wj < gridW; wj++) {
      for (let r = 0; r < wh; r++) {
        const srcRow = (wi * wh + r + sh) % H;
        for (let c = 0; c < ww; c++) {
          perm[j++] = srcRow * W + ((wj * ww + c + sw) % W);
        }
      }
    }
  }
  return perm;
}

/**
 * Token permutation of the shifted-window partition of an `H x W` map, for custom kernels (e.g. WebGPU)
 * and for {@link shiftedWindowPartition}'s single gather.
 *
 * Output token `j = ((i*(W/ww) + k)*wh + r)*ww + c` (window at grid row `i`, column `k`, in-window row
 * `r`, column `c`: exactly the flattened `[nW, wh, ww]` order of {@link windowPartition}) reads input
 * token `perm[j] = ((i*wh + r + sh) mod H) * W + ((k*ww + c + sw) mod W)` of the row-major `[H*W]`
 * token sequence. So `gather(x.reshape([B, H*W, C]), perm, 1)` equals
 * `windowPartition(cyclicShift(x, [-sh, -sw]), window)` flattened to `[B, nW*wh*ww, C]`.
 *
 * @param H Map height (a multiple of `wh`).
 * @param W Map width (a multiple of `ww`).
 * @param window Window size: `ws` or `[wh, ww]`.
 * @param shift Shift `sh` or `[sh, sw]` (integers of either sign, taken modulo `H`/`W`); default 0.
 * @returns A fresh `Int32Array` of length `H*W` (a permutation of `0..H*W-1`).
 * @throws Error on non-integer or non-positive sizes/window, a window that does not tile the map, or a
 *   non-integer shift.
 */
export function windowPermutation(
  H: number,
  W: number,
  window: WindowSize,
  shift: ShiftSize = 0,
): Int32Array {
  const fn = 'windowPermutation';
  assertPositiveInt(fn, 'H', H);
  assertPositiveInt(fn, 'W', W);
  const [wh, ww] = parseWindow(fn, window);
  assertTiles(fn, H, W, wh, ww);
  const [sh, sw] = parseShift(fn, shift);
  return buildPermutation(H, W, wh, ww, mod(sh, H), mod(sw, W));
}

/**
 * Inverse of a permutation: `inv[perm[j]] = j`.
 *
 * @param perm A permutation of `0..n-1`.
 * @returns A fresh `Int32Array` of length `n`.
 * @throws Error if `perm` is not a permutation of `0..n-1`.
 */
export function invertPermutation(perm: ArrayLike<number>): Int32Array {
  const n = perm.length;
  const inv = new Int32Array(n).fill(-1);
  for (let j = 0; j < n; j++) {
    const p = perm[j];
    if (!Number.isInteger(p) || p < 0 || p >= n || inv[p] !== -1) {
      fail('invertPermutation', `perm is not a permutation of 0..${n - 1}: entry ${j} is ${p}`);
    }
    inv[p] = j;
  }
  return inv;
}

// ---------------------------------------------------------------------------------------------------
// Bounded LRU cache of the permutations as int32 tensors, keyed per backend and geometry.

interface CacheEntry {
  /** `perm` as an int32 tensor `[H*W]` (kept). */
  perm: tf.Tensor1D;
  /** The inverse permutation `[H*W]` (kept). */
  inverse: tf.Tensor1D;
}

/** Default number of (backend, H, W, window, shift) entries the permutation cache holds. */
export const DEFAULT_WINDOW_OPS_CACHE_CAPACITY = 64;

const cache = new TensorLruCache<CacheEntry>(DEFAULT_WINDOW_OPS_CACHE_CAPACITY, (e) => [e.perm, e.inverse]);

/**
 * @internal Cached permutation tensors for the current backend. `sh`/`sw` must already be reduced
 * modulo `H`/`W`. Entries are `tf.keep`-ed, so this is safe to call inside `tf.tidy`.
 */
export function permutationTensors(
  H: number,
  W: number,
  wh: number,
  ww: number,
  sh: number,
  sw: number,
): CacheEntry {
  const key = `${tf.getBackend()}|${H}|${W}|${wh}|${ww}|${sh}|${sw}`;
  return cache.getOrCreate(key, () => {
    const perm = buildPermutation(H, W, wh, ww, sh, sw);
    return {
      perm: tf.keep(tf.tensor1d(perm, 'int32')),
      inverse: tf.keep(tf.tensor1d(invertPermutation(perm), 'int32')),
    };
  });
}

/**
 * Disposes every cached permutation tensor (all backends). Call it, e.g., before switching or removing
 * a backend, or to release memory after running many resolutions. The next op rebuilds what it needs.
 */
export function clearWindowOpsCache(): void {
  cache.clear();
}

/**
 * Number of cached (backend, H, W, window, shift) entries. Each entry holds two int32 tensors of
 * `H*W` elements (the permutation and its inverse).
 */
export function windowOpsCacheSize(): number {
  return cache.size;
}

/**
 * Sets how many entries the permutation cache keeps (least recently used ones are disposed first);
 * shrinking evicts immediately. Default {@link DEFAULT_WINDOW_OPS_CACHE_CAPACITY}.
 *
 * @param n A positive integer.
 * @returns The previous capacity.
 */
export function setWindowOpsCacheCapacity(n: number): number {
  assertPositiveInt('setWindowOpsCacheCapacity', 'n', n);
  const previous = cache.capacity;
  cache.capacity = n;
  return previous;
}
