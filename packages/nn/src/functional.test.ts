import { expectNoLeak, NODE_BACKENDS, tf, useBackend } from '@swin/testing';
import { describe, expect, it } from 'vitest';
import { conv2d, depthwiseConv2d, extractPatches, gelu, layerNorm, linear, matMul } from './functional.js';

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
