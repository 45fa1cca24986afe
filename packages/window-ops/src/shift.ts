import * as tf from '@tensorflow/tfjs-core';
import { assert4D, mod, parseShift, type ShiftSize } from './validate.js';

/** `[0, 0, 0, 0]` / `[-1, -1, -1, -1]` with `value` at `axis` (a fresh array on every call). */
function along(axis: 1 | 2, value: number, rest: number): [number, number, number, number] {
  return [rest, axis === 1 ? value : rest, axis === 2 ? value : rest, rest];
}

/** @internal `torch.roll` along one axis via slice + concat (differentiable on every backend). */
function rollAxis(x: tf.Tensor4D, shift: number, axis: 1 | 2): tf.Tensor4D {
  const n = x.shape[axis];
  const k = mod(shift, n);
  if (k === 0) return x;
  // out[i] = x[(i - k) mod n]  =>  out = concat(x[n-k:], x[:n-k]).
  // Every slice gets its own begin/size arrays: tfjs keeps them as attrs for the backward pass.
  const head = tf.slice(x, along(axis, n - k, 0), along(axis, k, -1));
  const tail = tf.slice(x, along(axis, 0, 0), along(axis, n - k, -1));
  return tf.concat([head, tail], axis);
}

/** @internal Unchecked roll of a `[B, H, W, C]` map; always returns a new tensor. */
export function rollUnchecked(x: tf.Tensor4D, dh: number, dw: number): tf.Tensor4D {
  const out = rollAxis(rollAxis(x, dh, 1), dw, 2);
  return out === x ? tf.clone(x) : out;
}

/**
 * Cyclic shift of a feature map over its spatial axes, exactly `torch.roll(x, (dh, dw), dims=(1, 2))`:
 * `out[b, h, w, c] = x[b, (h - dh) mod H, (w - dw) mod W, c]`. Swin shifts by `-shift` before
 * attention and by `+shift` after it.
 *
 * Implemented with slice + concat, so it is differentiable on every backend (including wasm).
 *
 * @param x Feature map `[B, H, W, C]` (float32, int32 or bool).
 * @param shift `[dh, dw]` (or one number for both): integers of either sign and any magnitude (taken
 *   modulo `H` and `W`).
 * @returns The shifted map `[B, H, W, C]` (a new tensor, also when the shift is a multiple of the size).
 * @throws Error if `x` is not 4-D or a shift is not an integer.
 */
export function cyclicShift(x: tf.Tensor4D, shift: ShiftSize): tf.Tensor4D {
  const fn = 'cyclicShift';
  assert4D(fn, 'x', x, '[B, H, W, C]');
  const [dh, dw] = parseShift(fn, shift);
  return tf.tidy(() => rollUnchecked(x, dh, dw));
}
