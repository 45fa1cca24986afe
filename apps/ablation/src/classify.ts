/**
 * Loads a model saved by the ablation (best-model.safetensors: weights + backbone config in its metadata)
 * and classifies Fashion-MNIST test images with it:
 *   tsx --conditions=@swin/source apps/ablation/src/classify.ts <dir or .safetensors> [--count N] [--from I] [--data DIR]
 * Prints one line per image (true class, predicted class, probability) and the accuracy.
 */
import { existsSync, readFileSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { parseArgs } from 'node:util';
import { loadBackbone } from '@swin/backbone';
import * as tf from '@tensorflow/tfjs';
import { DEFAULT_FASHION_MNIST_DIR, FASHION_MNIST_CLASSES, loadFashionMnist } from './fashion-mnist.js';
import { initBackend } from './study.js';
import { makeBatch } from './train.js';

async function main(): Promise<void> {
  const { values, positionals } = parseArgs({
    options: {
      count: { type: 'string', default: '10' },
      from: { type: 'string', default: '0' },
      data: { type: 'string', default: DEFAULT_FASHION_MNIST_DIR },
      backend: { type: 'string', default: 'wasm' },
    },
    allowPositionals: true,
  });
  const count = Number(values.count);
  const from = Number(values.from);
  if (!Number.isInteger(count) || count < 1 || count > 10000)
    throw new Error(`--count must be 1..10000, got '${values.count}'`);
  if (!Number.isInteger(from) || from < 0 || from + count > 10000)
    throw new Error(`--from must be 0..${10000 - count}, got '${values.from}'`);
  const target = positionals[0];
  if (!target) throw new Error('give the output folder of a run (or its best-model.safetensors)');
  const file =
    existsSync(target) && statSync(target).isDirectory() ? join(target, 'best-model.safetensors') : target;
  if (!existsSync(file)) throw new Error(`no model at ${file}`);
  await initBackend(values.backend);
  const model = loadBackbone(readFileSync(file));
  const size = Array.isArray(model.config.imgSize) ? model.config.imgSize[0] : model.config.imgSize;
  const test = loadFashionMnist('t10k', values.data);
  const idx = Array.from({ length: count }, (_, i) => from + i);
  let correct = 0;
  for (let s = 0; s < idx.length; s += 100) {
    const { x, y } = makeBatch(test, idx.slice(s, s + 100), size);
    const probs = tf.tidy(() => tf.softmax(model.forward(x)));
    const [p, t] = [(await probs.array()) as number[][], await y.data()];
    tf.dispose([x, y, probs]);
    p.forEach((row, i) => {
      const k = row.indexOf(Math.max(...row));
      if (k === t[i]) correct++;
      if (count <= 50)
        process.stdout.write(
          `#${idx[s + i]}: ${FASHION_MNIST_CLASSES[t[i]].padEnd(11)} -> ${FASHION_MNIST_CLASSES[k].padEnd(11)} (${(row[k] * 100).toFixed(1)}%)\n`,
        );
    });
  }
  model.dispose();
  process.stdout.write(
    `${model.config.name}: ${correct}/${count} correct (${((correct / count) * 100).toFixed(1)}%)\n`,
  );
}

main().catch((e) => {
  process.stderr.write(`classify: ${e instanceof Error ? e.message : e}\n`);
  process.exit(1);
});
