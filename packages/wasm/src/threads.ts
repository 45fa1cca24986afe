import { getThreadsCount, setThreadsCount } from '@tensorflow/tfjs-backend-wasm';
import * as tf from '@tensorflow/tfjs-core';
import { registerWasmKernels } from './register.js';
import { type KernelThreads, setWasmKernelThreads, wasmKernelPoolReady } from './threaded.js';

/**
 * Threads for tfjs-wasm in the browser.
 *
 * tfjs-backend-wasm 4.22 loads its threaded SIMD build only on a cross-origin-isolated page
 * (`crossOriginIsolated`, i.e. served with `Cross-Origin-Opener-Policy: same-origin` and
 * `Cross-Origin-Embedder-Policy: require-corp`), and then sizes XNNPACK's pool from
 * `navigator.hardwareConcurrency` (half the logical cores, at most 4): on a 2-core machine that is ONE thread
 * whatever `tf.wasm.setThreadsCount` says. {@link setWasmThreads} makes the requested count stick by
 * reporting enough cores to the backend before it initialises. In Node tfjs-wasm never runs threads.
 */

/** What to tell a user whose page is not cross-origin isolated. */
export const CROSS_ORIGIN_ISOLATION_HELP =
  'serve the page with the headers "Cross-Origin-Opener-Policy: same-origin" and ' +
  '"Cross-Origin-Embedder-Policy: require-corp" (Vite: server.headers and preview.headers; assets from other ' +
  'origins then need CORS or "Cross-Origin-Resource-Policy: cross-origin"), see the "Backends and kernels" ' +
  'page of the @swin docs';

/** Largest thread count accepted (tfjs-wasm pre-allocates 8 workers). */
export const MAX_WASM_THREADS = 8;

/** Result of {@link setWasmThreads}. */
export interface WasmThreadsRequest {
  /** the count asked for */
  requested: number;
  /** whether this page can run tfjs-wasm's threaded build (`crossOriginIsolated`; false in Node) */
  crossOriginIsolated: boolean;
  /** why the request cannot be honoured (null when it can, as far as can be known before initialising) */
  warning: string | null;
}

function isBrowser(): boolean {
  return (
    typeof window !== 'undefined' ||
    typeof (globalThis as { importScripts?: unknown }).importScripts === 'function'
  );
}

function isolated(): boolean {
  return (globalThis as { crossOriginIsolated?: boolean }).crossOriginIsolated === true;
}

/** Whether tfjs-wasm's backend has been initialised already (threads can no longer change). */
function wasmInitialised(): boolean {
  try {
    getThreadsCount();
    return true;
  } catch {
    return false;
  }
}

/**
 * Chooses the number of threads tfjs-wasm's XNNPACK uses. Call it BEFORE the wasm backend initialises
 * (before `tf.setBackend('wasm')` / `tf.ready()`), or use {@link initWasmBackend}.
 *
 * Works on any machine, 2-core ones included: besides `tf.wasm.setThreadsCount(threads)` it makes
 * `navigator.hardwareConcurrency` report at least `2 * threads` (tfjs sizes its pool as half of it).
 * Threads only run on a cross-origin-isolated page; elsewhere (or in Node) the backend runs one thread and
 * the returned `warning` (also printed with `console.warn`) says why and how to fix it.
 *
 * @param threads 1..8.
 * @throws if `threads` is not an integer in 1..8, or if the wasm backend is already initialised.
 */
