/**
 * The generic functions dispatch to the fused kernels on webgpu (and only there): `shiftedWindowPartition`
 * / `shiftedWindowReverse` of `@swin/window-ops` and `attentionCore` of `@swin/nn`, forward and backward.
 */
import '@tensorflow/tfjs-backend-webgpu';
import { attentionCore, SWIN_WINDOW_ATTENTION as NN_ATTENTION_NAME } from '@swin/nn';
import { tf } from '@swin/testing';
import { shiftedWindowPartition, shiftedWindowReverse } from '@swin/window-ops';
import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import {
  registerSwinWebGPUKernels,
  SWIN_SHIFTED_WINDOW_PARTITION,
  SWIN_SHIFTED_WINDOW_REVERSE,
  SWIN_WINDOW_ATTENTION,
  unregisterSwinWebGPUKernels,
} from './index.js';
import { countKernelCalls, kernelCalls } from './test-utils/count-calls.js';
import { maxAbsDiff, randomArray } from './test-utils/reference.js';

beforeAll(async () => {
  unregisterSwinWebGPUKernels();
  registerSwinWebGPUKernels();
  countKernelCalls();
});
afterAll(() => unregisterSwinWebGPUKernels());
beforeEach(() => kernelCalls.clear());

it('uses the kernel names the generic packages dispatch on', () => {
  expect(SWIN_WINDOW_ATTENTION).toBe(NN_ATTENTION_NAME);
  expect(SWIN_SHIFTED_WINDOW_PARTITION).toBe('SwinShiftedWindowPartition');
  expect(SWIN_SHIFTED_WINDOW_REVERSE).toBe('SwinShiftedWindowReverse');
});

/** Swin-shaped attention problem: B=2, nW=4, nH=3, window 4x4, d=8. */
function attentionProblem() {
  const [B, nW, nH, N, d] = [2, 4, 3, 16, 8];
  const G = B * nW * nH;
  return {
    q: tf.tensor3d(randomArray(G * N * d, 1), [G, N, d]),
    k: tf.tensor3d(randomArray(G * N * d, 2), [G, N, d]),
    v: tf.tensor3d(randomArray(G * N * d, 3), [G, N, d]),
    bias: tf.tensor3d(randomArray(nH * N * N, 4, 2), [nH, N, N]),
    mask: tf.tensor3d(
      randomArray(nW * N * N, 5).map((u) => (u > 0.3 ? -100 : 0)),
      [nW, N, N],
    ),
    w: tf.tensor3d(randomArray(G * N * d, 6), [G, N, d]),
    numHeads: nH,
  };
}

describe.each(['webgpu', 'webgl'])('on %s', (backend) => {
  const fused = backend === 'webgpu';
  beforeAll(async () => {
    expect(await tf.setBackend(backend)).toBe(true);
    await tf.ready();
  });

  it(`shiftedWindowPartition / shiftedWindowReverse ${fused ? 'run' : 'do not run'} the kernels and match the gather path, with gradients`, async () => {
    const [B, H, W, C] = [2, 8, 12, 4];
    const x = tf.tensor4d(randomArray(B * H * W * C, 8), [B, H, W, C]);
    const win: [number, number] = [4, 3];
    const shift: [number, number] = [2, 1];
    const p = shiftedWindowPartition(x, win, shift);
    const pRef = shiftedWindowPartition(x, win, shift, { method: 'gather' });
    expect(Array.from(await p.data())).toEqual(Array.from(await pRef.data()));
    const r = shiftedWindowReverse(p, win, shift, H, W);
    expect(Array.from(await r.data())).toEqual(Array.from(await x.data()));
    const wts = tf.tensor4d(randomArray(p.size, 9), p.shape);
    const grad = (method: 'auto' | 'gather') =>
      tf.grad((t: tf.Tensor) =>
        tf.sum(
          tf.mul(
            shiftedWindowReverse(
              tf.mul(shiftedWindowPartition(t as tf.Tensor4D, win, shift, { method }), wts) as tf.Tensor4D,
              win,
              shift,
              H,
              W,
              {
                method,
              },
            ),
            x,
          ),
        ),
      )(x);
    const g = grad('auto');
    const gRef = grad('gather');
    expect(Array.from(await g.data())).toEqual(Array.from(await gRef.data()));
    const expected = fused ? 3 : 0; // forward partition + the other kernel in each backward
    expect(kernelCalls.get(SWIN_SHIFTED_WINDOW_PARTITION) ?? 0).toBe(fused ? expected : 0);
    expect(kernelCalls.get(SWIN_SHIFTED_WINDOW_REVERSE) ?? 0).toBe(fused ? expected : 0);
    // an explicit method and a zero shift keep the generic path
    kernelCalls.clear();
    tf.dispose([
      shiftedWindowPartition(x, win, shift, { method: 'roll' }),
      shiftedWindowPartition(x, win, 0),
    ]);
    expect(kernelCalls.size).toBe(0);
    tf.dispose([x, p, pRef, r, wts, g, gRef]);
  });

  it(`attentionCore ${fused ? 'runs' : 'does not run'} SwinWindowAttention and matches impl 'tf', with gradients`, async () => {
    const P = attentionProblem();
    const opts = { bias: P.bias, mask: P.mask, numHeads: P.numHeads };
    const out = attentionCore(P.q, P.k, P.v, opts);
    expect(kernelCalls.get(SWIN_WINDOW_ATTENTION) ?? 0).toBe(fused ? 1 : 0);
    const ref = attentionCore(P.q, P.k, P.v, { ...opts, impl: 'tf' });
    const d = maxAbsDiff(await out.data(), await ref.data());
    expect(d.maxAbs).toBeLessThan(1e-5 * Math.max(1, d.maxRef));

    const loss =
      (impl: 'auto' | 'tf') => (q: tf.Tensor, k: tf.Tensor, v: tf.Tensor, b: tf.Tensor, m: tf.Tensor) =>
        tf.sum(
          tf.mul(
            attentionCore(q as tf.Tensor3D, k as tf.Tensor3D, v as tf.Tensor3D, {
              bias: b,
              mask: m,
              numHeads: P.numHeads,
              impl,
            }),
            P.w,
          ),
        );
    const args = [P.q, P.k, P.v, P.bias, P.mask];
    const g = tf.grads(loss('auto'))(args);
    const gRef = tf.grads(loss('tf'))(args);
    for (let i = 0; i < args.length; i++) {
      const e = maxAbsDiff(await g[i].data(), await gRef[i].data());
      expect(e.maxRef, `gradient ${i} is not all zero`).toBeGreaterThan(0);
      expect(e.maxAbs, `gradient ${i}`).toBeLessThan(1e-5 * Math.max(1, e.maxRef));
    }
    tf.dispose([out, ref, ...g, ...gRef, ...args, P.w]);
  });
});
