/**
 * `swin classify --model NAME [--weights FILE|URL|DIR] IMAGE... [--top 5] [--json]`: each image through the
 * evaluation transform of the weights (`@swin/models` `transformImage`: timm's for registry models; grayscale
 * and the letterbox for `@swin/backbone` folders such as the ablation's `best-model/`), the model, and `topK`.
 */
import { labelsFor, topK, transformImage } from '@swin/models';
import { loadImage } from '@swin/preprocess';
import * as tf from '@tensorflow/tfjs-core';
import { loadModel, type ModelOptions } from '../model.js';

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
  const k = Math.min(opts.top, model.numClasses);
  const labels = labelsFor(pretrainedCfg);
  const results: ClassifyResult[] = [];
  try {
    for (const image of images) {
      const rgb = await loadImage(image);
      const x = transformImage(rgb, pretrainedCfg);
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