export function setWasmThreads(threads: number): WasmThreadsRequest {
  if (!Number.isInteger(threads) || threads < 1 || threads > MAX_WASM_THREADS) {
    throw new Error(
      `setWasmThreads: threads must be an integer from 1 to ${MAX_WASM_THREADS}, got ${threads}`,
    );
  }
  if (wasmInitialised()) {
    throw new Error(
      `setWasmThreads: the wasm backend is already initialised with ${getThreadsCount()} thread(s); ` +
        `call setWasmThreads(${threads}) before tf.setBackend('wasm') / tf.ready() (or use initWasmBackend)`,
    );
  }
  const coi = isolated();
  let warning: string | null = null;
  if (threads > 1 && !isBrowser()) {
    warning = `setWasmThreads(${threads}): tfjs-wasm runs one thread outside the browser (Node)`;
  } else if (threads > 1 && !coi) {
    warning =
      `setWasmThreads(${threads}): this page is not cross-origin isolated, so tfjs-wasm loads its ` +
      `single-threaded build and runs 1 thread; ${CROSS_ORIGIN_ISOLATION_HELP}`;
  }
  if (warning) console.warn(`@swin/wasm: ${warning}`);
  setThreadsCount(threads);
  const nav = (globalThis as { navigator?: { hardwareConcurrency?: number } }).navigator;
  if (nav && (nav.hardwareConcurrency ?? 0) < 2 * threads) {
    // tfjs-wasm 4.22 sizes XNNPACK's pool as min(4, max(1, hardwareConcurrency / 2)) threads (C side)
    try {
      Object.defineProperty(nav, 'hardwareConcurrency', { value: 2 * threads, configurable: true });
    } catch {
      // a frozen navigator: keep the machine's count
    }
  }
  return { requested: threads, crossOriginIsolated: coi, warning };
}

/** Options of {@link initWasmBackend}. */
export interface InitWasmBackendOptions {
  /** XNNPACK threads (see {@link setWasmThreads}); default: leave tfjs's own choice. */
  threads?: number;
  /** Register this package's kernels (default true). */
  registerKernels?: boolean;
  /**
   * Threads for this package's own kernels on the threaded build (see `setWasmKernelThreads`: 'auto' =
   * tfjs-wasm's thread count; default: the current setting, 1 unless changed). Ignored where the heap is
   * not shared (Node, pages that are not cross-origin isolated).
   */
  kernelThreads?: KernelThreads;
}

/** What {@link initWasmBackend} ended up with. */
export interface WasmBackendInfo {
  /** threads tfjs-wasm actually runs (`tf.wasm.getThreadsCount()`) */
  threads: number;
  crossOriginIsolated: boolean;
  /** threads this package's kernels run on (1, or the kernel pool's size once its workers are ready) */
  kernelThreads: number;
  /** the warning of {@link setWasmThreads} (or why the kernel pool did not start), if any */
  warning: string | null;
}

/**
 * One call to get a fast wasm backend: sets the thread count (before initialising), registers the kernels
 * of this package, switches tfjs to 'wasm' and waits for it; on the threaded build it also starts the
 * workers that run this package's kernels on several threads (`kernelThreads`) and waits for them.
 *
 * ```ts
 * import * as tf from '@tensorflow/tfjs';
 * import { initWasmBackend } from '@swin/wasm';
 * const { threads } = await initWasmBackend({ threads: 2 }); // 2 on a cross-origin-isolated page
 * ```
 *
 * @throws if the thread count is invalid, the backend is already initialised with another count, or
 *   tfjs cannot initialise 'wasm' (e.g. its .wasm files cannot be fetched: see `tf.wasm.setWasmPaths`).
 */
export async function initWasmBackend(opts: InitWasmBackendOptions = {}): Promise<WasmBackendInfo> {
  let warning: string | null = null;
  if (opts.threads !== undefined) {
    if (wasmInitialised()) {
      const have = getThreadsCount();
      if (have !== opts.threads && !(have === 1 && (!isolated() || !isBrowser()))) {
        throw new Error(
          `initWasmBackend: the wasm backend is already initialised with ${have} thread(s), ` +
            `${opts.threads} requested (threads are chosen once, before the backend initialises)`,
        );
      }
    } else {
      warning = setWasmThreads(opts.threads).warning;
    }
  }
  if (opts.registerKernels ?? true) registerWasmKernels();
  if (tf.getBackend() !== 'wasm') {
    const ok = await tf.setBackend('wasm');
    if (!ok) throw new Error("initWasmBackend: tfjs could not initialise the 'wasm' backend");
  }
  await tf.ready();
  if (opts.kernelThreads !== undefined) setWasmKernelThreads(opts.kernelThreads);
  let kernelThreads = 1;
  if (opts.registerKernels ?? true) {
    try {
      kernelThreads = await wasmKernelPoolReady();
    } catch (e) {
      warning = `${warning ? `${warning}; ` : ''}${(e as Error).message} (kernels run single-threaded)`;
    }
  }
  return { threads: getThreadsCount(), kernelThreads, crossOriginIsolated: isolated(), warning };
}
