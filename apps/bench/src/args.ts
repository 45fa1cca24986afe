import type { Mode, Optimizer } from './records.js';

export const NODE_BACKEND_NAMES = ['cpu', 'wasm'] as const;
export const BROWSER_BACKEND_NAMES = ['webgl', 'webgpu'] as const;
export const ALL_BACKENDS: readonly string[] = [...NODE_BACKEND_NAMES, ...BROWSER_BACKEND_NAMES];
export const MODES: readonly Mode[] = ['forward', 'train'];
export const OPTIMIZERS: readonly Optimizer[] = ['swin', 'tfjs'];

/** Parsed command line. `explicit` records which filters the user gave (they waive the slow rules). */
export interface BenchOptions {
  models: string[];
  backends: string[];
  /** null: each model's default sizes */
  sizes: number[] | null;
  batches: number[];
  modes: Mode[];
  /** timed runs per case (upper bound, see budgetSec) */
  runs: number;
  /** untimed warm-up runs per case (at least 1: the first one is profiled for peak memory) */
  warmup: number;
  /** stop timing a case once its timed runs add up to this many seconds (after at least 2 runs) */
  budgetSec: number;
  json: boolean;
  /** run the micro-benchmark group instead of the models */
  micro: boolean;
  /** include the slow combinations skipped by default */
  slow: boolean;
  /** log the 12 most expensive kernels of each case's profiled warm-up run */
  profile: boolean;
  /** wasm: route batched / transposed matMuls through @swin/wasm's SIMD kernel (useFastWasmBatchMatMul) */
  fastBmm: boolean;
  /** train mode's Adam: 'swin' = `adam()` of @swin/nn (one fused kernel per variable), 'tfjs' = tf.train.adam */
  optimizer: Optimizer;
  /** print the planned cases and exit */
  list: boolean;
  help: boolean;
  /** Chromium executable for the webgl / webgpu backends (and every backend with `browser`) */
  chromium: string;
  /** run every backend (cpu and wasm too) in headless Chromium */
  browser: boolean;
  /** wasm thread counts to measure (browser only: one page per count); null = tfjs's default */
  threads: number[] | null;
  /**
   * wasm in the browser: thread settings of @swin/wasm's own kernels to measure on each page
   * (setWasmKernelThreads: 'auto' = tfjs-wasm's count, 1 = single-threaded); null = the package default
   */
  kernelThreads: (number | 'auto')[] | null;
  explicit: { models: boolean; backends: boolean; sizes: boolean; batches: boolean; modes: boolean };
}

export const DEFAULTS = {
  backends: ['wasm', 'cpu'],
  batches: [1, 8],
  modes: ['forward', 'train'] as Mode[],
  runs: 5,
  warmup: 1,
  budgetSec: 20,
  chromium: '/usr/bin/chromium',
};

