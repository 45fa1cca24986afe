import { expectNoLeak, NODE_BACKENDS, tf, useBackend } from '@swin/testing';
import fc from 'fast-check';
import { beforeAll, describe, expect, it } from 'vitest';
import {
  adaptiveAvgPool2d,
  adaptiveAvgPoolWeights,
  bilinearResize,
  bilinearWeights,
  clearResampleCache,
  resampleCacheSize,
} from './resample.js';

/** PyTorch's AdaptiveAvgPool2d, written directly as nested loops over NHWC data. */
function refAdaptivePool(x: Float32Array, [B, H, W, C]: number[], oh: number, ow: number): Float64Array {
  const out = new Float64Array(B * oh * ow * C);
  for (let b = 0; b < B; b++)
    for (let i = 0; i < oh; i++) {
      const h0 = Math.floor((i * H) / oh);
      const h1 = Math.ceil(((i + 1) * H) / oh);
      for (let j = 0; j < ow; j++) {
        const w0 = Math.floor((j * W) / ow);
        const w1 = Math.ceil(((j + 1) * W) / ow);
        for (let c = 0; c < C; c++) {
          let s = 0;
          for (let h = h0; h < h1; h++) for (let w = w0; w < w1; w++) s += x[((b * H + h) * W + w) * C + c];
          out[((b * oh + i) * ow + j) * C + c] = s / ((h1 - h0) * (w1 - w0));
        }
      }
    }
  return out;
}

/**
 * PyTorch's upsample_bilinear2d (align_corners=False), transcribed from its per-output-pixel algorithm:
 * source index = max(scale * (dst + 0.5) - 0.5, 0), two taps per axis, the second clamped to the last cell.
 */
function refBilinear(x: Float32Array, [B, H, W, C]: number[], oh: number, ow: number): Float64Array {
  const out = new Float64Array(B * oh * ow * C);
  const taps = (dst: number, n: number, m: number): [number, number, number, number] => {
    if (n === m) return [dst, dst, 1, 0];
    const real = Math.max((n / m) * (dst + 0.5) - 0.5, 0);
    const i0 = Math.min(Math.floor(real), n - 1);
    const l1 = Math.min(Math.max(real - i0, 0), 1);
    return [i0, i0 + (i0 < n - 1 ? 1 : 0), 1 - l1, l1];
  };
  for (let b = 0; b < B; b++)
    for (let i = 0; i < oh; i++) {
      const [h0, h1, lh0, lh1] = taps(i, H, oh);
      for (let j = 0; j < ow; j++) {
        const [w0, w1, lw0, lw1] = taps(j, W, ow);
        for (let c = 0; c < C; c++) {
          const v = (h: number, w: number) => x[((b * H + h) * W + w) * C + c];
          out[((b * oh + i) * ow + j) * C + c] =
            lh0 * (lw0 * v(h0, w0) + lw1 * v(h0, w1)) + lh1 * (lw0 * v(h1, w0) + lw1 * v(h1, w1));
        }
      }
    }
  return out;
}

function maxDiff(a: ArrayLike<number>, b: ArrayLike<number>): number {
  let m = 0;
  for (let i = 0; i < a.length; i++) m = Math.max(m, Math.abs(a[i] - b[i]));
  return m;
}

