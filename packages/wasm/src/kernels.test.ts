import { attentionKernelAvailable, elementwiseKernelsAvailable, gelu, SWIN_SMALL_GEMM } from '@swin/nn';
import { expectNoLeak, tf, useBackend } from '@swin/testing';
import { describe, expect, it } from 'vitest';
import * as windowOps from '../../window-ops/src/index.js';
import { convGradModuleBytes } from './conv-grad.js';
import { elementwiseModuleBytes } from './elementwise.js';
import { attentionKernelModuleBytes } from './gemm.js';
import {
  registerWasmKernels,
  unregisterWasmKernels,
  useFastWasmBatchMatMul,
  wasmSimdSupported,
} from './index.js';
import { SWIN_SHIFTED_WINDOW_PARTITION, SWIN_SHIFTED_WINDOW_REVERSE } from './shifted-window.js';

function rand(shape: number[], seed: number, std = 1): tf.Tensor {
  return tf.randomNormal(shape, 0, std, 'float32', seed);
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

describe('kernel names', () => {
  it("are @swin/window-ops' hook names (kept by value here)", () => {
    expect(SWIN_SHIFTED_WINDOW_PARTITION).toBe(windowOps.SWIN_SHIFTED_WINDOW_PARTITION);
    expect(SWIN_SHIFTED_WINDOW_REVERSE).toBe(windowOps.SWIN_SHIFTED_WINDOW_REVERSE);
  });
});

describe('generated modules', () => {
  it('are valid WebAssembly (SIMD) for plain and shared memories', () => {
    expect(wasmSimdSupported()).toBe(true);
    for (const bytes of [attentionKernelModuleBytes, elementwiseModuleBytes, convGradModuleBytes]) {
      expect(WebAssembly.validate(bytes(false))).toBe(true);
      expect(WebAssembly.validate(bytes(true))).toBe(true);
    }
  });

  it('run in place on a shared memory like the threaded tfjs-wasm build (SharedArrayBuffer heap)', async () => {
    await useBackend('cpu');
    // the threaded build's memory: shared, maximum 65536 pages
    const memory = new WebAssembly.Memory({ initial: 4, maximum: 65536, shared: true });
    expect(memory.buffer instanceof SharedArrayBuffer).toBe(true);
    const module = new WebAssembly.Module(elementwiseModuleBytes(true));
    const ex = new WebAssembly.Instance(module, { env: { memory } }).exports as unknown as {
      gelu(x: number, y: number, n4: number): void;
    };
    const n = 64;
    const x = new Float32Array(memory.buffer, 1024, n);
    for (let i = 0; i < n; i++) x[i] = (i - 32) / 8;
    ex.gelu(1024, 4096, n / 4);
    const y = new Float32Array(memory.buffer, 4096, n);
    const want = tf.tidy(() => {
      const t = tf.tensor1d(Array.from(x));
      return tf.mul(tf.mul(t, 0.5), tf.add(tf.erf(tf.mul(t, Math.SQRT1_2)), 1)).dataSync();
    });
    expect(relErr(y, want)).toBeLessThan(1e-6);
  });
});

describe('useFastWasmBatchMatMul', () => {
  it('gives tf.matMul (and its gradients) the same results on wasm, for every transpose and batch broadcast', async () => {
    await useBackend('wasm');
    const cases: [number[], number[], boolean, boolean][] = [
      [[6, 49, 32], [6, 32, 49], false, false],
      [[6, 32, 49], [6, 32, 7], true, false],
      [[6, 49, 32], [6, 49, 32], false, true],
      [[2, 3, 5, 70], [2, 3, 9, 70], false, true],
      [[1, 5, 7], [4, 7, 3], false, false],
      [[4, 5, 7], [7, 3], false, false],
      [[60, 50], [60, 40], true, false],
      [[50, 60], [40, 60], false, true],
      [[33, 20], [20, 17], false, false],
    ];
    const run = () =>
      cases.map(([sa, sb, ta, tb], i) =>
        tf.tidy(() => {
          const a = rand(sa, 10 + i);
          const b = rand(sb, 20 + i);
          const c = tf.matMul(a, b, ta, tb);
          const dy = rand(c.shape, 30 + i);
          // (tfjs's own BatchMatMul gradient rejects broadcast batches: forward only there)
          const broadcast = sa.length !== sb.length || sa[0] !== sb[0];
          const grads = broadcast
            ? []
            : tf.grads((x: tf.Tensor, y: tf.Tensor) => tf.sum(tf.mul(tf.matMul(x, y, ta, tb), dy)))([a, b]);
          return [c, ...grads].map((t) => ({ shape: t.shape, data: t.dataSync().slice() }));
        }),
      );
    const before = run();
    const original = tf.getKernel('BatchMatMul', 'wasm');
    const restore = useFastWasmBatchMatMul();
    try {
      expect(tf.getKernel('BatchMatMul', 'wasm')?.kernelFunc).not.toBe(original?.kernelFunc);
      const after = run();
      for (let i = 0; i < cases.length; i++) {
        expect(after[i].length).toBe(before[i].length);
        for (let j = 0; j < before[i].length; j++) {
          expect(after[i][j].shape).toEqual(before[i][j].shape);
          expect(relErr(after[i][j].data, before[i][j].data)).toBeLessThan(1e-6);
        }
      }
      const a = rand([3, 4, 5], 1);
      const b = rand([3, 5, 2], 2);
      await expectNoLeak(() => tf.matMul(a, b), 'patched BatchMatMul');
      tf.dispose([a, b]);
    } finally {
      restore();
    }
    expect(tf.getKernel('BatchMatMul', 'wasm')?.kernelFunc).toBe(original?.kernelFunc);
  });
});

describe('shifted-window kernels on wasm', () => {
  const names = { partition: SWIN_SHIFTED_WINDOW_PARTITION, reverse: SWIN_SHIFTED_WINDOW_REVERSE };

  /** The map row of window token (b, wy, wx, i, j) (the roll by -shift, then the official partition). */
  function refPartition(
    x: ArrayLike<number>,
    [B, H, W, C]: number[],
    wh: number,
    ww: number,
    sh: number,
    sw: number,
  ) {
    const out: number[] = [];
    for (let b = 0; b < B; b++)
      for (let wy = 0; wy < H / wh; wy++)
        for (let wx = 0; wx < W / ww; wx++)
          for (let i = 0; i < wh; i++)
            for (let j = 0; j < ww; j++) {
              const y = (wy * wh + i + sh) % H;
              const xx = (wx * ww + j + sw) % W;
              for (let c = 0; c < C; c++) out.push(x[((b * H + y) * W + xx) * C + c]);
            }
    return out;
  }

  it.each([
    [2, 6, 9, 5, 3, 3, 1, 2, 'float32'],
    [1, 8, 8, 4, 4, 4, 2, 2, 'int32'],
    [1, 4, 6, 3, 2, 3, 3, 5, 'bool'],
    [1, 14, 21, 8, 7, 7, 0, 3, 'float32'],
  ] as const)(
    'B=%i H=%i W=%i C=%i window %ix%i shift (%i,%i) %s: brute force, inverse, gradients',
    async (B, H, W, C, wh, ww, sh, sw, dtype) => {
      await useBackend('wasm');
      registerWasmKernels();
      expect(registerWasmKernels()).toEqual([]); // idempotent
      const attrs = { H, W, wh, ww, sh, sw };
      const n = B * H * W * C;
      const data = Array.from({ length: n }, (_, i) =>
        dtype === 'bool' ? (i * 7) % 3 === 0 : ((i * 37) % 101) - 50,
      );
      const x = tf.tensor4d(data as number[], [B, H, W, C], dtype);
      const part = (t: tf.Tensor) => tf.engine().runKernel(names.partition, { x: t }, attrs) as tf.Tensor;
      const rev = (t: tf.Tensor) => tf.engine().runKernel(names.reverse, { x: t }, attrs) as tf.Tensor;
      const windows = part(x);
      expect(windows.shape).toEqual([(B * H * W) / (wh * ww), wh, ww, C]);
      expect(windows.dtype).toBe(dtype);
      const want = refPartition(x.dataSync(), [B, H, W, C], wh, ww, sh, sw);
      expect(Array.from(windows.dataSync())).toEqual(want);
      const back = rev(windows);
      expect(back.shape).toEqual([B, H, W, C]);
      expect(Array.from(back.dataSync())).toEqual(Array.from(x.dataSync()));
      if (dtype === 'float32') {
        // gradient of partition is the reverse (and vice versa): d sum(part(x) * r) / dx = rev(r)
        const r = rand(windows.shape, 5);
        const g = tf.grad((t: tf.Tensor) => tf.sum(tf.mul(part(t), r)))(x);
        expect(Array.from(g.dataSync())).toEqual(Array.from(tf.tidy(() => rev(r)).dataSync()));
        const r2 = rand(x.shape, 6);
        const g2 = tf.grad((t: tf.Tensor) => tf.sum(tf.mul(rev(t), r2)))(windows);
        expect(Array.from(g2.dataSync())).toEqual(Array.from(tf.tidy(() => part(r2)).dataSync()));
        tf.dispose([r, g, r2, g2]);
      }
      await expectNoLeak(() => tf.tidy(() => rev(part(x))), 'shifted window kernels');
      tf.dispose([x, windows, back]);
    },
  );

  it('registers for the requested backends only; unregistering restores the generic paths', async () => {
    await useBackend('wasm');
    unregisterWasmKernels();
    try {
      expect(attentionKernelAvailable('wasm')).toBe(false);
      expect(elementwiseKernelsAvailable('cpu')).toBe(false);
      expect(tf.getKernel(SWIN_SHIFTED_WINDOW_PARTITION, 'wasm')).toBeUndefined();
      const x = rand([2, 7, 8], 3);
      // the generic path gives the same GELU (tf.erf) without any registered kernel
      const yTf = gelu(x);
      expect(() => gelu(x, { impl: 'kernel' })).toThrow(/registerWasmKernels/);
      const added = registerWasmKernels({ backends: ['wasm'] });
      expect(added).toContain(`${SWIN_SMALL_GEMM}@wasm`);
      expect(added.every((a) => a.endsWith('@wasm'))).toBe(true);
      expect(attentionKernelAvailable('wasm')).toBe(true);
      expect(attentionKernelAvailable('cpu')).toBe(false);
      const yK = gelu(x, { impl: 'kernel' });
      expect(relErr(yK.dataSync(), yTf.dataSync())).toBeLessThan(1e-6);
      expect(() => registerWasmKernels({ backends: ['webgl' as 'wasm'] })).toThrow(/'wasm' or 'cpu'/);
      tf.dispose([x, yTf, yK]);
    } finally {
      registerWasmKernels();
    }
    expect(attentionKernelAvailable('cpu')).toBe(true);
  });
});
