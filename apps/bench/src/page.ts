/** Browser entry of the bench (served by vite, driven by playwright): exposes `window.__swinBench`. */
import '@tensorflow/tfjs-backend-webgpu';
import { runSuite, type SuitePlan } from './suite.js';

declare global {
  interface Window {
    __swinBench?: { run(plan: SuitePlan): ReturnType<typeof runSuite>; gpu: boolean };
  }
}

window.__swinBench = {
  run: (plan: SuitePlan) => runSuite(plan, (msg) => console.log(msg)),
  gpu: typeof navigator !== 'undefined' && 'gpu' in navigator,
};
