/**
 * Measurement code shared by the Node runner (cpu, wasm) and the browser page (webgl, webgpu).
 * Every step awaits its result's data, so asynchronous backends are timed to completion.
 */
import { adam } from '@swin/nn';
import * as tf from '@tensorflow/tfjs';
import type { BenchModel } from './models.js';
import type { Mode, Optimizer } from './records.js';
import { gflops, type Summary, summarize } from './stats.js';

export type Log = (msg: string) => void;

export interface TimingConfig {
  warmup: number;
  runs: number;
  /** stop after this many ms of timed runs once MIN_RUNS are done */
  budgetMs: number;
  profile: boolean;
  log: Log;
}

export interface Timing {
  summary: Summary;
  /** peak tfjs tensor bytes during the profiled warm-up run */
  peakBytes: number | null;
}

/** Timed runs done even when the budget is exhausted. */
export const MIN_RUNS = 1;

const now = (): number => performance.now();

/**
 * Runs `step` `warmup` times (the first under `tf.profile` for peak memory, and the kernel breakdown
 * with `profile`), then up to `runs` timed times (stopping early once the budget is spent).
 */
export async function timeSteps(
  step: () => Promise<void>,
  cfg: TimingConfig,
  label: string,
): Promise<Timing> {
  let peakBytes: number | null = null;
  let lastWarm = 0;
  for (let i = 0; i < Math.max(1, cfg.warmup); i++) {
    const t0 = now();
    if (i > 0) {
      await step();
      lastWarm = now() - t0;
      continue;
    }
    const info = await tf.profile(step);
    lastWarm = now() - t0;
    peakBytes = Number.isFinite(info.peakBytes) ? info.peakBytes : null;
    cfg.log(`${label}: profiled warm-up ${(now() - t0).toFixed(0)} ms, ${info.kernels.length} kernels`);
    if (cfg.profile) {
      const byName = new Map<string, { ms: number; n: number }>();
      for (const k of info.kernels) {
        const e = byName.get(k.name) ?? { ms: 0, n: 0 };
        e.ms += typeof k.kernelTimeMs === 'number' ? k.kernelTimeMs : 0;
        e.n++;
        byName.set(k.name, e);
      }
      const top = [...byName.entries()].sort((a, b) => b[1].ms - a[1].ms).slice(0, 12);
      for (const [name, e] of top) cfg.log(`  ${name.padEnd(28)} ${e.ms.toFixed(1).padStart(9)} ms  x${e.n}`);
    }
  }
  // as many runs as fit the budget (judged by the last warm-up), at least MIN_RUNS, at most cfg.runs
  const planned = Math.max(MIN_RUNS, Math.min(cfg.runs, Math.floor(cfg.budgetMs / Math.max(lastWarm, 1e-3))));
  const samples: number[] = [];
  let total = 0;
  for (let i = 0; i < planned; i++) {
    const t0 = now();
    await step();
    const dt = now() - t0;
    samples.push(dt);
    total += dt;
    if (total > cfg.budgetMs && samples.length >= MIN_RUNS) break;
  }
  return { summary: summarize(samples), peakBytes };
}

/** GFLOP/s (median) of a 1024 x 1024 x 1024 matMul on the current backend. */
export async function measureMatmul(cfg: TimingConfig): Promise<number> {
  const n = 1024;
  const a = tf.randomNormal([n, n]) as tf.Tensor2D;
  const b = tf.randomNormal([n, n]) as tf.Tensor2D;
  try {
    const t = await timeSteps(
      async () => {
        const c = tf.matMul(a, b);
        await c.data();
        c.dispose();
      },
      { ...cfg, profile: false },
      `${tf.getBackend()} matMul 1024^3`,
    );
    return gflops(2 * n ** 3, t.summary.p50);
  } finally {
    tf.dispose([a, b]);
  }
}

/**
 * Times one model case. forward: `model.forward` in eval mode. train: in train mode, softmax
 * cross-entropy against random labels, gradients of every trainable variable and one Adam step
 * (`optimizer` 'swin' (default): `adam()` of @swin/nn, its fused kernel where registered; 'tfjs': `tf.train.adam`).
 */
export async function benchModel(
  model: BenchModel,
  c: { batch: number; size: number; mode: Mode; optimizer?: Optimizer },
  cfg: TimingConfig,
  label: string,
): Promise<Timing> {
  const x = tf.randomNormal([c.batch, c.size, c.size, 3]) as tf.Tensor4D;
  try {
    if (c.mode === 'forward') {
      model.eval();
      return await timeSteps(
        async () => {
          const y = tf.tidy(() => model.forward(x));
          await y.data();
          y.dispose();
        },
        cfg,
        label,
      );
    }
    const classes = model.numClasses;
    if (!(classes > 0)) throw new Error(`model has no classifier head (numClasses ${classes})`);
    const vars = model.trainableVariables();
    const labels = tf.tidy(() =>
      tf.oneHot(tf.randomUniform([c.batch], 0, classes, 'int32') as tf.Tensor1D, classes),
    );
    const opt = c.optimizer === 'tfjs' ? tf.train.adam(1e-4) : adam(1e-4);
    model.train();
    try {
      return await timeSteps(
        async () => {
          opt.minimize(
            () => tf.losses.softmaxCrossEntropy(labels, model.forward(x)) as tf.Scalar,
            false,
            vars,
          );
          // the last update is queued after everything else: its data means the step is done
          await vars[vars.length - 1].data();
        },
        cfg,
        label,
      );
    } finally {
      model.eval();
      opt.dispose();
      labels.dispose();
    }
  } finally {
    x.dispose();
  }
}

/** Sets and initialises a tfjs backend; false if it is not available here. */
export async function switchBackend(name: string): Promise<boolean> {
  try {
    if (tf.getBackend() !== name) {
      const ok = await tf.setBackend(name);
      if (!ok) return false;
    }
    await tf.ready();
    return tf.getBackend() === name;
  } catch {
    return false;
  }
}

export { tf };
