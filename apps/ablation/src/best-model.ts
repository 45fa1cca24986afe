/**
 * The best model of a run as a hub folder `@swin/models` loads (`loadPretrained(null, { weights: dir })`,
 * `swin classify --weights dir`): `config.json` (`"architecture": "backbone"`, the backbone config, the 10
 * Fashion-MNIST class names and this app's preprocessing) + `model.safetensors` (`saveBackbone`).
 */
import { mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import type { HybridBackbone } from '@swin/backbone';
import { backboneHubFiles, type PretrainedCfg } from '@swin/models';
import { FASHION_MNIST_CLASSES } from './fashion-mnist.js';
import { MEAN, PADDED_SIZE, STD } from './train.js';

/** Folder name of the best model inside a run's output folder. */
export const BEST_MODEL_DIR = 'best-model';

/**
 * The evaluation settings of a model trained by `makeBatch` at input side `imageSize`: grayscale, 28x28
 * content (other image sizes are first resized to it, PIL bilinear, crop 1), normalised with the train split's
 * mean/std, zero-padded (centred) to 32x32, then resized bilinearly with aligned corners to `imageSize`.
 */
export function fashionMnistPretrainedCfg(imageSize: number): PretrainedCfg {
  return {
    inputSize: [1, imageSize, imageSize],
    cropPct: 1,
    interpolation: 'bilinear',
    mean: [MEAN],
    std: [STD],
    numClasses: FASHION_MNIST_CLASSES.length,
    labelSet: 'custom',
    labelNames: [...FASHION_MNIST_CLASSES],
    pad: { contentSize: [28, 28], paddedSize: [PADDED_SIZE, PADDED_SIZE] },
    tag: 'fashion_mnist',
  };
}

/** The files of the hub folder (`config.json`, `model.safetensors`) of `model`, trained at `imageSize`. */
export function bestModelFiles(
  model: HybridBackbone,
  imageSize: number,
  trained: Record<string, unknown>,
): Promise<{ 'config.json': string; 'model.safetensors': Uint8Array }> {
  return backboneHubFiles(model, fashionMnistPretrainedCfg(imageSize), { by: '@swin/ablation', ...trained });
}

/** Writes `files` (from {@link bestModelFiles}) into `dir` (created); returns `dir`. */
export function writeFolder(dir: string, files: Record<string, string | Uint8Array>): string {
  mkdirSync(dir, { recursive: true });
  for (const [name, data] of Object.entries(files)) writeFileSync(join(dir, name), data);
  return dir;
}
