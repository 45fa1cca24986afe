import * as tf from '@tensorflow/tfjs-core';
import type { Initializer } from './module.js';

/*
 * Seeded initialisation. tfjs's random ops take an optional `seed`; without one they draw from
 * Math.random, so two models built with the same code differ. Every random initialiser below asks
 * `nextInitSeed()` for its seed: while a seed is set (`setInitSeed` / `withInitSeed`), that is the next
 * number of a mulberry32 stream started from it, so building the same model twice under the same seed
 * gives bit-identical weights (parameters are created in a fixed registration order). With no seed set,
 * it is `undefined` and tfjs behaves as before.
 */

let state: number | null = null;

function checkSeed(seed: number, fn: string): void {
  if (!Number.isSafeInteger(seed) || seed < 0)
    throw new Error(`${fn}: seed must be a non-negative safe integer, got ${seed}`);
}

/**
 * Seeds every initialiser of this package (and of the model families, which use `nextInitSeed`) from
 * now on; `null` returns to unseeded (Math.random) initialisation.
 * @throws if `seed` is not a non-negative safe integer.
 */
export function setInitSeed(seed: number | null): void {
  if (seed === null) {
    state = null;
    return;
  }
  checkSeed(seed, 'setInitSeed');
  // Mix the seed once so that seeds 1, 2, 3 start far apart in the stream.
  state = (Math.imul(seed ^ 0x9e3779b9, 0x85ebca6b) ^ (seed / 2 ** 32)) >>> 0;
}

/**
 * Runs `fn` (synchronously: build the model inside it) with initialisation seeded by `seed`, then
 * restores the previous seeding state, also when `fn` throws.
 * @example
 *   const a = withInitSeed(7, () => createBackbone(config)); // same weights on every run
 */
export function withInitSeed<T>(seed: number, fn: () => T): T {
  checkSeed(seed, 'withInitSeed');
  const saved = state;
  setInitSeed(seed);
  try {
    const out = fn();
    if (out instanceof Promise)
      throw new Error(
        'withInitSeed: fn must be synchronous (it returned a Promise); build the model inside it',
      );
    return out;
  } finally {
    state = saved;
  }
}

/** The seed the next random initialiser passes to tfjs: a number while seeded, `undefined` otherwise. */
export function nextInitSeed(): number | undefined {
  if (state === null) return undefined;
  // mulberry32 step
  state = (state + 0x6d2b79f5) >>> 0;
  let t = state;
  t = Math.imul(t ^ (t >>> 15), t | 1);
  t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
  return (t ^ (t >>> 14)) >>> 0;
}

/** Zeros. */
export const zeros: Initializer = (shape) => tf.zeros(shape);
/** Ones. */
export const ones: Initializer = (shape) => tf.ones(shape);
/** A constant value. */
export const constant =
  (value: number): Initializer =>
  (shape) =>
    tf.fill(shape, value);
/** timm's `trunc_normal_(std)`: normal truncated at two standard deviations. Seeded by `setInitSeed`. */
export const truncNormal =
  (std: number): Initializer =>
  (shape) =>
    tf.truncatedNormal(shape, 0, std, 'float32', nextInitSeed());
/** `normal_(mean, std)`. Seeded by `setInitSeed`. */
export const normal =
  (std: number, mean = 0): Initializer =>
  (shape) =>
    tf.randomNormal(shape, mean, std, 'float32', nextInitSeed());
/** PyTorch's default Linear/Conv init: uniform in +-1/sqrt(fanIn). Seeded by `setInitSeed`. */
export const kaimingUniform =
  (fanIn: number): Initializer =>
  (shape) => {
    const bound = 1 / Math.sqrt(Math.max(fanIn, 1));
    return tf.randomUniform(shape, -bound, bound, 'float32', nextInitSeed());
  };
