/**
 * Class names and top-k predictions from logits.
 */
import * as tf from '@tensorflow/tfjs-core';
import { IMAGENET_1K_LABELS } from './imagenet-1k.js';
import type { PretrainedCfg } from './pretrained.js';

/** One prediction. */
export interface Prediction {
  /** Class index (logit position). */
  index: number;
  /** Class name (`'class <index>'` when no names are known). */
  label: string;
  /** Softmax probability of the class over all classes, in [0, 1]. */
  probability: number;
}

/** Options of {@link topK}. */
export interface TopKOptions {
  /** Names in logit order. Default: the ImageNet-1k names when there are 1000 classes, else none. */
  labels?: readonly string[] | null;
}

/**
 * The class names for a pretrained config: its own `labelNames` (hub `label_names`), the ImageNet-1k names for
 * `labelSet: 'imagenet-1k'`, else null (ImageNet-22k names are not bundled).
 */
export function labelsFor(
  cfg: Pick<PretrainedCfg, 'labelSet' | 'labelNames' | 'numClasses'>,
): readonly string[] | null {
  if (cfg.labelNames && cfg.labelNames.length > 0) return cfg.labelNames;
  if (cfg.labelSet === 'imagenet-1k' && cfg.numClasses === 1000) return IMAGENET_1K_LABELS;
  return null;
}

/**
 * The `k` most probable classes of every row of `logits` (`[B, C]`, or `[C]` for one image), best first:
 * softmax over the classes (in float32), then the top `k` (`k` is clamped to `C`). Returns one list per row
 * (`[B][k]`). No tensors are kept; `logits` is not disposed.
 *
 * @throws Error for a logits tensor that is not 1-D/2-D, has no classes, or a `k` that is not a positive integer,
 *   or labels whose count differs from `C`.
 */
export function topK(logits: tf.Tensor, k = 5, opts: TopKOptions = {}): Prediction[][] {
  if (!(logits instanceof tf.Tensor)) throw new Error('topK: logits must be a tf.Tensor');
  if (logits.rank !== 1 && logits.rank !== 2) {
    throw new Error(`topK: logits must be [B, C] or [C], got shape [${logits.shape}]`);
  }
  const C = logits.shape[logits.rank - 1];
  if (!C) throw new Error(`topK: logits have no classes (shape [${logits.shape}])`);
  if (!Number.isInteger(k) || k < 1) throw new Error(`topK: k must be a positive integer, got ${k}`);
  const labels = opts.labels === undefined ? (C === 1000 ? IMAGENET_1K_LABELS : null) : opts.labels;
  if (labels && labels.length !== C) {
    throw new Error(`topK: ${labels.length} labels for ${C} classes`);
  }
  const kk = Math.min(k, C);
  const { values, indices, rows } = tf.tidy(() => {
    const l2 = (logits.rank === 1 ? tf.expandDims(logits, 0) : logits) as tf.Tensor2D;
    const p = tf.softmax(tf.cast(l2, 'float32'));
    const t = tf.topk(p, kk);
    return { values: t.values.dataSync(), indices: t.indices.dataSync(), rows: l2.shape[0] };
  });
  const out: Prediction[][] = [];
  for (let b = 0; b < rows; b++) {
    const row: Prediction[] = [];
    for (let j = 0; j < kk; j++) {
      const index = indices[b * kk + j];
      row.push({ index, label: labels ? labels[index] : `class ${index}`, probability: values[b * kk + j] });
    }
    out.push(row);
  }
  return out;
}
