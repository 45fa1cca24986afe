import type { SmallGemmAttrs } from '@swin/nn';
import { afterAll, describe, expect, it, vi } from 'vitest';
import { BumpHeap } from './asm.js';
import { elementwiseModuleBytes } from './elementwise.js';
import { attentionKernelModuleBytes, kernelCall } from './gemm.js';
import { KernelPool, MAX_POOL_TASKS, type PoolTask } from './pool.js';
import {
  elementwiseTasks,
  evenRanges,
  type GemmPointers,
  gemmChunk,
  gemmRanges,
  taskCount,
} from './split.js';
import { spawnNodeWorker } from './test-utils/node-worker.js';
import {
  disposeWasmKernelPools,
  getWasmKernelThreads,
  poolFor,
  setKernelPoolOptions,
  setWasmKernelThreads,
} from './threaded.js';

// The pool on a shared memory like tfjs-wasm's threaded build, with Node worker_threads as workers:
// every split call must give exactly (bitwise) what the single call gives.

const memory = new WebAssembly.Memory({ initial: 1, maximum: 65536, shared: true });
const modules = [attentionKernelModuleBytes(true), elementwiseModuleBytes(true)].map(
  (b) => new WebAssembly.Module(b),
);
const pools: KernelPool[] = [];
afterAll(() => {
  for (const p of pools) p.dispose();
});

async function makePool(workers: number): Promise<KernelPool> {
  const pool = new KernelPool(memory, modules, workers, { spawn: spawnNodeWorker });
  pools.push(pool);
  await pool.ready;
  return pool;
}

/** deterministic pseudo-random floats in [-2, 2) */
function fill(heap: Float32Array, off: number, n: number, seed: number): void {
  let s = seed >>> 0 || 1;
  for (let i = 0; i < n; i++) {
    s ^= s << 13;
    s ^= s >>> 17;
    s ^= s << 5;
    heap[(off >> 2) + i] = ((s >>> 0) / 2 ** 32) * 4 - 2;
  }
}

function alloc(bump: BumpHeap, n: number, seed?: number): number {
  const off = bump.alloc(n);
  bump.ensure(memory);
  if (seed !== undefined) fill(new Float32Array(memory.buffer), off, n, seed);
  return off;
}

const bytesOf = (off: number, n: number) => new Uint8Array(memory.buffer, off, n * 4).slice();

function gemmAttrs(over: Partial<SmallGemmAttrs>): SmallGemmAttrs {
  return {
    kind: 'bmm',
    G: 1,
    n: 1,
    k: 1,
    m: 1,
    sAg: 0,
    sAr: 0,
    sAc: 1,
    sBg: 0,
    sBr: 0,
    sBc: 1,
    alpha: 1,
    nB: 1,
    sBiasG: 0,
    sBiasR: 0,
    nMk: 1,
    heads: 1,
    sMaskG: 0,
    sMaskR: 0,
    biasGrad: false,
    maskGrad: false,
    ...over,
  };
}

function scratchFloats(a: SmallGemmAttrs): number {
  const mp = (a.m + 7) & ~7;
  return a.k * mp + 4 * mp + a.m + 4;
}

/** Runs `a` once whole (reference) and once split over `pool`; returns both outputs' bytes. */
function runBoth(
  pool: KernelPool,
  a: SmallGemmAttrs,
  ptr: Omit<GemmPointers, 'out' | 'scratch'>,
  parts: number,
) {
  const bump = new BumpHeap();
  bump.top = 64 << 20; // above the inputs
  const outFloats = a.G * a.n * a.m;
  const ref = alloc(bump, outFloats);
  const got = alloc(bump, outFloats);
  const ranges = gemmRanges(a, { ...ptr, out: [got], scratch: 0 }, parts);
  const nScratch = scratchFloats(a);
  const scratch = alloc(bump, nScratch * ranges.length);
  new Float32Array(memory.buffer, scratch, nScratch * ranges.length).fill(0);
  const local = new WebAssembly.Instance(modules[0], { env: { memory } }).exports as Record<
    string,
    (...args: number[]) => void
  >;
  const whole = kernelCall(a, { ...ptr, out: [ref], scratch });
  local[whole.fn](...whole.args);
  new Float32Array(memory.buffer, scratch, nScratch * ranges.length).fill(0);
  const tasks: PoolTask[] = ranges.map(([g0, g1], i) => {
    const c = gemmChunk(a, { ...ptr, out: [got], scratch: 0 }, g0, g1, scratch + i * nScratch * 4);
    const call = kernelCall(c.attrs, c.ptr);
    return { module: 0, fn: pool.fnIndex(0, call.fn), args: call.args };
  });
  pool.run(tasks, false);
  return { ref: bytesOf(ref, outFloats), got: bytesOf(got, outFloats), tasks: tasks.length };
}

