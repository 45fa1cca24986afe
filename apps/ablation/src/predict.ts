/**
 * The ablation's own inference on Fashion-MNIST test images (the transform training and evaluation use:
 * `makeBatch`), the saved best model read back, and test images written as PNG files for `swin classify`.
 */
import { existsSync, mkdirSync, readFileSync, statSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { type HybridBackbone, loadBackbone } from '@swin/backbone';
import type { VisionModel } from '@swin/nn';
import * as tf from '@tensorflow/tfjs';
import { encode } from 'fast-png';
import { BEST_MODEL_DIR } from './best-model.js';
import { FASHION_MNIST_CLASSES, type IdxSplit } from './fashion-mnist.js';
import { makeBatch } from './train.js';

/** One image's prediction: true class, predicted class and its softmax probability. */
export interface TestPrediction {
  image: number;
  label: number;
  index: number;
  probability: number;
}

/**
 * Predictions of `model` (input side `imageSize`) for test images `idx` of `split`, in batches of 100 through
 * `makeBatch` (the training/evaluation transform). Leaks no tensors.
 */
export async function predictTestImages(
  model: VisionModel,
  split: IdxSplit,
  idx: readonly number[],
  imageSize: number,
): Promise<TestPrediction[]> {
  const out: TestPrediction[] = [];
  for (let s = 0; s < idx.length; s += 100) {
    const part = idx.slice(s, s + 100);
    const { x, y } = makeBatch(split, part, imageSize);
    const probs = tf.tidy(() => tf.softmax(model.forward(x)));
    const [p, t] = [(await probs.array()) as number[][], await y.data()];
    tf.dispose([x, y, probs]);
    p.forEach((row, i) => {
      const k = row.indexOf(Math.max(...row));
      out.push({ image: part[i], label: t[i], index: k, probability: row[k] });
    });
  }
  return out;
}

/**
 * The weights file of a saved model: a run folder (its `best-model/model.safetensors`, or the
 * `best-model.safetensors` of runs before the hub folder), a `best-model/` folder, or a `.safetensors` file.
 */
export function bestModelFile(target: string): string {
  const candidates =
    existsSync(target) && statSync(target).isDirectory()
      ? [
          join(target, BEST_MODEL_DIR, 'model.safetensors'),
          join(target, 'model.safetensors'),
          join(target, 'best-model.safetensors'),
        ]
      : [target];
  const file = candidates.find((f) => existsSync(f));
  if (!file) throw new Error(`no saved model at ${target} (looked for ${candidates.join(', ')})`);
  return file;
}

/** Reads a saved model (see {@link bestModelFile}) and its input side. The caller disposes `model`. */
export function loadBestModel(target: string): { model: HybridBackbone; imageSize: number; file: string } {
  const file = bestModelFile(target);
  const model = loadBackbone(readFileSync(file));
  const s = model.config.imgSize;
  return { model, imageSize: Array.isArray(s) ? s[0] : s, file };
}

/**
 * Writes test images `idx` of `split` as 8-bit grayscale PNG files `dir/<index>-<class>.png` (28x28, the
 * dataset's own bytes); returns their paths in order.
 */
export function writeTestPngs(split: IdxSplit, idx: readonly number[], dir: string): string[] {
  mkdirSync(dir, { recursive: true });
  const n = split.rows * split.cols;
  return idx.map((i) => {
    const name = FASHION_MNIST_CLASSES[split.labels[i]].toLowerCase().replace(/[^a-z]+/g, '-');
    const file = join(dir, `${String(i).padStart(5, '0')}-${name}.png`);
    const data = split.images.slice(i * n, (i + 1) * n);
    writeFileSync(file, encode({ width: split.cols, height: split.rows, data, channels: 1, depth: 8 }));
    return file;
  });
}
