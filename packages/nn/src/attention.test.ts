import { expectNoLeak, NODE_BACKENDS, tf, useBackend } from '@swin/testing';
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import {
  type AttentionOptions,
  attentionCore,
  attentionKernelAvailable,
  naiveAttention,
  smallBatchMatMul,
} from './attention.js';

function rand(shape: number[], seed: number, std = 1): tf.Tensor {
  return tf.randomNormal(shape, 0, std, 'float32', seed);
}

/** A 0 / -100 mask like Swin's shifted-window mask. */
function swinMask(shape: number[], seed: number): tf.Tensor {
  return tf.tidy(() =>
    tf.mul(tf.cast(tf.greater(tf.randomUniform(shape, 0, 1, 'float32', seed), 0.6), 'float32'), -100),
  );
}

interface Problem {
  G: number;
  N: number;
  M: number;
  d: number;
  dv: number;
  /** bias: 0 none, 2 `[N, M]`, 3 `[nB, N, M]` */
  biasRank: 0 | 2 | 3;
  nB: number;
  maskRank: 0 | 2 | 3;
  nMk: number;
  heads: number;
}

/**
 * Plain-JS float64 reference: out[g] = softmax(q k^T * scale + bias[g % nB] + mask[(g / heads) % nMk]) v.
 * Written from the definition, independently of the library's broadcast code.
 */
function bruteAttention(
  q: Float32Array,
  k: Float32Array,
  v: Float32Array,
  bias: Float32Array | null,
  mask: Float32Array | null,
  p: Problem,
  scale: number,
): Float64Array {
  const { G, N, M, d, dv, nB, nMk, heads } = p;
  const out = new Float64Array(G * N * dv);
  const row = new Float64Array(M);
  for (let g = 0; g < G; g++) {
    const bIdx = g % nB;
    const mIdx = Math.floor(g / heads) % nMk;
    for (let i = 0; i < N; i++) {
      let mx = Number.NEGATIVE_INFINITY;
      for (let j = 0; j < M; j++) {
        let s = 0;
        for (let c = 0; c < d; c++) s += q[(g * N + i) * d + c] * k[(g * M + j) * d + c];
        s *= scale;
        if (bias) s += bias[(bIdx * N + i) * M + j];
        if (mask) s += mask[(mIdx * N + i) * M + j];
        row[j] = s;
        mx = Math.max(mx, s);
      }
      let sum = 0;
      for (let j = 0; j < M; j++) {
        row[j] = Math.exp(row[j] - mx);
        sum += row[j];
      }
      for (let c = 0; c < dv; c++) {
        let acc = 0;
        for (let j = 0; j < M; j++) acc += (row[j] / sum) * v[(g * M + j) * dv + c];
        out[(g * N + i) * dv + c] = acc;
      }
    }
  }
  return out;
}

function makeProblem(p: Problem, seed: number) {
  const q = rand([p.G, p.N, p.d], seed) as tf.Tensor3D;
  const k = rand([p.G, p.M, p.d], seed + 1) as tf.Tensor3D;
  const v = rand([p.G, p.M, p.dv], seed + 2) as tf.Tensor3D;
  const bias = p.biasRank === 0 ? null : rand(p.biasRank === 3 ? [p.nB, p.N, p.M] : [p.N, p.M], seed + 3, 2);
  const mask =
    p.maskRank === 0 ? null : swinMask(p.maskRank === 3 ? [p.nMk, p.N, p.M] : [p.N, p.M], seed + 4);
  const opts: AttentionOptions = { bias, mask, numHeads: p.heads };
  const dispose = () => tf.dispose([q, k, v, bias ?? [], mask ?? []].flat());
  return { q, k, v, bias, mask, opts, dispose };
}

/** max |a - b| / (1 + max |b|) */
function relErr(a: ArrayLike<number>, b: ArrayLike<number>): number {
  expect(a.length).toBe(b.length);
  let err = 0;
  let mx = 0;
  for (let i = 0; i < a.length; i++) {
    err = Math.max(err, Math.abs(a[i] - b[i]));
    mx = Math.max(mx, Math.abs(b[i]));
  }
  return Number.isNaN(err) ? Number.POSITIVE_INFINITY : err / (1 + mx);
}