describe('split.ts', () => {
  it('evenRanges covers [0, total) with near-equal non-empty ranges', () => {
    expect(evenRanges(10, 3)).toEqual([
      [0, 3],
      [3, 6],
      [6, 10],
    ]);
    expect(evenRanges(2, 5)).toEqual([
      [0, 1],
      [1, 2],
    ]);
    expect(taskCount(10, 100, 4)).toBe(1);
    expect(taskCount(1e9, 100, 4)).toBe(16);
    expect(taskCount(1e9, 100, 1)).toBe(1);
  });

  it('gemmRanges never wraps the bias or mask index inside a range', () => {
    const a = gemmAttrs({ kind: 'attn', G: 2 * 4 * 3, nB: 3, heads: 3, nMk: 4 });
    const ptr = { a: 0, b: 0, out: [0], scratch: 0, bias: 64, mask: 128, probs: -1 };
    for (const parts of [2, 3, 5, 8, 64]) {
      const r = gemmRanges(a, ptr, parts);
      expect(r[0][0]).toBe(0);
      expect(r[r.length - 1][1]).toBe(a.G);
      for (const [i, [g0, g1]] of r.entries()) {
        if (i > 0) expect(g0).toBe(r[i - 1][1]);
        // bias g % 3 and mask floor(g / 3) % 4, counted from g0, must match the absolute indices
        for (let g = g0; g < g1; g++) {
          expect((g0 % 3) + ((g - g0) % 3)).toBe(g % 3);
          expect((Math.floor(g0 / 3) % 4) + (Math.floor((g - g0) / 3) % 4)).toBe(Math.floor(g / 3) % 4);
        }
      }
    }
    // one window of 24 heads (Swin-T stage 4): split although the bias period is the whole call
    const s4 = gemmRanges({ ...a, G: 24, nB: 24, heads: 24, nMk: 1 }, { ...ptr, mask: -1 }, 8);
    expect(s4.length).toBe(8);
    // bias only, 2 x 5 heads in 3 parts: a range starting inside a head block ends with it
    expect(gemmRanges({ ...a, G: 10, nB: 5 }, { ...ptr, mask: -1 }, 3)).toEqual([
      [0, 3],
      [3, 5],
      [5, 6],
      [6, 10],
    ]);
    // gradient sums over groups: not split
    expect(gemmRanges({ ...a, kind: 'dsm', biasGrad: true }, ptr, 4)).toEqual([[0, a.G]]);
  });
});

