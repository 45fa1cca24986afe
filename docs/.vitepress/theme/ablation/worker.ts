/// <reference lib="webworker" />
// The ablation page's Web Worker: trains the chosen variants on the Fashion-MNIST subset with the tfjs wasm
// backend and @swin/wasm's kernels (threaded when the page is cross-origin isolated: 2 threads at least, via
// setWasmThreads, since tfjs alone sizes its pool to 1 thread on 2-core machines; else SIMD single-threaded),
// posting every step's loss and every run's result, so the page stays responsive.
import { type IdxSplit, parseIdxSplit, runOne } from '@swin/ablation/web';
import { initWasmBackend } from '@swin/wasm';
import * as tf from '@tensorflow/tfjs';
import { setWasmPaths } from '@tensorflow/tfjs-backend-wasm';
import wasmPlain from '@tensorflow/tfjs-backend-wasm/dist/tfjs-backend-wasm.wasm?url';
import wasmSimd from '@tensorflow/tfjs-backend-wasm/dist/tfjs-backend-wasm-simd.wasm?url';
import wasmThreaded from '@tensorflow/tfjs-backend-wasm/dist/tfjs-backend-wasm-threaded-simd.wasm?url';

export interface TrainRequest {
  type: 'train';
  dataUrl: string;
  variants: string[];
  seeds: number[];
  steps: number;
  batch: number;
  lr: number;
  testSize: number;
}

export type WorkerMessage =
  | { type: 'ready'; backend: string; threads: number; crossOriginIsolated: boolean }
  | { type: 'step'; variant: string; seed: number; step: number; loss: number }
  | { type: 'eval'; variant: string; seed: number; done: number; total: number }
  | { type: 'result'; record: import('@swin/ablation/web').RunRecord }
  | { type: 'done'; seconds: number }
  | { type: 'error'; message: string };

const post = (m: WorkerMessage) => (self as unknown as DedicatedWorkerGlobalScope).postMessage(m);

async function fetchBytes(url: string): Promise<Uint8Array> {
  const r = await fetch(url);
  if (!r.ok) throw new Error(`could not load ${url} (HTTP ${r.status})`);
  return new Uint8Array(await r.arrayBuffer());
}

let data: { train: IdxSplit; test: IdxSplit } | null = null;

async function load(base: string) {
  if (data) return data;
  const [ti, tl, vi, vl] = await Promise.all(
    [
      'train-images-idx3-ubyte',
      'train-labels-idx1-ubyte',
      't10k-images-idx3-ubyte',
      't10k-labels-idx1-ubyte',
    ].map((f) => fetchBytes(`${base}${f}`)),
  );
  data = { train: parseIdxSplit(ti, tl, 'train subset'), test: parseIdxSplit(vi, vl, 'test subset') };
  return data;
}

self.onmessage = async (e: MessageEvent<TrainRequest>) => {
  const req = e.data;
  if (req?.type !== 'train') return;
  try {
    setWasmPaths({
      'tfjs-backend-wasm.wasm': wasmPlain,
      'tfjs-backend-wasm-simd.wasm': wasmSimd,
      'tfjs-backend-wasm-threaded-simd.wasm': wasmThreaded,
    });
    // threads are chosen once, before the backend initialises: half the cores (tfjs's own rule), at least 2
    // and at most 4, on a cross-origin-isolated page; the single-threaded build elsewhere
    const isolated = self.crossOriginIsolated === true;
    const cores = navigator.hardwareConcurrency || 2;
    const { threads } = await initWasmBackend({
      ...(isolated ? { threads: Math.min(4, Math.max(2, Math.floor(cores / 2))) } : {}),
    });
    post({ type: 'ready', backend: tf.getBackend(), threads, crossOriginIsolated: isolated });
    const { train, test } = await load(req.dataUrl);
    const t0 = performance.now();
    for (const seed of req.seeds) {
      for (const variant of req.variants) {
        const { record, model } = await runOne(
          { variant, seed, steps: req.steps, batch: req.batch, lr: req.lr, testSize: req.testSize },
          train,
          test,
          {
            onStep: (step, loss) => post({ type: 'step', variant, seed, step, loss }),
            onEval: (done, total) => post({ type: 'eval', variant, seed, done, total }),
          },
        );
        model.dispose();
        post({ type: 'result', record });
      }
    }
    post({ type: 'done', seconds: (performance.now() - t0) / 1000 });
  } catch (err) {
    post({ type: 'error', message: err instanceof Error ? err.message : String(err) });
  }
};