const SWIN_LIKE: Problem = {
  G: 2 * 4 * 3,
  N: 16,
  M: 16,
  d: 8,
  dv: 8,
  biasRank: 3,
  nB: 3,
  maskRank: 3,
  nMk: 4,
  heads: 3,
};
const PROBLEMS: [string, Problem][] = [
  ['swin-like (B=2, nW=4, nH=3, N=16)', SWIN_LIKE],
  [
    'swin stage-1 window (N=49, d=32)',
    { G: 6, N: 49, M: 49, d: 32, dv: 32, biasRank: 3, nB: 3, maskRank: 3, nMk: 2, heads: 3 },
  ],
  [
    'odd sizes, no bias / mask',
    { G: 3, N: 5, M: 7, d: 3, dv: 6, biasRank: 0, nB: 1, maskRank: 0, nMk: 1, heads: 1 },
  ],
  [
    '2-D bias and 2-D mask',
    { G: 4, N: 9, M: 11, d: 5, dv: 2, biasRank: 2, nB: 1, maskRank: 2, nMk: 1, heads: 1 },
  ],
  [
    'mask only, numHeads 2',
    { G: 8, N: 6, M: 6, d: 4, dv: 4, biasRank: 0, nB: 1, maskRank: 3, nMk: 2, heads: 2 },
  ],
  [
    'many keys (M=70), one query row',
    { G: 2, N: 1, M: 70, d: 9, dv: 13, biasRank: 3, nB: 2, maskRank: 0, nMk: 1, heads: 2 },
  ],
  [
    'spatial-reduction-like (N=20, M=4, d=16)',
    { G: 2, N: 20, M: 4, d: 16, dv: 16, biasRank: 0, nB: 1, maskRank: 0, nMk: 1, heads: 1 },
  ],
];

const IMPLS = ['kernel', 'tf'] as const;