export const HELP = `Usage: pnpm bench [options]

Times Swin-T, Swin-MLP-T, Shunted-T, PVTv2-b1 and a Shunted+Swin hybrid (random weights) with
TensorFlow.js: warm-up, then timed runs (median / min / max), GFLOP/s (2 * MACs / time; train = 3x the
forward FLOPs), the backend's 1024^3 matMul GFLOP/s measured in the same run, efficiency (the ratio)
and peak tensor memory. cpu and wasm run in Node; webgl and webgpu in headless Chromium (software
emulated on machines without a GPU). Logs go to stderr, data to stdout.

Options (lists are comma-separated; --flag value or --flag=value):
  --models a,b       model ids (default: all): swin_t, swin_mlp_t, shunted_t, pvt_v2_b1, hybrid_shunted_swin
  --backends x,y     cpu, wasm, webgl, webgpu (default: wasm,cpu)
  --sizes 224,448    input sizes (default: 224 for every model; swin_t also 448 and 896)
  --batch 1,8        batch sizes (default: 1,8)
  --mode m           forward, train or forward,train (default: both; train = forward + backward + Adam step)
  --runs N           timed runs per case (default 5)
  --warmup N         warm-up runs per case (default 1, at least 1; the first is profiled for peak memory)
  --budget S         stop timing a case after S seconds of timed runs, once 2 runs are done (default 20)
  --slow             include slow combinations skipped by default: train with batch > 1, sizes > 448,
                     batch > 1 or train at sizes > 224, cpu / webgl / webgpu with batch > 1, train or size > 224, cpu with models other
                     than swin_t (a filter you give explicitly, e.g. --batch 8 or --models, also
                     lifts the rules about that dimension)
  --micro            run the micro-benchmarks instead: window attention (attentionCore kernel vs plain
                     ops vs the naive formulation) and shifted-window partition (fused gather vs roll)
  --profile          log each case's 12 most expensive kernels (from the profiled warm-up run)
  --fast-bmm         wasm: install @swin/wasm's useFastWasmBatchMatMul (batched and transposed matMuls
                     in a SIMD kernel instead of tfjs-wasm's scalar loop); records get variant 'fast-bmm'
  --optimizer o      train mode's Adam step: swin (default; adam() of @swin/nn, one fused kernel per
                     variable where @swin/wasm registered it) or tfjs (tf.train.adam); train records get
                     'optimizer'
  --json             print one JSON array of records on stdout instead of a markdown table
  --list             print the planned cases and exit
  --browser          run every backend (cpu and wasm too) in headless Chromium, on a cross-origin-isolated
                     page served from 127.0.0.1 (COOP/COEP headers: tfjs-wasm can load its threaded build)
  --threads 1,2      wasm threads, one page per count (needs --browser for counts above 1; set with
                     @swin/wasm's setWasmThreads, which works on 2-core machines too); records get
                     'threads' (the count tfjs-wasm reports) and 'environment' ('node' / 'browser')
  --kernel-threads auto,1
                     wasm in the browser: threads of @swin/wasm's own kernels (attention, LayerNorm, GELU,
                     head split / merge) on each --threads page, 'auto' = tfjs-wasm's count; records get
                     'kernel_threads' (the threads they ran on)
  --chromium PATH    Chromium for the browser runs (default /usr/bin/chromium)
  -h, --help         this text
`;

function fail(msg: string): never {
  throw new Error(`bench: ${msg} (see --help)`);
}

function parseList(flag: string, raw: string): string[] {
  const items = raw
    .split(',')
    .map((s) => s.trim())
    .filter((s) => s.length > 0);
  if (items.length === 0) fail(`${flag} needs a non-empty comma-separated list, got '${raw}'`);
  return [...new Set(items)];
}

function parseIntList(flag: string, raw: string, min: number): number[] {
  return parseList(flag, raw).map((s) => parseInteger(flag, s, min));
}

function parseInteger(flag: string, s: string, min: number): number {
  if (!/^\d+$/.test(s)) fail(`${flag} expects integers >= ${min}, got '${s}'`);
  const v = Number(s);
  if (v < min) fail(`${flag} expects integers >= ${min}, got ${v}`);
  return v;
}

/**
 * Parses command-line arguments (without `node script`). `knownModels` validates `--models`.
 * Throws `Error('bench: ...')` on anything it does not understand.
 */
