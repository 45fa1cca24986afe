/** Test-only helpers: random weights in PyTorch layout, tensor <-> nested arrays. */
import type { Module } from '@swin/nn';
import { tf } from '@swin/testing';
import type { Weights } from './reference.js';

/**
 * Loads random weights into `m` (like the fixtures: weights ~ N(0, 1/fan_in), biases ~ N(0, 0.1),
 * norm weights ~ 1 + N(0, 0.1); BatchNorm running_var ~ exp(N(0, 0.2))) and returns them in PyTorch layout.
 */
export function randomize(m: Module, seed = 1): Weights {
  const sd = m.stateDict({ includeBuffers: false });
  const out: Weights = {};
  const tensors: Record<string, tf.Tensor> = {};
  let s = seed;
  for (const [k, t] of Object.entries(sd)) {
    const shape = t.shape;
    t.dispose();
    s += 1;
    let v: tf.Tensor;
    if (shape.length >= 2) {
      const fanIn = shape.slice(1).reduce((a, b) => a * b, 1);
      v = tf.randomNormal(shape, 0, 1 / Math.sqrt(fanIn), 'float32', s);
    } else if (k.endsWith('running_var')) {
      v = tf.tidy(() => tf.exp(tf.randomNormal(shape, 0, 0.2, 'float32', s)));
    } else if (/norm\d?\.weight$|conv\.\d+\.weight$/.test(k)) {
      v = tf.tidy(() => tf.add(1, tf.randomNormal(shape, 0, 0.1, 'float32', s)));
    } else {
      v = tf.randomNormal(shape, 0, 0.1, 'float32', s);
    }
    tensors[k] = v;
    out[k] = { shape: [...shape], data: v.dataSync() as Float32Array };
  }
  m.loadStateDict(tensors);
  for (const t of Object.values(tensors)) t.dispose();
  return out;
}

/** `[B, N, C]` tensor -> `B` arrays of `N` rows. */
export function toImages(x: tf.Tensor3D): number[][][] {
  return x.arraySync();
}

/** Max |a - b| over nested arrays of equal shape. */
export function maxAbsDiff(a: number[][], b: number[][]): number {
  let m = 0;
  for (let i = 0; i < a.length; i++)
    for (let j = 0; j < a[i].length; j++) m = Math.max(m, Math.abs(a[i][j] - b[i][j]));
  return m;
}

/** Max |x| over nested arrays. */
export function maxAbs(a: number[][]): number {
  let m = 0;
  for (const row of a) for (const v of row) m = Math.max(m, Math.abs(v));
  return m;
}
