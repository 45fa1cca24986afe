/// <reference lib="webworker" />
// The ablation page's Web Worker: trains the chosen variants on the Fashion-MNIST subset with the tfjs wasm
// backend (threaded when the page is cross-origin isolated, else SIMD single-threaded), posting every step's
// loss and every run's result, so the page stays responsive.
import { type IdxSplit, initBackend, parseIdxSplit, runOne } from '@swin/ablation/web';
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
  | { type: 'ready'; backend: string; threads: boolean }
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
    await initBackend('wasm');
    post({ type: 'ready', backend: tf.getBackend(), threads: self.crossOriginIsolated === true });
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
