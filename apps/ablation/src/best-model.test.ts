/**
 * The best model of a run, saved through the ablation's own code path (`bestModelFiles` -> `best-model/`
 * hub folder), loads back in `@swin/models` and in the `swin` CLI, and both predict on Fashion-MNIST test
 * images written as PNG exactly what the ablation's own evaluation (`makeBatch` + forward) predicts.
 * Trained for a few steps on the real data (Debian's dataset-fashion-mnist; skipped without it) so the
 * predictions differ between images; two variants: one at 16x16 (letterbox + bilinear resize) and one at 32x32.
 */
import { spawn } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { createRequire } from 'node:module';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { backboneHubSpec, loadPretrained, pipeline } from '@swin/models';
import { tf, useBackend } from '@swin/testing';
import { afterAll, describe, expect, it } from 'vitest';
import { BEST_MODEL_DIR, bestModelFiles, fashionMnistPretrainedCfg, writeFolder } from './best-model.js';
import { DEFAULT_FASHION_MNIST_DIR, FASHION_MNIST_CLASSES, loadFashionMnist } from './fashion-mnist.js';
import { loadBestModel, predictTestImages, writeTestPngs } from './predict.js';
import { runOne } from './study.js';
import { makeBatch } from './train.js';

const TSX = createRequire(import.meta.url).resolve('tsx/cli');
const BIN = fileURLToPath(new URL('../../../packages/cli/src/bin.ts', import.meta.url));

function swin(args: string[]): Promise<{ code: number | null; stdout: string; stderr: string }> {
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, [TSX, '--conditions=@swin/source', BIN, ...args], {
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    let stdout = '';
    let stderr = '';
    child.stdout.setEncoding('utf8').on('data', (d) => {
      stdout += d;
    });
    child.stderr.setEncoding('utf8').on('data', (d) => {
      stderr += d;
    });
    child.on('error', reject);
    child.on('close', (code) => resolve({ code, stdout, stderr }));
  });
}

const dir = mkdtempSync(join(tmpdir(), 'ablation-best-model-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

describe('config of the saved model', () => {
  it('describes the training transform and reads back', () => {
    const cfg = fashionMnistPretrainedCfg(16);
    expect(cfg.inputSize).toEqual([1, 16, 16]);
    expect(cfg.pad).toEqual({ contentSize: [28, 28], paddedSize: [32, 32] });
    expect(cfg.labelNames).toEqual([...FASHION_MNIST_CLASSES]);
  });
});

describe.runIf(existsSync(DEFAULT_FASHION_MNIST_DIR))('the best model in swin classify', () => {
  const train = existsSync(DEFAULT_FASHION_MNIST_DIR) ? loadFashionMnist('train') : null;
  const test = existsSync(DEFAULT_FASHION_MNIST_DIR) ? loadFashionMnist('t10k') : null;
  const idx = Array.from({ length: 12 }, (_, i) => 100 + i);

  it.each(['swin-res16', 'pvt-v2-sra'])(
    '%s: saved, loaded by @swin/models and the CLI, same predictions as the ablation',
    async (variant) => {
      if (!train || !test) return;
      await useBackend('wasm');
      const { record, model } = await runOne(
        { variant, seed: 3, steps: 30, batch: 16, lr: 0.002, testSize: 100 },
        train,
        test,
      );
      const out = join(dir, variant);
      const folder = join(out, BEST_MODEL_DIR);
      writeFolder(
        folder,
        await bestModelFiles(model, record.image_size, {
          variant,
          seed: 3,
          test_accuracy: record.test_accuracy,
        }),
      );
      const own = await predictTestImages(model, test, idx, record.image_size);
      model.dispose();
      // meaningful: the trained model does not predict one class for everything
      expect(new Set(own.map((p) => p.index)).size).toBeGreaterThan(1);
      const pngs = writeTestPngs(test, idx, join(out, 'png'));

      // the folder's config.json is valid on its own and names the classes
      const spec = backboneHubSpec(JSON.parse(readFileSync(join(folder, 'config.json'), 'utf8')));
      expect(spec.pretrainedCfg.labelNames).toEqual([...FASHION_MNIST_CLASSES]);
      expect(spec.trained?.variant).toBe(variant);

      // the ablation's own reader finds the folder in the run directory
      const again = loadBestModel(out);
      expect(again.imageSize).toBe(record.image_size);
      again.model.dispose();

      // in process: @swin/models' pipeline on the PNG files
      const before = tf.memory().numTensors;
      const classify = await pipeline('image-classification', null, { weights: folder });
      expect(classify.labels).toEqual([...FASHION_MNIST_CLASSES]);
      for (const [i, png] of pngs.entries()) {
        const [top] = await classify(png, { topK: 1 });
        expect(top.index, `image ${idx[i]}`).toBe(own[i].index);
        expect(top.label).toBe(FASHION_MNIST_CLASSES[own[i].index]);
        expect(top.probability).toBeCloseTo(own[i].probability, 4);
      }
      classify.dispose();
      expect(tf.memory().numTensors).toBe(before);

      // the transform: the PNG through preprocessImage is makeBatch's input, bit for bit
      const loaded = await loadPretrained(null, { weights: folder });
      expect(loaded.family).toBe('backbone');
      const { preprocessImage } = await import('@swin/models');
      const x = await preprocessImage(pngs[0], loaded.pretrainedCfg);
      const ref = makeBatch(test, [idx[0]], record.image_size);
      expect(x.shape).toEqual([1, record.image_size, record.image_size, 1]);
      expect(Array.from(x.dataSync())).toEqual(Array.from(ref.x.dataSync()));
      tf.dispose([x, ref.x, ref.y]);
      loaded.model.dispose();

      // the CLI, as a user runs it
      const r = await swin(['classify', '--weights', folder, '--top', '2', '--json', '--quiet', ...pngs]);
      expect(r.stderr).toBe('');
      expect(r.code).toBe(0);
      const results = JSON.parse(r.stdout) as {
        image: string;
        predictions: { index: number; label: string; probability: number }[];
      }[];
      expect(results.map((x) => x.image)).toEqual(pngs);
      results.forEach((res, i) => {
        expect(res.predictions).toHaveLength(2);
        expect(res.predictions[0].index, `image ${idx[i]}`).toBe(own[i].index);
        expect(res.predictions[0].label).toBe(FASHION_MNIST_CLASSES[own[i].index]);
        expect(res.predictions[0].probability).toBeCloseTo(own[i].probability, 4);
      });
    },
    300_000,
  );
});
