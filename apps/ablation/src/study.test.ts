import { loadBackbone, saveBackbone } from '@swin/backbone';
import { tf, useBackend } from '@swin/testing';
import { describe, expect, it } from 'vitest';
import type { IdxSplit } from './fashion-mnist.js';
import { runOne } from './study.js';
import { makeBatch, rng } from './train.js';

/** A tiny synthetic split: class k has a bright k-th row band, plus noise. */
function synthetic(count: number, seed: number): IdxSplit {
  const r = rng(seed);
  const images = new Uint8Array(count * 28 * 28);
  const labels = new Uint8Array(count);
  for (let i = 0; i < count; i++) {
    const k = i % 10;
    labels[i] = k;
    for (let p = 0; p < 784; p++) {
      const row = Math.floor(p / 28);
      images[i * 784 + p] = Math.floor(r() * 60) + (Math.floor(row / 2.8) === k ? 180 : 0);
    }
  }
  return { images, labels, count, rows: 28, cols: 28 };
}

describe('a run is reproducible from its seed', () => {
  it('the same seed gives the same loss curve and accuracy; another seed differs', async () => {
    await useBackend('cpu');
    const train = synthetic(64, 1);
    const test = synthetic(30, 2);
    const spec = { variant: 'swin-res16', steps: 3, batch: 4, lr: 0.002, testSize: 30 };
    const runs = [];
    for (const seed of [5, 5, 6]) {
      const { record, model } = await runOne({ ...spec, seed }, train, test);
      runs.push({ record, w: Array.from(model.trainableVariables()[0].dataSync()) });
      if (seed === 6) {
        // the saved model (safetensors + its config) loads back and predicts the same logits
        const again = loadBackbone(await saveBackbone(model));
        const { x, y } = makeBatch(test, [0, 1, 2], 16);
        const [a, b] = [model.forward(x), again.forward(x)];
        expect(Array.from(b.dataSync())).toEqual(Array.from(a.dataSync()));
        tf.dispose([x, y, a, b]);
        again.dispose();
      }
      model.dispose();
    }
    const [a, b, c] = runs;
    expect(a.record.loss_curve).toHaveLength(3);
    expect(a.record.loss_curve).toEqual(b.record.loss_curve);
    expect(a.record.test_accuracy).toBe(b.record.test_accuracy);
    expect(a.w).toEqual(b.w);
    expect(a.record.loss_curve).not.toEqual(c.record.loss_curve);
    expect(a.w).not.toEqual(c.w);
    expect(a.record.test_size).toBe(30);
  }, 120_000);
});
