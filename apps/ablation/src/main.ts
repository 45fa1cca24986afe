/**
 * The ablation app (the repo's main job): trains the same small hierarchical backbone with each attention
 * kind on Fashion-MNIST, parameter-matched, over several seeds, and writes results, plots and the best model.
 *
 *   pnpm demo                                   # quick: 5 attention kinds, 1 seed (a few minutes)
 *   pnpm demo -- --full                         # the study: every variant, 3 seeds, whole test set
 *   pnpm demo -- --help
 */
import { mkdirSync, writeFileSync } from 'node:fs';
import { loadavg } from 'node:os';
import { join, resolve } from 'node:path';
import * as tf from '@tensorflow/tfjs';
import cliProgress from 'cli-progress';
import { type AblationOptions, parseCli, USAGE, UsageError } from './args.js';
import { BEST_MODEL_DIR, bestModelFiles, writeFolder } from './best-model.js';
import { loadFashionMnist } from './fashion-mnist.js';
import { writePlots } from './plots.js';
import { markdownTable, type RunRecord, summarise, toCsv } from './report.js';
import { initBackend, runOne } from './study.js';
import { VARIANTS } from './variants.js';

const log = (s: string) => process.stderr.write(`${s}\n`);

async function run(o: AblationOptions): Promise<void> {
  await initBackend(o.backend);
  const train = loadFashionMnist('train', o.data);
  const test = loadFashionMnist('t10k', o.data);
  const out = resolve(o.out);
  mkdirSync(out, { recursive: true });
  // seed-major: a study stopped early still has the same seeds for every variant
  const runs = o.seeds.flatMap((seed) => o.variants.map((variant) => ({ variant, seed })));
  const evalUnits = Math.ceil(Math.min(o.testSize, test.count) / 100);
  const unitsPerRun = o.steps + evalUnits;
  const started = new Date();
  const load0 = loadavg()[0];
  log(
    `ablation: ${runs.length} runs (${o.variants.length} variants x ${o.seeds.length} seeds), ${o.steps} steps of ${o.batch}, ` +
      `test ${Math.min(o.testSize, test.count)} images, backend ${tf.getBackend()}; writing to ${out}`,
  );
  const tty = o.progress && process.stderr.isTTY;
  const bars = tty
    ? new cliProgress.MultiBar(
        {
          stream: process.stderr,
          clearOnComplete: false,
          hideCursor: true,
          etaBuffer: 50,
          format: '{label} [{bar}] {percentage}% | ETA {eta_formatted} | {info}',
        },
        cliProgress.Presets.shades_classic,
      )
    : null;
  const overall = bars?.create(runs.length * unitsPerRun, 0, { label: 'overall      ', info: '' });
  const records: RunRecord[] = [];
  let best: {
    acc: number;
    files: Record<string, string | Uint8Array>;
    variant: string;
    seed: number;
  } | null = null;
  const t0 = performance.now();
  for (const [i, r] of runs.entries()) {
    const label = `${i + 1}/${runs.length} ${r.variant} seed ${r.seed}`;
    const bar = bars?.create(unitsPerRun, 0, {
      label: `${`run ${i + 1}/${runs.length}`.padEnd(13)}`,
      info: '',
    });
    if (!bars) log(`[${label}] training...`);
    const base = i * unitsPerRun;
    const { record, model } = await runOne(
      { ...r, steps: o.steps, batch: o.batch, lr: o.lr, testSize: o.testSize },
      train,
      test,
      {
        onStep: (step, loss) => {
          const info = `${r.variant} s${r.seed} step ${step}/${o.steps} loss ${loss.toFixed(3)}`;
          bar?.update(step, { info });
          overall?.update(base + step, {
            info: `variant ${o.variants.indexOf(r.variant) + 1}/${o.variants.length}`,
          });
          if (!bars && step % 100 === 0) log(`  ${info}`);
        },
        onEval: (done, total) => {
          bar?.update(o.steps + Math.ceil(done / 100), {
            info: `${r.variant} s${r.seed} eval ${done}/${total}`,
          });
          overall?.update(base + o.steps + Math.ceil(done / 100));
        },
      },
    );
    records.push(record);
    if (o.saveBest && (!best || record.test_accuracy > best.acc)) {
      best = {
        acc: record.test_accuracy,
        files: await bestModelFiles(model, VARIANTS[r.variant].imageSize, {
          variant: r.variant,
          seed: r.seed,
          steps: o.steps,
          batch: o.batch,
          lr: o.lr,
          test_accuracy: record.test_accuracy,
          test_size: record.test_size,
        }),
        variant: r.variant,
        seed: r.seed,
      };
    }
    model.dispose();
    bar?.stop();
    if (bars && bar) bars.remove(bar);
    const msg = `[${label}] loss ${record.loss_first.toFixed(3)} -> ${record.loss_last.toFixed(3)}, test accuracy ${(record.test_accuracy * 100).toFixed(2)}% (${record.train_ms_per_step.toFixed(0)} ms/step)`;
    if (bars) bars.log(`${msg}\n`);
    else log(msg);
    // written after every run: a stopped study keeps what it finished
    writeResults(out, o, records, started, (performance.now() - t0) / 1000, load0, false);
  }
  bars?.stop();
  const wall = (performance.now() - t0) / 1000;
  writeResults(out, o, records, started, wall, load0, true);
  if (best) {
    // a hub folder: `swin classify --weights <out>/best-model IMAGE...` and loadPretrained(null, ...) read it
    writeFolder(join(out, BEST_MODEL_DIR), best.files);
    // the single-file form earlier runs wrote (docs/scripts/ship-attention-model.mjs reads it)
    writeFileSync(join(out, 'best-model.safetensors'), best.files['model.safetensors']);
    writeFileSync(
      join(out, 'best-model.json'),
      `${JSON.stringify({ variant: best.variant, seed: best.seed, test_accuracy: best.acc, image_size: VARIANTS[best.variant].imageSize, config: VARIANTS[best.variant].config }, null, 2)}\n`,
    );
  }
  try {
    await writePlots(out, records);
  } catch (e) {
    log(`ablation: plots skipped (${e instanceof Error ? e.message : e})`);
  }
  const summary = summarise(records);
  process.stdout.write(
    `\nAblation on Fashion-MNIST (${o.steps} steps x ${o.batch}, ${o.seeds.length} seed(s), test ${records[0]?.test_size} images, backend ${tf.getBackend()}, ${wall.toFixed(0)} s):\n\n${markdownTable(summary)}\n\n`,
  );
  if (o.json) process.stdout.write(`${JSON.stringify(records)}\n`);
  process.stdout.write(
    `Wrote ${join(out, 'results.json')}, results.csv, summary.md${best ? `, ${BEST_MODEL_DIR}/ (${best.variant} seed ${best.seed}: config.json + model.safetensors)` : ''} and plots to ${out}\n`,
  );
}

