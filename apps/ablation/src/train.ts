import { adam, type VisionModel } from '@swin/nn';
import * as tf from '@tensorflow/tfjs';
import type { IdxSplit } from './fashion-mnist.js';

/** Fashion-MNIST pixel statistics (train split). */
export const MEAN = 0.286;
export const STD = 0.353;

/** Side the 28x28 images are zero-padded to (centred) before any resize. */
export const PADDED_SIZE = 32;

/**
 * Images `idx[i]` of a split as a normalised NHWC batch `[n, size, size, 1]`: zero-padded (centred) from
 * 28x28 to 32x32, then resized bilinearly when `size` is not 32; and their labels as int32 `[n]`.
 */
export function makeBatch(
  split: IdxSplit,
  idx: ArrayLike<number>,
  size: number,
): { x: tf.Tensor4D; y: tf.Tensor1D } {
  const { rows, cols } = split;
  if (!Number.isInteger(size) || size < 1)
    throw new Error(`makeBatch: size must be a positive integer, got ${size}`);
  const P = PADDED_SIZE;
  const n = idx.length;
  const top = Math.floor((P - rows) / 2);
  const left = Math.floor((P - cols) / 2);
  const pad = (0 - MEAN) / STD;
  const data = new Float32Array(n * P * P).fill(pad);
  const labels = new Int32Array(n);
  for (let b = 0; b < n; b++) {
    const i = idx[b];
    labels[b] = split.labels[i];
    const src = i * rows * cols;
    for (let r = 0; r < rows; r++) {
      for (let c = 0; c < cols; c++) {
        data[(b * P + top + r) * P + left + c] = (split.images[src + r * cols + c] / 255 - MEAN) / STD;
      }
    }
  }
  const y = tf.tensor1d(labels, 'int32');
  if (size === P) return { x: tf.tensor4d(data, [n, P, P, 1]), y };
  const x = tf.tidy(() => tf.image.resizeBilinear(tf.tensor4d(data, [n, P, P, 1]), [size, size], true));
  return { x, y };
}

/** Deterministic PRNG (mulberry32) for shuffling. */
export function rng(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

export interface TrainOptions {
  steps: number;
  batchSize: number;
  imageSize: number;
  learningRate: number;
  seed: number;
  /** Called every `logEvery` steps with the running mean loss. */
  onLog?: (step: number, loss: number) => void;
  logEvery?: number;
  /** Called after every step (progress bars). */
  onStep?: (step: number, loss: number) => void;
}

export interface TrainResult {
  firstLoss: number;
  lastLoss: number;
  stepMsMedian: number;
  /** Loss of every step, in order. */
  losses: number[];
  /** Wall time of the whole training loop (batch building included), ms. */
  totalMs: number;
}

function median(xs: number[]): number {
  const s = [...xs].sort((a, b) => a - b);
  return s.length ? s[Math.floor(s.length / 2)] : Number.NaN;
}

/**
 * Trains `model` with Adam (`adam()` of @swin/nn: tfjs's Adam, one fused kernel per variable where @swin/wasm
 * registered it, same float32 results) and softmax cross-entropy on random batches of `train`.
 */
export async function trainModel(
  model: VisionModel,
  train: IdxSplit,
  opts: TrainOptions,
): Promise<TrainResult> {
  const random = rng(opts.seed);
  const optimizer = adam(opts.learningRate);
  const vars = model.trainableVariables();
  model.train(true);
  const losses: number[] = [];
  const times: number[] = [];
  let window: number[] = [];
  const tStart = performance.now();
  for (let step = 1; step <= opts.steps; step++) {
    const idx = Array.from({ length: opts.batchSize }, () => Math.floor(random() * train.count));
    const { x, y } = makeBatch(train, idx, opts.imageSize);
    const t0 = performance.now();
    const loss = optimizer.minimize(
      () => tf.losses.softmaxCrossEntropy(tf.oneHot(y, model.numClasses), model.forward(x)) as tf.Scalar,
      true,
      vars,
    );
    const value = (await loss!.data())[0];
    times.push(performance.now() - t0);
    tf.dispose([x, y, loss!]);
    if (!Number.isFinite(value)) throw new Error(`training diverged at step ${step} (loss ${value})`);
    losses.push(value);
    window.push(value);
    opts.onStep?.(step, value);
    if (opts.onLog && step % (opts.logEvery ?? 50) === 0) {
      opts.onLog(step, window.reduce((a, b) => a + b, 0) / window.length);
      window = [];
    }
  }
  model.train(false);
  optimizer.dispose();
  const k = Math.max(1, Math.min(20, Math.floor(losses.length / 5)));
  const mean = (xs: number[]) => xs.reduce((a, b) => a + b, 0) / xs.length;
  return {
    firstLoss: mean(losses.slice(0, k)),
    lastLoss: mean(losses.slice(-k)),
    stepMsMedian: median(times.slice(Math.min(3, times.length - 1))),
    losses,
    totalMs: performance.now() - tStart,
  };
}

/** Top-1 accuracy of `model` on the first `limit` images of `test`, and the median forward time per batch. */
export async function evaluate(
  model: VisionModel,
  test: IdxSplit,
  opts: {
    limit: number;
    batchSize: number;
    imageSize: number;
    onBatch?: (done: number, total: number) => void;
  },
): Promise<{ accuracy: number; forwardMsMedian: number; count: number }> {
  const n = Math.min(opts.limit, test.count);
  let correct = 0;
  const times: number[] = [];
  for (let start = 0; start < n; start += opts.batchSize) {
    const idx = Array.from({ length: Math.min(opts.batchSize, n - start) }, (_, i) => start + i);
    const { x, y } = makeBatch(test, idx, opts.imageSize);
    const t0 = performance.now();
    const pred = tf.tidy(() => tf.argMax(model.forward(x), -1));
    const [p, t] = await Promise.all([pred.data(), y.data()]);
    times.push(performance.now() - t0);
    for (let i = 0; i < p.length; i++) if (p[i] === t[i]) correct++;
    tf.dispose([x, y, pred]);
    opts.onBatch?.(Math.min(start + opts.batchSize, n), n);
  }
  return { accuracy: correct / n, forwardMsMedian: median(times), count: n };
}
