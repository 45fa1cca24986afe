/**
 * The fused kernels on the real tfjs WebGPU backend (headless Chromium; SwiftShader without a GPU):
 * against plain-JS float64 references, against the generic tfjs paths on the same backend, gradients,
 * leaks and argument errors.
 */
import '@tensorflow/tfjs-backend-webgpu';
import { expectNoLeak, tf } from '@swin/testing';
import { shiftedWindowPartition, shiftedWindowReverse } from '@swin/window-ops';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
  fusedWindowAttention,
  registerSwinWebGPUKernels,
  SWIN_SHIFTED_WINDOW_PARTITION,
  SWIN_SHIFTED_WINDOW_REVERSE,
  SWIN_WEBGPU_KERNELS,
  SWIN_WINDOW_ATTENTION,
  unregisterSwinWebGPUKernels,
} from './index.js';
import {
  type AttentionCase,
  attentionRef,
  maxAbsDiff,
  randomArray,
  shiftedPartitionRef,
  shiftedReverseRef,
} from './test-utils/reference.js';

const run = (name: string, inputs: tf.NamedTensorMap, attrs: object) =>
  tf.engine().runKernel(name, inputs, attrs as unknown as tf.NamedAttrMap) as tf.Tensor;

/** Values of `t` (async: `dataSync` of GPU-resident tensors is unreliable in headless Chromium). */
async function values(t: tf.Tensor): Promise<number[]> {
  return Array.from(await t.data());
}

/** Runs `fn` with the Swin kernels unregistered (the generic tfjs path), then registers them again. */
async function generic<T>(fn: () => T | Promise<T>): Promise<T> {
  unregisterSwinWebGPUKernels();
  try {
    return await fn();
  } finally {
    registerSwinWebGPUKernels();
  }
}

beforeAll(async () => {
  expect(await tf.setBackend('webgpu'), 'the webgpu backend must initialise (SwiftShader)').toBe(true);
  await tf.ready();
  registerSwinWebGPUKernels();
});
afterAll(() => unregisterSwinWebGPUKernels());

describe('registration', () => {
  it('registers the three kernels for webgpu only, idempotently, and unregisters them', () => {
    expect(SWIN_WEBGPU_KERNELS).toEqual([
      SWIN_SHIFTED_WINDOW_PARTITION,
      SWIN_SHIFTED_WINDOW_REVERSE,
      SWIN_WINDOW_ATTENTION,
    ]);
    for (const k of SWIN_WEBGPU_KERNELS) {
      expect(tf.getKernel(k, 'webgpu'), k).toBeDefined();
      expect(tf.getKernel(k, 'webgl'), k).toBeUndefined();
      expect(tf.getKernel(k, 'cpu'), k).toBeUndefined();
    }
    expect(registerSwinWebGPUKernels()).toEqual([]);
    unregisterSwinWebGPUKernels();
    for (const k of SWIN_WEBGPU_KERNELS) expect(tf.getKernel(k, 'webgpu')).toBeUndefined();
    expect(registerSwinWebGPUKernels()).toEqual([...SWIN_WEBGPU_KERNELS]);
  });
});

interface WindowCase {
  B: number;
  H: number;
  W: number;
  C: number;
  wh: number;
  ww: number;
  sh: number;
  sw: number;
  dtype?: 'float32' | 'int32';
}

const WINDOW_CASES: WindowCase[] = [
  { B: 1, H: 8, W: 8, C: 4, wh: 4, ww: 4, sh: 2, sw: 2 }, // Swin, vec4 path
  { B: 2, H: 6, W: 12, C: 3, wh: 3, ww: 4, sh: 1, sw: 2 }, // non-square windows, batch 2, scalar path
  { B: 2, H: 14, W: 21, C: 8, wh: 7, ww: 7, sh: 3, sw: 3 }, // window_ops fixture geometry, batch 2
  { B: 1, H: 4, W: 6, C: 5, wh: 2, ww: 3, sh: -1, sw: 13 }, // negative and > W shifts
  { B: 3, H: 8, W: 8, C: 12, wh: 4, ww: 2, sh: 0, sw: 0 }, // no shift
  { B: 2, H: 6, W: 6, C: 4, wh: 3, ww: 3, sh: 1, sw: 2, dtype: 'int32' },
  { B: 1, H: 4, W: 4, C: 1, wh: 4, ww: 4, sh: 1, sw: 3, dtype: 'int32' },
];

const label = (c: WindowCase) =>
  `[${c.B},${c.H},${c.W},${c.C}] window ${c.wh}x${c.ww} shift (${c.sh},${c.sw}) ${c.dtype ?? 'float32'}`;

