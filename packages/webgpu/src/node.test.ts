/**
 * What can be checked without a GPU (Node, cpu and wasm): registration touches the 'webgpu' backend only,
 * the generic paths stay in charge elsewhere, `fusedWindowAttention` falls back to tfjs ops (values against
 * a float64 JS reference, gradients against tfjs autodiff), and the kernel functions refuse other backends.
 * The kernels themselves run in `*.browser.test.ts` (headless Chromium).
 */
import { expectNoLeak, NODE_BACKENDS, tf, useBackend } from '@swin/testing';
import { shiftedWindowPartition } from '@swin/window-ops';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
  fusedWindowAttention,
  hasSwinKernel,
  registerSwinWebGPUKernels,
  SWIN_WEBGPU_KERNELS,
  shiftedWindowAttrs,
  shiftedWindowPartitionKernel,
  unregisterSwinWebGPUKernels,
  windowAttentionKernel,
} from './index.js';
import { attentionRef, maxAbsDiff, randomArray, shiftedPartitionRef } from './test-utils/reference.js';

beforeAll(() => {
  registerSwinWebGPUKernels();
});
afterAll(() => unregisterSwinWebGPUKernels());

it('registers for webgpu only, nothing at import time', () => {
  unregisterSwinWebGPUKernels();
  for (const k of SWIN_WEBGPU_KERNELS) expect(hasSwinKernel(k, 'webgpu')).toBe(false);
  // the same names may be registered for cpu / wasm by @swin/wasm: registering for webgpu leaves them alone
  const nodeKernels = () =>
    NODE_BACKENDS.flatMap((b) => SWIN_WEBGPU_KERNELS.map((k) => tf.getKernel(k, b)?.kernelFunc ?? null));
  const before = nodeKernels();
  expect(registerSwinWebGPUKernels()).toEqual([...SWIN_WEBGPU_KERNELS]);
  for (const k of SWIN_WEBGPU_KERNELS) expect(hasSwinKernel(k, 'webgpu')).toBe(true);
  const after = nodeKernels();
  expect(after.length).toBe(before.length);
  for (const [i, f] of after.entries()) expect(f).toBe(before[i]);
  expect(shiftedWindowAttrs(8, 12, [4, 3], 2)).toEqual({ H: 8, W: 12, wh: 4, ww: 3, sh: 2, sw: 2 });
});

it('kernel functions refuse a non-webgpu backend', () => {
  const x = { dataId: {}, shape: [1, 4, 4, 1], dtype: 'float32' as const };
  const attrs = { H: 4, W: 4, wh: 2, ww: 2, sh: 1, sw: 1 };
  expect(() => shiftedWindowPartitionKernel({ inputs: { x }, backend: {}, attrs })).toThrow(
    /SwinShiftedWindowPartition: this kernel runs on the 'webgpu' backend only/,
  );
  expect(() => windowAttentionKernel({ inputs: { q: x, k: x, v: x }, backend: {}, attrs: {} })).toThrow(
    /SwinWindowAttention: this kernel runs on the 'webgpu' backend only/,
  );
});

describe.each(NODE_BACKENDS)('on %s (generic paths)', (backend) => {
  beforeAll(() => useBackend(backend));

  it('shiftedWindowPartition keeps the generic path (kernels registered for webgpu)', async () => {
    const [B, H, W, C] = [2, 6, 8, 3];
    const data = randomArray(B * H * W * C, 4);
    const x = tf.tensor4d(data, [B, H, W, C]);
    const p = shiftedWindowPartition(x, [3, 4], [1, 2]);
    expect(Array.from(await p.data())).toEqual(shiftedPartitionRef(data, [B, H, W, C], 3, 4, 1, 2));
    tf.dispose([x, p]);
  });

  it('fusedWindowAttention falls back to tfjs ops: values, gradients, no leaks', async () => {
    const [G, N, d, nH, nW] = [12, 6, 4, 3, 2];
    const a = {
      q: randomArray(G * N * d, 1),
      k: randomArray(G * N * d, 2),
      v: randomArray(G * N * d, 3),
      bias: randomArray(nH * N * N, 4, 2),
      mask: randomArray(nW * N * N, 5).map((u) => (u > 0.3 ? -100 : 0)),
    };
    const q = tf.tensor3d(a.q, [G, N, d]);
    const k = tf.tensor3d(a.k, [G, N, d]);
    const v = tf.tensor3d(a.v, [G, N, d]);
    const bias = tf.tensor3d(a.bias, [nH, N, N]);
    const mask = tf.tensor3d(a.mask, [nW, N, N]);
    const out = fusedWindowAttention(q, k, v, { bias, mask });
    const ref = attentionRef(a.q, a.k, a.v, a.bias, a.mask, {
      G,
      N,
      M: N,
      D: d,
      Dv: d,
      nB: nH,
      nM: nW,
      heads: nH,
      scale: d ** -0.5,
    });
    expect(maxAbsDiff(await out.data(), ref).maxAbs).toBeLessThan(1e-5);

    const w = tf.tensor3d(randomArray(G * N * d, 6), [G, N, d]);
    const plain = (qq: tf.Tensor, kk: tf.Tensor, vv: tf.Tensor, b: tf.Tensor, m: tf.Tensor) => {
      let s = tf.mul(tf.matMul(qq, kk, false, true), d ** -0.5);
      s = tf.reshape(tf.add(tf.reshape(s, [G / nH, nH, N, N]), tf.expandDims(b, 0)), [G, N, N]);
      s = tf.reshape(tf.add(tf.reshape(s, [G / (nH * nW), nW, nH, N, N]), tf.reshape(m, [1, nW, 1, N, N])), [
        G,
        N,
        N,
      ]);
      return tf.sum(tf.mul(tf.matMul(tf.softmax(s), vv), w));
    };
    const fused = (qq: tf.Tensor, kk: tf.Tensor, vv: tf.Tensor, b: tf.Tensor, m: tf.Tensor) =>
      tf.sum(
        tf.mul(
          fusedWindowAttention(qq as tf.Tensor3D, kk as tf.Tensor3D, vv as tf.Tensor3D, { bias: b, mask: m }),
          w,
        ),
      );
    const args = [q, k, v, bias, mask];
    const g = tf.grads(fused)(args);
    const gRef = tf.grads(plain)(args);
    for (let i = 0; i < 5; i++) {
      const e = maxAbsDiff(await g[i].data(), await gRef[i].data());
      expect(e.maxRef).toBeGreaterThan(0);
      expect(e.maxAbs, `gradient ${i}`).toBeLessThan(1e-5 * Math.max(1, e.maxRef));
    }
    await expectNoLeak(() => fusedWindowAttention(q, k, v, { bias, mask }), 'fusedWindowAttention');
    tf.dispose([out, w, ...g, ...gRef, ...args]);
  });

  it('fusedWindowAttention rejects bad inputs', () => {
    const q = tf.zeros([6, 4, 8]) as tf.Tensor3D;
    expect(() => fusedWindowAttention(q, q, q, { bias: tf.zeros([4, 4, 4]) })).toThrow(
      /fusedWindowAttention: 6 groups do not divide evenly over bias \[4,4,4\]/,
    );
    expect(() => fusedWindowAttention(q, q, q, { mask: tf.zeros([2, 4, 5]) })).toThrow(
      /mask must be \[n, 4, 4\] or \[4, 4\], got \[2,4,5\]/,
    );
    expect(() => fusedWindowAttention(tf.zeros([6, 4]) as unknown as tf.Tensor3D, q, q)).toThrow(
      /q must be a float32 rank-3 tensor/,
    );
    tf.dispose(q);
  });
});
