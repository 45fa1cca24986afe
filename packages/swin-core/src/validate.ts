import { assertTensorInput, SwinConfigError } from '@swin/nn';
import type * as tf from '@tensorflow/tfjs-core';

/** Throws `SwinConfigError('<fn>: <message>')` (a constructor argument or option is wrong). */
export function fail(fn: string, message: string): never {
  throw new SwinConfigError(`${fn}: ${message}`);
}

/**
 * Asserts a live float32 4-D NHWC input with `channels` channels (when given) and no empty axis; throws a
 * `SwinInputError` naming `fn` (see `assertTensorInput` of `@swin/nn`).
 */
export function assertNHWC(fn: string, x: unknown, channels?: number, what = 'x'): asserts x is tf.Tensor4D {
  assertTensorInput(fn, x, { what, rank: 4, channels });
}

/** Asserts positive integers. */
export function assertPositiveInts(fn: string, values: Record<string, number>): void {
  for (const [k, v] of Object.entries(values)) {
    if (!Number.isInteger(v) || v <= 0) fail(fn, `${k} must be a positive integer, got ${v}`);
  }
}

/** `[a, a]` for a number, a copy for a pair. */
export function toPair(v: number | readonly [number, number]): [number, number] {
  return typeof v === 'number' ? [v, v] : [v[0], v[1]];
}
