/**
 * `pnpm bench`: model and micro benchmarks on cpu / wasm (this process) and webgl / webgpu (headless
 * Chromium). Logs on stderr; the markdown table (or `--json` array) on stdout. See `--help`.
 */
import '@tensorflow/tfjs-backend-wasm';
import { BROWSER_BACKEND_NAMES, HELP, parseArgs } from './args.js';
import { MODEL_CATALOG, MODEL_IDS } from './models.js';
import { planModelCases } from './plan.js';
import { type BenchRecord, toMarkdown } from './records.js';
import { runSuite, type SuitePlan } from './suite.js';

const log = (msg: string): void => {
  process.stderr.write(`[bench] ${msg}\n`);
};

async function main(): Promise<number> {
  // keep stdout for data only (tfjs prints notices with console.log / console.warn)
  console.log = (...a: unknown[]) => process.stderr.write(`${a.map(String).join(' ')}\n`);
  const opts = parseArgs(process.argv.slice(2), MODEL_IDS);
  if (opts.help) {
    process.stdout.write(HELP);
    return 0;
  }
  const { cases, skipped } = planModelCases(opts, MODEL_CATALOG);
  if (!opts.micro && skipped.length > 0) {
    const reasons = [...new Set(skipped.map((s) => s.reason))].join('; ');
    log(`skipping ${skipped.length} slow case(s) (${reasons}); --slow runs them`);
  }
  if (opts.list) {
    if (opts.micro) process.stdout.write(`micro-benchmarks on ${opts.backends.join(', ')}\n`);
    else
      for (const c of cases)
        process.stdout.write(`${c.backend} ${c.model} ${c.size} b${c.batch} ${c.mode}\n`);
    return 0;
  }
  const t0 = performance.now();
  // wasm: one plan per --kernel-threads setting (run one after another on the same page)
  const plans: SuitePlan[] = opts.backends.flatMap((backend) =>
    (backend === 'wasm' && opts.kernelThreads ? opts.kernelThreads : [undefined]).map((kernelThreads) => ({
      backend,
      micro: opts.micro,
      cases: cases.filter((c) => c.backend === backend),
      batches: opts.explicit.batches ? opts.batches : [1],
      modes: opts.modes,
      timing: {
        warmup: opts.warmup,
        runs: opts.runs,
        budgetMs: opts.budgetSec * 1000,
        profile: opts.profile,
      },
      fastBmm: opts.fastBmm,
      optimizer: opts.optimizer,
      ...(kernelThreads === undefined ? {} : { kernelThreads }),
    })),
  );
  const inBrowser = (backend: string): boolean =>
    opts.browser || (BROWSER_BACKEND_NAMES as readonly string[]).includes(backend);
  const records: BenchRecord[] = [];
  const browserPlans: SuitePlan[] = [];
  for (const plan of plans) {
    if (inBrowser(plan.backend)) browserPlans.push(plan);
    else if (plan.micro || plan.cases.length > 0) records.push(...(await runSuite(plan, log)));
  }
  if (browserPlans.some((p) => p.micro || p.cases.length > 0)) {
    const { runInBrowser } = await import('./browser.js');
    try {
      records.push(...(await runInBrowser(browserPlans, opts.chromium, log, opts.threads)));
    } catch (e) {
      log(`browser backends failed: ${(e as Error).message}`);
    }
  }
  log(`done in ${((performance.now() - t0) / 1000).toFixed(1)} s`);
  process.stdout.write(opts.json ? `${JSON.stringify(records, null, 2)}\n` : `${toMarkdown(records)}\n`);
  return 0;
}

main().then(
  (code) => {
    process.exitCode = code;
  },
  (e: unknown) => {
    process.stderr.write(`${e instanceof Error ? e.message : String(e)}\n`);
    process.exitCode = 1;
  },
);
