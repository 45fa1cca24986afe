import { expectNoLeak, NODE_BACKENDS, tf, useBackend } from '@swin/testing';
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { biasTableSize, bicubicInterpolationMatrix, resizeBiasTable } from './index.js';

/**
 * Brute-force PyTorch `upsample_bicubic2d` (align_corners=False) on one channel `[inH, inW]`,
 * written from PyTorch's documented algorithm: for every output pixel, source coordinate
 * `(dst + 0.5) * in/out - 0.5`, floor and fraction, cubic convolution coefficients with A = -0.75,
 * 4x4 taps read with index clamping (`upsample_get_value_bounded`), interpolate each of the four
 * rows along x, then the four results along y. Float64.
 */
function torchBicubic2d(
  src: Float64Array,
  inH: number,
  inW: number,
  outH: number,
  outW: number,
): Float64Array {
  const A = -0.75;
  const cc1 = (x: number) => ((A + 2) * x - (A + 3)) * x * x + 1;
  const cc2 = (x: number) => ((A * x - 5 * A) * x + 8 * A) * x - 4 * A;
  const coeffs = (t: number) => [cc2(t + 1), cc1(t), cc1(1 - t), cc2(2 - t)];
  const interp1d = (x: number[], t: number) => {
    const c = coeffs(t);
    return x[0] * c[0] + x[1] * c[1] + x[2] * c[2] + x[3] * c[3];
  };
  const at = (y: number, x: number) =>
    src[Math.max(0, Math.min(inH - 1, y)) * inW + Math.max(0, Math.min(inW - 1, x))];
  const out = new Float64Array(outH * outW);
  const sh = inH / outH;
  const sw = inW / outW;
  for (let oy = 0; oy < outH; oy++) {
    const ry = (oy + 0.5) * sh - 0.5;
    const iy = Math.floor(ry);
    const ty = ry - iy;
    for (let ox = 0; ox < outW; ox++) {
      const rx = (ox + 0.5) * sw - 0.5;
      const ix = Math.floor(rx);
      const tx = rx - ix;
      const rows: number[] = [];
      for (let k = 0; k < 4; k++) {
        const y = iy - 1 + k;
        rows.push(interp1d([at(y, ix - 1), at(y, ix), at(y, ix + 1), at(y, ix + 2)], tx));
      }
      out[oy * outW + ox] = interp1d(rows, ty);
    }
  }
  return out;
}

/** Brute-force resize of a `[T, nH]` table: per head, view `[2a-1, 2b-1]`, bicubic, back to `[T', nH]`. */
function bruteResize(table: Float32Array, nH: number, [a, b]: number[], [c, d]: number[]): Float64Array {
  const [ha, wb, hc, wd] = [2 * a - 1, 2 * b - 1, 2 * c - 1, 2 * d - 1];
  const out = new Float64Array(hc * wd * nH);
  for (let h = 0; h < nH; h++) {
    const plane = new Float64Array(ha * wb);
    for (let k = 0; k < ha * wb; k++) plane[k] = table[k * nH + h];
    const r = torchBicubic2d(plane, ha, wb, hc, wd);
    for (let k = 0; k < hc * wd; k++) out[k * nH + h] = r[k];
  }
  return out;
}

function randomArray(n: number, seed: number): Float32Array {
  let s = seed >>> 0 || 1;
  const a = new Float32Array(n);
  for (let i = 0; i < n; i++) {
    s = (Math.imul(s, 1664525) + 1013904223) >>> 0;
    a[i] = (s / 2 ** 32 - 0.5) * 2;
  }
  return a;
}

function maxAbsDiff(a: ArrayLike<number>, b: ArrayLike<number>): number {
  expect(a.length).toBe(b.length);
  let m = 0;
  for (let i = 0; i < a.length; i++) m = Math.max(m, Math.abs(a[i] - b[i]));
  return m;
}

describe('bicubicInterpolationMatrix', () => {
  it('rows sum to 1, identity for equal sizes, matches the 2-D brute force on a delta', () => {
    fc.assert(
      fc.property(fc.integer({ min: 1, max: 40 }), fc.integer({ min: 1, max: 40 }), (n, m) => {
        const M = bicubicInterpolationMatrix(n, m);
        expect(M.length).toBe(n * m);
        for (let o = 0; o < m; o++) {
          let s = 0;
          for (let i = 0; i < n; i++) s += M[o * n + i];
          expect(Math.abs(s - 1)).toBeLessThan(1e-6);
        }
        // column i of M is the 1-D response to a delta at i (1 x n image)
        for (let i = 0; i < n; i++) {
          const delta = new Float64Array(n);
          delta[i] = 1;
          const r = torchBicubic2d(delta, 1, n, 1, m);
          for (let o = 0; o < m; o++) expect(Math.abs(M[o * n + i] - r[o])).toBeLessThan(1e-6);
        }
      }),
    );
    const I = bicubicInterpolationMatrix(7, 7);
    for (let i = 0; i < 7; i++) for (let j = 0; j < 7; j++) expect(I[i * 7 + j]).toBe(i === j ? 1 : 0);
  });

  it('rejects bad sizes', () => {
    expect(() => bicubicInterpolationMatrix(0, 3)).toThrow(/bicubicInterpolationMatrix: inSize=0/);
    expect(() => bicubicInterpolationMatrix(3, 2.5)).toThrow(/outSize=2.5/);
  });
});

