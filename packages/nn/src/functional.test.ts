import { expectNoLeak, NODE_BACKENDS, tf, useBackend } from '@swin/testing';
import { describe, expect, it } from 'vitest';
import {
  conv2d,
  depthwiseConv2d,
  elementwiseKernelsAvailable,
  erf,
  extractPatches,
  gelu,
  layerNorm,
  linear,
  matMul,
  mergeHeads,
  splitHeads,
} from './functional.js';

function rand(shape: number[], seed: number): tf.Tensor {
  return tf.randomNormal(shape, 0, 1, 'float32', seed);
}

function maxAbsDiff(a: tf.Tensor, b: tf.Tensor): number {
  expect(a.shape).toEqual(b.shape);
  return tf.tidy(() => tf.max(tf.abs(tf.sub(a, b))).dataSync()[0]);
}

/** Plain-JS NHWC convolution with symmetric padding (PyTorch semantics) as the reference. */
function bruteConv(
  x: Float32Array,
  [B, H, W, C]: number[],
  w: Float32Array,
  [kh, kw, , O]: number[],
  s: number,
  p: number,
): { data: Float64Array; shape: number[] } {
  const Ho = Math.floor((H + 2 * p - kh) / s) + 1;
  const Wo = Math.floor((W + 2 * p - kw) / s) + 1;
  const out = new Float64Array(B * Ho * Wo * O);
  for (let b = 0; b < B; b++)
    for (let i = 0; i < Ho; i++)
      for (let j = 0; j < Wo; j++)
        for (let o = 0; o < O; o++) {
          let acc = 0;
          for (let u = 0; u < kh; u++)
            for (let v = 0; v < kw; v++) {
              const h = i * s + u - p;
              const ww = j * s + v - p;
              if (h < 0 || h >= H || ww < 0 || ww >= W) continue;
              for (let c = 0; c < C; c++)
                acc += x[((b * H + h) * W + ww) * C + c] * w[((u * kw + v) * C + c) * O + o];
            }
          out[((b * Ho + i) * Wo + j) * O + o] = acc;
        }
  return { data: out, shape: [B, Ho, Wo, O] };
}