describe('KernelPool (Node worker_threads on a shared memory)', () => {
  it('SwinSmallGemm attention (bias + shifted-window mask, 2 images) split over workers is bit-identical', async () => {
    const pool = await makePool(2);
    expect(pool.isActive).toBe(true);
    const bump = new BumpHeap();
    // Swin-T stage 1 at 224 (64 windows x 3 heads, 49 tokens, head dim 32) and stage 3 (4 x 12)
    for (const [B, nW, heads] of [
      [2, 64, 3],
      [2, 4, 12],
      [2, 1, 24],
    ]) {
      const N = 49;
      const d = 32;
      const G = B * nW * heads;
      const q = alloc(bump, G * N * d, 1);
      const k = alloc(bump, G * N * d, 2);
      const v = alloc(bump, G * N * d, 3);
      const bias = alloc(bump, heads * N * N, 4);
      const mask = alloc(bump, nW * N * N, 5);
      const probs = alloc(bump, G * N * N, 6);
      const attn = gemmAttrs({
        kind: 'attn',
        ...{ G, n: N, k: d, m: N, sAg: N * d, sAr: d, sAc: 1, sBg: N * d, sBr: 1, sBc: d },
        ...{ alpha: 1 / Math.sqrt(d), nB: heads, sBiasG: N * N, sBiasR: N, nMk: nW, heads, sMaskG: N * N },
        sMaskR: N,
      });
      // no shifted-window mask with a single window (Swin-T stage 4)
      const ptr = { a: q, b: k, bias, mask: nW > 1 ? mask : -1, probs: -1 };
      for (const parts of [2, 4, 7, 13]) {
        const r = runBoth(pool, attn, ptr, parts);
        expect(r.tasks).toBeGreaterThan(1);
        expect(Buffer.compare(r.got, r.ref)).toBe(0);
      }
      // P V (bmm) and the softmax backward without gradient sums
      const pv = gemmAttrs({ G, n: N, k: N, m: d, sAg: N * N, sAr: N, sAc: 1, sBg: N * d, sBr: d, sBc: 1 });
      const r2 = runBoth(pool, pv, { a: probs, b: v, bias: -1, mask: -1, probs: -1 }, 4);
      expect(Buffer.compare(r2.got, r2.ref)).toBe(0);
      const dsm = gemmAttrs({ ...pv, kind: 'dsm', k: d, m: N, sAg: N * d, sAr: d, sBr: 1, sBc: d });
      const r3 = runBoth(pool, dsm, { a: q, b: k, bias: -1, mask: -1, probs }, 4);
      expect(r3.tasks).toBe(4);
      expect(Buffer.compare(r3.got, r3.ref)).toBe(0);
    }
    // a weight shared by all groups (sBg = 0): every task packs it
    const G = 64;
    const x = alloc(bump, G * 49 * 96, 7);
    const w = alloc(bump, 96 * 40, 8);
    const shared = gemmAttrs({
      G,
      n: 49,
      k: 96,
      m: 40,
      sAg: 49 * 96,
      sAr: 96,
      sAc: 1,
      sBg: 0,
      sBr: 40,
      sBc: 1,
    });
    const r = runBoth(pool, shared, { a: x, b: w, bias: -1, mask: -1, probs: -1 }, 5);
    expect(Buffer.compare(r.got, r.ref)).toBe(0);
    // every task above ran in a worker (the calling thread did not take part)
    expect(pool.workerTasks).toBeGreaterThan(20);
  });

  it('elementwise tasks (GELU, erf, LayerNorm, head split / merge) are bit-identical to the single call', async () => {
    const pool = await makePool(3);
    const local = new WebAssembly.Instance(modules[1], { env: { memory } }).exports as Record<
      string,
      (...args: number[]) => void
    >;
    const bump = new BumpHeap();
    const rows = 3136;
    const C = 96;
    const x = alloc(bump, rows * 4 * C, 11);
    const dy = alloc(bump, rows * 4 * C, 12);
    const g = alloc(bump, C, 13);
    const b = alloc(bump, C, 14);
    const outA = alloc(bump, rows * 4 * C);
    const outB = alloc(bump, rows * 4 * C);
    const statsA = alloc(bump, 2 * rows);
    const statsB = alloc(bump, 2 * rows);
    const n4 = rows * C; // [3136, 384] floats / 4
    const cases: [string, (o: number, s: number) => number[], number][] = [
      ['gelu', (o) => [x, o, n4], 4 * n4],
      ['erf', (o) => [x, o, n4], 4 * n4],
      ['geluGrad', (o) => [x, dy, o, n4], 4 * n4],
      ['lnFwd', (o, s) => [x, g, b, o, s, s + 4 * rows, rows, C / 4, 1 / C, 1e-5], rows * C],
      // qkv [64 windows, 49, 3 * 96] -> heads [64 * 3, 49, 32] (the k part: off 96), and back
      ['tokToHeads', (o) => [x, o, 64, 49, 3, 8, 288, 96], 64 * 3 * 49 * 32],
      ['headsToTok', (o) => [x, o, 64, 49, 3, 8, 96, 0], 64 * 49 * 96],
    ];
    for (const [fn, args, outFloats] of cases) {
      local[fn](...args(outA, statsA));
      const tasks = elementwiseTasks(fn, args(outB, statsB), pool.threads);
      expect(tasks, fn).not.toBeNull();
      expect(tasks!.length, fn).toBeGreaterThan(1);
      pool.run(
        tasks!.map((t) => ({ module: 1, fn: pool.fnIndex(1, t.fn), args: t.args })),
        false,
      );
      expect(Buffer.compare(bytesOf(outB, outFloats), bytesOf(outA, outFloats)), fn).toBe(0);
      if (fn === 'lnFwd')
        expect(Buffer.compare(bytesOf(statsB, 2 * rows), bytesOf(statsA, 2 * rows))).toBe(0);
    }
    // sums over rows are never split; tiny calls stay whole
    expect(elementwiseTasks('lnBwd', [0, 0, 0, 0, 0, 0, 0, 0, rows, C / 4, 1 / C], 4)).toBeNull();
    expect(elementwiseTasks('gelu', [x, outA, 16], 4)).toBeNull();
  });

  it('reports a trap in a worker, keeps working, and splits at most MAX_POOL_TASKS per run', async () => {
    const pool = await makePool(1);
    const warn = vi.spyOn(console, 'warn').mockImplementation(() => {});
    const gelu = pool.fnIndex(1, 'gelu');
    const beyond = memory.buffer.byteLength + 4096; // out of bounds: traps
    expect(() =>
      pool.run(
        [
          { module: 1, fn: gelu, args: [beyond, beyond, 4] },
          { module: 1, fn: gelu, args: [beyond, beyond, 4] },
        ],
        false,
      ),
    ).toThrow(/trapped in a worker/);
    await new Promise((r) => setTimeout(r, 50));
    expect(warn).toHaveBeenCalledWith(expect.stringMatching(/out of bounds/));
    warn.mockRestore();
    const bump = new BumpHeap();
    const x = alloc(bump, 1024, 21);
    const y = alloc(bump, 1024);
    pool.run(
      [
        { module: 1, fn: gelu, args: [x, y, 128] },
        { module: 1, fn: gelu, args: [x + 512, y + 512, 128] },
      ],
      false,
    );
    expect(new Float32Array(memory.buffer, y, 1024).some((v) => v !== 0)).toBe(true);
    const many = Array.from({ length: MAX_POOL_TASKS + 1 }, () => ({ module: 1, fn: gelu, args: [x, y, 1] }));
    expect(() => pool.run(many)).toThrow(/at most 64 tasks/);
    expect(() => pool.fnIndex(1, 'nope')).toThrow(/exports no function 'nope'/);
    pool.dispose();
    expect(pool.isActive).toBe(false);
    // after dispose: runs here
    pool.run([{ module: 1, fn: gelu, args: [x, y, 4] }]);
  });

  it('stays single-threaded when a worker cannot start (e.g. a CSP without blob: workers)', async () => {
    let started = 0;
    let terminated = 0;
    const pool = new KernelPool(memory, modules, 3, {
      spawn: (src, onMessage, onError) => {
        if (started++ === 1) throw new Error('blocked by worker-src');
        const w = spawnNodeWorker(src, onMessage, onError);
        return {
          postMessage: (m) => w.postMessage(m),
          terminate: () => {
            terminated++;
            w.terminate();
          },
        };
      },
    });
    await expect(pool.ready).rejects.toThrow(/cannot start a worker \(blocked by worker-src\)/);
    expect(pool.isActive).toBe(false);
    expect(pool.error).toMatch(/blocked/);
    expect(terminated).toBe(1); // the one that had started
    const gelu = pool.fnIndex(1, 'gelu');
    pool.run([
      { module: 1, fn: gelu, args: [0, 1024, 4] },
      { module: 1, fn: gelu, args: [0, 1024, 4] },
    ]); // on the calling thread
  });

  it('refuses an unshared memory and bad worker counts', () => {
    const plain = new WebAssembly.Memory({ initial: 1 });
    expect(() => new KernelPool(plain, modules, 1, { spawn: spawnNodeWorker })).toThrow(/must be shared/);
    expect(() => new KernelPool(memory, modules, 0, { spawn: spawnNodeWorker })).toThrow(/from 1 to 7/);
  });
});

