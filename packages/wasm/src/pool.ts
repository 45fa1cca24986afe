/**
 * A small pool of workers that run this package's generated kernel modules on ONE shared
 * `WebAssembly.Memory` (the heap of tfjs-wasm's threaded build), so that a kernel call can be split
 * into independent tasks (groups of a batched GEMM, row ranges of LayerNorm / GELU) and run on several
 * cores. Generic: it knows modules, exported functions and argument lists, nothing about tfjs.
 *
 * Protocol (one `SharedArrayBuffer` control block, see the `C_*` indices):
 * - the main thread writes the tasks (module, function, arguments as float64) into the task table, resets
 *   `DONE`, publishes the claim word `CLAIM = gen << 14 | count << 7 | next` and bumps `GEN` (+ notify);
 * - every participant (the main thread included) claims tasks with `compareExchange` on `CLAIM` until
 *   `next == count`, runs each, and adds 1 to `DONE`; a trap in a worker sets `ERROR` (and still counts);
 * - the main thread, which may not block in a browser, spins on `Atomics.load(DONE)` (as Emscripten's
 *   pthreads do); workers spin a little, then sleep in `Atomics.wait(GEN)`.
 * A task never depends on another one, so results do not depend on which thread ran what.
 *
 * Workers are created from inline source (a Blob URL in the browser, `eval` in Node's worker_threads):
 * nothing extra to serve. Start-up is asynchronous; {@link KernelPool.ready} resolves when every worker
 * has instantiated the modules, and until then `run` executes everything on the calling thread.
 *
 * @internal
 */

/** Most tasks one `run` can take (the claim word keeps 7 bits each for count and next). */
export const MAX_POOL_TASKS = 64;
/** Most float64 arguments of one task (the SwinSmallGemm `attn` entry takes 24). */
export const MAX_TASK_ARGS = 29;
/** Most workers of one pool. */
export const MAX_POOL_WORKERS = 7;

const C_GEN = 0;
const C_CLAIM = 1;
const C_DONE = 2;
const C_ERROR = 3;
const C_STOP = 4;
/** tasks run by workers so far (statistics) */
const C_WORKER_TASKS = 5;
/** float64 slots per task: module, function, argument count, arguments */
const TASK_SLOTS = 3 + MAX_TASK_ARGS;
/** byte offset of the task table in the control block */
const TASK_BASE = 64;
const CONTROL_BYTES = TASK_BASE + MAX_POOL_TASKS * TASK_SLOTS * 8;

/**
 * The worker program. Messages: `{ id, memory, modules, control, spin }` once; then it serves tasks
 * until `STOP` is set. Plain ES2017 so that no bundler or test transform touches it.
 */
const WORKER_SOURCE = `'use strict';
var C_GEN = ${C_GEN}, C_CLAIM = ${C_CLAIM}, C_DONE = ${C_DONE}, C_ERROR = ${C_ERROR}, C_STOP = ${C_STOP};
var C_WORKER_TASKS = ${C_WORKER_TASKS};
var TASK_SLOTS = ${TASK_SLOTS}, TASK_BASE8 = ${TASK_BASE / 8};
var nodePort = typeof self === 'undefined' ? require('node:worker_threads').parentPort : null;
function post(m) { if (nodePort) nodePort.postMessage(m); else self.postMessage(m); }
function start(d) {
  var ctl = new Int32Array(d.control), f64 = new Float64Array(d.control), fns;
  try {
    fns = d.modules.map(function (m) {
      var ex = new WebAssembly.Instance(m, { env: { memory: d.memory } }).exports;
      return WebAssembly.Module.exports(m).filter(function (e) { return e.kind === 'function'; })
        .map(function (e) { return ex[e.name]; });
    });
  } catch (e) { post({ id: d.id, error: String(e && e.message || e) }); return; }
  // read the generation BEFORE saying ready: the first run may start as soon as the message arrives
  var seen = Atomics.load(ctl, C_GEN), args = [];
  post({ id: d.id, ready: true });
  for (;;) {
    var g = Atomics.load(ctl, C_GEN);
    for (var s = 0; g === seen && s < d.spin; s++) g = Atomics.load(ctl, C_GEN);
    if (g === seen) { Atomics.wait(ctl, C_GEN, seen); continue; }
    seen = g;
    if (Atomics.load(ctl, C_STOP) !== 0) return;
    for (;;) {
      var v = Atomics.load(ctl, C_CLAIM), next = v & 127, count = (v >>> 7) & 127;
      if (next >= count) break;
      if (Atomics.compareExchange(ctl, C_CLAIM, v, v + 1) !== v) continue;
      var base = TASK_BASE8 + next * TASK_SLOTS, n = f64[base + 2];
      args.length = n;
      for (var i = 0; i < n; i++) args[i] = f64[base + 3 + i];
      try { fns[f64[base]][f64[base + 1]].apply(null, args); }
      catch (e) { Atomics.store(ctl, C_ERROR, 1); post({ id: d.id, taskError: String(e && e.message || e) }); }
      Atomics.add(ctl, C_WORKER_TASKS, 1);
      Atomics.add(ctl, C_DONE, 1);
    }
  }
}
if (nodePort) nodePort.once('message', start);
else self.onmessage = function (e) { self.onmessage = null; start(e.data); };
`;