describe.each(NODE_BACKENDS)('functional on %s', (backend) => {
  it('linear and layerNorm match plain-JS references', async () => {
    await useBackend(backend);
    const x = rand([2, 3, 5], 1);
    const w = rand([5, 4], 2);
    const b = rand([4], 3);
    const y = linear(x, w, b);
    const xd = x.dataSync();
    const wd = w.dataSync();
    const bd = b.dataSync();
    const yd = y.dataSync();
    for (let r = 0; r < 6; r++)
      for (let o = 0; o < 4; o++) {
        let acc = bd[o];
        for (let i = 0; i < 5; i++) acc += xd[r * 5 + i] * wd[i * 4 + o];
        expect(yd[r * 4 + o]).toBeCloseTo(acc, 5);
      }
    const ln = layerNorm(x, null, null, 1e-5).dataSync();
    for (let r = 0; r < 6; r++) {
      const row = Array.from(xd.slice(r * 5, r * 5 + 5));
      const m = row.reduce((a, c) => a + c, 0) / 5;
      const v = row.reduce((a, c) => a + (c - m) ** 2, 0) / 5;
      for (const [i, c] of row.entries()) expect(ln[r * 5 + i]).toBeCloseTo((c - m) / Math.sqrt(v + 1e-5), 5);
    }
    tf.dispose([x, w, b, y]);
    expect(() => linear(tf.zeros([2, 3]), tf.zeros([4, 2]))).toThrow(/input has 3 features.*expected 4/);
  });

  it('gelu is the exact erf form', async () => {
    await useBackend(backend);
    const x = tf.tensor1d([-3, -1, -0.5, 0, 0.5, 1, 3]);
    const y = gelu(x).dataSync();
    // Values of 0.5 x (1 + erf(x / sqrt 2)) in float64.
    const ref = [-0.0040496961, -0.1586552539, -0.1542687694, 0, 0.3457312306, 0.8413447461, 2.9959503039];
    for (const [i, r] of ref.entries()) expect(y[i]).toBeCloseTo(r, 6);
    x.dispose();
  });

  it.each([
    [3, 2, 1, 9, 4, 5],
    [7, 4, 3, 17, 3, 6],
    [2, 3, 0, 10, 2, 3],
    [5, 2, 2, 8, 3, 4],
    [3, 2, 1, 1, 2, 3],
  ])(
    'conv2d k=%i s=%i p=%i on %i^2 x %i -> %i: the whole input gradient equals tfjs conv2dTranspose',
    async (k, s, p, H, C, O) => {
      await useBackend(backend);
      const x = rand([2, H, H + 2, C], 50 + k) as tf.Tensor4D;
      const w = rand([k, k, C, O], 60 + k) as tf.Tensor4D;
      const y = conv2d(x, w, null, { stride: s, padding: p });
      const r = rand(y.shape, 70);
      const gx = tf.grad((xx: tf.Tensor) =>
        tf.sum(tf.mul(conv2d(xx as tf.Tensor4D, w, null, { stride: s, padding: p }), r)),
      )(x);
      // reference: d/dx of the padded-and-cropped valid conv = conv2dTranspose on the cpu backend's kernel
      const ref = tf.tidy(() => {
        const [B, , , Cin] = x.shape;
        const [Hp, Wp] = [H + 2 * p, H + 2 + 2 * p];
        const [Ho, Wo] = [y.shape[1], y.shape[2]];
        const [Hc, Wc] = [(Ho - 1) * s + k, (Wo - 1) * s + k];
        const dxc = tf.conv2dTranspose(r as tf.Tensor4D, w, [B, Hc, Wc, Cin], s, 'valid');
        const dxp = tf.pad(dxc, [
          [0, 0],
          [0, Hp - Hc],
          [0, Wp - Wc],
          [0, 0],
        ]);
        return tf.slice(dxp, [0, p, p, 0], x.shape);
      });
      expect(gx.shape).toEqual(x.shape);
      const a = gx.dataSync();
      const b = ref.dataSync();
      let err = 0;
      for (let i = 0; i < a.length; i++) err = Math.max(err, Math.abs(a[i] - b[i]));
      expect(err).toBeLessThan(1e-4);
      tf.dispose([x, w, y, r, gx, ref]);
    },
  );

  it('conv2d inputGradient false: the same output and filter gradient, nothing flows into the input', async () => {
    await useBackend(backend);
    const x = rand([1, 11, 9, 3], 80) as tf.Tensor4D;
    const w = tf.variable(rand([7, 7, 3, 4], 81)) as tf.Variable<tf.Rank.R4>;
    const b = rand([4], 82) as tf.Tensor1D;
    const opts = { stride: 2, padding: 3 };
    const y1 = conv2d(x, w, b, opts);
    const y2 = conv2d(x, w, b, { ...opts, inputGradient: false });
    expect(Array.from(y2.dataSync())).toEqual(Array.from(y1.dataSync()));
    const r = rand(y1.shape, 83);
    const g1 = tf.variableGrads(() => tf.sum(tf.mul(conv2d(x, w, b, opts), r)) as tf.Scalar);
    const g2 = tf.variableGrads(
      () => tf.sum(tf.mul(conv2d(x, w, b, { ...opts, inputGradient: false }), r)) as tf.Scalar,
    );
    const [a1, a2] = [g1.grads[w.name].dataSync(), g2.grads[w.name].dataSync()];
    for (let i = 0; i < a1.length; i++) expect(a2[i]).toBeCloseTo(a1[i], 4);
    // x is a constant of the op: asking for its gradient fails instead of computing one
    expect(() =>
      tf.grad((xx: tf.Tensor) => tf.sum(conv2d(xx as tf.Tensor4D, w, b, { ...opts, inputGradient: false })))(
        x,
      ),
    ).toThrow();
    await expectNoLeak(() => {
      const g = tf.variableGrads(
        () => tf.sum(conv2d(x, w, b, { ...opts, inputGradient: false })) as tf.Scalar,
      );
      return [g.value, ...Object.values(g.grads)];
    }, 'conv2d inputGradient false');
    tf.dispose([
      x,
      w,
      b,
      y1,
      y2,
      r,
      g1.value,
      g2.value,
      ...Object.values(g1.grads),
      ...Object.values(g2.grads),
    ]);
  });

  it.each([
    [4, 4, 0, 9, 3, 8],
    [3, 2, 1, 7, 3, 5],
    [7, 4, 3, 11, 2, 6],
    [2, 2, 0, 5, 4, 3],
    [3, 1, 1, 6, 3, 4],
  ])(
    'conv2d k=%i s=%i p=%i on %i^2 x %i -> %i matches brute force, gradients match finite differences',
    async (k, s, p, H, C, O) => {
      await useBackend(backend);
      const x = rand([2, H, H + 1, C], 10 + k) as tf.Tensor4D;
      const w = rand([k, k, C, O], 20 + k) as tf.Tensor4D;
      const b = rand([O], 30) as tf.Tensor1D;
      const y = conv2d(x, w, b, { stride: s, padding: p });
      const ref = bruteConv(
        x.dataSync() as Float32Array,
        x.shape,
        w.dataSync() as Float32Array,
        w.shape,
        s,
        p,
      );
      expect(y.shape).toEqual(ref.shape);
      const yd = y.dataSync();
      const bd = b.dataSync();
      let err = 0;
      for (let i = 0; i < yd.length; i++) err = Math.max(err, Math.abs(yd[i] - ref.data[i] - bd[i % O]));
      expect(err).toBeLessThan(1e-4);
      // Gradients through the custom gradient vs the loss sum(y * r): compare to a native-gradient path on cpu
      // (same math with tf.conv2d) and to central finite differences on a few elements.
      const r = rand(y.shape, 40);
      const loss = (xx: tf.Tensor, ww: tf.Tensor) =>
        tf.sum(tf.mul(conv2d(xx as tf.Tensor4D, ww as tf.Tensor4D, b, { stride: s, padding: p }), r));
      const [gx, gw] = tf.grads(loss)([x, w]);
      const eps = 1e-2;
      for (const [t, g, idx] of [
        [x, gx, 5],
        [w, gw, 3],
        [w, gw, w.size - 1],
        [x, gx, x.size - 7],
      ] as [tf.Tensor, tf.Tensor, number][]) {
        const d = t.dataSync().slice();
        d[idx] += eps;
        const plus = tf.tensor(Float32Array.from(d), t.shape); // tf.tensor may keep a reference: copy
        d[idx] -= 2 * eps;
        const minus = tf.tensor(Float32Array.from(d), t.shape);
        const lp = (t === x ? loss(plus, w) : loss(x, plus)).dataSync()[0];
        const lm = (t === x ? loss(minus, w) : loss(x, minus)).dataSync()[0];
        const fd = (lp - lm) / (2 * eps);
        expect(Math.abs(g.dataSync()[idx] - fd)).toBeLessThan(2e-2 * Math.max(1, Math.abs(fd)));
        tf.dispose([plus, minus]);
      }
      await expectNoLeak(() => conv2d(x, w, b, { stride: s, padding: p }), 'conv2d');
      await expectNoLeak(() => tf.grads(loss)([x, w]), 'conv2d gradient');
      tf.dispose([x, w, b, y, r, gx, gw]);
    },
  );

  it('depthwiseConv2d matches brute force and its gradients match a dense-conv formulation', async () => {
    await useBackend(backend);
    const C = 5;
    const x = rand([2, 6, 7, C], 1) as tf.Tensor4D;
    const w = rand([3, 3, C, 1], 2) as tf.Tensor4D;
    const b = rand([C], 3) as tf.Tensor1D;
    // Dense equivalent: block-diagonal HWIO filter.
    const dense = (ww: tf.Tensor) =>
      tf.tidy(() => tf.mul(tf.reshape(ww, [3, 3, C, 1]), tf.reshape(tf.eye(C), [1, 1, C, C])) as tf.Tensor4D);
    const y = depthwiseConv2d(x, w, b, { padding: 1 });
    const yRef = conv2d(x, dense(w), b, { padding: 1 });
    expect(maxAbsDiff(y, yRef)).toBeLessThan(1e-5);
    const r = rand(y.shape, 4);
    const [gx, gw] = tf.grads((xx: tf.Tensor, ww: tf.Tensor) =>
      tf.sum(tf.mul(depthwiseConv2d(xx as tf.Tensor4D, ww as tf.Tensor4D, b, { padding: 1 }), r)),
    )([x, w]);
    const [gx2, gw2] = tf.grads((xx: tf.Tensor, ww: tf.Tensor) =>
      tf.sum(tf.mul(conv2d(xx as tf.Tensor4D, dense(ww), b, { padding: 1 }), r)),
    )([x, w]);
    expect(maxAbsDiff(gx, gx2)).toBeLessThan(1e-4);
    expect(maxAbsDiff(gw, gw2)).toBeLessThan(1e-3);
    await expectNoLeak(() => depthwiseConv2d(x, w, b, { padding: 1 }), 'depthwiseConv2d');
    tf.dispose([x, w, b, y, yRef, r, gx, gw, gx2, gw2]);
  });

  it('extractPatches orders taps like an HWIO filter', async () => {
    await useBackend(backend);
    const x = tf.reshape(tf.range(0, 2 * 5 * 5 * 2), [2, 5, 5, 2]) as tf.Tensor4D;
    const p = extractPatches(x, [3, 3], [2, 2]);
    expect(p.shape).toEqual([2, 2, 2, 18]);
    const d = p.dataSync();
    // Output (b=1, i=1, j=0), tap (u=2, v=1), channel 1 reads x[1, 4, 1, 1].
    const idx = (((1 * 2 + 1) * 2 + 0) * 18 + (2 * 3 + 1) * 2 + 1) | 0;
    expect(d[idx]).toBe(((1 * 5 + 4) * 5 + 1) * 2 + 1);
    tf.dispose([x, p]);
  });

  it('bad input gets clear errors', async () => {
    await useBackend(backend);
    const x = tf.zeros([1, 4, 4, 3]) as tf.Tensor4D;
    expect(() => conv2d(x, tf.zeros([3, 3, 2, 4]) as tf.Tensor4D, null)).toThrow(/3 channels.*expected 2/);
    expect(() => conv2d(x, tf.zeros([7, 7, 3, 4]) as tf.Tensor4D, null)).toThrow(/kernel 7x7 larger/);
    expect(() =>
      conv2d(tf.zeros([4, 4, 3]) as unknown as tf.Tensor4D, tf.zeros([1, 1, 3, 1]) as tf.Tensor4D, null),
    ).toThrow(/4-D NHWC/);
    tf.disposeVariables();
    x.dispose();
  });
});

