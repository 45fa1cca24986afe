import * as tf from '@tensorflow/tfjs-core';
import { assert4D, assertPositiveInt, fail, parseWindow, type WindowSize } from './validate.js';

/** Result of {@link padToWindow}. */
export interface PaddedToWindow {
  /** The zero-padded map `[B, H + padH, W + padW, C]`; both spatial sizes are multiples of the window. */
  padded: tf.Tensor4D;
  /** Rows of zeros added at the bottom (`0 <= padH < wh`, or `wh - H` when the map is shorter). */
  padH: number;
  /** Columns of zeros added at the right (`0 <= padW < ww`, or `ww - W` when the map is narrower). */
  padW: number;
  /** Original height: pass to {@link cropTo} to undo the padding. */
  H: number;
  /** Original width: pass to {@link cropTo} to undo the padding. */
  W: number;
}

/**
 * Pads a feature map with zeros at the bottom and right so that both spatial sizes become multiples of
 * the window, as the official Swin code does (`F.pad(x, (0, 0, 0, pad_r, 0, pad_b))`). A map smaller than
 * the window is padded up to one window.
 *
 * @param x Feature map `[B, H, W, C]`.
 * @param window Window size: `ws` (square) or `[wh, ww]`.
 * @returns `{ padded, padH, padW, H, W }`: `padded` is `[B, H + padH, W + padW, C]` (a new tensor, also
 *   when nothing needed padding); undo with `cropTo(result, H, W)`.
 * @throws Error if `x` is not 4-D or the window is not a positive integer (pair).
 */
export function padToWindow(x: tf.Tensor4D, window: WindowSize): PaddedToWindow {
  const fn = 'padToWindow';
  assert4D(fn, 'x', x, '[B, H, W, C]');
  const [wh, ww] = parseWindow(fn, window);
  const [, H, W] = x.shape;
  const padH = (wh - (H % wh)) % wh;
  const padW = (ww - (W % ww)) % ww;
  const padded = tf.tidy(() =>
    padH === 0 && padW === 0
      ? tf.clone(x)
      : tf.pad(
          x,
          [
            [0, 0],
            [0, padH],
            [0, padW],
            [0, 0],
          ],
          0,
        ),
  );
  return { padded, padH, padW, H, W };
}

/**
 * Top-left crop of a feature map to `H x W`: the inverse of {@link padToWindow}.
 *
 * @param x Feature map `[B, H', W', C]` with `H' >= H`, `W' >= W`.
 * @param H Height to keep (rows `0..H-1`).
 * @param W Width to keep (columns `0..W-1`).
 * @returns `[B, H, W, C]` (a new tensor, also when no cropping is needed).
 * @throws Error if `x` is not 4-D, or `H`/`W` are not positive integers no larger than the map.
 */
export function cropTo(x: tf.Tensor4D, H: number, W: number): tf.Tensor4D {
  const fn = 'cropTo';
  assert4D(fn, 'x', x, '[B, H, W, C]');
  assertPositiveInt(fn, 'H', H);
  assertPositiveInt(fn, 'W', W);
  const [B, h, w, C] = x.shape;
  if (H > h || W > w)
    fail(fn, `cannot crop a ${h}x${w} map to ${H}x${W} (the crop must not be larger than the map)`);
  return tf.tidy(() => (H === h && W === w ? tf.clone(x) : tf.slice(x, [0, 0, 0, 0], [B, H, W, C])));
}
