import { NODE_BACKENDS, tf, useBackend } from '@swin/testing';
import { describe, expect, it } from 'vitest';
import { conv2d, depthwiseConv2d } from './functional.js';
import { SWIN_CONV_SUBFILTER, SWIN_DEPTHWISE_FILTER_GRAD, SWIN_IM2COL } from './kernels.js';

// The explicit conv / depthwise gradients of conv2d and depthwiseConv2d against tfjs's OWN gradients
// (Conv2DBackpropInput / Conv2DBackpropFilter / DepthwiseConv2dNativeBackprop*, computed on the cpu backend,
// where tfjs has them), on every Node backend, with the registered kernels (@swin/wasm, registered by
// @swin/testing) and with the generic tfjs-op paths. Shapes as the models use them: PVT v2 / Shunted stems
// (7x7 s4 / s2, p3), overlapping patch embeds (3x3 s2 p1), spatial-reduction convs (kernel = stride),
// stride-1 3x3 convs, depthwise 3x3 p1; sizes with a remainder that the strided conv drops, odd channels.

function rand(shape: number[], seed: number): tf.Tensor {
  return tf.randomNormal(shape, 0, 1, 'float32', seed);
}

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

type Loss = (x: tf.Tensor, w: tf.Tensor, b: tf.Tensor) => tf.Tensor;

/** [dx, dw, db] of `loss` at (x, w, b) as plain arrays. */
function gradsOf(loss: Loss, x: tf.Tensor, w: tf.Tensor, b: tf.Tensor): Float32Array[] {
  return tf.tidy(() =>
    tf
      .grads((xx, ww, bb) => loss(xx, ww, bb))([x, w, b])
      .map((g) => g.dataSync() as Float32Array),
  );
}

/** Runs `body` with the kernels `names` unregistered for the active backend (restored afterwards). */
function withoutKernels<T>(names: string[], body: () => T): T {
  const backend = tf.getBackend();
  const saved = names.map((n) => tf.getKernel(n, backend)).filter((k): k is tf.KernelConfig => !!k);
  for (const k of saved) tf.unregisterKernel(k.kernelName, backend);
  try {
    return body();
  } finally {
    for (const k of saved) tf.registerKernel(k);
  }
}

const pad = (x: tf.Tensor, p: number) =>
  tf.pad(x, [
    [0, 0],
    [p, p],
    [p, p],
    [0, 0],
  ]) as tf.Tensor4D;

