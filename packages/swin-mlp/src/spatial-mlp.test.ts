import { expectNoLeak, NODE_BACKENDS, tf, useBackend } from '@swin/testing';
import fc from 'fast-check';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { type HeadMatMulMode, headTokenMix, setHeadMatMulMode, windowSpatialMlp } from './index.js';
import {
  conv1dGroupedK1,
  maxAbsDiff,
  officialWindowSpatialMlp,
  randomArray,
} from './test-utils/reference.js';

describe('reference Conv1d(groups) self-check', () => {
  it('groups=1 is a plain matrix product per position; groups=C is per-channel scaling', () => {
    // [B=1, Cin=2, L=2], weight [Cout=2, 2, 1]
    const y = conv1dGroupedK1([1, 2, 3, 4], 1, 2, 2, [1, 10, 100, 1000], [0.5, -0.5], 2, 1);
    expect(Array.from(y)).toEqual([1 + 30 + 0.5, 2 + 40 + 0.5, 100 + 3000 - 0.5, 200 + 4000 - 0.5]);
    const z = conv1dGroupedK1([1, 2, 3, 4], 1, 2, 2, [2, 3], null, 2, 2);
    expect(Array.from(z)).toEqual([2, 4, 9, 12]);
  });
});

const MODES: HeadMatMulMode[] = ['auto', 'batched', 'unstack', 'gather', 'kernel'];
const CASES = NODE_BACKENDS.flatMap((b) => MODES.map((m) => [b, m] as const));