describe('SwinShiftedWindowPartition / SwinShiftedWindowReverse', () => {
  it.each(WINDOW_CASES)('partition and reverse equal the JS reference exactly: %#', async (c) => {
    const { B, H, W, C, wh, ww, sh, sw } = c;
    const n = B * H * W * C;
    const data =
      c.dtype === 'int32' ? Int32Array.from({ length: n }, (_, i) => i * 7 - 3) : randomArray(n, 11 + n);
    const x = tf.tensor4d(data, [B, H, W, C], c.dtype ?? 'float32');
    const attrs = { H, W, wh, ww, sh, sw };
    const p = run(SWIN_SHIFTED_WINDOW_PARTITION, { x }, attrs);
    const nW = (H / wh) * (W / ww);
    expect(p.shape, label(c)).toEqual([B * nW, wh, ww, C]);
    expect(p.dtype).toBe(c.dtype ?? 'float32');
    expect(await values(p), label(c)).toEqual(shiftedPartitionRef(data, [B, H, W, C], wh, ww, sh, sw));

    const winData = randomArray(B * nW * wh * ww * C, 5 + n);
    const windows = tf.tensor4d(winData, [B * nW, wh, ww, C]);
    const r = run(SWIN_SHIFTED_WINDOW_REVERSE, { x: windows }, attrs);
    expect(r.shape).toEqual([B, H, W, C]);
    expect(await values(r), label(c)).toEqual(shiftedReverseRef(winData, B, H, W, C, wh, ww, sh, sw));

    const back = run(SWIN_SHIFTED_WINDOW_REVERSE, { x: p }, attrs);
    expect(await values(back), `reverse(partition(x)) = x ${label(c)}`).toEqual(Array.from(data));
    tf.dispose([x, p, windows, r, back]);
  });

  it.each(WINDOW_CASES.filter((c) => !c.dtype))(
    'kernel = generic @swin/window-ops path on webgpu: %#',
    async (c) => {
      const { B, H, W, C, wh, ww, sh, sw } = c;
      const x = tf.tensor4d(randomArray(B * H * W * C, 3), [B, H, W, C]);
      const fused = run(SWIN_SHIFTED_WINDOW_PARTITION, { x }, { H, W, wh, ww, sh, sw });
      const ref = await generic(() => shiftedWindowPartition(x, [wh, ww], [sh, sw]));
      expect(await values(fused), label(c)).toEqual(await values(ref));
      const rev = run(SWIN_SHIFTED_WINDOW_REVERSE, { x: fused }, { H, W, wh, ww, sh, sw });
      const refRev = await generic(() => shiftedWindowReverse(ref as tf.Tensor4D, [wh, ww], [sh, sw], H, W));
      expect(await values(rev), label(c)).toEqual(await values(refRev));
      tf.dispose([x, fused, ref, rev, refRev]);
    },
  );

  it('covers more than 65535 workgroups (the backend folds the dispatch into 2-D)', async () => {
    const [B, H, W, C, wh, ww, sh, sw] = [1, 1156, 1156, 3, 4, 4, 2, 1]; // 4.0M invocations
    const data = randomArray(B * H * W * C, 9);
    const x = tf.tensor4d(data, [B, H, W, C]);
    const p = run(SWIN_SHIFTED_WINDOW_PARTITION, { x }, { H, W, wh, ww, sh, sw });
    const got = await p.data();
    const want = shiftedPartitionRef(data, [B, H, W, C], wh, ww, sh, sw);
    let bad = 0;
    for (let i = 0; i < want.length; i++) if (got[i] !== want[i]) bad++;
    expect(bad).toBe(0);
    tf.dispose([x, p]);
  });

  it('has registered gradients (each is the other kernel)', async () => {
    const [B, H, W, C, wh, ww, sh, sw] = [2, 6, 8, 4, 3, 4, 1, 3];
    const attrs = { H, W, wh, ww, sh, sw };
    const nW = (H / wh) * (W / ww);
    const x = tf.tensor4d(randomArray(B * H * W * C, 21), [B, H, W, C]);
    const wData = randomArray(B * nW * wh * ww * C, 22);
    const w = tf.tensor4d(wData, [B * nW, wh, ww, C]);
    // d/dx sum(partition(x) * w) = reverse(w)
    const gx = tf.grad((t: tf.Tensor) =>
      tf.sum(tf.mul(run(SWIN_SHIFTED_WINDOW_PARTITION, { x: t }, attrs), w)),
    )(x);
    expect(await values(gx)).toEqual(shiftedReverseRef(wData, B, H, W, C, wh, ww, sh, sw));
    // d/dwin sum(reverse(win) * x) = partition(x)
    const xData = await x.data();
    const gw = tf.grad((t: tf.Tensor) =>
      tf.sum(tf.mul(run(SWIN_SHIFTED_WINDOW_REVERSE, { x: t }, attrs), x)),
    )(w);
    expect(await values(gw)).toEqual(shiftedPartitionRef(xData, [B, H, W, C], wh, ww, sh, sw));
    tf.dispose([x, w, gx, gw]);
  });

  it('leaks nothing', async () => {
    const x = tf.tensor4d(randomArray(2 * 8 * 8 * 4, 1), [2, 8, 8, 4]);
    const attrs = { H: 8, W: 8, wh: 4, ww: 4, sh: 2, sw: 2 };
    await expectNoLeak(() => run(SWIN_SHIFTED_WINDOW_PARTITION, { x }, attrs), 'partition kernel');
    await expectNoLeak(() => {
      const p = run(SWIN_SHIFTED_WINDOW_PARTITION, { x }, attrs);
      const r = run(SWIN_SHIFTED_WINDOW_REVERSE, { x: p }, attrs);
      p.dispose();
      return r;
    }, 'reverse kernel');
    x.dispose();
  });

  it('rejects bad attrs and shapes with messages naming the kernel', () => {
    const x = tf.zeros([1, 8, 8, 2]);
    const ok = { H: 8, W: 8, wh: 4, ww: 4, sh: 0, sw: 0 };
    expect(() => run(SWIN_SHIFTED_WINDOW_PARTITION, { x }, { ...ok, wh: 3 })).toThrow(
      /SwinShiftedWindowPartition: the 8x8 map is not tiled by 3x4 windows/,
    );
    expect(() => run(SWIN_SHIFTED_WINDOW_PARTITION, { x }, { ...ok, H: 4 })).toThrow(
      /does not match attrs H=4/,
    );
    expect(() => run(SWIN_SHIFTED_WINDOW_PARTITION, { x }, { ...ok, sh: 0.5 })).toThrow(
      /attr sh must be an integer/,
    );
    expect(() => run(SWIN_SHIFTED_WINDOW_REVERSE, { x }, ok)).toThrow(
      /SwinShiftedWindowReverse: windows \[1,8,8,2\] do not match attrs/,
    );
    expect(() => run(SWIN_SHIFTED_WINDOW_PARTITION, { x: tf.zeros([8, 8, 2]) }, ok)).toThrow(/x must be 4-D/);
    x.dispose();
  });
});

