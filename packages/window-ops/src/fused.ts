import * as tf from '@tensorflow/tfjs-core';
import { checkReverseArgs, partitionUnchecked, reverseUnchecked } from './partition.js';
import { permutationTensors } from './permutation.js';
import { rollUnchecked } from './shift.js';
import {
  assert4D,
  assertTiles,
  fail,
  mod,
  parseShift,
  parseWindow,
  type ShiftSize,
  type WindowSize,
} from './validate.js';

/**
 * How the fused shifted-window ops move data.
 * - `'gather'`: one `tf.gather` of the `[B, H*W, C]` token view over a cached int32
 *   permutation; its gradient is the inverse-permutation gather (no `UnsortedSegmentSum` needed).
 * - `'roll'`: the unfused composition, {@link cyclicShift} (slice + concat) then reshape/transpose.
 * - `'auto'` (default): the single cached gather on every backend except wasm, where tfjs's Gather kernel
 *   is slow and `'roll'` is used instead (decided per call).
 *
 * All are bit-identical and differentiable on cpu and wasm; they differ only in speed per backend.
 * Measured in Node (Swin-T stage shapes, window 7, shift 3): on wasm the gather is 3-30x slower than
 * `'roll'` (its Gather kernel copies element by element), on cpu `'roll'` is 10-50x slower than the gather.
 */
export type WindowOpsMethod = 'gather' | 'roll' | 'auto';

/** Options of {@link shiftedWindowPartition} and {@link shiftedWindowReverse}. */
export interface ShiftedWindowOptions {
  /** Data-movement strategy; default `'auto'`. */
  method?: WindowOpsMethod;
}

/**
 * Names of optional backend kernels for the two fused ops. When the active backend has a kernel
 * registered under one of these names (e.g. `registerSwinWebGPUKernels()` of `@swin/webgpu` for
 * 'webgpu'), the op with the default method `'auto'` and a non-zero shift runs it instead of the tfjs
 * composition. Contract: input `x` (the op's tensor argument), attrs `{H, W, wh, ww, sh, sw}` with
 * `0 <= sh < H`, `0 <= sw < W`; same output as the op; whoever registers the kernels also registers
 * their gradients (each is the other kernel with the same attrs).
 */
export const SWIN_SHIFTED_WINDOW_PARTITION = 'SwinShiftedWindowPartition';
/** See {@link SWIN_SHIFTED_WINDOW_PARTITION}. */
export const SWIN_SHIFTED_WINDOW_REVERSE = 'SwinShiftedWindowReverse';

/** Whether to run the backend kernel `name`: the method was left to 'auto' and the active backend has one. */
function nativeKernel(name: string, options: ShiftedWindowOptions | undefined): boolean {
  return (options?.method ?? 'auto') === 'auto' && !!tf.getKernel(name, tf.getBackend());
}

/** Resolves `options.method` to the strategy to run on the current backend. */
function parseMethod(fn: string, options: ShiftedWindowOptions | undefined): 'gather' | 'roll' {
  const method = options?.method ?? 'auto';
  if (method === 'gather' || method === 'roll') return method;
  if (method === 'auto') return tf.getBackend() === 'wasm' ? 'roll' : 'gather';
  return fail(fn, `options.method must be 'gather', 'roll' or 'auto', got ${JSON.stringify(method)}`);
}

/** Gathers tokens of a `[B, N, C]` view along axis 1; differentiable through `inverse` for floats. */
function permuteTokens(
  x: tf.Tensor,
  B: number,
  N: number,
  C: number,
  outShape: [number, number, number, number],
  inShape: [number, number, number, number],
  lookup: () => { forward: tf.Tensor1D; backward: tf.Tensor1D },
): tf.Tensor4D {
  const apply = (t: tf.Tensor, index: tf.Tensor1D, shape: number[]) =>
    tf.reshape(tf.gather(tf.reshape(t, [B, N, C]), index, 1), shape);
  if (x.dtype !== 'float32') return apply(x, lookup().forward, outShape) as tf.Tensor4D;
  const op = tf.customGrad((...args: Array<tf.Tensor | tf.GradSaveFunc>) => ({
    value: apply(args[0] as tf.Tensor, lookup().forward, outShape),
    // The cache is consulted again at backward time, so a permutation evicted in between is rebuilt.
    gradFunc: (dy: tf.Tensor) => apply(dy, lookup().backward, inShape),
  }));
  return op(x) as tf.Tensor4D;
}

