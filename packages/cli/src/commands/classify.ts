/**
 * `swin classify --model NAME [--weights FILE|URL|DIR] IMAGE... [--top 5] [--json]`: each image through the
 * model's timm evaluation transform (`@swin/preprocess`), the model, and `topK` (`@swin/models`).
 */
import { labelsFor, topK } from '@swin/models';
import { evalTransform, loadImage } from '@swin/preprocess';
import * as tf from '@tensorflow/tfjs-core';
import { evalConfigOf, loadModel, type ModelOptions } from '../model.js';

/** Options of {@link classify}. */
export interface ClassifyOptions extends ModelOptions {
  top: number;
  json?: boolean;
}

/** One image's result as printed by `--json`. */
export interface ClassifyResult {
  image: string;
  predictions: { index: number; label: string; probability: number }[];
}

/** Runs `swin classify`. */
export async function classify(images: string[], opts: ClassifyOptions): Promise<void> {
  const { model, pretrainedCfg } = await loadModel(opts);
  const cfg = evalConfigOf(pretrainedCfg);
  const k = Math.min(opts.top, model.numClasses);
  const labels = labelsFor(pretrainedCfg);
  const results: ClassifyResult[] = [];
  try {
    for (const image of images) {
      const rgb = await loadImage(image);
      const x = evalTransform(rgb, cfg);
      let predictions: ClassifyResult['predictions'];
      try {
        const logits = tf.tidy(() => model.forward(x));
        try {
          predictions = topK(logits, k, { labels })[0];
        } finally {
          logits.dispose();
        }
      } finally {
        x.dispose();
      }
      results.push({ image, predictions });
      if (!opts.json) {
        const rows = predictions.map(
          (p, i) =>
            `  ${String(i + 1).padStart(2)}. ${(100 * p.probability).toFixed(2).padStart(6)}%  ${String(p.index).padStart(5)}  ${p.label}`,
        );
        process.stdout.write(`${image}\n${rows.join('\n')}\n`);
      }
    }
  } finally {
    model.dispose();
  }
  if (opts.json) process.stdout.write(`${JSON.stringify(results, null, 2)}\n`);
}
