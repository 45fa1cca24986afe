import { getThreadsCount } from '@tensorflow/tfjs-backend-wasm';
import * as tf from '@tensorflow/tfjs-core';
import { isSharedMemory, type KernelModule, wasmMemoryOf } from './asm.js';
import {
  KernelPool,
  type KernelPoolOptions,
  MAX_POOL_TASKS,
  MAX_POOL_WORKERS,
  type PoolTask,
} from './pool.js';

/**
 * Threads for this package's own kernels (not tfjs's): on tfjs-wasm's threaded build (a
 * cross-origin-isolated page) the kernels' heap is a shared `WebAssembly.Memory`, so a {@link KernelPool}
 * of workers can run parts of one kernel call on it. This file keeps one pool per memory, the thread
 * setting, and the list of kernel modules the workers instantiate. Everywhere else (Node, pages that are
 * not isolated, one thread) nothing changes: the kernels run on the calling thread.
 */

/** A kernel module the pool's workers instantiate, and its index in the pool. */
export interface ThreadedModule {
  readonly index: number;
  readonly module: KernelModule<unknown>;
}

const modules: KernelModule<unknown>[] = [];

/**
 * Adds `module` to the modules every pool's workers instantiate (call once per module, at load time,
 * before a pool is created; pools created earlier do not know it and run its tasks on the calling thread).
 */
export function threadedModule<E>(module: KernelModule<E>): ThreadedModule {
  const m = module as unknown as KernelModule<unknown>;
  let index = modules.indexOf(m);
  if (index < 0) index = modules.push(m) - 1;
  return { index, module: m };
}

/** The thread setting: 'auto' follows tfjs-wasm's thread count, a number fixes it. */
export type KernelThreads = number | 'auto';

/** Opt-in: measured on a loaded 2-core machine the pool did not pay (see the package README). */
let setting: KernelThreads = 1;
let poolOptions: KernelPoolOptions = {};
const pools = new Map<WebAssembly.Memory, KernelPool>();
/** memories a pool could not be created for (not retried) */
const failed = new WeakSet<WebAssembly.Memory>();

/**
 * Chooses how many threads run this package's kernels on tfjs-wasm's threaded build (the calling thread
 * plus `threads - 1` workers): `'auto'` uses tfjs-wasm's own thread count (`tf.wasm.getThreadsCount()`, see
 * `setWasmThreads`), `1` (the default: opt-in, see the package README for the measurements) keeps them
 * single-threaded. Takes effect at the
 * next kernel call (with 1, an existing pool's workers sleep until asked again; a pool of another size is
 * terminated; `disposeWasmKernelPools()` / `unregisterWasmKernels()` terminate it). Has no effect where tfjs-wasm's heap
 * is not shared (Node, pages that are not cross-origin isolated).
 *
 * @param threads `'auto'` or an integer from 1 to 8.
 */
export function setWasmKernelThreads(threads: KernelThreads): void {
  if (threads !== 'auto' && (!Number.isInteger(threads) || threads < 1 || threads > MAX_POOL_WORKERS + 1)) {
    throw new Error(
      `setWasmKernelThreads: threads must be 'auto' or an integer from 1 to ${MAX_POOL_WORKERS + 1}, got ${threads}`,
    );
  }
  setting = threads;
  // 1 thread: the workers stay asleep (Atomics.wait) until asked again; another size: a new pool
  const want = wantedThreads();
  for (const [memory, pool] of pools) {
    if (want > 1 && pool.threads !== want) {
      pool.dispose();
      pools.delete(memory);
    }
  }
}

/** The current {@link setWasmKernelThreads} setting (default 1). */
export function getWasmKernelThreads(): KernelThreads {
  return setting;
}

/** @internal Worker start-up options of pools created from now on (tests: a Node `spawn`). */
export function setKernelPoolOptions(opts: KernelPoolOptions): void {
  poolOptions = opts;
}

/** The thread count the setting asks for (1 when tfjs-wasm is not initialised). */
function wantedThreads(): number {
  if (setting !== 'auto') return setting;
  try {
    return Math.min(getThreadsCount(), MAX_POOL_WORKERS + 1);
  } catch {
    return 1;
  }
}

function canSpawn(): boolean {
  return poolOptions.spawn !== undefined || typeof Worker !== 'undefined';
}

