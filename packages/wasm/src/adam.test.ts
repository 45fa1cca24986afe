import { adam, SWIN_ADAM } from '@swin/nn';
import { expectNoLeak, NODE_BACKENDS, tf, useBackend } from '@swin/testing';
import { describe, expect, it } from 'vitest';
import { adamModuleBytes } from './adam.js';
import { WASM_KERNEL_NAMES } from './index.js';

/** The update of tfjs-core 4.22's AdamOptimizer for one variable, op for op. */
function tfjsStep(p: tf.Tensor, g: tf.Tensor, m: tf.Tensor, v: tf.Tensor, k: Record<string, number>) {
  return tf.tidy(() => {
    const m2 = tf.add(tf.mul(m, k.beta1), tf.mul(g, 1 - k.beta1));
    const v2 = tf.add(tf.mul(v, k.beta2), tf.mul(tf.square(g), 1 - k.beta2));
    const mh = tf.div(m2, tf.scalar(k.c1));
    const vh = tf.div(v2, tf.scalar(k.c2));
    const p2 = tf.add(tf.mul(tf.div(mh, tf.add(tf.sqrt(vh), k.eps)), -k.lr), p);
    return [p2, m2, v2];
  });
}

function maxRel(a: ArrayLike<number>, b: ArrayLike<number>): number {
  let err = 0;
  for (let i = 0; i < a.length; i++)
    err = Math.max(err, Math.abs(a[i] - b[i]) / Math.max(1e-30, Math.abs(b[i])));
  return Number.isNaN(err) ? Number.POSITIVE_INFINITY : err;
}

describe('SwinNnAdam module', () => {
  it('is valid WebAssembly for plain and shared memories and registered by registerWasmKernels', () => {
    expect(WebAssembly.validate(adamModuleBytes(false))).toBe(true);
    expect(WebAssembly.validate(adamModuleBytes(true))).toBe(true);
    expect(WASM_KERNEL_NAMES).toContain(SWIN_ADAM);
    expect(tf.getKernel(SWIN_ADAM, 'wasm')).toBeTruthy();
    expect(tf.getKernel(SWIN_ADAM, 'cpu')).toBeTruthy();
  });
});

describe.each(NODE_BACKENDS)('SwinNnAdam on %s', (backend) => {
  it('equals the tfjs op sequence on one step, SIMD blocks and the JS tail (sizes 1..13, 1000)', async () => {
    await useBackend(backend);
    const k = {
      lr: 3e-3,
      beta1: 0.9,
      beta2: 0.999,
      eps: 1e-7,
      c1: Math.fround(1 - 0.9 ** 3),
      c2: Math.fround(1 - 0.999 ** 3),
    };
    let worst = 0;
    for (const n of [1, 2, 3, 4, 5, 7, 8, 13, 1000]) {
      const [p, g, m, vRaw] = [0, 1, 2, 3].map((i) => tf.randomNormal([n], 0, 1, 'float32', 7 * n + i));
      const v = tf.tidy(() => tf.square(vRaw));
      const out = tf.engine().runKernel(SWIN_ADAM, { param: p, grad: g, m, v }, k) as unknown as tf.Tensor[];
      const ref = tfjsStep(p, g, m, v, k);
      for (let j = 0; j < 3; j++) {
        expect(out[j].shape).toEqual([n]);
        worst = Math.max(worst, maxRel(out[j].dataSync(), ref[j].dataSync()));
      }
      tf.dispose([p, g, m, v, vRaw, ...out, ...ref]);
    }
    // float32 rounding of the same operations: equal on cpu; tfjs-wasm's kernels may differ by an ulp
    expect(worst).toBeLessThan(backend === 'cpu' ? 1e-30 : 3e-7);
  });

  it('adam() with the kernel tracks tf.train.adam over 20 steps (max rel diff < 1e-6; measured 0) without leaks', async () => {
    await useBackend(backend);
    const shapes = [[3, 7], [96], [5], [2, 2, 8, 3]];
    const run = (opt: tf.Optimizer, tag: string) => {
      const vars = shapes.map((s, i) =>
        tf.variable(tf.randomNormal(s, 0, 1, 'float32', i + 1), true, `${tag}${i}`),
      );
      for (let t = 0; t < 20; t++) {
        const grads = Object.fromEntries(
          vars.map((v, i) => [
            v.name,
            tf.randomNormal(v.shape, 0, 0.1 * (i + 1), 'float32', 1000 + 10 * t + i),
          ]),
        );
        opt.applyGradients(grads);
        tf.dispose(Object.values(grads));
      }
      const out = vars.map((v) => v.dataSync());
      tf.dispose(vars);
      return out;
    };
    const fused = adam(1e-2);
    expect(fused.usesKernel()).toBe(true);
    const mine = run(fused, `wa_${backend}_`);
    const ref = run(tf.train.adam(1e-2), `wb_${backend}_`);
    for (const [i, r] of ref.entries()) expect(maxRel(mine[i], r)).toBeLessThan(1e-6);
    const w = tf.variable(tf.ones([9]), true, `wleak_${backend}`);
    fused.dispose();
    const fresh = adam(1e-2);
    await expectNoLeak(
      () => tf.tidy(() => fresh.applyGradients({ [w.name]: tf.fill([9], 0.5) })),
      'fused adam step',
    );
    fresh.dispose();
    w.dispose();
  });

  it('rejects mismatched inputs with the kernel name', async () => {
    await useBackend(backend);
    const a = tf.ones([4]);
    const b = tf.ones([5]);
    const k = { lr: 1, beta1: 0.9, beta2: 0.9, eps: 0, c1: 1, c2: 1 };
    expect(() => tf.engine().runKernel(SWIN_ADAM, { param: a, grad: b, m: a, v: a }, k)).toThrow(
      /SwinNnAdam: input 'grad' has shape \[5\]/,
    );
    tf.dispose([a, b]);
  });
});