describe.each(NODE_BACKENDS)('matMul gradients without transpose flags on %s', (backend) => {
  it.each([
    [
      [5, 3],
      [3, 4],
    ],
    [
      [2, 50, 3],
      [2, 3, 40],
    ],
    [
      [3, 4, 60],
      [3, 60, 2],
    ],
  ])('matMul %j x %j: value and gradients equal tf.matMul, no transposed BatchMatMul', async (sa, sb) => {
    await useBackend(backend);
    const a = rand(sa, 1) as tf.Tensor3D;
    const b = rand(sb, 2) as tf.Tensor3D;
    const r = rand([...sa.slice(0, -1), sb[sb.length - 1]], 3);
    const mine = (x: tf.Tensor, y: tf.Tensor) =>
      tf.sum(tf.mul(matMul(x as tf.Tensor3D, y as tf.Tensor3D), r));
    const ref = (x: tf.Tensor, y: tf.Tensor) =>
      tf.sum(tf.mul(tf.matMul(x as tf.Tensor3D, y as tf.Tensor3D), r));
    const [ga, gb] = tf.grads(mine)([a, b]);
    const [ha, hb] = tf.grads(ref)([a, b]);
    expect(maxAbsDiff(ga, ha)).toBeLessThan(1e-4);
    expect(maxAbsDiff(gb, hb)).toBeLessThan(1e-4);
    // The backward pass must not use transpose flags (10-40x slower on tfjs-wasm).
    const seen: boolean[] = [];
    const original = tf.engine().runKernel.bind(tf.engine());
    const spy = (name: string, inputs: tf.NamedTensorMap, attrs?: tf.NamedAttrMap) => {
      if (name === 'BatchMatMul') seen.push(Boolean(attrs?.transposeA || attrs?.transposeB));
      return original(name, inputs, attrs);
    };
    (tf.engine() as unknown as { runKernel: typeof spy }).runKernel = spy;
    try {
      tf.dispose(tf.grads(mine)([a, b]));
    } finally {
      (tf.engine() as unknown as { runKernel: typeof original }).runKernel = original;
    }
    expect(seen.length).toBeGreaterThan(0);
    expect(seen.filter(Boolean)).toEqual([]);
    await expectNoLeak(() => tf.grads(mine)([a, b]), 'matMul gradient');
    tf.dispose([a, b, r, ga, gb, ha, hb]);
  });
});

