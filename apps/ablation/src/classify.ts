/**
 * Runs a model saved by the ablation on Fashion-MNIST test images with the ablation's own transform:
 *   pnpm --filter @swin/ablation classify <run dir | best-model dir | .safetensors> [--count N] [--from I]
 * (paths relative to the directory pnpm is started from)
 *     [--data DIR] [--backend wasm|cpu] [--png DIR]
 * Prints one line per image (true class, predicted class, probability) and the accuracy; `--png DIR` also
 * writes those test images as PNG files, to compare with `pnpm swin classify --weights <run>/best-model DIR/*.png`.
 */
import { parseArgs } from 'node:util';
import { DEFAULT_FASHION_MNIST_DIR, FASHION_MNIST_CLASSES, loadFashionMnist } from './fashion-mnist.js';
import { loadBestModel, predictTestImages, writeTestPngs } from './predict.js';
import { initBackend } from './study.js';

async function main(): Promise<void> {
  // `pnpm --filter @swin/ablation classify ...` runs in apps/ablation: resolve paths from where pnpm was started
  if (process.env.INIT_CWD) process.chdir(process.env.INIT_CWD);
  const { values, positionals } = parseArgs({
    options: {
      count: { type: 'string', default: '10' },
      from: { type: 'string', default: '0' },
      data: { type: 'string', default: DEFAULT_FASHION_MNIST_DIR },
      backend: { type: 'string', default: 'wasm' },
      png: { type: 'string' },
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
  if (!target)
    throw new Error('give the output folder of a run (or its best-model folder or a .safetensors)');
  await initBackend(values.backend);
  const { model, imageSize } = loadBestModel(target);
  const test = loadFashionMnist('t10k', values.data);
  const idx = Array.from({ length: count }, (_, i) => from + i);
  const files = values.png ? writeTestPngs(test, idx, values.png) : null;
  const preds = await predictTestImages(model, test, idx, imageSize);
  model.dispose();
  let correct = 0;
  preds.forEach((p, i) => {
    if (p.index === p.label) correct++;
    if (count <= 50)
      process.stdout.write(
        `#${p.image}: ${FASHION_MNIST_CLASSES[p.label].padEnd(11)} -> ${FASHION_MNIST_CLASSES[p.index].padEnd(11)} (${(p.probability * 100).toFixed(2)}%)${files ? `  ${files[i]}` : ''}\n`,
      );
  });
  process.stdout.write(
    `${model.config.name}: ${correct}/${count} correct (${((correct / count) * 100).toFixed(1)}%)\n`,
  );
}

main().catch((e) => {
  process.stderr.write(`classify: ${e instanceof Error ? e.message : e}\n`);
  process.exit(1);
});
