import { expectNoLeak, listFixtures, loadFixture, NODE_BACKENDS, tf, useBackend } from '@swin/testing';
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import {
  biasTableSize,
  clearRelPosCache,
  relativePositionBias,
  relativePositionIndex,
  relativePositionIndexArray,
} from './index.js';

/** Brute force from the official code: coords meshgrid, pairwise difference, shift, scale, sum. */
function officialIndex(wh: number, ww: number): number[][] {
  const coords: Array<[number, number]> = [];
  for (let h = 0; h < wh; h++) for (let w = 0; w < ww; w++) coords.push([h, w]);
  return coords.map(([hi, wi]) =>
    coords.map(([hj, wj]) => {
      const dh = hi - hj + (wh - 1);
      const dw = wi - wj + (ww - 1);
      return dh * (2 * ww - 1) + dw;
    }),
  );
}

/** Plain-JS relative position bias: out[h][i][j] = table[index[i][j]][h]. */
function bruteBias(table: Float32Array, nH: number, wh: number, ww: number): Float32Array {
  const idx = officialIndex(wh, ww);
  const n = wh * ww;
  const out = new Float32Array(nH * n * n);
  for (let h = 0; h < nH; h++)
    for (let i = 0; i < n; i++)
      for (let j = 0; j < n; j++) out[(h * n + i) * n + j] = table[idx[i][j] * nH + h];
  return out;
}

/** Plain-JS gradient: dTable[t][h] = sum of dy[h][i][j] over (i, j) with index[i][j] = t (float64). */
function bruteBiasGrad(dy: Float32Array, nH: number, wh: number, ww: number): Float64Array {
  const idx = officialIndex(wh, ww);
  const n = wh * ww;
  const out = new Float64Array((2 * wh - 1) * (2 * ww - 1) * nH);
  for (let h = 0; h < nH; h++)
    for (let i = 0; i < n; i++)
      for (let j = 0; j < n; j++) out[idx[i][j] * nH + h] += dy[(h * n + i) * n + j];
  return out;
}

function randomArray(n: number, seed: number): Float32Array {
  // small deterministic LCG so failures are reproducible
  let s = seed >>> 0 || 1;
  const a = new Float32Array(n);
  for (let i = 0; i < n; i++) {
    s = (Math.imul(s, 1664525) + 1013904223) >>> 0;
    a[i] = s / 2 ** 32 - 0.5;
  }
  return a;
}

function maxAbsDiff(a: ArrayLike<number>, b: ArrayLike<number>): number {
  expect(a.length).toBe(b.length);
  let m = 0;
  for (let i = 0; i < a.length; i++) m = Math.max(m, Math.abs(a[i] - b[i]));
  return m;
}

const windowArb = fc.tuple(fc.integer({ min: 1, max: 9 }), fc.integer({ min: 1, max: 9 }));

describe('relativePositionIndexArray (plain JS)', () => {
  it('equals the brute-force official construction', () => {
    fc.assert(
      fc.property(windowArb, ([wh, ww]) => {
        const got = relativePositionIndexArray(wh, ww);
        expect(Array.from(got)).toEqual(officialIndex(wh, ww).flat());
      }),
    );
  });

  it('has values in [0, (2wh-1)(2ww-1)), the centre value on the diagonal, and is antisymmetric', () => {
    fc.assert(
      fc.property(windowArb, ([wh, ww]) => {
        const n = wh * ww;
        const t = biasTableSize([wh, ww]);
        const centre = (wh - 1) * (2 * ww - 1) + (ww - 1);
        const idx = relativePositionIndexArray(wh, ww);
        for (let i = 0; i < n; i++) {
          expect(idx[i * n + i]).toBe(centre);
          for (let j = 0; j < n; j++) {
            const v = idx[i * n + j];
            expect(v >= 0 && v < t).toBe(true);
            expect(v + idx[j * n + i]).toBe(2 * centre);
          }
        }
      }),
    );
  });

  it('defaults ww to wh and rejects bad sizes', () => {
    expect(Array.from(relativePositionIndexArray(3))).toEqual(Array.from(relativePositionIndexArray(3, 3)));
    expect(() => relativePositionIndexArray(0, 2)).toThrow(
      /relativePositionIndexArray: wh=0 must be an integer >= 1/,
    );
    expect(() => relativePositionIndexArray(2, 1.5)).toThrow(/ww=1.5/);
    expect(() => relativePositionIndexArray(Number.NaN, 2)).toThrow(/wh=NaN/);
    expect(() => biasTableSize([2, -1] as [number, number])).toThrow(/biasTableSize: window\[1\]=-1/);
  });
});

