import * as tf from '@tensorflow/tfjs-core';
import { SWIN_WEBGPU_KERNELS } from '../register.js';

/** Calls of each fused kernel since the last `clear()`, filled by {@link countKernelCalls}. */
export const kernelCalls = new Map<string, number>();

/**
 * Re-registers the (already registered) webgpu Swin kernels wrapped in a call counter, so tests can see
 * which generic functions dispatched to them.
 */
export function countKernelCalls(): void {
  for (const name of SWIN_WEBGPU_KERNELS) {
    const cfg = tf.getKernel(name, 'webgpu');
    if (!cfg) throw new Error(`${name} is not registered for webgpu`);
    const inner = cfg.kernelFunc;
    tf.unregisterKernel(name, 'webgpu');
    tf.registerKernel({
      ...cfg,
      kernelFunc: (args) => {
        kernelCalls.set(name, (kernelCalls.get(name) ?? 0) + 1);
        return inner(args);
      },
    });
  }
}

/** `Name xN, ...` of the kernels called since the last clear (or `none`). */
export function describeCalls(): string {
  return [...kernelCalls].map(([k, n]) => `${k} x${n}`).join(', ') || 'none';
}
