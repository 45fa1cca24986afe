import { gflops, type Summary } from './stats.js';

export type Mode = 'forward' | 'train';

/** The Adam of a train step: `adam()` of @swin/nn ('swin') or `tf.train.adam` ('tfjs'). */
export type Optimizer = 'swin' | 'tfjs';

/** Where a record was measured: this Node process, or a headless Chromium page. */
export type Environment = 'node' | 'browser';

/** One benchmark result: the schema of `--json` (one array of these on stdout). */
export interface BenchRecord {
  /** Model id (`swin_t`, ...) or micro-benchmark id (`window_attention/s1`, ...). */
  model: string;
  backend: string;
  batch: number;
  /** Input side in pixels (square images); for micro-benchmarks the feature-map side. */
  size: number;
  mode: Mode;
  p50_ms: number | null;
  min_ms: number | null;
  max_ms: number | null;
  /** Multiply-accumulates of ONE forward pass of the whole batch, in 1e9. */
  gmacs: number | null;
  /** Achieved GFLOP/s at the median: `k * 2 * MACs / time`, k = 1 forward, 3 train (forward + 2x backward). */
  gflops: number | null;
  /** GFLOP/s of a 1024^3 matMul on the same backend in the same run. */
  matmul_gflops: number | null;
  /** `gflops / matmul_gflops`. */
  efficiency: number | null;
  /** Peak bytes of tfjs tensors during one (profiled, untimed) run, including weights. */
  peak_bytes: number | null;
  /** Micro-benchmarks: which implementation (`naive`, `kernel`, ...). */
  variant?: string;
  /** Set when the case did not run: `unavailable: ...`, `error: ...`. */
  status?: string;
  /** Number of timed runs. */
  runs?: number;
  /** `node` (cpu, wasm in this process) or `browser` (headless Chromium page). */
  environment: Environment;
  /**
   * Threads the backend computed with: tfjs-wasm's `getThreadsCount()` (1 in Node; in the browser up to
   * the `--threads` asked for on a cross-origin-isolated page), 1 for cpu, null for webgl / webgpu.
   */
  threads: number | null;
  /** wasm in the browser: threads @swin/wasm's own kernels ran on (its kernel pool; 1 = single-threaded). */
  kernel_threads?: number;
  /** Train mode: the Adam step's implementation (`--optimizer`). */
  optimizer?: Optimizer;
}

/** FLOPs per MAC times the pass multiplier of `mode` (forward 2, train 6). */
export function flopsPerMac(mode: Mode): number {
  return mode === 'train' ? 6 : 2;
}

const round = (x: number, digits: number): number => {
  const f = 10 ** digits;
  return Math.round(x * f) / f;
};

/** Builds a record from timings and counts (`macs` of one forward pass of the batch; null if unknown). */
export function makeRecord(args: {
  model: string;
  backend: string;
  batch: number;
  size: number;
  mode: Mode;
  summary: Summary;
  macs: number | null;
  matmulGflops: number | null;
  peakBytes: number | null;
  variant?: string;
  environment?: Environment;
  threads?: number | null;
  optimizer?: Optimizer;
}): BenchRecord {
  const { summary: s, macs } = args;
  const gf = macs === null || macs <= 0 ? null : gflops(flopsPerMac(args.mode) * macs, s.p50);
  const rec: BenchRecord = {
    model: args.model,
    backend: args.backend,
    batch: args.batch,
    size: args.size,
    mode: args.mode,
    p50_ms: round(s.p50, 3),
    min_ms: round(s.min, 3),
    max_ms: round(s.max, 3),
    gmacs: macs === null ? null : round(macs / 1e9, 4),
    gflops: gf === null ? null : round(gf, 3),
    matmul_gflops: args.matmulGflops === null ? null : round(args.matmulGflops, 3),
    efficiency: gf === null || !args.matmulGflops ? null : round(gf / args.matmulGflops, 4),
    peak_bytes: args.peakBytes,
    runs: s.n,
    environment: args.environment ?? 'node',
    threads: args.threads ?? null,
  };
  if (args.variant !== undefined) rec.variant = args.variant;
  if (args.mode === 'train' && args.optimizer !== undefined) rec.optimizer = args.optimizer;
  return rec;
}