interface AttnCase extends AttentionCase {
  name: string;
  /** 2-D bias / mask instead of 3-D */
  flat?: boolean;
  /** multiplier of q (large scores test the max subtraction) */
  qScale?: number;
}

function swinCase(
  name: string,
  B: number,
  nW: number,
  nH: number,
  wh: number,
  ww: number,
  d: number,
  mask: boolean,
) {
  const N = wh * ww;
  return {
    name,
    G: B * nW * nH,
    N,
    M: N,
    D: d,
    Dv: d,
    nB: nH,
    nM: mask ? nW : 0,
    heads: nH,
    scale: d ** -0.5,
  };
}

const ATTN_CASES: AttnCase[] = [
  swinCase('Swin shifted, window 4x4, 4 windows, 3 heads, batch 2', 2, 4, 3, 4, 4, 8, true),
  swinCase('Swin shifted, non-square window 3x5, 6 windows, 2 heads, batch 3', 3, 6, 2, 3, 5, 16, true),
  swinCase('Swin regular (no mask), window 7x7, 2 windows, 3 heads', 1, 2, 3, 7, 7, 32, false),
  { name: 'no bias, no mask', G: 5, N: 9, M: 9, D: 4, Dv: 4, nB: 0, nM: 0, heads: 1, scale: 0.5 },
  {
    name: '2-D bias and mask',
    G: 6,
    N: 10,
    M: 10,
    D: 8,
    Dv: 8,
    nB: 1,
    nM: 1,
    heads: 2,
    scale: 0.3,
    flat: true,
  },
  {
    name: 'M=300 keys (two chunks), N=20, dv != d',
    G: 3,
    N: 20,
    M: 300,
    D: 16,
    Dv: 24,
    nB: 3,
    nM: 0,
    heads: 3,
    scale: 0.25,
  },
  {
    name: 'M=600 keys (three chunks) with mask',
    G: 4,
    N: 5,
    M: 600,
    D: 8,
    Dv: 8,
    nB: 2,
    nM: 2,
    heads: 2,
    scale: 0.35,
  },
  {
    name: 'large scores (q x 30)',
    G: 4,
    N: 16,
    M: 16,
    D: 8,
    Dv: 8,
    nB: 2,
    nM: 2,
    heads: 2,
    scale: 0.35,
    qScale: 30,
  },
];