/** A started worker, as the pool sees it. */
export interface PoolWorker {
  postMessage(message: unknown): void;
  terminate(): void;
}

/**
 * Starts a worker running `source` (classic script); `onMessage` gets its messages, `onError` its
 * uncaught errors. The browser default is {@link spawnBrowserWorker}; Node tests pass one built on
 * `worker_threads` (`new Worker(source, { eval: true })`).
 */
export type SpawnWorker = (
  source: string,
  onMessage: (data: unknown) => void,
  onError: (message: string) => void,
) => PoolWorker;

/** A dedicated worker from a Blob URL (no file to serve; allowed on cross-origin-isolated pages). */
export const spawnBrowserWorker: SpawnWorker = (source, onMessage, onError) => {
  const url = URL.createObjectURL(new Blob([source], { type: 'text/javascript' }));
  try {
    const w = new Worker(url, { name: 'swin-wasm-kernels' });
    w.onmessage = (e) => onMessage(e.data);
    w.onerror = (e) => onError(e.message || 'worker error');
    return w;
  } finally {
    // the worker has fetched (or holds) the script; the URL is not needed any more
    setTimeout(() => URL.revokeObjectURL(url), 10_000);
  }
};

/** One task: `modules[module].exports[fn](...args)` (i32 arguments as integers, f32 ones as numbers). */
export interface PoolTask {
  module: number;
  fn: number;
  args: readonly number[];
}

/** Options of {@link KernelPool}. */
export interface KernelPoolOptions {
  /** how to start a worker (default {@link spawnBrowserWorker}) */
  spawn?: SpawnWorker;
  /** polls of the control word a worker makes before it sleeps in `Atomics.wait` (default 0) */
  spin?: number;
  /** a run that has not finished after this many ms is an error (default 60000) */
  timeoutMs?: number;
}

/**
 * `workers` workers sharing `memory`, each with an instance of every module in `modules` (compiled for
 * a shared memory). The calling thread takes part in every run, so `workers + 1` threads compute.
 */
export class KernelPool {
  /** resolves once every worker is ready (rejects if one fails to start) */
  readonly ready: Promise<void>;
  private readonly ctl: Int32Array;
  private readonly f64: Float64Array;
  private readonly workers: PoolWorker[] = [];
  private readonly local: ((...args: number[]) => void)[][];
  private readonly timeoutMs: number;
  private readonly exportNames: string[][];
  private active = false;
  private disposed = false;
  private failure: string | null = null;
  private gen = 0;

  constructor(
    readonly memory: WebAssembly.Memory,
    readonly modules: readonly WebAssembly.Module[],
    readonly workerCount: number,
    opts: KernelPoolOptions = {},
  ) {
    if (!(memory.buffer instanceof SharedArrayBuffer)) {
      throw new Error('KernelPool: the memory must be shared (the threaded tfjs-wasm build)');
    }
    if (!Number.isInteger(workerCount) || workerCount < 1 || workerCount > MAX_POOL_WORKERS) {
      throw new Error(
        `KernelPool: workers must be an integer from 1 to ${MAX_POOL_WORKERS}, got ${workerCount}`,
      );
    }
    const control = new SharedArrayBuffer(CONTROL_BYTES);
    this.ctl = new Int32Array(control);
    this.f64 = new Float64Array(control);
    this.timeoutMs = opts.timeoutMs ?? 60_000;
    this.exportNames = modules.map((m) =>
      WebAssembly.Module.exports(m)
        .filter((e) => e.kind === 'function')
        .map((e) => e.name),
    );
    this.local = modules.map((m, i) => {
      const ex = new WebAssembly.Instance(m, { env: { memory } }).exports;
      return this.exportNames[i].map((name) => ex[name] as (...args: number[]) => void);
    });
    const spawn = opts.spawn ?? spawnBrowserWorker;
    this.ready = new Promise<void>((resolve, reject) => {
      let pending = workerCount;
      const fail = (why: string) => {
        this.failure ??= why;
        this.active = false;
        // a pool with a worker that failed is never used: free the others
        for (const w of this.workers) w.terminate();
        this.workers.length = 0;
        reject(new Error(`@swin/wasm kernel worker: ${why}`));
      };
      try {
        for (let id = 0; id < workerCount; id++)
          this.startWorker(spawn, id, control, opts.spin ?? 0, {
            ok: () => {
              if (--pending === 0 && !this.disposed && this.failure === null) {
                this.active = true;
                resolve();
              }
            },
            fail,
          });
      } catch (e) {
        // e.g. a Content-Security-Policy without blob: in worker-src: no pool, kernels stay single-threaded
        fail(`cannot start a worker (${(e as Error)?.message ?? String(e)})`);
      }
    });
    // a rejection is reported through `ready` and `failure`; never as an unhandled rejection
    this.ready.catch(() => {});
  }