describe('resampling weights', () => {
  it('adaptive pool rows follow PyTorch bins (8 -> 7 overlaps, 3 -> 7 repeats)', () => {
    const w = adaptiveAvgPoolWeights(8, 7);
    // bin 0 = [0, 2), bin 1 = [1, 3), ..., bin 6 = [6, 8)
    for (let i = 0; i < 7; i++) {
      const row = Array.from(w.subarray(i * 8, i * 8 + 8));
      expect(row.map((v, j) => (v > 0 ? j : -1)).filter((j) => j >= 0)).toEqual([i, i + 1]);
    }
    const r = adaptiveAvgPoolWeights(3, 7);
    for (let i = 0; i < 7; i++)
      expect(r.subarray(i * 3, i * 3 + 3).reduce((a, b) => a + b, 0)).toBeCloseTo(1, 6);
  });

  it('bilinear rows sum to 1 and the same size is the identity', () => {
    fc.assert(
      fc.property(fc.integer({ min: 1, max: 20 }), fc.integer({ min: 1, max: 20 }), (n, m) => {
        const w = bilinearWeights(n, m);
        for (let i = 0; i < m; i++) {
          const s = w.subarray(i * n, (i + 1) * n).reduce((a, b) => a + b, 0);
          if (Math.abs(s - 1) > 1e-6) return false;
        }
        return true;
      }),
    );
    const id = bilinearWeights(5, 5);
    for (let i = 0; i < 5; i++) for (let j = 0; j < 5; j++) expect(id[i * 5 + j]).toBe(i === j ? 1 : 0);
  });

  it('rejects non-positive sizes', () => {
    expect(() => bilinearWeights(0, 3)).toThrow(/positive integers/);
    expect(() => adaptiveAvgPoolWeights(4, 1.5)).toThrow(/positive integers/);
  });
});

describe.each(NODE_BACKENDS)('resample2d on %s', (backend) => {
  beforeAll(async () => {
    await useBackend(backend);
  });

  it('matches loop references for random shapes', () => {
    fc.assert(
      fc.property(
        fc.integer({ min: 1, max: 2 }),
        fc.integer({ min: 1, max: 11 }),
        fc.integer({ min: 1, max: 11 }),
        fc.integer({ min: 1, max: 3 }),
        fc.integer({ min: 1, max: 13 }),
        fc.integer({ min: 1, max: 13 }),
        (B, H, W, C, oh, ow) => {
          const shape: [number, number, number, number] = [B, H, W, C];
          const x = tf.randomNormal(shape) as tf.Tensor4D;
          const xd = x.dataSync() as Float32Array;
          const p = adaptiveAvgPool2d(x, oh, ow);
          const r = bilinearResize(x, oh, ow);
          const ok =
            maxDiff(p.dataSync(), refAdaptivePool(xd, shape, oh, ow)) < 1e-5 &&
            maxDiff(r.dataSync(), refBilinear(xd, shape, oh, ow)) < 1e-5 &&
            tf.util.arraysEqual(p.shape, [B, oh, ow, C]);
          tf.dispose([x, p, r]);
          return ok;
        },
      ),
      { numRuns: 40 },
    );
  });

  it('gradient is the transpose of the linear map (<M x, y> = <x, M^T y>)', () => {
    const x = tf.randomNormal([2, 5, 7, 3]) as tf.Tensor4D;
    const y = tf.randomNormal([2, 4, 9, 3]) as tf.Tensor4D;
    for (const f of [
      (t: tf.Tensor4D) => bilinearResize(t, 4, 9),
      (t: tf.Tensor4D) => adaptiveAvgPool2d(t, 4, 9),
    ]) {
      const g = tf.grad((t: tf.Tensor) => tf.sum(tf.mul(f(t as tf.Tensor4D), y)))(x);
      const lhs = tf.sum(tf.mul(f(x), y)).dataSync()[0];
      const rhs = tf.sum(tf.mul(x, g)).dataSync()[0];
      expect(Math.abs(lhs - rhs)).toBeLessThan(1e-3 * Math.max(1, Math.abs(lhs)));
      g.dispose();
    }
    tf.dispose([x, y]);
  });

  it('leaks nothing and caches its matrices', async () => {
    const x = tf.randomNormal([1, 6, 5, 2]) as tf.Tensor4D;
    await expectNoLeak(() => [bilinearResize(x, 3, 8), adaptiveAvgPool2d(x, 7)], 'resample2d');
    const g = () => tf.grad((t: tf.Tensor) => tf.sum(bilinearResize(t as tf.Tensor4D, 9, 2)))(x);
    await expectNoLeak(g, 'resample2d gradient');
    expect(resampleCacheSize()).toBeGreaterThan(0);
    clearResampleCache();
    expect(resampleCacheSize()).toBe(0);
    x.dispose();
  });

  it('rejects non-4-D input', () => {
    const x = tf.zeros([4, 4]);
    expect(() => bilinearResize(x as unknown as tf.Tensor4D, 2, 2)).toThrow(/4-D NHWC/);
    x.dispose();
  });
});
