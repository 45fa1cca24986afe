/**
 * `@swin/window-ops`: window partition/reverse, cyclic shift, padding and the fused shifted-window
 * permutation used by Swin Transformer blocks, on TensorFlow.js (peer dependency `@tensorflow/tfjs-core`).
 *
 * Feature maps are channels-last `[B, H, W, C]`; windows are `[B*nW, wh, ww, C]` in the official Swin
 * order (batch-major, then row-major over the window grid).
 *
 * @packageDocumentation
 */
export {
  type ShiftedWindowOptions,
  SWIN_SHIFTED_WINDOW_PARTITION,
  SWIN_SHIFTED_WINDOW_REVERSE,
  shiftedWindowPartition,
  shiftedWindowReverse,
  type WindowOpsMethod,
} from './fused.js';
export { TensorLruCache } from './lru.js';
export { cropTo, type PaddedToWindow, padToWindow } from './pad.js';
export { windowPartition, windowReverse } from './partition.js';
export {
  clearWindowOpsCache,
  DEFAULT_WINDOW_OPS_CACHE_CAPACITY,
  invertPermutation,
  setWindowOpsCacheCapacity,
  windowOpsCacheSize,
  windowPermutation,
} from './permutation.js';
export { cyclicShift } from './shift.js';
export type { ShiftSize, WindowSize } from './validate.js';
