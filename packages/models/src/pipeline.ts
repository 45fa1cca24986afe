/**
 * From an image to predictions or multi-scale features in one call, with the evaluation transform of the
 * weights' pretrained config (`@swin/preprocess`: PIL-exact resize, centre crop, normalisation).
 */
import type { FeatureInfo } from '@swin/nn';
import { loadImage, type RGBImage } from '@swin/preprocess';
import * as tf from '@tensorflow/tfjs-core';
import type { RegistryModel } from './create.js';
import { type LoadPretrainedOptions, loadPretrained } from './load.js';
import { type PretrainedCfg, pretrainedCfgOf } from './pretrained.js';
import { labelsFor, type Prediction, topK } from './topk.js';
import { transformImage } from './transform.js';

/** Anything `@swin/preprocess`'s `loadImage` takes, or an already decoded RGB image. */
export type ImageInput = Parameters<typeof loadImage>[0] | RGBImage;

function isRGBImage(v: unknown): v is RGBImage {
  const o = v as RGBImage;
  return (
    !!o &&
    typeof o === 'object' &&
    o.data instanceof Uint8Array &&
    typeof o.width === 'number' &&
    typeof o.height === 'number' &&
    o.data.length === o.width * o.height * 3
  );
}

/**
 * Decodes `image` (unless it already is an {@link RGBImage}) and applies the eval transform of `cfg`
 * (`transformImage`: timm's for RGB weights; grayscale and the letterbox for `inputSize[0] === 1` / `cfg.pad`):
 * `[1, H, W, inputSize[0]]`.
 */
export async function preprocessImage(image: ImageInput, cfg: PretrainedCfg): Promise<tf.Tensor4D> {
  const img = isRGBImage(image) ? image : await loadImage(image as Parameters<typeof loadImage>[0]);
  return transformImage(img, cfg);
}

/** An image-classification pipeline: call it on an image; `dispose()` frees the model. */
export interface ClassificationPipeline {
  (image: ImageInput, opts?: { topK?: number }): Promise<Prediction[]>;
  readonly model: RegistryModel;
  readonly pretrainedCfg: PretrainedCfg;
  /** Class names in logit order (null when unknown: predictions are then named `class <i>`). */
  readonly labels: readonly string[] | null;
  dispose(): void;
}

/** Options of {@link pipeline}: where the weights come from (see `loadPretrained`), or an already built model. */
export type PipelineOptions =
  | (LoadPretrainedOptions & { topK?: number })
  | { model: RegistryModel; pretrainedCfg?: PretrainedCfg; topK?: number };

function withCfg(
  model: RegistryModel,
  cfg?: PretrainedCfg,
): { model: RegistryModel; pretrainedCfg: PretrainedCfg } {
  const pretrainedCfg = cfg ?? pretrainedCfgOf(model);
  if (!pretrainedCfg) {
    throw new Error(
      'pipeline: the model has no pretrained config attached (not from createModel/loadPretrained); pass opts.pretrainedCfg',
    );
  }
  return { model, pretrainedCfg };
}

/**
 * `pipeline('image-classification', name, { weights })`: loads the model (`loadPretrained(name, opts)`; `name`
 * may be null when the weights carry their architecture) and returns a function from an image (path, bytes,
 * `Blob`, `ImageData`, `ImageBitmap`, image/canvas element, or a decoded {@link RGBImage}) to its top-k classes:
 * eval transform of the weights' pretrained config -> `forward` -> softmax -> top k (default 5). No tensors are
 * kept between calls. Pass `{ model }` (and its `pretrainedCfg` unless it came from `createModel` /
 * `loadPretrained`) instead of weights to wrap a model you already have; `dispose()` then disposes it too.
 */
export async function pipeline(
  task: 'image-classification',
  name: string | null,
  opts: PipelineOptions,
): Promise<ClassificationPipeline> {
  if (task !== 'image-classification') {
    throw new Error(`pipeline: unknown task '${String(task)}' (supported: 'image-classification')`);
  }
  const { model, pretrainedCfg } =
    'model' in opts ? withCfg(opts.model, opts.pretrainedCfg) : await loadPretrained(name, opts);
  const defaultK = opts.topK ?? 5;
  const labels = labelsFor(pretrainedCfg);
  let disposed = false;
  const run = async (image: ImageInput, o: { topK?: number } = {}): Promise<Prediction[]> => {
    if (disposed) throw new Error('pipeline: called after dispose()');
    const x = await preprocessImage(image, pretrainedCfg);
    try {
      const logits = model.forward(x);
      try {
        return topK(logits, o.topK ?? defaultK, { labels })[0];
      } finally {
        logits.dispose();
      }
    } finally {
      x.dispose();
    }
  };
  return Object.assign(run, {
    model,
    pretrainedCfg,
    labels,
    dispose: () => {
      if (!disposed) model.dispose();
      disposed = true;
    },
  });
}

/** What {@link extractFeatures} returns. The caller disposes `features` (see `disposeFeatures`). */
export interface ExtractedFeatures {
  /** Per-stage feature maps, NHWC `[1, H_i, W_i, C_i]`, shallow to deep. */
  features: tf.Tensor4D[];
  /** Channels, total stride and module of each stage (the model's `featureInfo`). */
  info: FeatureInfo[];
}

/**
 * Multi-scale features of one image through the model's `forwardFeatures` (each stage's output, NHWC). `image`
 * is either a preprocessed `[B, H, W, C]` tensor (used as is, not disposed) or an image input, then transformed
 * with `pretrainedCfg` (default: the settings `createModel` / `loadPretrained` attached to the model).
 */
export async function extractFeatures(
  model: RegistryModel,
  image: ImageInput | tf.Tensor4D,
  pretrainedCfg?: PretrainedCfg,
): Promise<ExtractedFeatures> {
  if (image instanceof tf.Tensor) {
    if (image.rank !== 4)
      throw new Error(`extractFeatures: expected a [B, H, W, C] tensor, got [${image.shape}]`);
    return { features: model.forwardFeatures(image), info: model.featureInfo };
  }
  const cfg = pretrainedCfg ?? pretrainedCfgOf(model);
  if (!cfg) {
    throw new Error(
      'extractFeatures: the model has no pretrained config attached (not from createModel/loadPretrained); pass one to preprocess an image',
    );
  }
  const x = await preprocessImage(image, cfg);
  try {
    return { features: model.forwardFeatures(x), info: model.featureInfo };
  } finally {
    x.dispose();
  }
}

/** Disposes the tensors of {@link extractFeatures}. */
export function disposeFeatures(f: ExtractedFeatures): void {
  for (const t of f.features) t.dispose();
}