const fixtureNames = listFixtures()
  .filter((f) => f.startsWith('rel_pos_index_'))
  .map((f) => f.slice(0, -'.safetensors'.length));

describe.each(NODE_BACKENDS)('relative position on %s', (backend) => {
  it('finds the rel_pos_index fixtures', () => {
    expect(fixtureNames.length).toBeGreaterThanOrEqual(4);
  });

  it.each(fixtureNames)('relativePositionIndex matches fixture %s exactly', async (name) => {
    await useBackend(backend);
    const fx = loadFixture(`${name}.safetensors`);
    const cfg = fx.config as { kwargs: { window_size: [number, number] } };
    const [wh, ww] = cfg.kwargs.window_size;
    expect(fx.dtypes.output).toBe('I64');
    const expectedShape = fx.expected.output.shape;
    const expectedData = Array.from(fx.expected.output.dataSync());
    fx.dispose();
    const got = relativePositionIndex(wh, ww);
    expect(got.dtype).toBe('int32');
    expect(got.shape).toEqual(expectedShape);
    expect(Array.from(await got.data())).toEqual(expectedData);
    expect(Array.from(relativePositionIndexArray(wh, ww))).toEqual(expectedData);
    got.dispose();
  });

  it('relativePositionIndex returns caller-owned handles on a cached buffer, no leaks', async () => {
    await useBackend(backend);
    await expectNoLeak(() => relativePositionIndex(4, 3), 'relativePositionIndex');
    const a = relativePositionIndex(4, 3);
    a.dispose();
    const b = relativePositionIndex(4, 3);
    expect(Array.from(b.dataSync())).toEqual(officialIndex(4, 3).flat());
    b.dispose();
    // a tidy around it cleans the handle up and keeps the cache alive
    const before = tf.memory().numTensors;
    tf.tidy(() => {
      relativePositionIndex(4, 3);
    });
    expect(tf.memory().numTensors).toBe(before);
  });

  it('cache is bounded and clearRelPosCache releases everything', async () => {
    await useBackend(backend);
    clearRelPosCache();
    const base = tf.memory().numTensors;
    for (let k = 1; k <= 50; k++) relativePositionIndex((k % 10) + 1, Math.floor(k / 10) + 1).dispose();
    const grown = tf.memory().numTensors - base;
    expect(grown).toBeGreaterThan(0);
    expect(grown).toBeLessThanOrEqual(32 * 5); // 32 entries x (index + 4 selectors)
    clearRelPosCache();
    expect(tf.memory().numTensors).toBe(base);
    // still usable after clearing
    const t = relativePositionIndex(2, 2);
    expect(Array.from(t.dataSync())).toEqual(officialIndex(2, 2).flat());
    t.dispose();
  });

  it('relativePositionBias equals the brute-force gather/permute', async () => {
    await useBackend(backend);
    for (const [wh, ww, nH] of [
      [1, 1, 1],
      [2, 3, 2],
      [3, 2, 1],
      [4, 4, 3],
      [7, 7, 4],
    ]) {
      const T = (2 * wh - 1) * (2 * ww - 1);
      const tableData = randomArray(T * nH, wh * 100 + ww * 10 + nH);
      const table = tf.tensor2d(tableData, [T, nH]);
      const out = relativePositionBias(table, [wh, ww]);
      expect(out.shape).toEqual([nH, wh * ww, wh * ww]);
      expect(Array.from(await out.data())).toEqual(Array.from(bruteBias(tableData, nH, wh, ww)));
      // number window = square
      if (wh === ww) {
        const sq = relativePositionBias(table, wh);
        expect(Array.from(await sq.data())).toEqual(Array.from(await out.data()));
        sq.dispose();
      }
      table.dispose();
      out.dispose();
    }
  });

  it('relativePositionBias gradient w.r.t. the table equals the brute-force scatter-add', async () => {
    await useBackend(backend);
    for (const [wh, ww, nH] of [
      [1, 1, 2],
      [2, 3, 2],
      [3, 5, 1],
      [7, 7, 3],
    ]) {
      const n = wh * ww;
      const T = (2 * wh - 1) * (2 * ww - 1);
      const table = tf.tensor2d(randomArray(T * nH, 7 + wh), [T, nH]);
      const dyData = randomArray(nH * n * n, 99 + ww);
      const dy = tf.tensor3d(dyData, [nH, n, n]);
      // loss = sum(bias * dy)  =>  dLoss/dTable = scatter-add of dy
      const g = tf.grad((t: tf.Tensor) => tf.sum(tf.mul(relativePositionBias(t, [wh, ww]), dy)))(table);
      expect(g.shape).toEqual([T, nH]);
      expect(maxAbsDiff(await g.data(), bruteBiasGrad(dyData, nH, wh, ww))).toBeLessThan(1e-5);
      table.dispose();
      dy.dispose();
      g.dispose();
    }
  });

  it('relativePositionBias gradient flows through a tf.variable with variableGrads', async () => {
    await useBackend(backend);
    const [wh, ww, nH] = [3, 4, 2];
    const T = biasTableSize([wh, ww]);
    const v = tf.variable(tf.tensor2d(randomArray(T * nH, 3), [T, nH]));
    const { value, grads } = tf.variableGrads(
      () => tf.sum(tf.square(relativePositionBias(v, [wh, ww]))),
      [v],
    );
    // d/dTable sum(bias^2) = 2 * table * (number of (i,j) pairs using that row)
    const count = new Float64Array(T);
    for (const t of relativePositionIndexArray(wh, ww)) count[t] += 1;
    const tv = await v.data();
    const expected = Array.from(tv, (x, k) => 2 * x * count[Math.floor(k / nH)]);
    expect(maxAbsDiff(await grads[v.name].data(), expected)).toBeLessThan(1e-5);
    value.dispose();
    grads[v.name].dispose();
    v.dispose();
  });

  it('relativePositionBias and its gradient leak nothing', async () => {
    await useBackend(backend);
    const table = tf.tensor2d(randomArray(13 * 15 * 3, 5), [13 * 15, 3]);
    await expectNoLeak(() => relativePositionBias(table, [7, 8]), 'relativePositionBias');
    await expectNoLeak(
      () => tf.grad((t: tf.Tensor) => tf.sum(relativePositionBias(t, [7, 8])))(table),
      'relativePositionBias gradient',
    );
    table.dispose();
  });

  it('relativePositionBias rejects bad tables and windows with clear errors', async () => {
    await useBackend(backend);
    const table = tf.zeros([24, 2]);
    expect(() => relativePositionBias(table, [3, 3])).toThrow(
      /relativePositionBias: table has shape \[24, 2\]; a 3x3 window needs \[\(2\*3-1\)\*\(2\*3-1\), numHeads\] = \[25, numHeads\]/,
    );
    expect(() => relativePositionBias(tf.zeros([25]), 3)).toThrow(/shape \[25\]/);
    expect(() => relativePositionBias(tf.zeros([25, 2], 'int32'), 3)).toThrow(
      /dtype int32, expected float32/,
    );
    expect(() => relativePositionBias(table, [0, 3])).toThrow(/relativePositionBias: window\[0\]=0/);
    expect(() => relativePositionBias(table, [2, 3, 4] as unknown as [number, number])).toThrow(
      /window=\[2,3,4\] must be a number or a \[height, width\] pair/,
    );
    expect(() => relativePositionBias([1, 2] as unknown as tf.Tensor, 1)).toThrow(
      /table must be a tf.Tensor/,
    );
    expect(() => relativePositionIndex(3, 0)).toThrow(/relativePositionIndex: ww=0/);
    table.dispose();
  });
});

