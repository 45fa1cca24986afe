import { expectNoLeak, NODE_BACKENDS, tf, useBackend } from '@swin/testing';
import { describe, expect, it } from 'vitest';
import { Adam, adam, SWIN_ADAM, SwinInputError } from './index.js';

const SHAPES = [[7], [3, 5], [64], [2, 3, 4, 5], [1]];

/** Runs `steps` updates of `opt` on fresh variables (seeded params and grads); returns the final params. */
function train(opt: tf.Optimizer, steps: number, seed: number, tag: string): Float32Array[] {
  const vars = SHAPES.map((s, i) =>
    tf.variable(tf.randomNormal(s, 0, 1, 'float32', seed + i), true, `${tag}${i}`),
  );
  for (let t = 0; t < steps; t++) {
    const grads: tf.NamedTensorMap = {};
    vars.forEach((v, i) => {
      grads[v.name] = tf.randomNormal(v.shape, 0, 10 ** ((i % 3) - 1), 'float32', seed + 100 * t + i);
    });
    opt.applyGradients(grads);
    tf.dispose(Object.values(grads));
  }
  const out = vars.map((v) => v.dataSync() as Float32Array);
  tf.dispose(vars);
  return out;
}

let uid = 0;

describe.each(NODE_BACKENDS)('adam on %s', (backend) => {
  it('with impl tf runs the exact op sequence of tf.train.adam (bit-identical after 20 steps)', async () => {
    await useBackend(backend);
    const a = adam(1e-2, 0.9, 0.999, null, { impl: 'tf' });
    const b = tf.train.adam(1e-2);
    const mine = train(a, 20, 11, `t${uid++}_`);
    const ref = train(b, 20, 11, `t${uid++}_`);
    for (const [i, r] of ref.entries()) expect(Array.from(mine[i])).toEqual(Array.from(r));
    const w = await a.getWeights();
    const wRef = await b.getWeights();
    expect(w.map((x) => x.name.replace(/^t\d+_/, ''))).toEqual(wRef.map((x) => x.name.replace(/^t\d+_/, '')));
    expect(a.iterations).toBe(20);
    a.dispose();
    b.dispose();
  });

  it('with the fused kernel matches tf.train.adam to float32 rounding after 20 steps', async () => {
    await useBackend(backend);
    const a = adam(1e-2, 0.8, 0.99, 1e-6, { impl: 'kernel' });
    expect(a.usesKernel()).toBe(true);
    const b = tf.train.adam(1e-2, 0.8, 0.99, 1e-6);
    const mine = train(a, 20, 5, `k${uid++}_`);
    const ref = train(b, 20, 5, `k${uid++}_`);
    for (const [i, r] of ref.entries()) {
      let err = 0;
      for (let j = 0; j < r.length; j++)
        err = Math.max(err, Math.abs(mine[i][j] - r[j]) / Math.max(1e-3, Math.abs(r[j])));
      expect(err).toBeLessThan(1e-6);
    }
    a.dispose();
    b.dispose();
  });

  it('leaks nothing per step (moments reused, old values released) and minimize works', async () => {
    await useBackend(backend);
    const w = tf.variable(tf.randomNormal([4, 3], 0, 1, 'float32', 3), true, `leak${uid++}`);
    const x = tf.randomNormal([5, 4], 0, 1, 'float32', 4);
    const opt = adam(0.1);
    const loss = () => tf.tidy(() => tf.sum(tf.square(tf.matMul(x, w)))) as tf.Scalar;
    const before = loss().dataSync()[0];
    await expectNoLeak(() => opt.minimize(loss, false, [w]), 'adam.minimize');
    for (let i = 0; i < 20; i++) opt.minimize(loss, false, [w]);
    expect(loss().dataSync()[0]).toBeLessThan(before);
    const n = tf.memory().numTensors;
    opt.dispose();
    expect(tf.memory().numTensors).toBe(n - 2); // the two moment variables
    tf.dispose([w, x]);
  });
});

describe('adam input checks', () => {
  it('rejects bad hyperparameters, unknown variables and shape mismatches before any update', async () => {
    await useBackend('cpu');
    expect(() => new Adam(Number.NaN, 0.9, 0.999)).toThrow(SwinInputError);
    expect(() => adam(1e-3, 1)).toThrow(/beta1 must be in \[0, 1\)/);
    expect(() => adam(1e-3, 0.9, 0.999, -1)).toThrow(/epsilon/);
    expect(() => adam(1e-3, 0.9, 0.999, null, { impl: 'fast' as never })).toThrow(/impl must be/);
    const v = tf.variable(tf.ones([2, 2]), true, `chk${uid++}`);
    const opt = adam();
    const g = tf.ones([4]);
    expect(() => opt.applyGradients({ [v.name]: g })).toThrow(/has shape \[4\], the variable \[2,2\]/);
    expect(() => opt.applyGradients({ nope: g })).toThrow(/'nope' is not a registered variable/);
    const w = tf.variable(tf.ones([3]), true, `chk${uid++}`);
    tf.tidy(() => opt.applyGradients({ [w.name]: tf.ones([3]) }));
    expect(() => tf.tidy(() => opt.applyGradients({ [v.name]: tf.ones([2, 2]) }))).toThrow(
      /moments are kept by position/,
    );
    w.dispose();
    expect(Array.from(v.dataSync())).toEqual([1, 1, 1, 1]);
    expect(opt.iterations).toBe(1);
    const kernel = tf.getKernel(SWIN_ADAM, 'cpu');
    if (kernel) {
      tf.unregisterKernel(SWIN_ADAM, 'cpu');
      try {
        expect(() => adam(1e-3, 0.9, 0.999, null, { impl: 'kernel' }).usesKernel()).toThrow(
          /needs the kernel/,
        );
        expect(adam().usesKernel()).toBe(false);
      } finally {
        tf.registerKernel(kernel);
      }
    }
    tf.dispose([v, g]);
    opt.dispose();
  });

  it('setWeights restores getWeights (next step equal to an uninterrupted run up to the pow-vs-product bias correction, as in tfjs)', async () => {
    await useBackend('cpu');
    const mk = (tag: string) => tf.variable(tf.randomNormal([6], 0, 1, 'float32', 9), true, tag);
    const grad = (t: number) => tf.randomNormal([6], 0, 1, 'float32', 50 + t);
    const a = mk(`sw${uid++}`);
    const b = mk(`sw${uid++}`);
    const oa = adam(0.05);
    for (let t = 0; t < 3; t++) tf.tidy(() => oa.applyGradients({ [a.name]: grad(t) }));
    const ob = adam(0.05);
    tf.tidy(() => ob.applyGradients({ [b.name]: grad(0) })); // creates moments
    b.assign(a);
    await ob.setWeights(await oa.getWeights());
    tf.tidy(() => oa.applyGradients({ [a.name]: grad(3) }));
    tf.tidy(() => ob.applyGradients({ [b.name]: grad(3) }));
    // tfjs's setWeights also recomputes beta^t with pow instead of the running float32 product: ulps apart
    const [bb, aa] = [b.dataSync(), a.dataSync()];
    for (let i = 0; i < 6; i++) expect(Math.abs(bb[i] - aa[i])).toBeLessThan(1e-6);
    expect(ob.iterations).toBe(4);
    oa.dispose();
    ob.dispose();
    tf.dispose([a, b]);
  });
});
