import * as tf from '@tensorflow/tfjs-core';
import {
  type ShiftedWindowAttrs,
  SWIN_SHIFTED_WINDOW_PARTITION,
  SWIN_SHIFTED_WINDOW_REVERSE,
  SWIN_WINDOW_ATTENTION,
} from './names.js';
import { shiftedWindowPartitionKernel, shiftedWindowReverseKernel } from './shifted-window.js';
import { windowAttentionKernel } from './window-attention.js';

/** The backend the kernels are registered for. */
export const WEBGPU_BACKEND = 'webgpu';

/** Every kernel this package provides. */
export const SWIN_WEBGPU_KERNELS: readonly string[] = [
  SWIN_SHIFTED_WINDOW_PARTITION,
  SWIN_SHIFTED_WINDOW_REVERSE,
  SWIN_WINDOW_ATTENTION,
];

const KERNELS: ReadonlyArray<tf.KernelConfig> = [
  {
    kernelName: SWIN_SHIFTED_WINDOW_PARTITION,
    backendName: WEBGPU_BACKEND,
    kernelFunc: shiftedWindowPartitionKernel,
  },
  {
    kernelName: SWIN_SHIFTED_WINDOW_REVERSE,
    backendName: WEBGPU_BACKEND,
    kernelFunc: shiftedWindowReverseKernel,
  },
  { kernelName: SWIN_WINDOW_ATTENTION, backendName: WEBGPU_BACKEND, kernelFunc: windowAttentionKernel },
];

/**
 * Gradients of the data-movement kernels: partition and reverse are each other's inverse (a permutation),
 * so the gradient of one is the other applied to `dy` with the same attrs. `SwinWindowAttention` has no
 * registered gradient (its optional inputs cannot be saved by name); callers wrap it in `tf.customGrad`
 * (as {@link fusedWindowAttention} and `@swin/nn`'s `attentionCore` do).
 */
const GRADIENTS: ReadonlyArray<tf.GradConfig> = [
  {
    kernelName: SWIN_SHIFTED_WINDOW_PARTITION,
    gradFunc: (dy, _saved, attrs) => ({
      x: () => tf.engine().runKernel(SWIN_SHIFTED_WINDOW_REVERSE, { x: dy as tf.Tensor }, attrs) as tf.Tensor,
    }),
  },
  {
    kernelName: SWIN_SHIFTED_WINDOW_REVERSE,
    gradFunc: (dy, _saved, attrs) => ({
      x: () =>
        tf.engine().runKernel(SWIN_SHIFTED_WINDOW_PARTITION, { x: dy as tf.Tensor }, attrs) as tf.Tensor,
    }),
  },
];

/**
 * Registers the fused Swin kernels (and the gradients of the window-partition kernels) for the
 * `'webgpu'` backend. Idempotent. Nothing is registered at import time: call this once, e.g. right after
 * importing `@tensorflow/tfjs-backend-webgpu`. The generic functions of `@swin/window-ops`
 * (`shiftedWindowPartition`, `shiftedWindowReverse`) and `@swin/nn` (`attentionCore`) then run these kernels
 * whenever the active backend is `'webgpu'`; every other backend keeps the generic path.
 *
 * @returns the names of the kernels that were newly registered.
 */
export function registerSwinWebGPUKernels(): string[] {
  const added: string[] = [];
  for (const k of KERNELS) {
    if (!tf.getKernel(k.kernelName, k.backendName)) {
      tf.registerKernel(k);
      added.push(k.kernelName);
    }
  }
  for (const g of GRADIENTS) {
    if (!tf.getGradient(g.kernelName)) tf.registerGradient(g);
  }
  return added;
}

/** Removes what {@link registerSwinWebGPUKernels} registered (the generic paths take over again). */
export function unregisterSwinWebGPUKernels(): void {
  for (const k of KERNELS) {
    if (tf.getKernel(k.kernelName, k.backendName)) tf.unregisterKernel(k.kernelName, k.backendName);
  }
  for (const g of GRADIENTS) {
    if (tf.getGradient(g.kernelName)) tf.unregisterGradient(g.kernelName);
  }
}

/** Whether `kernelName` has a kernel for `backendName` (default: the active backend). */
export function hasSwinKernel(kernelName: string, backendName: string = tf.getBackend()): boolean {
  return !!tf.getKernel(kernelName, backendName);
}

/** Convenience for callers: the shifted-window attrs object for the kernels. */
export function shiftedWindowAttrs(
  H: number,
  W: number,
  window: number | readonly [number, number],
  shift: number | readonly [number, number],
): ShiftedWindowAttrs {
  const [wh, ww] = typeof window === 'number' ? [window, window] : window;
  const [sh, sw] = typeof shift === 'number' ? [shift, shift] : shift;
  return { H, W, wh, ww, sh, sw };
}