describe.each(NODE_BACKENDS)('attentionCore on %s', (backend) => {
  it('uses the SIMD kernel on cpu and wasm', async () => {
    await useBackend(backend);
    expect(attentionKernelAvailable()).toBe(true);
  });

  for (const impl of IMPLS) {
    it.each(PROBLEMS)(`impl ${impl}: forward matches a float64 reference: %s`, async (_, p) => {
      await useBackend(backend);
      const P = makeProblem(p, 11);
      const scale = 0.37;
      const out = attentionCore(P.q, P.k, P.v, { ...P.opts, scale, impl });
      expect(out.shape).toEqual([p.G, p.N, p.dv]);
      const ref = bruteAttention(
        P.q.dataSync() as Float32Array,
        P.k.dataSync() as Float32Array,
        P.v.dataSync() as Float32Array,
        (P.bias?.dataSync() as Float32Array) ?? null,
        (P.mask?.dataSync() as Float32Array) ?? null,
        p,
        scale,
      );
      expect(relErr(out.dataSync(), ref)).toBeLessThan(2e-6);
      out.dispose();
      P.dispose();
    });

    it(`impl ${impl}: gradients of q, k, v, bias, mask equal the naive formulation's`, async () => {
      await useBackend(backend);
      for (const [, p] of PROBLEMS) {
        const P = makeProblem(p, 23);
        const dy = rand([p.G, p.N, p.dv], 99);
        const inputs = [P.q, P.k, P.v, ...(P.bias ? [P.bias] : []), ...(P.mask ? [P.mask] : [])];
        const lossOf =
          (fn: typeof attentionCore) =>
          (...xs: tf.Tensor[]) => {
            const [q, k, v] = xs as tf.Tensor3D[];
            let i = 3;
            const bias = P.bias ? xs[i++] : null;
            const mask = P.mask ? xs[i++] : null;
            return tf.sum(tf.mul(fn(q, k, v, { bias, mask, numHeads: p.heads, impl }), dy));
          };
        const ours = tf.grads(lossOf(attentionCore))(inputs);
        const naive = tf.grads(lossOf(naiveAttention))(inputs);
        for (let i = 0; i < inputs.length; i++) {
          expect(ours[i].shape).toEqual(inputs[i].shape);
          expect(relErr(ours[i].dataSync(), naive[i].dataSync())).toBeLessThan(5e-6);
        }
        tf.dispose([...ours, ...naive, dy]);
        P.dispose();
      }
    });

    it(`impl ${impl}: forward and backward leak nothing`, async () => {
      await useBackend(backend);
      const P = makeProblem(SWIN_LIKE, 5);
      await expectNoLeak(() => attentionCore(P.q, P.k, P.v, { ...P.opts, impl }), 'attentionCore forward');
      await expectNoLeak(
        () =>
          tf.grads((q: tf.Tensor, k: tf.Tensor, v: tf.Tensor, b: tf.Tensor) =>
            tf.sum(
              attentionCore(q as tf.Tensor3D, k as tf.Tensor3D, v as tf.Tensor3D, {
                ...P.opts,
                bias: b,
                impl,
              }),
            ),
          )([P.q, P.k, P.v, P.bias!]),
        'attentionCore backward',
      );
      P.dispose();
    });
  }

  it('random shapes: kernel forward and gradients agree with plain ops (property)', async () => {
    await useBackend(backend);
    fc.assert(
      fc.property(
        fc.record({
          B: fc.integer({ min: 1, max: 2 }),
          nW: fc.integer({ min: 1, max: 3 }),
          heads: fc.integer({ min: 1, max: 3 }),
          N: fc.integer({ min: 1, max: 19 }),
          M: fc.integer({ min: 1, max: 19 }),
          d: fc.integer({ min: 1, max: 12 }),
          dv: fc.integer({ min: 1, max: 12 }),
          useBias: fc.boolean(),
          useMask: fc.boolean(),
          seed: fc.integer({ min: 0, max: 1000 }),
        }),
        (r) => {
          const G = r.B * r.nW * r.heads;
          const p: Problem = {
            G,
            N: r.N,
            M: r.M,
            d: r.d,
            dv: r.dv,
            biasRank: r.useBias ? 3 : 0,
            nB: r.heads,
            maskRank: r.useMask ? 3 : 0,
            nMk: r.nW,
            heads: r.heads,
          };
          const P = makeProblem(p, r.seed);
          tf.tidy(() => {
            const opts = { ...P.opts, numHeads: r.heads };
            const a = attentionCore(P.q, P.k, P.v, { ...opts, impl: 'kernel' });
            const b = naiveAttention(P.q, P.k, P.v, opts);
            expect(relErr(a.dataSync(), b.dataSync())).toBeLessThan(2e-6);
            const loss = (fn: typeof attentionCore) => (q: tf.Tensor, k: tf.Tensor, v: tf.Tensor) =>
              tf.sum(
                tf.square(
                  fn(q as tf.Tensor3D, k as tf.Tensor3D, v as tf.Tensor3D, { ...opts, impl: 'kernel' }),
                ),
              );
            const ga = tf.grads(loss(attentionCore))([P.q, P.k, P.v]);
            const gb = tf.grads(loss(naiveAttention))([P.q, P.k, P.v]);
            for (let i = 0; i < 3; i++) expect(relErr(ga[i].dataSync(), gb[i].dataSync())).toBeLessThan(1e-5);
          });
          P.dispose();
        },
      ),
      { numRuns: 25, seed: 7 },
    );
  });

  it('masked keys get exactly zero weight; a fully -inf row gives NaN like the reference', async () => {
    await useBackend(backend);
    const q = rand([1, 3, 4], 1) as tf.Tensor3D;
    const k = rand([1, 6, 4], 2) as tf.Tensor3D;
    const v = tf.reshape(tf.eye(6), [1, 6, 6]) as tf.Tensor3D; // output row = the attention weights
    const m = new Float32Array(3 * 6);
    m.fill(-1e9, 0, 3); // row 0: keys 0..2 masked with -1e9
    m.fill(-100, 6, 12); // row 1: everything -100 (a uniform shift: plain softmax)
    m.fill(Number.NEGATIVE_INFINITY, 12, 18); // row 2: all -inf
    const mask = tf.tensor3d(m, [1, 3, 6]);
    for (const impl of IMPLS) {
      const w = attentionCore(q, k, v, { mask, impl }).dataSync();
      const ref = naiveAttention(q, k, v, { mask }).dataSync();
      for (let j = 0; j < 3; j++) expect(w[j]).toBe(0);
      for (let j = 0; j < 12; j++) expect(w[j]).toBeCloseTo(ref[j], 6);
      for (let j = 12; j < 18; j++) expect(Number.isNaN(w[j])).toBe(true);
    }
    tf.dispose([q, k, v, mask]);
  });

  it('rejects bad inputs with messages naming the function and values', async () => {
    await useBackend(backend);
    const q = tf.zeros([6, 4, 8]) as tf.Tensor3D;
    const k = tf.zeros([6, 5, 8]) as tf.Tensor3D;
    const v = tf.zeros([6, 5, 3]) as tf.Tensor3D;
    expect(() => attentionCore(tf.zeros([6, 4]) as unknown as tf.Tensor3D, k, v)).toThrow(
      /attentionCore: q must be a rank-3/,
    );
    expect(() => attentionCore(q, tf.zeros([6, 5, 7]) as tf.Tensor3D, v)).toThrow(/head dim 8/);
    expect(() => attentionCore(q, k, tf.zeros([6, 4, 3]) as tf.Tensor3D)).toThrow(/5 keys/);
    expect(() => attentionCore(q, tf.zeros([3, 5, 8]) as tf.Tensor3D, v)).toThrow(/same number of groups/);
    expect(() => attentionCore(q, k, v, { bias: tf.zeros([4, 4, 5]) })).toThrow(
      /not a multiple of the 4 bias/,
    );
    expect(() => attentionCore(q, k, v, { bias: tf.zeros([3, 4, 4]) })).toThrow(/must end in \[4, 5\]/);
    expect(() => attentionCore(q, k, v, { mask: tf.zeros([4, 4, 5]), numHeads: 1 })).toThrow(
      /numHeads \* masks = 1 \* 4/,
    );
    expect(() => attentionCore(q, k, v, { numHeads: 0 })).toThrow(/numHeads must be a positive integer/);
    expect(() => attentionCore(q, k, v, { scale: Number.NaN })).toThrow(/scale must be a finite number/);
    expect(() => attentionCore(q, k, v, { impl: 'fast' as never })).toThrow(/impl must be/);
    expect(() => attentionCore(tf.zeros([6, 4, 8], 'int32') as tf.Tensor3D, k, v)).toThrow(
      /q must be float32/,
    );
    tf.dispose([q, k, v]);
  });
});

