import { backboneMacs, createBackbone, type HybridBackbone } from '@swin/backbone';
import { withInitSeed } from '@swin/nn';
import { registerWasmKernels } from '@swin/wasm';
import * as tf from '@tensorflow/tfjs';
import type { IdxSplit } from './fashion-mnist.js';
import type { RunRecord } from './report.js';
import { evaluate, trainModel } from './train.js';
import { VARIANTS } from './variants.js';

export interface RunSpec {
  variant: string;
  seed: number;
  steps: number;
  batch: number;
  lr: number;
  testSize: number;
}

export interface RunHooks {
  onStep?: (step: number, loss: number) => void;
  onEval?: (done: number, total: number) => void;
}

/**
 * Trains one variant from one seed (the seed fixes the initial weights through `withInitSeed` and the batch
 * order) and evaluates it on the first `testSize` test images. Returns the record and the trained model
 * (the caller disposes it).
 */
export async function runOne(
  spec: RunSpec,
  train: IdxSplit,
  test: IdxSplit,
  hooks: RunHooks = {},
): Promise<{ record: RunRecord; model: HybridBackbone }> {
  const v = VARIANTS[spec.variant];
  if (!v) throw new Error(`ablation: unknown variant '${spec.variant}'`);
  const model = withInitSeed(spec.seed, () => createBackbone(v.config));
  try {
    const t = await trainModel(model, train, {
      steps: spec.steps,
      batchSize: spec.batch,
      imageSize: v.imageSize,
      learningRate: spec.lr,
      seed: spec.seed,
      onStep: hooks.onStep,
    });
    const e = await evaluate(model, test, {
      limit: spec.testSize,
      batchSize: 100,
      imageSize: v.imageSize,
      onBatch: hooks.onEval,
    });
    const record: RunRecord = {
      variant: v.name,
      group: v.group,
      description: v.description,
      seed: spec.seed,
      blocks: v.config.stages.map((s) => s.block.kind).join('/'),
      image_size: v.imageSize,
      mlp_ratio: v.config.stages[0].block.mlpRatio ?? 4,
      params: model.numParams(),
      macs: backboneMacs(v.config, v.imageSize, v.imageSize),
      steps: spec.steps,
      batch: spec.batch,
      lr: spec.lr,
      test_size: e.count,
      test_accuracy: e.accuracy,
      train_ms_per_step: t.stepMsMedian,
      eval_ms_per_100: e.forwardMsMedian,
      train_seconds: t.totalMs / 1000,
      loss_first: t.firstLoss,
      loss_last: t.lastLoss,
      loss_curve: t.losses.map((l) => Math.round(l * 1e4) / 1e4),
    };
    return { record, model };
  } catch (err) {
    model.dispose();
    throw err;
  }
}

/** Sets and readies the tfjs backend (`wasm` registers from `@tensorflow/tfjs-backend-wasm`). */
export async function initBackend(name: string): Promise<void> {
  registerWasmKernels(); // the WebAssembly kernels behind @swin/nn's fast paths on 'wasm' and 'cpu'
  if (name === 'wasm') await import('@tensorflow/tfjs-backend-wasm');
  if (!(await tf.setBackend(name))) throw new Error(`ablation: backend '${name}' could not be initialised`);
  await tf.ready();
}
