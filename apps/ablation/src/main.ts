/**
 * The ablation app (the repo's main job): trains the same small hierarchical backbone with each attention
 * kind on Fashion-MNIST and prints parameters, MACs, speed, loss and test accuracy side by side.
 *
 *   pnpm demo                              # all variants, defaults below
 *   pnpm --filter @swin/ablation start -- --variants swin,shunted --steps 300 --backend wasm --json
 */
import { parseArgs } from 'node:util';
import { createBackbone } from '@swin/backbone';
import * as tf from '@tensorflow/tfjs';
import '@tensorflow/tfjs-backend-wasm';
import { registerWasmKernels } from '@swin/wasm';
import { DEFAULT_FASHION_MNIST_DIR, loadFashionMnist } from './fashion-mnist.js';
import { evaluate, trainModel } from './train.js';
import { VARIANTS } from './variants.js';

const { values } = parseArgs({
  options: {
    variants: { type: 'string', default: Object.keys(VARIANTS).join(',') },
    steps: { type: 'string', default: '150' },
    batch: { type: 'string', default: '32' },
    lr: { type: 'string', default: '0.002' },
    'test-size': { type: 'string', default: '2000' },
    backend: { type: 'string', default: 'wasm' },
    data: { type: 'string', default: DEFAULT_FASHION_MNIST_DIR },
    seed: { type: 'string', default: '1' },
    json: { type: 'boolean', default: false },
  },
  allowPositionals: false,
});

const log = (s: string) => process.stderr.write(`${s}\n`);

async function main() {
  const names = values.variants.split(',').filter(Boolean);
  for (const n of names) {
    if (!(n in VARIANTS))
      throw new Error(`unknown variant '${n}' (known: ${Object.keys(VARIANTS).join(', ')})`);
  }
  registerWasmKernels(); // the WebAssembly kernels behind @swin/nn's fast paths (wasm, cpu)
  await tf.setBackend(values.backend);
  await tf.ready();
  const train = loadFashionMnist('train', values.data);
  const test = loadFashionMnist('t10k', values.data);
  const steps = Number(values.steps);
  const batchSize = Number(values.batch);
  log(
    `Fashion-MNIST: ${train.count} train / ${test.count} test images; backend ${tf.getBackend()}; ${steps} steps of ${batchSize}`,
  );
  const rows = [];
  for (const name of names) {
    const config = VARIANTS[name];
    const model = createBackbone(config);
    const params = model.numParams();
    const mmacs = model.macs(32, 32) / 1e6;
    log(
      `\n[${name}] ${config.stages.map((s) => s.block.kind).join(' / ')}: ${(params / 1e6).toFixed(3)} M params, ${mmacs.toFixed(1)} MMACs`,
    );
    const t = await trainModel(model, train, {
      steps,
      batchSize,
      imageSize: 32,
      learningRate: Number(values.lr),
      seed: Number(values.seed),
      logEvery: 50,
      onLog: (step, loss) => log(`  step ${step}: loss ${loss.toFixed(3)}`),
    });
    const e = await evaluate(model, test, {
      limit: Number(values['test-size']),
      batchSize: 100,
      imageSize: 32,
    });
    rows.push({
      variant: name,
      blocks: config.stages.map((s) => s.block.kind).join('/'),
      params,
      mmacs,
      train_ms_per_step: t.stepMsMedian,
      eval_ms_per_100: e.forwardMsMedian,
      loss_first: t.firstLoss,
      loss_last: t.lastLoss,
      test_accuracy: e.accuracy,
    });
    log(
      `  loss ${t.firstLoss.toFixed(3)} -> ${t.lastLoss.toFixed(3)}, test accuracy ${(e.accuracy * 100).toFixed(1)}%`,
    );
    model.dispose();
  }
  if (values.json) {
    process.stdout.write(`${JSON.stringify(rows)}\n`);
    return;
  }
  const header =
    '| variant | blocks | params | MMACs | train ms/step | eval ms/100 | loss first -> last | test acc |';
  const lines = [header, '|---|---|---:|---:|---:|---:|---|---:|'];
  for (const r of rows) {
    lines.push(
      `| ${r.variant} | ${r.blocks} | ${(r.params / 1e3).toFixed(1)}k | ${r.mmacs.toFixed(1)} | ${r.train_ms_per_step.toFixed(0)} | ${r.eval_ms_per_100.toFixed(0)} | ${r.loss_first.toFixed(3)} -> ${r.loss_last.toFixed(3)} | ${(r.test_accuracy * 100).toFixed(1)}% |`,
    );
  }
  process.stdout.write(
    `\nAblation on Fashion-MNIST (${steps} steps x ${batchSize}, backend ${tf.getBackend()}, medians):\n\n${lines.join('\n')}\n`,
  );
}

main().catch((e) => {
  process.stderr.write(`ablation: ${e instanceof Error ? e.message : e}\n`);
  process.exit(1);
});