/**
 * The pool for `memory` when kernel calls on it should be split, else null. Creates the pool on the
 * first call that could use one (its workers start asynchronously: null until they are ready).
 */
export function poolFor(memory: WebAssembly.Memory): KernelPool | null {
  const threads = wantedThreads();
  if (threads < 2) return null;
  let pool = pools.get(memory);
  if (pool) return pool.isActive ? pool : null;
  if (!isSharedMemory(memory) || !canSpawn() || failed.has(memory)) return null;
  try {
    pool = new KernelPool(
      memory,
      modules.map((m) => m.compiled(true)),
      threads - 1,
      poolOptions,
    );
  } catch (e) {
    failed.add(memory);
    console.warn(`@swin/wasm: kernels stay single-threaded: ${(e as Error).message}`);
    return null;
  }
  pools.set(memory, pool);
  pool.ready.catch((e: Error) => console.warn(`@swin/wasm: kernels stay single-threaded: ${e.message}`));
  return null;
}

/** Runs `tasks` of `module` on `pool` (or here, in order, when `pool` is null). */
export function runTasks(
  pool: KernelPool | null,
  m: ThreadedModule,
  local: Record<string, (...args: number[]) => void>,
  tasks: readonly { fn: string; args: readonly number[] }[],
): void {
  if (!pool || tasks.length < 2 || m.index >= pool.modules.length) {
    for (const t of tasks) local[t.fn](...t.args);
    return;
  }
  const run: PoolTask[] = tasks.map((t) => ({
    module: m.index,
    fn: pool.fnIndex(m.index, t.fn),
    args: t.args,
  }));
  for (let i = 0; i < run.length; i += MAX_POOL_TASKS) pool.run(run.slice(i, i + MAX_POOL_TASKS));
}

/**
 * `local` (a module instance's exports) with every function that `split` can cut running its tasks on
 * `pool`; the others (split gives null) run here as they are.
 */
export function splitExports<E extends object>(
  pool: KernelPool,
  m: ThreadedModule,
  local: E,
  split: (
    fn: string,
    args: readonly number[],
    threads: number,
  ) => readonly { fn: string; args: number[] }[] | null,
): E {
  const fns = local as unknown as Record<string, (...args: number[]) => void>;
  const out: Record<string, (...args: number[]) => void> = {};
  for (const name of Object.keys(fns)) {
    out[name] = (...args: number[]) => {
      const tasks = split(name, args, pool.threads);
      if (tasks) runTasks(pool, m, fns, tasks);
      else fns[name](...args);
    };
  }
  return out as unknown as E;
}

/**
 * Starts the kernel pool for the initialised tfjs-wasm backend (if one applies, see
 * {@link setWasmKernelThreads}) and resolves to the number of threads this package's kernels run on: 1 in
 * Node, on pages that are not cross-origin isolated, or with one thread; otherwise the pool's size once
 * its workers are ready.
 *
 * @throws if the workers cannot start (the kernels then keep running single-threaded).
 */
export async function wasmKernelPoolReady(): Promise<number> {
  const be = tf.engine().findBackend('wasm');
  const memory = be ? wasmMemoryOf(be) : null;
  if (!memory || wantedThreads() < 2) return 1;
  poolFor(memory);
  const pool = pools.get(memory);
  if (!pool) return 1;
  await pool.ready;
  return pool.threads;
}

/**
 * Threads this package's kernels run on right now on the tfjs-wasm backend: the kernel pool's size when
 * its workers are ready, else 1 (Node, pages that are not cross-origin isolated, one thread, pool starting).
 */
export function wasmKernelThreads(): number {
  const pool = wasmKernelPool();
  return pool?.isActive && wantedThreads() > 1 ? pool.threads : 1;
}

/** @internal The kernel pool of the initialised tfjs-wasm backend, if one exists (tests, benchmarks). */
export function wasmKernelPool(): KernelPool | null {
  const be = tf.engine().findBackend('wasm');
  const memory = be ? wasmMemoryOf(be) : null;
  return (memory && pools.get(memory)) ?? null;
}

/** Terminates every kernel pool (the kernels run single-threaded until a pool is created again). */
export function disposeWasmKernelPools(): void {
  for (const pool of pools.values()) pool.dispose();
  pools.clear();
}