function writeResults(
  out: string,
  o: AblationOptions,
  records: RunRecord[],
  started: Date,
  wallSeconds: number,
  load: number,
  complete: boolean,
): void {
  const meta = {
    command: `pnpm demo${process.argv.length > 2 ? ` -- ${process.argv.slice(2).join(' ')}` : ''}`,
    started: started.toISOString(),
    wall_seconds: Math.round(wallSeconds),
    load_average_at_start: Math.round(load * 100) / 100,
    load_average_at_end: Math.round(loadavg()[0] * 100) / 100,
    complete,
    backend: tf.getBackend(),
    node: process.version,
    options: { ...o, out: undefined },
    matching: 'parameters: every variant within 10% of the reference swin (MLP ratio adjusted)',
  };
  writeFileSync(
    join(out, 'results.json'),
    `${JSON.stringify({ meta, summary: summarise(records), records }, null, 1)}\n`,
  );
  writeFileSync(join(out, 'results.csv'), toCsv(records));
  writeFileSync(
    join(out, 'summary.md'),
    `# Ablation results\n\nCommand: \`${meta.command}\`, started ${meta.started}, wall time ${meta.wall_seconds} s, ` +
      `load average ${meta.load_average_at_start} at start / ${meta.load_average_at_end} at end, backend ${meta.backend}.\n` +
      `Variants matched on parameters (within 10%).\n\n${markdownTable(summarise(records))}\n`,
  );
}

async function main(): Promise<void> {
  let parsed: ReturnType<typeof parseCli>;
  try {
    parsed = parseCli(process.argv.slice(2));
  } catch (e) {
    if (e instanceof UsageError) {
      process.stderr.write(`ablation: ${e.message}\nRun with --help for usage.\n`);
      process.exit(2);
    }
    throw e;
  }
  if ('help' in parsed) {
    process.stdout.write(USAGE);
    return;
  }
  if ('list' in parsed) {
    for (const v of Object.values(VARIANTS))
      process.stdout.write(`${v.name.padEnd(22)} ${v.group.padEnd(11)} ${v.description}\n`);
    return;
  }
  await run(parsed);
}

main().catch((e) => {
  process.stderr.write(`ablation: ${e instanceof Error ? e.message : e}\n`);
  process.exit(1);
});