describe.each(NODE_BACKENDS)('conv gradients on %s equal tfjs gradients', (backend) => {
  it.each([
    // k, s, p, H, W, Cin, Cout
    [7, 4, 3, 19, 17, 3, 8], // PVT v2 stage-1 patch embed (remainder dropped)
    [7, 2, 3, 15, 16, 3, 8], // Shunted stem
    [3, 2, 1, 15, 14, 8, 12], // overlapping patch embed
    [3, 2, 1, 8, 9, 5, 6], // odd channels
    [3, 1, 1, 9, 10, 8, 8], // stride-1 3x3
    [8, 8, 0, 16, 24, 4, 8], // spatial reduction sr 8
    [2, 2, 0, 7, 6, 12, 4], // sr 2, remainder dropped
    [1, 1, 0, 5, 4, 6, 7], // 1x1
    [2, 1, 2, 5, 6, 4, 4], // stride 1 with padding >= kernel (no direct input gradient)
    [3, 2, 0, 9, 8, 4, 4], // stride 2 unpadded, crop cuts into the input
  ])('conv2d k=%i s=%i p=%i on %ix%i x %i -> %i', async (k, s, p, H, W, cin, cout) => {
    await useBackend('cpu');
    const x = rand([2, H, W, cin], 1);
    const w = rand([k, k, cin, cout], 2);
    const b = rand([cout], 7);
    const y = tf.conv2d(pad(x, p), w as tf.Tensor4D, s, 'valid');
    const r = rand(y.shape, 3);
    // tfjs's own gradients (cpu kernels), of the same padded conv
    const ref = gradsOf(
      (xx, ww, bb) => tf.sum(tf.mul(tf.add(tf.conv2d(pad(xx, p), ww as tf.Tensor4D, s, 'valid'), bb), r)),
      x,
      w,
      b,
    );
    const [xd, wd, bd, rd] = [x, w, b, r].map((t) => ({ v: t.dataSync().slice(), s: t.shape }));
    tf.dispose([x, w, b, y, r]);

    await useBackend(backend);
    const [xb, wb, bb, rb] = [xd, wd, bd, rd].map((t) => tf.tensor(t.v, t.s));
    const loss: Loss = (xx, ww, b1) =>
      tf.sum(
        tf.mul(
          conv2d(xx as tf.Tensor4D, ww as tf.Tensor4D, b1 as tf.Tensor1D, { stride: s, padding: p }),
          rb,
        ),
      );
    const fast = gradsOf(loss, xb, wb, bb);
    const generic = withoutKernels([SWIN_IM2COL, SWIN_CONV_SUBFILTER], () => gradsOf(loss, xb, wb, bb));
    for (const got of [fast, generic]) {
      expect(relErr(got[0], ref[0])).toBeLessThan(1e-5);
      expect(relErr(got[1], ref[1])).toBeLessThan(1e-5);
      expect(relErr(got[2], ref[2])).toBeLessThan(1e-5);
    }
    // a variable filter (not cloned for the backward pass) gets the same gradient
    const wv = tf.variable(wb);
    const { grads } = tf.variableGrads(() => loss(xb, wv, bb) as tf.Scalar, [wv]);
    expect(relErr(grads[wv.name].dataSync(), ref[1])).toBeLessThan(1e-5);
    tf.dispose([wv, grads[wv.name]]);
    // inputGradient false: the same filter gradient
    const [gw] = tf.grads((ww: tf.Tensor) =>
      tf.sum(
        tf.mul(
          conv2d(xb as tf.Tensor4D, ww as tf.Tensor4D, null, { stride: s, padding: p, inputGradient: false }),
          rb,
        ),
      ),
    )([wb]);
    expect(relErr(gw.dataSync(), ref[1])).toBeLessThan(1e-5);
    tf.dispose([xb, wb, bb, rb, gw]);
  });

  it.each([
    // k, p, H, W, C
    [3, 1, 14, 13, 16], // MLP depthwise conv (C % 16 == 0: the 16-channel SIMD pass)
    [3, 1, 7, 9, 20], // 16 + 4 channels: both SIMD passes
    [3, 1, 6, 6, 6], // C % 4 != 0: generic path even with the kernel registered
    [5, 2, 8, 7, 8],
    [3, 0, 5, 6, 4],
    [3, 3, 4, 5, 8], // padding >= kernel: padded outside the custom op
  ])('depthwiseConv2d k=%i p=%i on %ix%i x %i', async (k, p, H, W, C) => {
    await useBackend('cpu');
    const x = rand([2, H, W, C], 4);
    const w = rand([k, k, C, 1], 5);
    const b = rand([C], 8);
    const y = tf.depthwiseConv2d(pad(x, p), w as tf.Tensor4D, 1, 'valid');
    const r = rand(y.shape, 6);
    const ref = gradsOf(
      (xx, ww, bb) =>
        tf.sum(tf.mul(tf.add(tf.depthwiseConv2d(pad(xx, p), ww as tf.Tensor4D, 1, 'valid'), bb), r)),
      x,
      w,
      b,
    );
    const [xd, wd, bd, rd] = [x, w, b, r].map((t) => ({ v: t.dataSync().slice(), s: t.shape }));
    tf.dispose([x, w, b, y, r]);

    await useBackend(backend);
    const [xb, wb, bb, rb] = [xd, wd, bd, rd].map((t) => tf.tensor(t.v, t.s));
    const loss: Loss = (xx, ww, b1) =>
      tf.sum(
        tf.mul(depthwiseConv2d(xx as tf.Tensor4D, ww as tf.Tensor4D, b1 as tf.Tensor1D, { padding: p }), rb),
      );
    const fast = gradsOf(loss, xb, wb, bb);
    const generic = withoutKernels([SWIN_DEPTHWISE_FILTER_GRAD], () => gradsOf(loss, xb, wb, bb));
    for (const got of [fast, generic]) {
      expect(relErr(got[0], ref[0])).toBeLessThan(1e-5);
      expect(relErr(got[1], ref[1])).toBeLessThan(1e-5);
      expect(relErr(got[2], ref[2])).toBeLessThan(1e-5);
    }
    // a variable filter (not cloned for the backward pass) gets the same gradient
    const wv = tf.variable(wb);
    const { grads } = tf.variableGrads(() => loss(xb, wv, bb) as tf.Scalar, [wv]);
    expect(relErr(grads[wv.name].dataSync(), ref[1])).toBeLessThan(1e-5);
    tf.dispose([wv, grads[wv.name]]);
    tf.dispose([xb, wb, bb, rb]);
  });

  it('the kernels are registered here (the fast paths above were exercised)', async () => {
    await useBackend(backend);
    expect(tf.getKernel(SWIN_IM2COL, backend)).toBeTruthy();
    expect(tf.getKernel(SWIN_DEPTHWISE_FILTER_GRAD, backend)).toBeTruthy();
  });
});