describe.each(CASES)('grouped spatial MLP on %s, head matMul mode %s', (backend, mode) => {
  let prev: HeadMatMulMode;
  beforeAll(async () => {
    await useBackend(backend);
    prev = setHeadMatMulMode(mode);
  });
  afterAll(() => {
    setHeadMatMulMode(prev);
  });

  it('windowSpatialMlp equals the official view/transpose + Conv1d(groups=nH) written as plain JS loops', () => {
    fc.assert(
      fc.property(
        fc.integer({ min: 1, max: 5 }),
        fc.integer({ min: 1, max: 4 }),
        fc.integer({ min: 1, max: 4 }),
        fc.integer({ min: 1, max: 3 }),
        fc.boolean(),
        fc.nat(),
        (Bw, ws, nH, d, withBias, seed) => {
          const N = ws * ws;
          const C = nH * d;
          const xd = randomArray(Bw * N * C, seed);
          const wd = randomArray(nH * N * N, seed + 1);
          const bd = withBias ? randomArray(nH * N, seed + 2) : null;
          const y = tf.tidy(() =>
            windowSpatialMlp(
              tf.tensor3d(xd, [Bw, N, C]),
              tf.tensor3d(wd, [nH * N, N, 1]),
              bd ? tf.tensor1d(bd) : null,
              nH,
            ),
          );
          const ref = officialWindowSpatialMlp(xd, Bw, N, C, nH, wd, bd);
          const err = maxAbsDiff(y.dataSync(), ref);
          y.dispose();
          return err < 1e-5;
        },
      ),
      { numRuns: 50, seed: 42 },
    );
  });

  it('gradients of headTokenMix equal the exact JS gradients (dW = dY X^T, dX = W^T dY, db = sum dY)', () => {
    for (const [nH, N, M] of [
      [1, 4, 3],
      [3, 4, 5],
      [10, 9, 2],
    ]) {
      const xd = randomArray(nH * N * M, nH + 1);
      const wd = randomArray(nH * N * N, nH + 2);
      const bd = randomArray(nH * N, nH + 3);
      const gd = randomArray(nH * N * M, nH + 4);
      const [gx, gw, gb] = tf.tidy(() => {
        const dy = tf.tensor3d(gd, [nH, N, M]);
        const f = (x: tf.Tensor, w: tf.Tensor, b: tf.Tensor) =>
          tf.sum(tf.mul(headTokenMix(x as tf.Tensor3D, w, b), dy));
        return tf.grads(f)([tf.tensor3d(xd, [nH, N, M]), tf.tensor3d(wd, [nH * N, N, 1]), tf.tensor1d(bd)]);
      });
      const ex = new Float64Array(nH * N * M);
      const ew = new Float64Array(nH * N * N);
      const eb = new Float64Array(nH * N);
      for (let h = 0; h < nH; h++)
        for (let i = 0; i < N; i++)
          for (let m = 0; m < M; m++) {
            const g = gd[(h * N + i) * M + m];
            eb[h * N + i] += g;
            for (let j = 0; j < N; j++) {
              ew[(h * N + i) * N + j] += g * xd[(h * N + j) * M + m];
              ex[(h * N + j) * M + m] += wd[(h * N + i) * N + j] * g;
            }
          }
      expect(gw.shape).toEqual([nH * N, N, 1]);
      expect(maxAbsDiff(gx.dataSync(), ex)).toBeLessThan(1e-5);
      expect(maxAbsDiff(gw.dataSync(), ew)).toBeLessThan(1e-5);
      expect(maxAbsDiff(gb.dataSync(), eb)).toBeLessThan(1e-5);
      tf.dispose([gx, gw, gb]);
    }
  });

  it('large heads (the sizes where auto switches to per-head matMuls on wasm) match batched', () => {
    for (const [nH, N, M] of [
      [4, 64, 128],
      [16, 64, 64],
    ]) {
      const x = tf.randomNormal([nH, N, M]) as tf.Tensor3D;
      const w = tf.randomNormal([nH * N, N, 1], 0, 0.1);
      const mine = headTokenMix(x, w, null);
      const ref = tf.matMul(tf.reshape(w, [nH, N, N]) as tf.Tensor3D, x);
      expect(maxAbsDiff(mine.dataSync(), ref.dataSync())).toBeLessThan(1e-4);
      tf.dispose([x, w, mine, ref]);
    }
  });

  it('a head only sees its own channels and its own weights (changing head 1 leaves head 0 untouched)', () => {
    const [Bw, N, nH, d] = [2, 4, 2, 3];
    const xd = randomArray(Bw * N * nH * d, 1);
    const wd = randomArray(nH * N * N, 2);
    const wd2 = wd.slice();
    for (let k = N * N; k < 2 * N * N; k++) wd2[k] += 1; // head 1's rows
    const [a, b] = tf.tidy(() => {
      const x = tf.tensor3d(xd, [Bw, N, nH * d]);
      return [
        windowSpatialMlp(x, tf.tensor3d(wd, [nH * N, N, 1]), null, nH),
        windowSpatialMlp(x, tf.tensor3d(wd2, [nH * N, N, 1]), null, nH),
      ];
    });
    const [ad, bd] = [a.dataSync(), b.dataSync()];
    for (let w = 0; w < Bw; w++)
      for (let i = 0; i < N; i++)
        for (let c = 0; c < nH * d; c++) {
          const k = (w * N + i) * nH * d + c;
          if (c < d) expect(ad[k]).toBe(bd[k]);
        }
    expect(maxAbsDiff(ad, bd)).toBeGreaterThan(0.1);
    tf.dispose([a, b]);
  });

  it('headTokenMix accepts [nH, N, N] weights too and leaks nothing (forward and backward)', async () => {
    const x = tf.randomNormal([3, 4, 5]) as tf.Tensor3D;
    const w = tf.randomNormal([3, 4, 4]);
    const w1 = tf.reshape(w, [12, 4, 1]);
    const b = tf.randomNormal([12]);
    const [p, q] = [headTokenMix(x, w, b), headTokenMix(x, w1, b)];
    expect(maxAbsDiff(p.dataSync(), q.dataSync())).toBe(0);
    await expectNoLeak(() => headTokenMix(x, w1, b), 'headTokenMix');
    await expectNoLeak(
      () => tf.grads((a: tf.Tensor, c: tf.Tensor) => tf.sum(headTokenMix(a as tf.Tensor3D, c, b)))([x, w1]),
      'headTokenMix grads',
    );
    tf.dispose([x, w, w1, b, p, q]);
  });

  it('rejects mismatched shapes with descriptive errors', () => {
    const x = tf.zeros([2, 4, 5]) as tf.Tensor3D;
    const w = tf.zeros([8, 3, 1]);
    expect(() => headTokenMix(x, w, null)).toThrow(
      /headTokenMix: weight has shape \[8,3,1\], expected \[8, 4, 1\]/,
    );
    const w2 = tf.zeros([8, 4, 1]);
    const b = tf.zeros([7]);
    expect(() => headTokenMix(x, w2, b)).toThrow(/bias has shape \[7\], expected \[8\]/);
    const win = tf.zeros([2, 4, 6]) as tf.Tensor3D;
    expect(() => windowSpatialMlp(win, w2, null, 4)).toThrow(/C=6 channels are not divisible by numHeads=4/);
    expect(() => windowSpatialMlp(tf.zeros([4, 6]) as unknown as tf.Tensor3D, w2, null, 2)).toThrow(
      /windows must be \[B\*nW, N, C\]/,
    );
    tf.dispose([x, w, w2, b, win]);
  });
});

describe.each(NODE_BACKENDS)('head matMul mode auto on %s', (backend) => {
  beforeAll(async () => {
    await useBackend(backend);
  });

  it("runs no tfjs BatchMatMul, forward or backward (the SIMD kernel of @swin/nn's smallBatchMatMul)", async () => {
    const prev = setHeadMatMulMode('auto');
    const x = tf.randomNormal([4, 16, 30]) as tf.Tensor3D;
    const w = tf.randomNormal([64, 16, 1]);
    const b = tf.randomNormal([64]);
    try {
      const info = await tf.profile(() =>
        tf.grads((a: tf.Tensor, c: tf.Tensor) => tf.sum(headTokenMix(a as tf.Tensor3D, c, b)))([x, w]),
      );
      for (const t of info.result as tf.Tensor[]) t.dispose();
      expect(info.kernelNames).not.toContain('BatchMatMul');
    } finally {
      setHeadMatMulMode(prev);
      tf.dispose([x, w, b]);
    }
  });

  it('setHeadMatMulMode rejects unknown modes', () => {
    expect(() => setHeadMatMulMode('fast' as HeadMatMulMode)).toThrow(
      /setHeadMatMulMode: unknown mode 'fast' \(expected auto, batched, unstack, gather or kernel\)/,
    );
  });
});
