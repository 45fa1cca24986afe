import { SwinInputError } from '@swin/nn';
import * as tf from '@tensorflow/tfjs-core';

/**
 * Spatial resampling as constant matrices: PyTorch's `AdaptiveAvgPool2d` bins and `F.interpolate(mode='bilinear',
 * align_corners=False)` weights, applied separably (rows, then columns) with plain matMuls, so both are exactly
 * PyTorch's arithmetic (up to float32 summation order), differentiable on every backend, and fast on wasm.
 */

/**
 * PyTorch `AdaptiveAvgPool` along one axis: row `i` averages input cells
 * `[floor(i * n / m), ceil((i + 1) * n / m))` (bins overlap, or repeat cells, when `m` does not divide `n`).
 * Returns the row-major `[m, n]` matrix.
 */
export function adaptiveAvgPoolWeights(inSize: number, outSize: number): Float32Array {
  checkSizes('adaptiveAvgPoolWeights', inSize, outSize);
  const m = new Float32Array(outSize * inSize);
  for (let i = 0; i < outSize; i++) {
    const start = Math.floor((i * inSize) / outSize);
    const end = Math.ceil(((i + 1) * inSize) / outSize);
    const w = 1 / (end - start);
    for (let j = start; j < end; j++) m[i * inSize + j] = w;
  }
  return m;
}

/**
 * PyTorch bilinear interpolation weights along one axis for `align_corners=False` (half-pixel centres):
 * output cell `i` samples `src = max((i + 0.5) * n / m - 0.5, 0)` and mixes cells `floor(src)` and
 * `min(floor(src) + 1, n - 1)` with weights `1 - frac`, `frac`. No antialiasing (PyTorch's default).
 * Returns the row-major `[m, n]` matrix.
 */
export function bilinearWeights(inSize: number, outSize: number): Float32Array {
  checkSizes('bilinearWeights', inSize, outSize);
  const m = new Float32Array(outSize * inSize);
  const scale = inSize / outSize;
  for (let i = 0; i < outSize; i++) {
    const src = Math.max((i + 0.5) * scale - 0.5, 0);
    const i0 = Math.min(Math.floor(src), inSize - 1);
    const i1 = i0 < inSize - 1 ? i0 + 1 : i0;
    const l1 = src - i0;
    m[i * inSize + i0] += 1 - l1;
    m[i * inSize + i1] += l1;
  }
  return m;
}

function checkSizes(where: string, inSize: number, outSize: number): void {
  if (!Number.isInteger(inSize) || inSize <= 0 || !Number.isInteger(outSize) || outSize <= 0) {
    throw new SwinInputError(`${where}: sizes must be positive integers, got in=${inSize}, out=${outSize}`);
  }
}

/** True when the `[m, n]` matrix is the identity (nothing to do). */
function isIdentity(w: Float32Array, m: number, n: number): boolean {
  if (m !== n) return false;
  for (let i = 0; i < m; i++) {
    for (let j = 0; j < n; j++) if (w[i * n + j] !== (i === j ? 1 : 0)) return false;
  }
  return true;
}

// ---------------------------------------------------------------------------------------------------------
// Cache of constant matrices (per backend, kept, bounded LRU).

interface CachedMatrix {
  /** `[m, n]` */
  m: tf.Tensor2D;
  /** `[n, m]` (for the gradient, so backward uses plain matMuls too). */
  mt: tf.Tensor2D;
  identity: boolean;
}

const MAX_CACHE = 64;
const cache = new Map<string, CachedMatrix>();

/** Disposes every cached resampling matrix (all backends). */
export function clearResampleCache(): void {
  for (const v of cache.values()) {
    v.m.dispose();
    v.mt.dispose();
  }
  cache.clear();
}

/** Number of cached matrices (for tests). */
export function resampleCacheSize(): number {
  return cache.size;
}

export type ResampleKind = 'bilinear' | 'adaptive-avg';