  private startWorker(
    spawn: SpawnWorker,
    id: number,
    control: SharedArrayBuffer,
    spin: number,
    on: { ok: () => void; fail: (why: string) => void },
  ): void {
    const w = spawn(
      WORKER_SOURCE,
      (data) => {
        const d = data as { ready?: boolean; error?: string; taskError?: string };
        if (d.taskError !== undefined) console.warn(`@swin/wasm kernel worker: ${d.taskError}`);
        else if (d.error !== undefined) on.fail(d.error);
        else if (d.ready) on.ok();
      },
      on.fail,
    );
    this.workers.push(w);
    w.postMessage({ id, memory: this.memory, modules: this.modules, control, spin });
  }

  /** Whether runs are split over the workers (they are all ready and the pool is not disposed). */
  get isActive(): boolean {
    return this.active;
  }

  /** Threads that compute in a run: the workers and the calling thread. */
  get threads(): number {
    return this.workerCount + 1;
  }

  /** Index of the exported function `name` of module `module` (for {@link PoolTask.fn}). */
  fnIndex(module: number, name: string): number {
    const i = this.exportNames[module]?.indexOf(name) ?? -1;
    if (i < 0) throw new Error(`KernelPool: module ${module} exports no function '${name}'`);
    return i;
  }

  /**
   * Runs the tasks (in any order, on any threads) and returns when all are done. On the calling thread
   * only while the pool is not active (workers still starting, failed, or disposed).
   *
   * `participate: false` (tests) leaves every task to the workers.
   *
   * @throws if a task traps (in a worker or here) or the run exceeds the time-out.
   */
  run(tasks: readonly PoolTask[], participate = true): void {
    if (tasks.length > MAX_POOL_TASKS) {
      throw new Error(`KernelPool.run: at most ${MAX_POOL_TASKS} tasks, got ${tasks.length}`);
    }
    if (!this.active || tasks.length <= 1) {
      for (const t of tasks) this.local[t.module][t.fn](...t.args);
      return;
    }
    const { ctl, f64 } = this;
    for (const [i, t] of tasks.entries()) {
      if (t.args.length > MAX_TASK_ARGS)
        throw new Error(`KernelPool.run: a task has ${t.args.length} arguments`);
      const base = TASK_BASE / 8 + i * TASK_SLOTS;
      f64[base] = t.module;
      f64[base + 1] = t.fn;
      f64[base + 2] = t.args.length;
      for (let j = 0; j < t.args.length; j++) f64[base + 3 + j] = t.args[j];
    }
    this.gen = (this.gen + 1) & 0x1ffff;
    Atomics.store(ctl, C_DONE, 0);
    Atomics.store(ctl, C_ERROR, 0);
    Atomics.store(ctl, C_CLAIM, (this.gen << 14) | (tasks.length << 7));
    Atomics.add(ctl, C_GEN, 1);
    Atomics.notify(ctl, C_GEN);
    let localError: unknown = null;
    while (participate) {
      const v = Atomics.load(ctl, C_CLAIM);
      const next = v & 127;
      if (next >= ((v >>> 7) & 127)) break;
      if (Atomics.compareExchange(ctl, C_CLAIM, v, v + 1) !== v) continue;
      const t = tasks[next];
      try {
        this.local[t.module][t.fn](...t.args);
      } catch (e) {
        localError ??= e;
      }
      Atomics.add(ctl, C_DONE, 1);
    }
    // the browser's main thread may not Atomics.wait: spin (the workers' share is small by construction)
    const deadline = performance.now() + this.timeoutMs;
    let polls = 0;
    while (Atomics.load(ctl, C_DONE) < tasks.length) {
      if ((++polls & 0xfff) === 0 && performance.now() > deadline) {
        this.failure = 'a kernel run did not finish in time';
        this.active = false;
        throw new Error(`@swin/wasm kernel pool: a run did not finish within ${this.timeoutMs} ms`);
      }
    }
    if (localError !== null) throw localError;
    if (Atomics.load(ctl, C_ERROR) !== 0) {
      throw new Error('@swin/wasm kernel pool: a kernel trapped in a worker (see the console)');
    }
  }

  /** Tasks the workers have run so far (the rest ran on the calling thread). */
  get workerTasks(): number {
    return Atomics.load(this.ctl, C_WORKER_TASKS);
  }

  /** Why the pool is not usable (a worker failed to start, a run timed out), or null. */
  get error(): string | null {
    return this.failure;
  }

  /** Stops and terminates the workers (idempotent); later runs execute on the calling thread. */
  dispose(): void {
    if (this.disposed) return;
    this.disposed = true;
    this.active = false;
    Atomics.store(this.ctl, C_STOP, 1);
    Atomics.add(this.ctl, C_GEN, 1);
    Atomics.notify(this.ctl, C_GEN);
    for (const w of this.workers) w.terminate();
    this.workers.length = 0;
  }
}