export function parseArgs(argv: readonly string[], knownModels: readonly string[]): BenchOptions {
  const o: BenchOptions = {
    models: [...knownModels],
    backends: [...DEFAULTS.backends],
    sizes: null,
    batches: [...DEFAULTS.batches],
    modes: [...DEFAULTS.modes],
    runs: DEFAULTS.runs,
    warmup: DEFAULTS.warmup,
    budgetSec: DEFAULTS.budgetSec,
    json: false,
    micro: false,
    slow: false,
    profile: false,
    fastBmm: false,
    optimizer: 'swin',
    list: false,
    help: false,
    chromium: DEFAULTS.chromium,
    browser: false,
    threads: null,
    kernelThreads: null,
    explicit: { models: false, backends: false, sizes: false, batches: false, modes: false },
  };
  const booleans: Record<string, keyof BenchOptions> = {
    '--json': 'json',
    '--micro': 'micro',
    '--slow': 'slow',
    '--profile': 'profile',
    '--fast-bmm': 'fastBmm',
    '--browser': 'browser',
    '--list': 'list',
    '--help': 'help',
    '-h': 'help',
  };
  const withValue = new Set([
    '--models',
    '--backends',
    '--sizes',
    '--batch',
    '--mode',
    '--runs',
    '--warmup',
    '--budget',
    '--chromium',
    '--threads',
    '--kernel-threads',
    '--optimizer',
  ]);
  for (let i = 0; i < argv.length; i++) {
    const arg = argv[i];
    const eq = arg.indexOf('=');
    const flag = arg.startsWith('--') && eq > 0 ? arg.slice(0, eq) : arg;
    if (flag in booleans) {
      if (flag !== arg) fail(`${flag} takes no value, got '${arg}'`);
      (o as unknown as Record<string, unknown>)[booleans[flag]] = true;
      continue;
    }
    if (!withValue.has(flag)) fail(`unknown argument '${arg}'`);
    let value: string;
    if (flag !== arg) value = arg.slice(eq + 1);
    else {
      if (i + 1 >= argv.length || argv[i + 1].startsWith('--')) fail(`${flag} needs a value`);
      value = argv[++i];
    }
    switch (flag) {
      case '--models': {
        const ms = parseList(flag, value);
        for (const m of ms)
          if (!knownModels.includes(m)) fail(`unknown model '${m}' (known: ${knownModels.join(', ')})`);
        o.models = ms;
        o.explicit.models = true;
        break;
      }
      case '--backends': {
        const bs = parseList(flag, value);
        for (const b of bs)
          if (!ALL_BACKENDS.includes(b)) fail(`unknown backend '${b}' (known: ${ALL_BACKENDS.join(', ')})`);
        o.backends = bs;
        o.explicit.backends = true;
        break;
      }
      case '--sizes':
        o.sizes = parseIntList(flag, value, 32);
        o.explicit.sizes = true;
        break;
      case '--batch':
        o.batches = parseIntList(flag, value, 1);
        o.explicit.batches = true;
        break;
      case '--mode': {
        const ms = parseList(flag, value);
        for (const m of ms)
          if (!MODES.includes(m as Mode)) fail(`unknown mode '${m}' (known: ${MODES.join(', ')})`);
        o.modes = ms as Mode[];
        o.explicit.modes = true;
        break;
      }
      case '--runs':
        o.runs = parseInteger(flag, value, 1);
        break;
      case '--warmup':
        o.warmup = parseInteger(flag, value, 1);
        break;
      case '--budget': {
        const v = Number(value);
        if (!Number.isFinite(v) || v <= 0)
          fail(`--budget expects a positive number of seconds, got '${value}'`);
        o.budgetSec = v;
        break;
      }
      case '--optimizer':
        if (!OPTIMIZERS.includes(value as Optimizer))
          fail(`unknown optimizer '${value}' (known: ${OPTIMIZERS.join(', ')})`);
        o.optimizer = value as Optimizer;
        break;
      case '--chromium':
        o.chromium = value;
        break;
      case '--threads':
        o.threads = parseIntList(flag, value, 1);
        if (o.threads.some((t) => t > 8)) fail(`--threads expects counts from 1 to 8, got '${value}'`);
        break;
      case '--kernel-threads':
        o.kernelThreads = parseList(flag, value).map((s) =>
          s === 'auto' ? 'auto' : parseInteger(flag, s, 1),
        );
        if (o.kernelThreads.some((t) => t !== 'auto' && t > 8))
          fail(`--kernel-threads expects 'auto' or counts from 1 to 8, got '${value}'`);
        break;
    }
  }
  if (o.kernelThreads && !o.browser) fail('--kernel-threads needs --browser (threads need the browser)');
  if (o.threads && !o.browser && o.threads.some((t) => t > 1)) {
    fail('--threads above 1 needs --browser (tfjs-wasm never runs threads in Node)');
  }
  return o;
}