function getMatrix(kind: ResampleKind, inSize: number, outSize: number): CachedMatrix {
  const key = `${tf.getBackend()}|${kind}|${inSize}|${outSize}`;
  const hit = cache.get(key);
  if (hit && !hit.m.isDisposed) {
    cache.delete(key);
    cache.set(key, hit);
    return hit;
  }
  const w = kind === 'bilinear' ? bilinearWeights(inSize, outSize) : adaptiveAvgPoolWeights(inSize, outSize);
  const wt = new Float32Array(inSize * outSize);
  for (let i = 0; i < outSize; i++) for (let j = 0; j < inSize; j++) wt[j * outSize + i] = w[i * inSize + j];
  const entry: CachedMatrix = tf.tidy(() => ({
    m: tf.keep(tf.tensor2d(w, [outSize, inSize])),
    mt: tf.keep(tf.tensor2d(wt, [inSize, outSize])),
    identity: isIdentity(w, outSize, inSize),
  }));
  cache.set(key, entry);
  while (cache.size > MAX_CACHE) {
    const oldest = cache.keys().next().value as string;
    const old = cache.get(oldest)!;
    old.m.dispose();
    old.mt.dispose();
    cache.delete(oldest);
  }
  return entry;
}

/** `M @ x` for a constant `M [m, n]` and `x [n, k]`; the gradient `M^T @ dy` is a plain matMul too. */
function constLeftMatMul(c: CachedMatrix, x: tf.Tensor2D): tf.Tensor2D {
  const f = tf.customGrad((...args: (tf.Tensor | tf.GradSaveFunc)[]) => {
    const xi = args[0] as tf.Tensor2D;
    return {
      value: tf.matMul(c.m, xi),
      gradFunc: (dy: tf.Tensor | tf.Tensor[]) => tf.matMul(c.mt, dy as tf.Tensor2D),
    };
  });
  return f(x) as tf.Tensor2D;
}

/** Applies the constant `M [m, n]` along axis 1 (H) or 2 (W) of an NHWC tensor whose size there is `n`. */
function applyAlongAxis(x: tf.Tensor4D, axis: 1 | 2, c: CachedMatrix): tf.Tensor4D {
  const [B, H, W, C] = x.shape;
  const outSize = c.m.shape[0];
  if (axis === 1) {
    // [B, H, W, C] -> [H, B, W, C] -> [H, B*W*C]
    const t = B === 1 ? tf.reshape(x, [H, W * C]) : tf.reshape(tf.transpose(x, [1, 0, 2, 3]), [H, B * W * C]);
    const y = constLeftMatMul(c, t as tf.Tensor2D);
    return (
      B === 1
        ? tf.reshape(y, [1, outSize, W, C])
        : tf.transpose(tf.reshape(y, [outSize, B, W, C]), [1, 0, 2, 3])
    ) as tf.Tensor4D;
  }
  // [B, H, W, C] -> [W, B, H, C] -> [W, B*H*C]
  const t = tf.reshape(tf.transpose(x, [2, 0, 1, 3]), [W, B * H * C]);
  const y = constLeftMatMul(c, t as tf.Tensor2D);
  return tf.transpose(tf.reshape(y, [outSize, B, H, C]), [1, 2, 0, 3]) as tf.Tensor4D;
}

/**
 * Resamples an NHWC map `[B, H, W, C]` -> `[B, outH, outW, C]` with PyTorch's bilinear (`align_corners=False`)
 * or adaptive-average-pool weights, separably (rows then columns). Differentiable; the constant weight
 * matrices are cached per backend (`clearResampleCache()` frees them).
 */
export function resample2d(x: tf.Tensor4D, outH: number, outW: number, kind: ResampleKind): tf.Tensor4D {
  if (x.rank !== 4)
    throw new SwinInputError(`resample2d: expected a 4-D NHWC tensor, got shape [${x.shape}]`);
  return tf.tidy(() => {
    const [, H, W] = x.shape;
    const mh = getMatrix(kind, H, outH);
    const mw = getMatrix(kind, W, outW);
    let y = x;
    if (!mh.identity) y = applyAlongAxis(y, 1, mh);
    if (!mw.identity) y = applyAlongAxis(y, 2, mw);
    return y === x ? tf.clone(x) : y;
  });
}

/** PyTorch `AdaptiveAvgPool2d((outH, outW))` on an NHWC map. See `resample2d`. */
export function adaptiveAvgPool2d(x: tf.Tensor4D, outH: number, outW = outH): tf.Tensor4D {
  return resample2d(x, outH, outW, 'adaptive-avg');
}

/** PyTorch `F.interpolate(x, size=(outH, outW), mode='bilinear', align_corners=False)` on an NHWC map. */
export function bilinearResize(x: tf.Tensor4D, outH: number, outW: number): tf.Tensor4D {
  return resample2d(x, outH, outW, 'bilinear');
}
