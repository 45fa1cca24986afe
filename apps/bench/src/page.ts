/**
 * Browser entry of the bench (served by vite with COOP/COEP headers, driven by playwright): exposes
 * `window.__swinBench`. `?threads=N` sets tfjs-wasm's thread count (@swin/wasm's setWasmThreads) before
 * any backend initialises.
 */
import '@tensorflow/tfjs-backend-webgpu';
import { setWasmThreads } from '@swin/wasm';
import { setWasmPaths } from '@tensorflow/tfjs-backend-wasm';
import plainWasm from '@tensorflow/tfjs-backend-wasm/wasm-out/tfjs-backend-wasm.wasm?url';
import simdWasm from '@tensorflow/tfjs-backend-wasm/wasm-out/tfjs-backend-wasm-simd.wasm?url';
import threadedWasm from '@tensorflow/tfjs-backend-wasm/wasm-out/tfjs-backend-wasm-threaded-simd.wasm?url';
import { runSuite, type SuitePlan } from './suite.js';

declare global {
  interface Window {
    __swinBench?: {
      run(plan: SuitePlan): ReturnType<typeof runSuite>;
      gpu: boolean;
      info: { crossOriginIsolated: boolean; hardwareConcurrency: number; threads: number | null };
    };
  }
}

// vite pre-bundles tfjs-backend-wasm, so its .wasm files are not next to the module: give their URLs
setWasmPaths({
  'tfjs-backend-wasm.wasm': plainWasm,
  'tfjs-backend-wasm-simd.wasm': simdWasm,
  'tfjs-backend-wasm-threaded-simd.wasm': threadedWasm,
});
const requested = new URLSearchParams(location.search).get('threads');
const threads = requested === null ? null : Number(requested);
if (threads !== null) setWasmThreads(threads);

window.__swinBench = {
  run: (plan: SuitePlan) => runSuite(plan, (msg) => console.log(msg)),
  gpu: typeof navigator !== 'undefined' && 'gpu' in navigator,
  info: { crossOriginIsolated, hardwareConcurrency: navigator.hardwareConcurrency, threads },
};