describe('relativePositionBias gradient agrees across backends', () => {
  it('wasm custom gradient equals the cpu result and tfjs gather gradient on cpu', async () => {
    const [wh, ww, nH] = [5, 6, 3];
    const n = wh * ww;
    const T = biasTableSize([wh, ww]);
    const tableData = randomArray(T * nH, 11);
    const dyData = randomArray(nH * n * n, 12);
    const results: Record<string, Float32Array> = {};
    for (const backend of NODE_BACKENDS) {
      await useBackend(backend);
      const table = tf.tensor2d(tableData, [T, nH]);
      const dy = tf.tensor3d(dyData, [nH, n, n]);
      const g = tf.grad((t: tf.Tensor) => tf.sum(tf.mul(relativePositionBias(t, [wh, ww]), dy)))(table);
      results[backend] = (await g.data()) as Float32Array;
      if (backend === 'cpu') {
        // tfjs's own gather gradient (UnsortedSegmentSum), available on cpu only
        const idx = relativePositionIndex(wh, ww);
        const ref = tf.grad((t: tf.Tensor) =>
          tf.sum(
            tf.mul(tf.transpose(tf.reshape(tf.gather(t, tf.reshape(idx, [-1])), [n, n, nH]), [2, 0, 1]), dy),
          ),
        )(table);
        expect(maxAbsDiff(results.cpu, await ref.data())).toBeLessThan(1e-5);
        ref.dispose();
        idx.dispose();
      }
      table.dispose();
      dy.dispose();
      g.dispose();
    }
    expect(maxAbsDiff(results.cpu, results.wasm)).toBeLessThan(1e-5);
  });
});