function makeAttention(c: AttnCase, seed: number) {
  const q = randomArray(c.G * c.N * c.D, seed, c.qScale ?? 1);
  const k = randomArray(c.G * c.M * c.D, seed + 1);
  const v = randomArray(c.G * c.M * c.Dv, seed + 2);
  const bias = c.nB ? randomArray(c.nB * c.N * c.M, seed + 3, 2) : null;
  // Swin-like mask: 0 or -100
  const mask = c.nM ? randomArray(c.nM * c.N * c.M, seed + 4).map((u) => (u > 0.2 ? -100 : 0)) : null;
  const t = {
    q: tf.tensor3d(q, [c.G, c.N, c.D]),
    k: tf.tensor3d(k, [c.G, c.M, c.D]),
    v: tf.tensor3d(v, [c.G, c.M, c.Dv]),
    bias: bias ? tf.tensor(bias, c.flat ? [c.N, c.M] : [c.nB, c.N, c.M]) : null,
    mask: mask ? tf.tensor(mask, c.flat ? [c.N, c.M] : [c.nM, c.N, c.M]) : null,
  };
  return { arrays: { q, k, v, bias, mask }, t };
}

function kernelInputs(t: ReturnType<typeof makeAttention>['t']): tf.NamedTensorMap {
  const m: tf.NamedTensorMap = { q: t.q, k: t.k, v: t.v };
  if (t.bias) m.bias = t.bias;
  if (t.mask) m.mask = t.mask;
  return m;
}

const attnAttrs = (c: AttnCase) => ({ scale: c.scale, numHeads: c.heads, numWindows: Math.max(c.nM, 1) });

