import { parseArgs } from 'node:util';
import { DEFAULT_FASHION_MNIST_DIR } from './fashion-mnist.js';
import { FULL_VARIANTS, QUICK_VARIANTS, VARIANTS } from './variants.js';

/** Options of one ablation run (after validation). */
export interface AblationOptions {
  variants: string[];
  seeds: number[];
  steps: number;
  batch: number;
  lr: number;
  testSize: number;
  backend: string;
  data: string;
  out: string;
  full: boolean;
  json: boolean;
  progress: boolean;
  saveBest: boolean;
}

/** A usage error: printed with the usage hint, exit code 2. */
export class UsageError extends Error {}

/** The presets: quick (`pnpm demo`) and `--full` (the real study). Flags given explicitly override them. */
export const PRESETS = {
  quick: { variants: QUICK_VARIANTS, seeds: 1, steps: 150, testSize: 2000 },
  full: { variants: FULL_VARIANTS, seeds: 3, steps: 100, testSize: 10000 },
} as const;

export const USAGE = `Usage: ablation [options]

Trains one small hierarchical backbone per attention kind on Fashion-MNIST (parameter-matched variants)
and writes results.json, results.csv, summary.md, plots (SVG + PNG) and the best model to --out.

Options:
  --full               the real study: every variant, 3 seeds, ${PRESETS.full.steps} steps, the whole 10,000-image test set
  --variants LIST      comma-separated variant names (default: quick ${QUICK_VARIANTS.join(',')})
  --seeds N            seeds per variant: 1..N (default quick ${PRESETS.quick.seeds}, full ${PRESETS.full.seeds})
  --seed N             first seed (default 1): seeds are seed..seed+N-1; a seed fixes weights and batch order
  --steps N            training steps per run (default quick ${PRESETS.quick.steps}, full ${PRESETS.full.steps})
  --batch N            batch size (default 32)
  --lr X               Adam learning rate (default 0.002)
  --test-size N        test images evaluated, 1..10000 (default quick ${PRESETS.quick.testSize}, full ${PRESETS.full.testSize})
  --backend NAME       tfjs backend: wasm (default) or cpu
  --data DIR           Fashion-MNIST IDX folder (default ${DEFAULT_FASHION_MNIST_DIR})
  --out DIR            output folder (default ablation-results/<UTC timestamp>)
  --no-save            do not save the best model
  --no-progress        no progress bars (logs only)
  --json               also print the records as JSON on stdout
  --list               list the variants and exit
  -h, --help           this help

Variants: ${Object.keys(VARIANTS).join(', ')}
`;

function int(flag: string, raw: string | undefined, fallback: number, min: number, max: number): number {
  if (raw === undefined) return fallback;
  const v = Number(raw);
  if (!/^\d+$/.test(raw.trim()) || !Number.isSafeInteger(v) || v < min || v > max)
    throw new UsageError(`--${flag} must be an integer in ${min}..${max}, got '${raw}'`);
  return v;
}

function timestamp(d: Date): string {
  return d.toISOString().replace(/[:]/g, '-').replace(/\..*$/, 'Z');
}

/** Parses and validates argv (without node and script); `{ help }` / `{ list }` for those flags. */
export function parseCli(
  argv: string[],
  now = new Date(),
): AblationOptions | { help: true } | { list: true } {
  let values: Record<string, string | boolean | undefined>;
  try {
    ({ values } = parseArgs({
      // `pnpm demo -- --full` hands the script a literal `--` first
      args: argv[0] === '--' ? argv.slice(1) : argv,
      options: {
        full: { type: 'boolean' },
        variants: { type: 'string' },
        seeds: { type: 'string' },
        seed: { type: 'string' },
        steps: { type: 'string' },
        batch: { type: 'string' },
        lr: { type: 'string' },
        'test-size': { type: 'string' },
        backend: { type: 'string' },
        data: { type: 'string' },
        out: { type: 'string' },
        'no-save': { type: 'boolean' },
        'no-progress': { type: 'boolean' },
        json: { type: 'boolean' },
        list: { type: 'boolean' },
        help: { type: 'boolean', short: 'h' },
      },
      allowPositionals: false,
      strict: true,
    }));
  } catch (e) {
    throw new UsageError(e instanceof Error ? e.message.replace(/\. To specify.*$/s, '') : String(e));
  }
  if (values.help) return { help: true };
  if (values.list) return { list: true };
  const full = values.full === true;
  const preset = full ? PRESETS.full : PRESETS.quick;
  const variants =
    typeof values.variants === 'string'
      ? values.variants
          .split(',')
          .map((s) => s.trim())
          .filter(Boolean)
      : [...preset.variants];
  if (variants.length === 0) throw new UsageError('--variants is empty');
  for (const n of variants)
    if (!(n in VARIANTS))
      throw new UsageError(`unknown variant '${n}' (known: ${Object.keys(VARIANTS).join(', ')})`);
  const nSeeds = int('seeds', values.seeds as string | undefined, preset.seeds, 1, 100);
  const first = int('seed', values.seed as string | undefined, 1, 0, 2 ** 31);
  const lrRaw = values.lr as string | undefined;
  const lr = lrRaw === undefined ? 0.002 : Number(lrRaw);
  if (lrRaw !== undefined && (lrRaw.trim() === '' || !Number.isFinite(lr) || lr <= 0 || lr >= 1))
    throw new UsageError(`--lr must be a number in (0, 1), got '${lrRaw}'`);
  const backend = (values.backend as string | undefined) ?? 'wasm';
  if (!['wasm', 'cpu'].includes(backend))
    throw new UsageError(`--backend must be wasm or cpu, got '${backend}'`);
  return {
    variants,
    seeds: Array.from({ length: nSeeds }, (_, i) => first + i),
    steps: int('steps', values.steps as string | undefined, preset.steps, 1, 1_000_000),
    batch: int('batch', values.batch as string | undefined, 32, 1, 4096),
    lr,
    testSize: int('test-size', values['test-size'] as string | undefined, preset.testSize, 1, 10000),
    backend,
    data: (values.data as string | undefined) ?? DEFAULT_FASHION_MNIST_DIR,
    out: (values.out as string | undefined) ?? `ablation-results/${timestamp(now)}`,
    full,
    json: values.json === true,
    progress: values['no-progress'] !== true,
    saveBest: values['no-save'] !== true,
  };
}
