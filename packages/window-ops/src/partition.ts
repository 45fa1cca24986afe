import * as tf from '@tensorflow/tfjs-core';
import { assert4D, assertPositiveInt, assertTiles, fail, parseWindow, type WindowSize } from './validate.js';

/** @internal Unchecked partition: `x` `[B, H, W, C]` -> `[B*nW, wh, ww, C]`. */
export function partitionUnchecked(x: tf.Tensor4D, wh: number, ww: number): tf.Tensor4D {
  const [B, H, W, C] = x.shape;
  // Official order: view [B, H/wh, wh, W/ww, ww, C] -> permute(0, 1, 3, 2, 4, 5) -> view(-1, wh, ww, C).
  // B and H/wh are adjacent and stay in place, so they are merged into one axis (a 5-D transpose).
  const blocks = tf.reshape(x, [B * (H / wh), wh, W / ww, ww, C]);
  const swapped = tf.transpose(blocks, [0, 2, 1, 3, 4]);
  return tf.reshape(swapped, [B * (H / wh) * (W / ww), wh, ww, C]);
}

/** @internal Unchecked reverse: `windows` `[B*nW, wh, ww, C]` -> `[B, H, W, C]`. */
export function reverseUnchecked(
  windows: tf.Tensor4D,
  wh: number,
  ww: number,
  H: number,
  W: number,
): tf.Tensor4D {
  const [n, , , C] = windows.shape;
  const B = n / ((H / wh) * (W / ww));
  const blocks = tf.reshape(windows, [B * (H / wh), W / ww, wh, ww, C]);
  const swapped = tf.transpose(blocks, [0, 2, 1, 3, 4]);
  return tf.reshape(swapped, [B, H, W, C]);
}

/**
 * Splits a feature map into non-overlapping windows, in the order of the official Swin Transformer
 * `window_partition`: batch-major, then row-major over the window grid
 * (window index `b*nW + i*(W/ww) + j` for the window at grid row `i`, column `j`).
 *
 * @param x Feature map `[B, H, W, C]` (float32, int32 or bool). `H` and `W` must be multiples of the
 *   window (use {@link padToWindow} first otherwise).
 * @param window Window size: `ws` (square) or `[wh, ww]`.
 * @returns Windows `[B*nW, wh, ww, C]` with `nW = (H/wh) * (W/ww)`.
 * @throws Error if `x` is not 4-D, the window is not a positive integer (pair), is larger than the map,
 *   or does not divide `H`/`W`.
 */
export function windowPartition(x: tf.Tensor4D, window: WindowSize): tf.Tensor4D {
  const fn = 'windowPartition';
  assert4D(fn, 'x', x, '[B, H, W, C]');
  const [wh, ww] = parseWindow(fn, window);
  assertTiles(fn, x.shape[1], x.shape[2], wh, ww);
  return tf.tidy(() => partitionUnchecked(x, wh, ww));
}

/**
 * @internal Validates the arguments of a window-reverse style op and returns `[wh, ww, B]`.
 */
export function checkReverseArgs(
  fn: string,
  windows: unknown,
  window: unknown,
  H: unknown,
  W: unknown,
): [number, number, number] {
  assert4D(fn, 'windows', windows, '[B*nW, wh, ww, C]');
  const [wh, ww] = parseWindow(fn, window);
  assertPositiveInt(fn, 'H', H);
  assertPositiveInt(fn, 'W', W);
  assertTiles(fn, H, W, wh, ww);
  const [n, h, w] = windows.shape;
  if (h !== wh || w !== ww) {
    fail(
      fn,
      `windows have shape [${windows.shape.join(', ')}], whose ${h}x${w} window does not match window ${wh}x${ww}`,
    );
  }
  const nW = (H / wh) * (W / ww);
  if (n % nW !== 0) {
    fail(
      fn,
      `got ${n} windows, which is not a multiple of nW=${nW} windows per ${H}x${W} map ` +
        `(${H / wh}x${W / ww} grid of ${wh}x${ww} windows); expected B*${nW}`,
    );
  }
  return [wh, ww, n / nW];
}

/**
 * Inverse of {@link windowPartition} (the official `window_reverse`): reassembles windows into
 * feature maps.
 *
 * @param windows Windows `[B*nW, wh, ww, C]`, ordered as {@link windowPartition} produces them.
 * @param window Window size: `ws` (square) or `[wh, ww]`; must match `windows.shape[1..2]`.
 * @param H Height of the map (a multiple of `wh`).
 * @param W Width of the map (a multiple of `ww`).
 * @returns Feature map `[B, H, W, C]` with `B = windows.shape[0] / nW`, `nW = (H/wh) * (W/ww)`.
 * @throws Error on a non-4-D input, a window that does not match the windows' shape, sizes that are not
 *   positive integers or multiples of the window, or a window count that is not a multiple of `nW`.
 */
export function windowReverse(windows: tf.Tensor4D, window: WindowSize, H: number, W: number): tf.Tensor4D {
  const [wh, ww] = checkReverseArgs('windowReverse', windows, window, H, W);
  return tf.tidy(() => reverseUnchecked(windows, wh, ww, H, W));
}