describe('SwinWindowAttention', () => {
  it.each(ATTN_CASES)('equals the float64 JS reference: $name', async (c) => {
    const { arrays, t } = makeAttention(c, 100 + c.G);
    const out = run(SWIN_WINDOW_ATTENTION, kernelInputs(t), attnAttrs(c));
    expect(out.shape).toEqual([c.G, c.N, c.Dv]);
    const ref = attentionRef(arrays.q, arrays.k, arrays.v, arrays.bias, arrays.mask, {
      ...c,
      nB: Math.max(c.nB, 1),
      nM: Math.max(c.nM, 1),
    });
    const { maxAbs, maxRef } = maxAbsDiff(await out.data(), ref);
    expect(maxAbs, `${c.name}: max abs error ${maxAbs} (max |ref| ${maxRef})`).toBeLessThan(
      2e-6 * Math.max(1, maxRef) * Math.sqrt(c.M),
    );
    tf.dispose([out, ...Object.values(t).filter((x): x is tf.Tensor => x !== null)]);
  });

  it.each(ATTN_CASES)('kernel = generic tfjs path on webgpu: $name', async (c) => {
    const { t } = makeAttention(c, 7 + c.N);
    const opts = { bias: t.bias, mask: t.mask, numHeads: c.heads, scale: c.scale };
    const fused = fusedWindowAttention(t.q, t.k, t.v, opts);
    const ref = await generic(() => fusedWindowAttention(t.q, t.k, t.v, opts));
    const { maxAbs, maxRef } = maxAbsDiff(await fused.data(), await ref.data());
    expect(maxAbs, c.name).toBeLessThan(1e-5 * Math.max(1, maxRef));
    tf.dispose([fused, ref, ...Object.values(t).filter((x): x is tf.Tensor => x !== null)]);
  });

  it('covers more than 65535 workgroups (G = 70000 groups)', async () => {
    const c: AttnCase = {
      name: 'many groups',
      G: 70000,
      N: 1,
      M: 4,
      D: 4,
      Dv: 4,
      nB: 1,
      nM: 0,
      heads: 1,
      scale: 0.5,
    };
    const { arrays, t } = makeAttention(c, 5);
    const out = run(SWIN_WINDOW_ATTENTION, kernelInputs(t), attnAttrs(c));
    const ref = attentionRef(arrays.q, arrays.k, arrays.v, arrays.bias, null, { ...c, nM: 1 });
    expect(maxAbsDiff(await out.data(), ref).maxAbs).toBeLessThan(1e-5);
    tf.dispose([out, t.q, t.k, t.v, t.bias!]);
  });

  it('fusedWindowAttention gradients (q, k, v, bias, mask) equal tfjs autodiff of the plain formula', async () => {
    const c = ATTN_CASES[1];
    const { t } = makeAttention(c, 42);
    const { G, N, M, heads, nB, nM, scale } = c;
    const w = tf.randomNormal([G, N, c.Dv], 0, 1, 'float32', 3);
    const plain = (q: tf.Tensor, k: tf.Tensor, v: tf.Tensor, b: tf.Tensor, m: tf.Tensor) => {
      let s = tf.mul(tf.matMul(q, k, false, true), scale);
      s = tf.reshape(tf.add(tf.reshape(s, [G / nB, nB, N, M]), tf.expandDims(b, 0)), [G, N, M]);
      s = tf.reshape(
        tf.add(tf.reshape(s, [G / (heads * nM), nM, heads, N, M]), tf.reshape(m, [1, nM, 1, N, M])),
        [G, N, M],
      );
      return tf.sum(tf.mul(tf.matMul(tf.softmax(s), v), w));
    };
    const fusedLoss = (q: tf.Tensor, k: tf.Tensor, v: tf.Tensor, b: tf.Tensor, m: tf.Tensor) =>
      tf.sum(
        tf.mul(
          fusedWindowAttention(q as tf.Tensor3D, k as tf.Tensor3D, v as tf.Tensor3D, {
            bias: b,
            mask: m,
            numHeads: heads,
            scale,
          }),
          w,
        ),
      );
    const args = [t.q, t.k, t.v, t.bias!, t.mask!];
    const gFused = tf.grads(fusedLoss)(args);
    const gRef = tf.grads(plain)(args);
    const names = ['q', 'k', 'v', 'bias', 'mask'];
    for (let i = 0; i < 5; i++) {
      expect(gFused[i].shape, names[i]).toEqual(args[i].shape);
      const { maxAbs, maxRef } = maxAbsDiff(await gFused[i].data(), await gRef[i].data());
      expect(maxRef, `${names[i]} gradient is not all zero`).toBeGreaterThan(0);
      expect(maxAbs, `d/d${names[i]}`).toBeLessThan(1e-5 * Math.max(1, maxRef));
    }
    tf.dispose([...gFused, ...gRef, w, ...args]);
  });

  it('leaks nothing', async () => {
    const c = ATTN_CASES[0];
    const { t } = makeAttention(c, 1);
    await expectNoLeak(() => run(SWIN_WINDOW_ATTENTION, kernelInputs(t), attnAttrs(c)), 'attention kernel');
    await expectNoLeak(
      () => fusedWindowAttention(t.q, t.k, t.v, { bias: t.bias, mask: t.mask, numHeads: c.heads }),
      'fusedWindowAttention',
    );
    tf.dispose(Object.values(t).filter((x): x is tf.Tensor => x !== null));
  });

  it('rejects bad inputs with messages naming the kernel', () => {
    const q = tf.zeros([6, 4, 8]);
    const bias = tf.zeros([3, 4, 4]);
    const mask = tf.zeros([2, 4, 4]);
    const attrs = { scale: 1, numHeads: 3, numWindows: 2 };
    expect(() => run(SWIN_WINDOW_ATTENTION, { q, k: q, v: tf.zeros([6, 5, 8]), bias }, attrs)).toThrow(
      /SwinWindowAttention: q \[6,4,8\], k \[6,4,8\], v \[6,5,8\] must be/,
    );
    expect(() => run(SWIN_WINDOW_ATTENTION, { q, k: q, v: q, bias: tf.zeros([4, 4, 4]) }, attrs)).toThrow(
      /6 groups are not a multiple of the 4 bias matrices/,
    );
    const mask4 = tf.zeros([4, 4, 4]);
    expect(() =>
      run(SWIN_WINDOW_ATTENTION, { q, k: q, v: q, mask: mask4 }, { ...attrs, numHeads: 1, numWindows: 4 }),
    ).toThrow(/6 groups are not a multiple of numHeads \* numWindows = 1 \* 4/);
    expect(() =>
      run(SWIN_WINDOW_ATTENTION, { q, k: q, v: q, mask }, { ...attrs, numHeads: 1, numWindows: 3 }),
    ).toThrow(/attr numWindows=3 but mask has 2 matrices/);
    expect(() => run(SWIN_WINDOW_ATTENTION, { q, k: q, v: q }, { ...attrs, scale: Number.NaN })).toThrow(
      /attr scale/,
    );
    expect(() => run(SWIN_WINDOW_ATTENTION, { q, k: q, v: q, bias: tf.zeros([3, 4, 5]) }, attrs)).toThrow(
      /bias must be \[n, 4, 4\] or \[4, 4\], got \[3,4,5\]/,
    );
    tf.dispose([q, bias, mask, mask4]);
  });
});
