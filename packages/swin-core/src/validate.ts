import type * as tf from '@tensorflow/tfjs-core';

/** Throws `Error('<fn>: <message>')`. */
export function fail(fn: string, message: string): never {
  throw new Error(`${fn}: ${message}`);
}

/** Asserts a 4-D NHWC input with `channels` channels (when given). */
export function assertNHWC(fn: string, x: unknown, channels?: number, what = 'x'): asserts x is tf.Tensor4D {
  const t = x as tf.Tensor | null | undefined;
  if (!t || typeof t !== 'object' || !Array.isArray((t as tf.Tensor).shape)) {
    fail(fn, `${what} must be a tf.Tensor [B, H, W, C], got ${typeof x}`);
  }
  if (t.rank !== 4) fail(fn, `${what} must be a 4-D NHWC tensor [B, H, W, C], got shape [${t.shape}]`);
  if (channels !== undefined && t.shape[3] !== channels) {
    fail(fn, `${what} has ${t.shape[3]} channels (shape [${t.shape}]), expected ${channels}`);
  }
  if (t.shape.some((s) => s < 1)) fail(fn, `${what} has an empty axis: shape [${t.shape}]`);
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