/**
 * Shifted-window partition fused into one gather:
 * `windowPartition(cyclicShift(x, [-sh, -sw]), window)`, bit-identical to the official
 * `window_partition(torch.roll(x, (-sh, -sw), (1, 2)), ws)` of a shifted Swin block.
 *
 * The `'gather'` method (the default everywhere but on wasm, see {@link WindowOpsMethod}) gathers the `[B, H*W, C]` token view with the permutation of
 * {@link windowPermutation} (cached per backend and geometry, see {@link windowOpsCacheSize}); it is
 * registered with `tf.customGrad` so its gradient is the inverse-permutation gather, which every backend
 * supports. A zero shift (modulo the map size) uses the plain reshape/transpose partition with any method.
 * With the method `'auto'` and a backend kernel {@link SWIN_SHIFTED_WINDOW_PARTITION} registered for the
 * active backend (e.g. WebGPU), that kernel runs instead.
 *
 * @param x Feature map `[B, H, W, C]`; `H`, `W` multiples of the window (use {@link padToWindow}).
 * @param window Window size `ws` or `[wh, ww]`.
 * @param shift Shift `s` or `[sh, sw]`: integers of either sign (Swin uses `0 <= s < ws`). The map is
 *   rolled by `-shift` (towards the top-left) before partitioning.
 * @param options `{ method: 'gather' | 'roll' | 'auto' }`, see {@link WindowOpsMethod}.
 * @returns Windows `[B*nW, wh, ww, C]`, `nW = (H/wh) * (W/ww)`, batch-major then row-major over windows.
 * @throws Error on a non-4-D input, a bad window or shift, or a window that does not tile the map.
 */
export function shiftedWindowPartition(
  x: tf.Tensor4D,
  window: WindowSize,
  shift: ShiftSize,
  options?: ShiftedWindowOptions,
): tf.Tensor4D {
  const fn = 'shiftedWindowPartition';
  assert4D(fn, 'x', x, '[B, H, W, C]');
  const [wh, ww] = parseWindow(fn, window);
  const [B, H, W, C] = x.shape;
  assertTiles(fn, H, W, wh, ww);
  const [dh, dw] = parseShift(fn, shift);
  const method = parseMethod(fn, options);
  const sh = mod(dh, H);
  const sw = mod(dw, W);
  if ((sh !== 0 || sw !== 0) && nativeKernel(SWIN_SHIFTED_WINDOW_PARTITION, options)) {
    return tf
      .engine()
      .runKernel(SWIN_SHIFTED_WINDOW_PARTITION, { x }, { H, W, wh, ww, sh, sw }) as tf.Tensor4D;
  }
  return tf.tidy(() => {
    if (sh === 0 && sw === 0) return partitionUnchecked(x, wh, ww);
    if (method === 'roll') return partitionUnchecked(rollUnchecked(x, -sh, -sw), wh, ww);
    const nW = (H / wh) * (W / ww);
    return permuteTokens(x, B, H * W, C, [B * nW, wh, ww, C], [B, H, W, C], () => {
      const e = permutationTensors(H, W, wh, ww, sh, sw);
      return { forward: e.perm, backward: e.inverse };
    });
  });
}

/**
 * Inverse of {@link shiftedWindowPartition}, fused into one gather:
 * `cyclicShift(windowReverse(windows, window, H, W), [+sh, +sw])`, bit-identical to the official
 * `torch.roll(window_reverse(windows, ws, H, W), (sh, sw), (1, 2))`. Gradient: the forward-permutation
 * gather (via `tf.customGrad`). With the method `'auto'` and a backend kernel
 * {@link SWIN_SHIFTED_WINDOW_REVERSE} registered for the active backend, that kernel runs instead.
 *
 * @param windows Windows `[B*nW, wh, ww, C]` as produced by {@link shiftedWindowPartition}.
 * @param window Window size `ws` or `[wh, ww]`; must match `windows.shape[1..2]`.
 * @param shift The same shift `s` or `[sh, sw]` that was given to {@link shiftedWindowPartition}.
 * @param H Map height (a multiple of `wh`).
 * @param W Map width (a multiple of `ww`).
 * @param options `{ method: 'gather' | 'roll' | 'auto' }`, see {@link WindowOpsMethod}.
 * @returns Feature map `[B, H, W, C]`.
 * @throws Error on a non-4-D input, a bad window, shift or size, a window that does not match the
 *   windows' shape, or a window count that is not a multiple of `nW`.
 */
export function shiftedWindowReverse(
  windows: tf.Tensor4D,
  window: WindowSize,
  shift: ShiftSize,
  H: number,
  W: number,
  options?: ShiftedWindowOptions,
): tf.Tensor4D {
  const fn = 'shiftedWindowReverse';
  const [wh, ww, B] = checkReverseArgs(fn, windows, window, H, W);
  const [dh, dw] = parseShift(fn, shift);
  const method = parseMethod(fn, options);
  const sh = mod(dh, H);
  const sw = mod(dw, W);
  const C = windows.shape[3];
  if ((sh !== 0 || sw !== 0) && nativeKernel(SWIN_SHIFTED_WINDOW_REVERSE, options)) {
    return tf
      .engine()
      .runKernel(SWIN_SHIFTED_WINDOW_REVERSE, { x: windows }, { H, W, wh, ww, sh, sw }) as tf.Tensor4D;
  }
  return tf.tidy(() => {
    if (sh === 0 && sw === 0) return reverseUnchecked(windows, wh, ww, H, W);
    if (method === 'roll') return rollUnchecked(reverseUnchecked(windows, wh, ww, H, W), sh, sw);
    return permuteTokens(windows, B, H * W, C, [B, H, W, C], windows.shape, () => {
      const e = permutationTensors(H, W, wh, ww, sh, sw);
      return { forward: e.inverse, backward: e.perm };
    });
  });
}