/** A record for a case that did not run (`status` says why). */
export function skippedRecord(
  c: { model: string; backend: string; batch: number; size: number; mode: Mode; variant?: string },
  status: string,
  where: { environment?: Environment; threads?: number | null } = {},
): BenchRecord {
  const rec: BenchRecord = {
    model: c.model,
    backend: c.backend,
    batch: c.batch,
    size: c.size,
    mode: c.mode,
    p50_ms: null,
    min_ms: null,
    max_ms: null,
    gmacs: null,
    gflops: null,
    matmul_gflops: null,
    efficiency: null,
    peak_bytes: null,
    status,
    environment: where.environment ?? 'node',
    threads: where.threads ?? null,
  };
  if (c.variant !== undefined) rec.variant = c.variant;
  return rec;
}

function fmt(x: number | null | undefined, digits: number): string {
  if (x === null || x === undefined) return '-';
  return x.toFixed(digits);
}

function fmtBytes(b: number | null): string {
  if (b === null) return '-';
  if (b >= 2 ** 30) return `${(b / 2 ** 30).toFixed(2)} GiB`;
  if (b >= 2 ** 20) return `${(b / 2 ** 20).toFixed(1)} MiB`;
  if (b >= 2 ** 10) return `${(b / 2 ** 10).toFixed(1)} KiB`;
  return `${b} B`;
}

const escapeCell = (s: string): string => s.replace(/\|/g, '\\|').replace(/\n/g, ' ');

/** A markdown table of the records (one row each; skipped cases show their status). */
export function toMarkdown(records: readonly BenchRecord[]): string {
  const withVariant = records.some((r) => r.variant !== undefined);
  // where / how many threads: shown once a record comes from the browser or ran threaded
  const withWhere = records.some((r) => r.environment === 'browser' || (r.threads ?? 1) > 1);
  const withKernel = records.some((r) => r.kernel_threads !== undefined);
  const head = [
    'model',
    ...(withVariant ? ['variant'] : []),
    'backend',
    ...(withWhere ? ['env', 'threads'] : []),
    ...(withKernel ? ['kernel threads'] : []),
    'batch',
    'size',
    'mode',
    'p50 ms',
    'min ms',
    'max ms',
    'GMACs',
    'GFLOP/s',
    'matMul GFLOP/s',
    'efficiency',
    'peak mem',
    'runs',
  ];
  const lines = [
    `| ${head.join(' | ')} |`,
    `|${head.map((h) => (['model', 'variant', 'backend', 'mode', 'env'].includes(h) ? ' --- ' : ' ---: ')).join('|')}|`,
  ];
  for (const r of records) {
    const cells = [
      escapeCell(r.model),
      ...(withVariant ? [escapeCell(r.variant ?? '')] : []),
      escapeCell(r.backend),
      ...(withWhere ? [r.environment, r.threads === null ? '-' : String(r.threads)] : []),
      ...(withKernel ? [r.kernel_threads === undefined ? '-' : String(r.kernel_threads)] : []),
      String(r.batch),
      String(r.size),
      r.mode,
    ];
    if (r.status) {
      cells.push(escapeCell(r.status), '', '', '', '', '', '', '', '');
    } else {
      cells.push(
        fmt(r.p50_ms, 1),
        fmt(r.min_ms, 1),
        fmt(r.max_ms, 1),
        fmt(r.gmacs, 3),
        fmt(r.gflops, 2),
        fmt(r.matmul_gflops, 1),
        r.efficiency === null ? '-' : `${(r.efficiency * 100).toFixed(1)}%`,
        fmtBytes(r.peak_bytes),
        String(r.runs ?? ''),
      );
    }
    lines.push(`| ${cells.join(' | ')} |`);
  }
  return lines.join('\n');
}
