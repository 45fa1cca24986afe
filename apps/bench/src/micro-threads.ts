/**
 * Kernel-level A/B of @swin/wasm's kernel pool (wasm in a cross-origin-isolated page, threaded build):
 * each kernel at a Swin-T 224 shape, timed with the kernels single-threaded (`setWasmKernelThreads(1)`) and
 * on the pool (`'auto'`) in INTERLEAVED rounds, so that load from other processes on a shared machine hits
 * both variants alike. A sample is the mean of `reps` synchronous calls (tfjs-wasm runs kernels on the
 * calling thread; nothing is read back).
 */

import { attentionCore, gelu, layerNorm, splitHeads } from '@swin/nn';
import { getWasmKernelThreads, setWasmKernelThreads, wasmKernelPoolReady } from '@swin/wasm';
import { attentionMacs, swinTAttentionShapes } from './plan.js';
import { type BenchRecord, makeRecord } from './records.js';
import type { Log } from './runner.js';
import { tf } from './runner.js';
import { summarize } from './stats.js';

interface KernelCase {
  name: string;
  /** feature-map side of the stage (the record's `size`) */
  size: number;
  macs: number | null;
  /** one call (run inside a tidy; its output is disposed) */
  call: () => unknown;
  inputs: tf.Tensor[];
}

function cases(): KernelCase[] {
  const out: KernelCase[] = [];
  for (const s of swinTAttentionShapes(224)) {
    const G = s.nW * s.nH;
    const q = tf.randomNormal([G, s.N, s.d]) as tf.Tensor3D;
    const k = tf.randomNormal([G, s.N, s.d]) as tf.Tensor3D;
    const v = tf.randomNormal([G, s.N, s.d]) as tf.Tensor3D;
    const bias = tf.randomNormal([s.nH, s.N, s.N]);
    const mask = s.masked
      ? tf.tidy(() => tf.mul(tf.cast(tf.greater(tf.randomUniform([s.nW, s.N, s.N]), 0.6), 'float32'), -100))
      : null;
    out.push({
      name: `attention/s${s.stage}`,
      size: 56 / 2 ** (s.stage - 1),
      macs: attentionMacs(G, s.N, s.N, s.d, s.d),
      call: () => attentionCore(q, k, v, { bias, mask, impl: 'kernel' }),
      inputs: [q, k, v, bias, ...(mask ? [mask] : [])],
    });
  }
  for (let stage = 1; stage <= 3; stage++) {
    const res = 56 / 2 ** (stage - 1);
    const C = 96 * 2 ** (stage - 1);
    const tokens = res * res;
    const x = tf.randomNormal([tokens, C]);
    const gamma = tf.ones([C]);
    const beta = tf.zeros([C]);
    const hidden = tf.randomNormal([tokens, 4 * C]);
    const qkv = tf.randomNormal([tokens / 49, 49, 3 * C]) as tf.Tensor3D;
    out.push(
      {
        name: `layer_norm/s${stage}`,
        size: res,
        macs: null,
        call: () => layerNorm(x, gamma, beta, 1e-5, { impl: 'kernel' }),
        inputs: [x, gamma, beta],
      },
      {
        name: `gelu/s${stage}`,
        size: res,
        macs: null,
        call: () => gelu(hidden, { impl: 'kernel' }),
        inputs: [hidden],
      },
      {
        name: `split_heads/s${stage}`,
        size: res,
        macs: null,
        call: () => splitHeads(qkv, 3, 3 * 2 ** (stage - 1), { impl: 'kernel' }),
        inputs: [qkv],
      },
    );
  }
  return out;
}

/** Interleaved A/B of every kernel case: `rounds` rounds of `samples` samples per setting. */
export async function benchKernelThreads(
  matmulGflops: number | null,
  log: Log,
  opts: { rounds?: number; samples?: number; targetMs?: number } = {},
): Promise<BenchRecord[]> {
  const rounds = opts.rounds ?? 8;
  const perRound = opts.samples ?? 3;
  const targetMs = opts.targetMs ?? 20;
  const settings: (1 | 'auto')[] = [1, 'auto'];
  const before = getWasmKernelThreads();
  const out: BenchRecord[] = [];
  const all = cases();
  const use = async (s: 1 | 'auto') => {
    setWasmKernelThreads(s);
    return wasmKernelPoolReady();
  };
  try {
    for (const c of all) {
      // tidy returns (and keeps) what the callback returns: wrap so the output is disposed too
      const once = () =>
        tf.tidy(() => {
          c.call();
        });
      // reps so that one sample lasts about targetMs (judged single-threaded)
      await use(1);
      once();
      const t0 = performance.now();
      once();
      const reps = Math.max(1, Math.min(200, Math.round(targetMs / Math.max(performance.now() - t0, 0.01))));
      const samples = new Map<1 | 'auto', number[]>(settings.map((s) => [s, []]));
      const threadsOf = new Map<1 | 'auto', number>();
      for (let r = 0; r < rounds; r++) {
        for (const s of r % 2 === 0 ? settings : [...settings].reverse()) {
          threadsOf.set(s, await use(s));
          once();
          for (let i = 0; i < perRound; i++) {
            const t = performance.now();
            for (let j = 0; j < reps; j++) once();
            samples.get(s)?.push((performance.now() - t) / reps);
          }
        }
      }
      const p50: number[] = [];
      for (const s of settings) {
        const summary = summarize(samples.get(s) ?? []);
        p50.push(summary.p50);
        const rec = makeRecord({
          model: `kernel_threads/${c.name}`,
          backend: 'wasm',
          batch: 1,
          size: c.size,
          mode: 'forward',
          summary,
          macs: c.macs,
          matmulGflops,
          peakBytes: null,
          variant: `kernel-threads=${threadsOf.get(s)}`,
        });
        out.push({ ...rec, kernel_threads: threadsOf.get(s) ?? 1 });
      }
      log(
        `kernel_threads/${c.name}: 1 thread ${p50[0].toFixed(3)} ms, pool (${threadsOf.get('auto')}) ` +
          `${p50[1].toFixed(3)} ms, speed-up ${(p50[0] / p50[1]).toFixed(2)}x (${reps} calls per sample)`,
      );
    }
  } finally {
    for (const c of all) tf.dispose(c.inputs);
    setWasmKernelThreads(before);
  }
  return out;
}