/** Plain-JS batched product with optional transposes and batch broadcast. */
function bruteBmm(a: tf.Tensor3D, b: tf.Tensor3D, ta: boolean, tb: boolean): Float64Array {
  const A = a.arraySync();
  const Bm = b.arraySync();
  const G = Math.max(A.length, Bm.length);
  const n = ta ? A[0][0].length : A[0].length;
  const kk = ta ? A[0].length : A[0][0].length;
  const m = tb ? Bm[0].length : Bm[0][0].length;
  const out = new Float64Array(G * n * m);
  for (let g = 0; g < G; g++) {
    const X = A[A.length === 1 ? 0 : g];
    const Y = Bm[Bm.length === 1 ? 0 : g];
    for (let i = 0; i < n; i++)
      for (let j = 0; j < m; j++) {
        let s = 0;
        for (let c = 0; c < kk; c++) s += (ta ? X[c][i] : X[i][c]) * (tb ? Y[j][c] : Y[c][j]);
        out[(g * n + i) * m + j] = s;
      }
  }
  return out;
}

describe.each(NODE_BACKENDS)('smallBatchMatMul on %s', (backend) => {
  const cases: [number, number, number, number, number][] = [
    // Ga, Gb, n, k, m
    [3, 3, 5, 7, 9],
    [2, 2, 49, 32, 49],
    [1, 4, 6, 5, 3],
    [4, 1, 13, 4, 17],
  ];
  for (const ta of [false, true])
    for (const tb of [false, true]) {
      it(`matches a plain-JS product and tfjs gradients (transposeA=${ta}, transposeB=${tb})`, async () => {
        await useBackend(backend);
        for (const [Ga, Gb, n, k, m] of cases) {
          const a = rand(ta ? [Ga, k, n] : [Ga, n, k], n + k) as tf.Tensor3D;
          const b = rand(tb ? [Gb, m, k] : [Gb, k, m], m + 3) as tf.Tensor3D;
          const c = smallBatchMatMul(a, b, ta, tb);
          expect(c.shape).toEqual([Math.max(Ga, Gb), n, m]);
          expect(relErr(c.dataSync(), bruteBmm(a, b, ta, tb))).toBeLessThan(1e-6);
          const dy = rand(c.shape, 5);
          const ours = tf.grads((x: tf.Tensor, y: tf.Tensor) =>
            tf.sum(tf.mul(smallBatchMatMul(x as tf.Tensor3D, y as tf.Tensor3D, ta, tb), dy)),
          )([a, b]);
          // (tfjs's own BatchMatMul gradient mishandles a broadcast batch: broadcast with tile instead)
          const G = Math.max(Ga, Gb);
          const ref = tf.grads((x: tf.Tensor, y: tf.Tensor) =>
            tf.sum(tf.mul(tf.matMul(tf.tile(x, [G / Ga, 1, 1]), tf.tile(y, [G / Gb, 1, 1]), ta, tb), dy)),
          )([a, b]);
          for (let i = 0; i < 2; i++) {
            expect(ours[i].shape).toEqual(ref[i].shape);
            expect(relErr(ours[i].dataSync(), ref[i].dataSync())).toBeLessThan(2e-6);
          }
          tf.dispose([a, b, c, dy, ...ours, ...ref]);
        }
        const a = rand([2, 3, 4], 1) as tf.Tensor3D;
        const b = rand([2, 4, 5], 2) as tf.Tensor3D;
        await expectNoLeak(() => smallBatchMatMul(a, b), 'smallBatchMatMul');
        await expectNoLeak(
          () =>
            tf.grads((x: tf.Tensor, y: tf.Tensor) =>
              tf.sum(smallBatchMatMul(x as tf.Tensor3D, y as tf.Tensor3D)),
            )([a, b]),
          'smallBatchMatMul backward',
        );
        expect(() => smallBatchMatMul(a, rand([2, 5, 4], 3) as tf.Tensor3D)).toThrow(
          /smallBatchMatMul: inner dimensions differ/,
        );
        expect(() => smallBatchMatMul(a, rand([3, 4, 5], 3) as tf.Tensor3D)).toThrow(
          /batch sizes 2 and 3 differ/,
        );
        tf.dispose([a, b]);
      });
    }
});