describe('kernel pool per memory (threaded.ts)', () => {
  it('is opt-in, starts asynchronously, sleeps at 1 thread, and is disposed', async () => {
    expect(getWasmKernelThreads()).toBe(1);
    const shared = new WebAssembly.Memory({ initial: 1, maximum: 65536, shared: true });
    const plain = new WebAssembly.Memory({ initial: 1 });
    setKernelPoolOptions({ spawn: spawnNodeWorker });
    try {
      expect(poolFor(shared)).toBeNull(); // default: 1 thread, no pool
      setWasmKernelThreads(2);
      expect(poolFor(plain)).toBeNull(); // unshared heap (Node, pages that are not isolated): never
      expect(poolFor(shared)).toBeNull(); // workers starting: single-threaded meanwhile
      await new Promise((r) => setTimeout(r, 20));
      const deadline = Date.now() + 10_000;
      while (!poolFor(shared) && Date.now() < deadline) await new Promise((r) => setTimeout(r, 20));
      const pool = poolFor(shared);
      expect(pool?.threads).toBe(2);
      setWasmKernelThreads(1);
      expect(poolFor(shared)).toBeNull();
      expect(pool?.isActive).toBe(true); // asleep, kept
      setWasmKernelThreads(2);
      expect(poolFor(shared)).toBe(pool);
      setWasmKernelThreads(3); // another size: a new pool
      expect(pool?.isActive).toBe(false);
      disposeWasmKernelPools();
      expect(() => setWasmKernelThreads(0)).toThrow(/'auto' or an integer from 1 to 8/);
    } finally {
      disposeWasmKernelPools();
      setWasmKernelThreads(1);
      setKernelPoolOptions({});
    }
  });
});
