/**
 * Timings of the fused kernels against the generic tfjs paths on webgpu, Swin-T shapes. Opt-in (slow,
 * and on SwiftShader the numbers only describe a CPU emulation):
 * `VITE_SWIN_WEBGPU_BENCH=1 npx vitest run --project webgpu-browser src/bench.browser.test.ts`
 */
import '@tensorflow/tfjs-backend-webgpu';
import { tf } from '@swin/testing';
import { shiftedWindowPartition, shiftedWindowReverse } from '@swin/window-ops';
import { describe, expect, it } from 'vitest';
import { fusedWindowAttention, registerSwinWebGPUKernels, unregisterSwinWebGPUKernels } from './index.js';

const enabled = !!(import.meta as { env?: Record<string, string | undefined> }).env?.VITE_SWIN_WEBGPU_BENCH;

async function median(fn: () => tf.Tensor, runs = 7): Promise<number> {
  for (let i = 0; i < 2; i++) {
    const t = fn();
    await t.data();
    t.dispose();
  }
  const ms: number[] = [];
  for (let i = 0; i < runs; i++) {
    const t0 = performance.now();
    const t = fn();
    await t.data();
    ms.push(performance.now() - t0);
    t.dispose();
  }
  ms.sort((a, b) => a - b);
  return ms[Math.floor(runs / 2)];
}

describe.runIf(enabled)('webgpu timings (Swin-T shapes)', () => {
  it('fused vs generic', async () => {
    expect(await tf.setBackend('webgpu')).toBe(true);
    await tf.ready();
    const rows: string[] = [];
    const stages = [
      { name: 'stage 1', H: 56, C: 96, nH: 3 },
      { name: 'stage 3', H: 14, C: 384, nH: 12 },
    ];
    for (const { name, H, C, nH } of stages) {
      const ws = 7;
      const s = 3;
      const nW = (H / ws) ** 2;
      const N = ws * ws;
      const hd = C / nH;
      const G = nW * nH;
      const x = tf.randomNormal([1, H, H, C]) as tf.Tensor4D;
      const q = tf.randomNormal([G, N, hd]) as tf.Tensor3D;
      const k = tf.randomNormal([G, N, hd]) as tf.Tensor3D;
      const v = tf.randomNormal([G, N, hd]) as tf.Tensor3D;
      const bias = tf.randomNormal([nH, N, N]);
      const mask = tf.where(tf.greater(tf.randomUniform([nW, N, N]), 0.5), tf.scalar(-100), tf.scalar(0));
      const time = async (label: string, fn: () => tf.Tensor) => {
        registerSwinWebGPUKernels();
        const fused = await median(fn);
        unregisterSwinWebGPUKernels();
        const generic = await median(fn);
        rows.push(`${name} ${label}: fused ${fused.toFixed(1)} ms, generic ${generic.toFixed(1)} ms`);
      };
      await time(`shifted partition+reverse [1,${H},${H},${C}] w7 s3`, () =>
        tf.tidy(() => shiftedWindowReverse(shiftedWindowPartition(x, ws, s), ws, s, H, H)),
      );
      await time(`window attention G=${G} N=${N} d=${hd} (bias+mask)`, () =>
        fusedWindowAttention(q, k, v, { bias, mask, numHeads: nH }),
      );
      tf.dispose([x, q, k, v, bias, mask]);
    }
    console.log(rows.join('\n'));
  });
});