/** float64 erf: `2/sqrt(pi) exp(-x^2) sum_n 2^n x^(2n+1) / (1*3*...*(2n+1))` (positive terms, no cancellation). */
function erf64(x: number): number {
  const ax = Math.abs(x);
  if (ax > 6) return Math.sign(x);
  let term = ax;
  let sum = ax;
  for (let n = 1; n < 400; n++) {
    term *= (2 * ax * ax) / (2 * n + 1);
    sum += term;
    if (term < 1e-17 * sum) break;
  }
  return Math.sign(x) * (2 / Math.sqrt(Math.PI)) * Math.exp(-ax * ax) * sum;
}

/** Kernel names run by `fn` (through the engine). */
function kernelsRun(fn: () => unknown): string[] {
  const seen: string[] = [];
  const engine = tf.engine() as unknown as { runKernel: (...a: unknown[]) => unknown };
  const original = engine.runKernel.bind(engine);
  engine.runKernel = (...a: unknown[]) => {
    seen.push(a[0] as string);
    return original(...a);
  };
  try {
    tf.dispose(fn() as tf.Tensor);
  } finally {
    engine.runKernel = original;
  }
  return seen;
}

describe.each(NODE_BACKENDS)('fused kernels (erf, gelu, layerNorm, heads) on %s', (backend) => {
  it('the kernels are available and used by default', async () => {
    await useBackend(backend);
    expect(elementwiseKernelsAvailable()).toBe(true);
    const x = rand([3, 8], 1);
    expect(kernelsRun(() => gelu(x))).toContain('SwinNnGelu');
    expect(kernelsRun(() => gelu(x, { impl: 'tf' }))).not.toContain('SwinNnGelu');
    expect(kernelsRun(() => layerNorm(x, null, null, 1e-5))).toContain('SwinNnLayerNorm');
    expect(kernelsRun(() => erf(x))).toContain('SwinNnErf');
    x.dispose();
  });

  it('erf is within 2e-7 of a float64 erf on a dense grid (and exact at 0, +-1 at +-inf, NaN kept)', async () => {
    await useBackend(backend);
    const n = 400_001;
    const x = tf.linspace(-8, 8, n);
    const xs = x.dataSync();
    const y = erf(x).dataSync();
    let worst = 0;
    for (let i = 0; i < n; i++) worst = Math.max(worst, Math.abs(y[i] - erf64(xs[i])));
    expect(worst).toBeLessThanOrEqual(2e-7);
    const special = erf(tf.tensor1d([0, -0, 1e-30, -1e-30, Infinity, -Infinity, Number.NaN])).dataSync();
    expect(Array.from(special.slice(0, 6))).toEqual(
      [0, -0, 1e-30 * (2 / Math.sqrt(Math.PI)), -1e-30 * (2 / Math.sqrt(Math.PI)), 1, -1].map(Math.fround),
    );
    expect(Number.isNaN(special[6])).toBe(true);
    x.dispose();
  });

  it('gelu and its gradient are within float32 rounding of float64 references over [-14, 14]', async () => {
    await useBackend(backend);
    const n = 200_003; // not a multiple of 4: the tail path runs too
    const x = tf.linspace(-14, 14, n);
    const xs = x.dataSync();
    const y = gelu(x).dataSync();
    const dy = tf
      .grad((t: tf.Tensor) => gelu(t))(x)
      .dataSync();
    let worstY = 0;
    let worstD = 0;
    for (let i = 0; i < n; i++) {
      const v = xs[i];
      const phi = 0.5 * (1 + erf64(v / Math.SQRT2));
      const ref = v * phi;
      // erf within 2e-7 -> Phi within 1e-7 -> x Phi within 1e-7 |x|, plus one float32 rounding of the result
      worstY = Math.max(
        worstY,
        Math.abs(y[i] - ref) / (1e-7 * Math.abs(v) + 2 ** -23 * Math.abs(ref) + 1e-30),
      );
      const dref = phi + (v * Math.exp((-v * v) / 2)) / Math.sqrt(2 * Math.PI);
      worstD = Math.max(worstD, Math.abs(dy[i] - dref) / (1e-7 * (1 + Math.abs(v))));
    }
    expect(worstY).toBeLessThanOrEqual(1);
    expect(worstD).toBeLessThanOrEqual(1);
    // the left tail keeps its sign and relative size (no cancellation to 0 before float32 underflow)
    const tail = gelu(tf.tensor1d([-5, -8, -10])).dataSync();
    for (const [i, v] of [-5, -8, -10].entries()) {
      const ref = v * 0.5 * erfcTail(-v / Math.SQRT2);
      expect(Math.abs(tail[i] - ref) / Math.abs(ref)).toBeLessThan(1e-5);
    }
    x.dispose();
  });

  it('gelu, erf, layerNorm: kernel and tfjs-op paths agree, forward and gradients, no leaks', async () => {
    await useBackend(backend);
    for (const shape of [[7], [3, 5, 9], [2, 4, 96]]) {
      const x = tf.mul(rand(shape, 2), 2.5);
      const r = rand(shape, 3);
      for (const [name, op] of [
        ['gelu', gelu],
        ['erf', erf],
      ] as const) {
        const loss = (impl: 'kernel' | 'tf') => (t: tf.Tensor) => tf.sum(tf.mul(op(t, { impl }), r));
        expect(maxAbsDiff(op(x, { impl: 'kernel' }), op(x, { impl: 'tf' }))).toBeLessThan(1e-6);
        expect(maxAbsDiff(tf.grad(loss('kernel'))(x), tf.grad(loss('tf'))(x))).toBeLessThan(2e-6);
        await expectNoLeak(() => op(x), name);
        await expectNoLeak(() => tf.grad(loss('kernel'))(x), `${name} gradient`);
      }
      tf.dispose([x, r]);
    }
    for (const [shape, withAffine] of [
      [[5, 8], true],
      [[2, 3, 96], true],
      [[4, 12], false],
    ] as const) {
      const C = shape[shape.length - 1];
      const x = tf.add(rand([...shape], 4), 3); // a mean far from 0
      const w = rand([C], 5);
      const b = rand([C], 6);
      const r = rand([...shape], 7);
      const [ww, bb] = withAffine ? [w, b] : [null, null];
      const loss = (impl: 'kernel' | 'tf') => (a: tf.Tensor, g?: tf.Tensor, h?: tf.Tensor) =>
        tf.sum(tf.mul(layerNorm(a, g ?? null, h ?? null, 1e-5, { impl }), r));
      const inputs = withAffine ? [x, w, b] : [x];
      expect(
        maxAbsDiff(
          layerNorm(x, ww, bb, 1e-5, { impl: 'kernel' }),
          layerNorm(x, ww, bb, 1e-5, { impl: 'tf' }),
        ),
      ).toBeLessThan(2e-5);
      const gk = tf.grads(loss('kernel'))(inputs);
      const gt = tf.grads(loss('tf'))(inputs);
      for (let i = 0; i < inputs.length; i++) {
        const scale = Math.max(1, tf.max(tf.abs(gt[i])).dataSync()[0]);
        expect(maxAbsDiff(gk[i], gt[i]) / scale).toBeLessThan(2e-5);
      }
      await expectNoLeak(() => layerNorm(x, ww, bb, 1e-5), 'layerNorm');
      await expectNoLeak(() => tf.grads(loss('kernel'))(inputs), 'layerNorm gradient');
      tf.dispose([x, w, b, r, ...gk, ...gt]);
    }
  });

  it('layerNorm (kernel) matches a plain-JS reference; its eps is the one given', async () => {
    await useBackend(backend);
    const [R, C] = [6, 8];
    const x = tf.mul(rand([R, C], 8), 1e-3); // tiny variance: eps matters
    const w = rand([C], 9);
    const b = rand([C], 10);
    const xd = x.dataSync();
    const [wd, bd] = [w.dataSync(), b.dataSync()];
    for (const eps of [1e-5, 1e-6]) {
      const y = layerNorm(x, w, b, eps, { impl: 'kernel' }).dataSync();
      for (let r = 0; r < R; r++) {
        const row = Array.from(xd.slice(r * C, r * C + C));
        const m = row.reduce((a, c) => a + c, 0) / C;
        const v = row.reduce((a, c) => a + (c - m) ** 2, 0) / C;
        for (let i = 0; i < C; i++) {
          const ref = ((row[i] - m) / Math.sqrt(v + eps)) * wd[i] + bd[i];
          expect(Math.abs(y[r * C + i] - ref)).toBeLessThan(1e-5 * Math.max(1, Math.abs(ref)));
        }
      }
    }
    tf.dispose([x, w, b]);
  });

  it('splitHeads / mergeHeads move exactly the right elements; gradients equal the tfjs-op path', async () => {
    await useBackend(backend);
    for (const [B, N, P, H, D] of [
      [3, 5, 3, 2, 4],
      [2, 7, 1, 3, 8],
      [1, 4, 3, 2, 3], // D % 4 != 0: tfjs-op path
    ]) {
      const x = rand([B, N, P * H * D], 11) as tf.Tensor3D;
      const xd = x.dataSync();
      const parts = splitHeads(x, P, H);
      expect(parts.length).toBe(P);
      for (const [p, t] of parts.entries()) {
        expect(t.shape).toEqual([B * H, N, D]);
        const td = t.dataSync();
        for (let b = 0; b < B; b++)
          for (let h = 0; h < H; h++)
            for (let n = 0; n < N; n++)
              for (let d = 0; d < D; d++) {
                const want = xd[(b * N + n) * P * H * D + (p * H + h) * D + d];
                expect(td[((b * H + h) * N + n) * D + d]).toBe(want);
              }
        const merged = mergeHeads(t, H);
        expect(merged.shape).toEqual([B, N, H * D]);
        const md = merged.dataSync();
        for (let b = 0; b < B; b++)
          for (let n = 0; n < N; n++)
            for (let c = 0; c < H * D; c++)
              expect(md[(b * N + n) * H * D + c]).toBe(xd[(b * N + n) * P * H * D + p * H * D + c]);
        merged.dispose();
      }
      const rs = parts.map((_, i) => rand([B, N, H * D], 20 + i));
      const loss = (impl: 'kernel' | 'tf') => (t: tf.Tensor) =>
        tf.addN(
          splitHeads(t as tf.Tensor3D, P, H, { impl: D % 4 === 0 ? impl : 'tf' }).map((q, i) =>
            tf.sum(
              tf.mul(mergeHeads(tf.square(q) as tf.Tensor3D, H, { impl: D % 4 === 0 ? impl : 'tf' }), rs[i]),
            ),
          ),
        );
      expect(maxAbsDiff(tf.grad(loss('kernel'))(x), tf.grad(loss('tf'))(x))).toBeLessThan(1e-5);
      await expectNoLeak(() => splitHeads(x, P, H), 'splitHeads');
      await expectNoLeak(() => mergeHeads(parts[0], H), 'mergeHeads');
      await expectNoLeak(() => tf.grad(loss('kernel'))(x), 'splitHeads/mergeHeads gradient');
      tf.dispose([x, ...parts, ...rs]);
    }
  });

  it('linear with a bias: gradients of x, w and b equal tfjs autodiff of matMul + add, no transposed BatchMatMul', async () => {
    await useBackend(backend);
    const x = rand([2, 6, 5], 30);
    const w = rand([5, 7], 31);
    const b = rand([7], 32);
    const r = rand([2, 6, 7], 33);
    const mine = (a: tf.Tensor, c: tf.Tensor, d: tf.Tensor) => tf.sum(tf.mul(linear(a, c, d), r));
    const ref = (a: tf.Tensor, c: tf.Tensor, d: tf.Tensor) =>
      tf.sum(tf.mul(tf.add(tf.reshape(tf.matMul(tf.reshape(a, [12, 5]), c), [2, 6, 7]), d), r));
    const g = tf.grads(mine)([x, w, b]);
    const h = tf.grads(ref)([x, w, b]);
    for (let i = 0; i < 3; i++) expect(maxAbsDiff(g[i], h[i])).toBeLessThan(1e-4);
    const transposed: boolean[] = [];
    const engine = tf.engine() as unknown as { runKernel: (...a: unknown[]) => unknown };
    const original = engine.runKernel.bind(engine);
    engine.runKernel = (...a: unknown[]) => {
      const attrs = a[2] as { transposeA?: boolean; transposeB?: boolean } | undefined;
      if (a[0] === 'BatchMatMul' || a[0] === '_FusedMatMul')
        transposed.push(Boolean(attrs?.transposeA || attrs?.transposeB));
      return original(...a);
    };
    try {
      tf.dispose(tf.grads(mine)([x, w, b]));
    } finally {
      engine.runKernel = original;
    }
    expect(transposed.length).toBeGreaterThan(0);
    expect(transposed.filter(Boolean)).toEqual([]);
    await expectNoLeak(() => linear(x, w, b), 'linear');
    await expectNoLeak(() => tf.grads(mine)([x, w, b]), 'linear gradient');
    expect(() => linear(x, w, tf.zeros([6]))).toThrow(/linear: bias has shape \[6\], expected \[7\]/);
    tf.dispose([x, w, b, r, ...g, ...h]);
  });

  it('variables are not copied for the backward pass of linear / layerNorm; their gradients are right', async () => {
    await useBackend(backend);
    const x = rand([12, 5], 40);
    const w = tf.variable(rand([5, 8], 41), true, 'lin_w_nocopy');
    const b = tf.variable(rand([8], 42), true, 'lin_b_nocopy');
    const g = tf.variable(tf.add(rand([8], 43), 1), true, 'ln_g_nocopy'); // C % 4 == 0: the kernel path
    const r = rand([12, 8], 44);
    const loss = () => tf.sum(tf.mul(layerNorm(linear(x, w, b), g, null, 1e-5), r)) as tf.Scalar;
    const clonedShapes: string[] = [];
    const engine = tf.engine() as unknown as { runKernel: (...a: unknown[]) => unknown };
    const original = engine.runKernel.bind(engine);
    engine.runKernel = (...a: unknown[]) => {
      if (a[0] === 'Identity') clonedShapes.push(String((a[1] as { x: tf.Tensor }).x.shape));
      return original(...a);
    };
    let grads: Record<string, tf.Tensor>;
    let value: tf.Scalar;
    try {
      ({ value, grads } = tf.variableGrads(loss, [w, b, g]));
    } finally {
      engine.runKernel = original;
    }
    expect(clonedShapes).not.toContain(String(w.shape));
    expect(clonedShapes).not.toContain(String(g.shape));
    // same gradients with plain tensors (which are saved the usual way)
    const plain = [w, b, g].map((v) => tf.clone(v));
    const ref = tf.grads((ww: tf.Tensor, bb: tf.Tensor, gg: tf.Tensor) =>
      tf.sum(tf.mul(layerNorm(linear(x, ww, bb), gg, null, 1e-5, { impl: 'tf' }), r)),
    )(plain);
    for (const [i, v] of [w, b, g].entries()) expect(maxAbsDiff(grads[v.name], ref[i])).toBeLessThan(1e-4);
    tf.dispose([x, r, value, ...Object.values(grads), ...ref, ...plain, w, b, g]);
  });

  it('bad arguments get clear errors', async () => {
    await useBackend(backend);
    const x = tf.zeros([2, 6]);
    expect(() => gelu(x, { impl: 'fast' as never })).toThrow(/gelu: impl must be 'auto', 'kernel' or 'tf'/);
    expect(() => gelu(tf.zeros([2], 'int32'), { impl: 'kernel' })).toThrow(
      /gelu: impl 'kernel' needs a non-empty float32/,
    );
    expect(() => layerNorm(x, null, null, 1e-5, { impl: 'kernel' })).toThrow(/layerNorm: impl 'kernel'/); // C = 6
    expect(() => layerNorm(x, tf.ones([5]), null, 1e-5)).toThrow(
      /layerNorm: weight has shape \[5\], expected \[6\]/,
    );
    expect(() => splitHeads(tf.zeros([1, 2, 10]) as tf.Tensor3D, 3, 2)).toThrow(
      /splitHeads: 10 channels are not divisible by parts \* heads = 3 \* 2/,
    );
    expect(() => splitHeads(x as unknown as tf.Tensor3D, 1, 1)).toThrow(
      /splitHeads: x must be \[B, N, P\*H\*D\]/,
    );
    expect(() => mergeHeads(tf.zeros([3, 2, 4]) as tf.Tensor3D, 2)).toThrow(
      /mergeHeads: heads must be a positive integer dividing 3 groups/,
    );
    tf.disposeVariables();
    x.dispose();
  });
});

/** erfc(a) for a >= 4 by its continued fraction (float64), for the relative accuracy of GELU's left tail. */
function erfcTail(a: number): number {
  let f = 0;
  for (let k = 60; k >= 1; k--) f = k / 2 / (a + f);
  return Math.exp(-a * a) / Math.sqrt(Math.PI) / (a + f);
}