describe.each(NODE_BACKENDS)('resizeBiasTable on %s', (backend) => {
  it('equals a brute-force PyTorch bicubic (upsampling, downsampling, non-square)', async () => {
    await useBackend(backend);
    const cases: Array<[number[], number[], number]> = [
      [[7, 7], [12, 12], 3],
      [[12, 12], [7, 7], 2],
      [[2, 3], [5, 4], 2],
      [[4, 4], [8, 6], 1],
      [[1, 1], [3, 2], 2],
      [[3, 3], [1, 1], 2],
      [[6, 6], [7, 7], 4],
    ];
    for (const [from, to, nH] of cases) {
      const T = biasTableSize(from as [number, number]);
      const data = randomArray(T * nH, T + nH);
      const table = tf.tensor2d(data, [T, nH]);
      const out = resizeBiasTable(table, from as [number, number], to as [number, number]);
      expect(out.shape).toEqual([biasTableSize(to as [number, number]), nH]);
      const expected = bruteResize(data, nH, from, to);
      expect(maxAbsDiff(await out.data(), expected)).toBeLessThan(2e-6);
      table.dispose();
      out.dispose();
    }
  });

  it('is the identity when from == to and keeps constant tables constant (property)', async () => {
    await useBackend(backend);
    await fc.assert(
      fc.asyncProperty(
        fc.integer({ min: 1, max: 8 }),
        fc.integer({ min: 1, max: 8 }),
        fc.integer({ min: 1, max: 8 }),
        fc.integer({ min: 1, max: 8 }),
        fc.integer({ min: 1, max: 3 }),
        fc.float({ min: -5, max: 5, noNaN: true }),
        async (a, b, c, d, nH, k) => {
          const T = biasTableSize([a, b]);
          const data = randomArray(T * nH, a * 31 + b);
          const table = tf.tensor2d(data, [T, nH]);
          const same = resizeBiasTable(table, [a, b], [a, b]);
          expect(Array.from(await same.data())).toEqual(Array.from(data));
          const constant = tf.fill([T, nH], k);
          const resized = resizeBiasTable(constant, [a, b], [c, d]);
          expect(resized.shape).toEqual([biasTableSize([c, d]), nH]);
          for (const v of await resized.data())
            expect(Math.abs(v - k)).toBeLessThanOrEqual(1e-5 * (1 + Math.abs(k)));
          tf.dispose([table, same, constant, resized]);
        },
      ),
      { numRuns: 40 },
    );
  });

  it('is differentiable: gradient equals M_rows^T dY M_cols (brute force), no leaks', async () => {
    await useBackend(backend);
    const [from, to, nH] = [[3, 4], [5, 3], 2] as const;
    const T = biasTableSize(from);
    const T2 = biasTableSize(to);
    const table = tf.tensor2d(randomArray(T * nH, 1), [T, nH]);
    const dyData = randomArray(T2 * nH, 2);
    const dy = tf.tensor2d(dyData, [T2, nH]);
    const g = tf.grad((t: tf.Tensor) => tf.sum(tf.mul(resizeBiasTable(t, from, to), dy)))(table);
    // out[(y,x),h] = sum R[y,i] C[x,j] in[(i,j),h]  =>  dIn[(i,j),h] = sum_{y,x} R[y,i] C[x,j] dy[(y,x),h]
    const [ha, wb, hc, wd] = [2 * from[0] - 1, 2 * from[1] - 1, 2 * to[0] - 1, 2 * to[1] - 1];
    const R = bicubicInterpolationMatrix(ha, hc);
    const C = bicubicInterpolationMatrix(wb, wd);
    const expected = new Float64Array(T * nH);
    for (let i = 0; i < ha; i++)
      for (let j = 0; j < wb; j++)
        for (let h = 0; h < nH; h++) {
          let s = 0;
          for (let y = 0; y < hc; y++)
            for (let x = 0; x < wd; x++) s += R[y * ha + i] * C[x * wb + j] * dyData[(y * wd + x) * nH + h];
          expected[(i * wb + j) * nH + h] = s;
        }
    expect(maxAbsDiff(await g.data(), expected)).toBeLessThan(1e-5);
    await expectNoLeak(() => resizeBiasTable(table, from, to), 'resizeBiasTable');
    await expectNoLeak(
      () => tf.grad((t: tf.Tensor) => tf.sum(resizeBiasTable(t, from, to)))(table),
      'resizeBiasTable gradient',
    );
    tf.dispose([table, dy, g]);
  });

  it('rejects bad tables and sizes', async () => {
    await useBackend(backend);
    const t = tf.zeros([25, 2]);
    expect(() => resizeBiasTable(t, 4, 7)).toThrow(
      /resizeBiasTable: table has shape \[25, 2\]; a 4x4 source window needs .* = \[49, numHeads\]/,
    );
    expect(() => resizeBiasTable(t, 3, 0)).toThrow(/resizeBiasTable: to=0/);
    expect(() => resizeBiasTable(t, [3, 3.5] as [number, number], 4)).toThrow(/from\[1\]=3.5/);
    expect(() => resizeBiasTable(tf.zeros([25, 2], 'int32'), 3, 4)).toThrow(/dtype int32/);
    t.dispose();
  });
});
