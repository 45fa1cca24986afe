/** Runs everything planned for ONE backend (in Node or in the browser page). */

import {
  registerWasmKernels,
  setWasmKernelThreads,
  useFastWasmBatchMatMul,
  wasmKernelPoolReady,
  wasmKernelThreads,
} from '@swin/wasm';
import { getThreadsCount } from '@tensorflow/tfjs-backend-wasm';
import { benchShiftPartition, benchWindowAttention } from './micro.js';
import { benchKernelThreads } from './micro-threads.js';
import { type BenchModel, createModel } from './models.js';
import type { ModelCase } from './plan.js';
import {
  type BenchRecord,
  type Environment,
  type Mode,
  makeRecord,
  type Optimizer,
  skippedRecord,
} from './records.js';
import { benchModel, type Log, measureMatmul, switchBackend, type TimingConfig, tf } from './runner.js';

/** Serializable description of one backend's work (passed to the browser page as JSON). */
export interface SuitePlan {
  backend: string;
  micro: boolean;
  /** model cases of this backend (ignored when `micro`) */
  cases: ModelCase[];
  /** micro-benchmark batches and modes */
  batches: number[];
  modes: Mode[];
  timing: { warmup: number; runs: number; budgetMs: number; profile: boolean };
  /** wasm only: install useFastWasmBatchMatMul for the duration of the suite */
  fastBmm?: boolean;
  /** train mode's Adam (default 'swin') */
  optimizer?: Optimizer;
  /** where the suite runs (default 'node') */
  environment?: Environment;
  /** wasm in the browser: @swin/wasm's setWasmKernelThreads for the duration of the suite */
  kernelThreads?: number | 'auto';
}

/** Threads `backend` computes with right now: tfjs-wasm's pool size, 1 for cpu, null otherwise. */
function threadsOf(backend: string): number | null {
  if (backend === 'cpu') return 1;
  if (backend !== 'wasm') return null;
  try {
    return getThreadsCount();
  } catch {
    return null;
  }
}

function errorText(e: unknown): string {
  const msg = e instanceof Error ? e.message : String(e);
  return msg.split('\n')[0].slice(0, 300);
}

export async function runSuite(plan: SuitePlan, log: Log): Promise<BenchRecord[]> {
  const records = await runSuiteUnstamped(plan, log);
  const environment = plan.environment ?? 'node';
  const threads = threadsOf(plan.backend);
  // the threads @swin/wasm's kernels ran on (its kernel pool: browser, threaded build only)
  const stamp = plan.backend === 'wasm' && environment === 'browser';
  const kernelThreads = stamp ? wasmKernelThreads() : 1;
  return records.map((r) => ({
    ...r,
    environment,
    threads,
    ...(stamp ? { kernel_threads: r.kernel_threads ?? kernelThreads } : {}),
  }));
}

async function runSuiteUnstamped(plan: SuitePlan, log: Log): Promise<BenchRecord[]> {
  const { backend } = plan;
  const cfg: TimingConfig = { ...plan.timing, log };
  const records: BenchRecord[] = [];
  // the WebAssembly kernels of @swin/wasm for 'wasm' and 'cpu' (the fast paths of @swin/nn)
  registerWasmKernels();
  if (!(await switchBackend(backend))) {
    log(`${backend}: backend not available`);
    const status = `unavailable: backend '${backend}' could not be initialised`;
    if (!plan.micro) for (const c of plan.cases) records.push(skippedRecord(c, status));
    return records;
  }
  if (backend === 'wasm' && plan.environment === 'browser') {
    // @swin/wasm's kernel pool (threaded build): started and ready before anything is timed
    if (plan.kernelThreads !== undefined) setWasmKernelThreads(plan.kernelThreads);
    try {
      log(`wasm: @swin/wasm kernels on ${await wasmKernelPoolReady()} thread(s)`);
    } catch (e) {
      log(`wasm: @swin/wasm kernel pool did not start: ${errorText(e)}`);
    }
  }
  let restore: (() => void) | null = null;
  if (plan.fastBmm && backend === 'wasm') {
    restore = useFastWasmBatchMatMul();
    log('wasm: BatchMatMul replaced by the SIMD kernel for batched / transposed products (--fast-bmm)');
  }
  try {
    return await runInstalled(plan, cfg, log, records, restore !== null);
  } finally {
    restore?.();
  }
}

async function runInstalled(
  plan: SuitePlan,
  cfg: TimingConfig,
  log: Log,
  records: BenchRecord[],
  fastBmm: boolean,
): Promise<BenchRecord[]> {
  const { backend } = plan;
  let matmul: number | null = null;
  try {
    matmul = await measureMatmul(cfg);
    log(`${backend}: matMul 1024^3 ${matmul.toFixed(2)} GFLOP/s`);
  } catch (e) {
    log(`${backend}: matMul failed: ${errorText(e)}`);
  }
  if (plan.micro) {
    if (backend === 'wasm' && plan.environment === 'browser' && (threadsOf('wasm') ?? 1) > 1) {
      // @swin/wasm's kernel pool: single-threaded vs pool, interleaved
      records.push(...(await benchKernelThreads(matmul, log)));
    }
    records.push(...(await benchWindowAttention(backend, plan.batches, plan.modes, cfg, matmul, log)));
    records.push(...(await benchShiftPartition(backend, plan.batches, plan.modes, cfg, matmul, log)));
    return records;
  }
  // one model build per (model, size)
  const groups = new Map<string, ModelCase[]>();
  for (const c of plan.cases) {
    const key = `${c.model}@${c.size}`;
    groups.set(key, [...(groups.get(key) ?? []), c]);
  }
  for (const cases of groups.values()) {
    const { model: id, size } = cases[0];
    let model: BenchModel;
    let macs: number | null = null;
    try {
      const t0 = performance.now();
      model = await createModel(id, size);
      log(`${backend} ${id}@${size}: built in ${(performance.now() - t0).toFixed(0)} ms`);
    } catch (e) {
      const status = `unavailable: ${errorText(e)}`;
      log(`${backend} ${id}@${size}: ${status}`);
      for (const c of cases) records.push(skippedRecord(c, status));
      continue;
    }
    try {
      macs = model.macs(size, size);
    } catch (e) {
      log(`${backend} ${id}@${size}: macs() failed: ${errorText(e)}`);
    }
    for (const c of cases) {
      const label = `${backend} ${id}@${size} b${c.batch} ${c.mode}`;
      try {
        const optimizer = plan.optimizer ?? 'swin';
        const t = await benchModel(model, { ...c, optimizer }, cfg, label);
        const rec = makeRecord({
          ...c,
          summary: t.summary,
          macs: macs === null ? null : macs * c.batch,
          matmulGflops: matmul,
          peakBytes: t.peakBytes,
          variant: fastBmm ? 'fast-bmm' : undefined,
          optimizer,
        });
        log(`${label}: p50 ${rec.p50_ms} ms (${rec.runs} runs), ${rec.gflops ?? '-'} GFLOP/s`);
        records.push(rec);
      } catch (e) {
        log(`${label}: error: ${errorText(e)}`);
        records.push(skippedRecord(c, `error: ${errorText(e)}`));
      }
    }
    model.dispose();
    log(`${backend}: ${tf.memory().numTensors} tensors alive after ${id}@${size}`);
  }
  return records;
}
