/**
 * `swin features --model NAME [--weights ...] IMAGE [--out FILE.safetensors]`: the multi-scale feature maps of
 * `forwardFeatures` (NHWC `[1, H_i, W_i, C_i]`), their shapes and statistics, optionally saved as safetensors
 * (`features.<i>`, F32).
 */
import { writeFile } from 'node:fs/promises';
import { tensorsToSafetensors } from '@swin/io';
import { extractFeatures } from '@swin/models';
import type * as tf from '@tensorflow/tfjs-core';
import { loadModel, type ModelOptions } from '../model.js';

/** Options of {@link features}. */
export interface FeaturesOptions extends ModelOptions {
  out?: string;
  json?: boolean;
}

/** Statistics of one stage output. */
export interface FeatureStats {
  name: string;
  shape: number[];
  reduction?: number;
  mean: number;
  std: number;
  min: number;
  max: number;
}

/** Statistics of a feature map (population std). */
export function statsOf(
  name: string,
  data: ArrayLike<number>,
  shape: number[],
  reduction?: number,
): FeatureStats {
  let sum = 0;
  let min = Number.POSITIVE_INFINITY;
  let max = Number.NEGATIVE_INFINITY;
  for (let i = 0; i < data.length; i++) {
    const v = data[i];
    sum += v;
    if (v < min) min = v;
    if (v > max) max = v;
  }
  const mean = sum / data.length;
  let sq = 0;
  for (let i = 0; i < data.length; i++) sq += (data[i] - mean) ** 2;
  const s: FeatureStats = { name, shape, mean, std: Math.sqrt(sq / data.length), min, max };
  if (reduction !== undefined) s.reduction = reduction;
  return s;
}

/** Runs `swin features`. */
export async function features(image: string, opts: FeaturesOptions): Promise<void> {
  if (opts.out !== undefined && !opts.out.endsWith('.safetensors'))
    throw new Error(`output '${opts.out}' must end in .safetensors`);
  const { model, pretrainedCfg } = await loadModel(opts);
  const named: Record<string, tf.Tensor> = {};
  const stats: FeatureStats[] = [];
  try {
    const { features: maps, info } = await extractFeatures(model, image, pretrainedCfg);
    maps.forEach((m, i) => {
      named[`features.${i}`] = m;
    });
    for (const [i, m] of maps.entries()) {
      stats.push(statsOf(`features.${i}`, await m.data(), m.shape.slice(), info[i]?.reduction));
    }
    if (opts.out !== undefined) await writeFile(opts.out, await tensorsToSafetensors(named));
  } finally {
    for (const t of Object.values(named)) t.dispose();
    model.dispose();
  }
  if (opts.json) {
    process.stdout.write(`${JSON.stringify({ image, features: stats, out: opts.out ?? null }, null, 2)}\n`);
    return;
  }
  const g = (v: number) => v.toPrecision(4).padStart(10);
  const lines = stats.map(
    (s) =>
      `${s.name.padEnd(11)} [${s.shape.join(', ')}]`.padEnd(34) +
      `${s.reduction !== undefined ? `/${s.reduction}`.padStart(4) : '    '}  mean${g(s.mean)}  std${g(s.std)}  min${g(s.min)}  max${g(s.max)}`,
  );
  process.stdout.write(`${image}\n${lines.join('\n')}\n`);
  if (opts.out !== undefined)
    process.stdout.write(`wrote ${opts.out}: ${stats.length} feature maps (F32, NHWC)\n`);
}
