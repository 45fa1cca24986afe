import { attentionCore, gelu, layerNorm, mergeHeads, smallBatchMatMul, splitHeads } from '@swin/nn';
import * as tf from '@tensorflow/tfjs';
import { getThreadsCount, setWasmPaths } from '@tensorflow/tfjs-backend-wasm';
import plainWasm from '@tensorflow/tfjs-backend-wasm/wasm-out/tfjs-backend-wasm.wasm?url';
import simdWasm from '@tensorflow/tfjs-backend-wasm/wasm-out/tfjs-backend-wasm-simd.wasm?url';
import threadedWasm from '@tensorflow/tfjs-backend-wasm/wasm-out/tfjs-backend-wasm-threaded-simd.wasm?url';
import { beforeAll, describe, expect, it } from 'vitest';
import { isSharedMemory, wasmMemoryOf } from './asm.js';
import {
  initWasmBackend,
  setWasmKernelThreads,
  unregisterWasmKernels,
  wasmKernelPoolReady,
} from './index.js';
import { wasmKernelPool } from './threaded.js';

// Headless Chromium on a cross-origin-isolated page (vitest.browser.ts sends COOP/COEP): tfjs-wasm's
// threaded build, 2 threads, and this package's kernels on its shared heap, split over the kernel pool.
// Every result must equal (bitwise) the single-threaded one.

/** Swin-T window attention at 224 with 2 images: stage 1 (64 windows x 3 heads) and stage 3 (4 x 12). */
const STAGES = [
  { nW: 64, heads: 3, C: 96 },
  { nW: 4, heads: 12, C: 384 },
];
const B = 2;
const N = 49;

/** Everything the threaded kernels compute, as plain arrays (forward and gradients). */
function compute(): Float32Array[] {
  const out: Float32Array[] = [];
  const keep = (t: tf.Tensor) => out.push(t.dataSync() as Float32Array);
  for (const [s, { nW, heads, C }] of STAGES.entries()) {
    tf.tidy(() => {
      const G = B * nW * heads;
      const d = C / heads;
      const seed = 10 * s;
      const tokens = tf.randomNormal([B * nW, N, 3 * C], 0, 1, 'float32', seed + 1) as tf.Tensor3D;
      const bias = tf.randomNormal([heads, N, N], 0, 1, 'float32', seed + 2);
      const mask = tf.mul(tf.randomUniform([nW, N, N], 0, 1, 'float32', seed + 3).greater(0.7), -100);
      // splitHeads (tokToHeads) -> attention (attn + bmm) -> mergeHeads (headsToTok)
      const [q, k, v] = splitHeads(tokens, 3, heads);
      expect(q.shape).toEqual([G, N, d]);
      const o = attentionCore(q, k, v, { bias, mask, numHeads: heads });
      keep(o);
      keep(mergeHeads(o, heads));
      // gradients: bmm / dsm products, head merge / split backward
      const loss = (t: tf.Tensor) => {
        const [qq, kk, vv] = splitHeads(t as tf.Tensor3D, 3, heads);
        return tf.sum(tf.square(mergeHeads(attentionCore(qq, kk, vv, { bias, numHeads: heads }), heads)));
      };
      keep(tf.grad(loss)(tokens));
      // a weight shared by every group (smallBatchMatMul with a broadcast operand)
      keep(smallBatchMatMul(q, tf.randomNormal([1, d, 40], 0, 1, 'float32', seed + 4) as tf.Tensor3D));
      // LayerNorm and GELU over the stage's tokens (and an MLP-sized GELU), with gradients
      const x = tf.reshape(tf.slice(tokens, [0, 0, 0], [B * nW, N, C]), [B * nW * N, C]);
      const gamma = tf.randomNormal([C], 1, 0.1, 'float32', seed + 5);
      const beta = tf.randomNormal([C], 0, 0.1, 'float32', seed + 6);
      keep(layerNorm(x, gamma, beta, 1e-5));
      const h = tf.randomNormal([B * nW * N, 4 * C], 0, 2, 'float32', seed + 7);
      keep(gelu(h));
      keep(tf.grad((t: tf.Tensor) => tf.sum(tf.mul(gelu(t), h)))(h));
      keep(tf.grad((t: tf.Tensor) => tf.sum(tf.square(layerNorm(t, gamma, beta, 1e-5))))(x));
    });
  }
  return out;
}

beforeAll(async () => {
  // vite pre-bundles tfjs-backend-wasm, so its .wasm files are not next to the module: give their URLs
  setWasmPaths({
    'tfjs-backend-wasm.wasm': plainWasm,
    'tfjs-backend-wasm-simd.wasm': simdWasm,
    'tfjs-backend-wasm-threaded-simd.wasm': threadedWasm,
  });
  // the pool starts later (after the single-threaded reference run)
  const info = await initWasmBackend({ threads: 2, kernelThreads: 1 });
  expect(info).toMatchObject({ threads: 2, kernelThreads: 1, crossOriginIsolated: true, warning: null });
});

describe('kernel pool on the threaded tfjs-wasm build (2 threads)', () => {
  it('runs on a shared heap', () => {
    expect(crossOriginIsolated).toBe(true);
    expect(getThreadsCount()).toBe(2);
    const memory = wasmMemoryOf(tf.engine().findBackend('wasm'));
    expect(memory && isSharedMemory(memory)).toBe(true);
  });

  it('gives bit-identical attention, head split / merge, LayerNorm and GELU (forward and backward), without leaks', async () => {
    setWasmKernelThreads(1);
    const ref = compute();
    expect(wasmKernelPool()).toBeNull();

    setWasmKernelThreads('auto');
    expect(await wasmKernelPoolReady()).toBe(2);
    const pool = wasmKernelPool();
    expect(pool?.isActive).toBe(true);
    const before = tf.memory().numTensors;
    const got = compute();
    expect(tf.memory().numTensors).toBe(before);
    // the workers took part (the calling thread also claims tasks, so not all of them)
    expect(pool!.workerTasks).toBeGreaterThan(0);

    expect(got.length).toBe(ref.length);
    for (const [i, r] of ref.entries()) {
      const g = got[i];
      expect(g.length).toBe(r.length);
      let diff = 0;
      for (let j = 0; j < r.length; j++) if (!Object.is(g[j], r[j])) diff++;
      expect(diff, `output ${i}`).toBe(0);
    }
  });

  it('unregisterWasmKernels terminates the pool; kernels then run single-threaded', async () => {
    setWasmKernelThreads('auto');
    expect(await wasmKernelPoolReady()).toBe(2);
    const pool = wasmKernelPool();
    unregisterWasmKernels();
    expect(pool?.isActive).toBe(false);
    expect(wasmKernelPool()).toBeNull();
  });
});
