/** Summary statistics of timed runs (milliseconds). */
export interface Summary {
  /** Median (mean of the two middle values for an even count). */
  p50: number;
  min: number;
  max: number;
  /** Number of samples. */
  n: number;
}

/** Median / min / max of `samples` (non-empty, finite). Does not modify the input. */
export function summarize(samples: readonly number[]): Summary {
  if (samples.length === 0) throw new Error('summarize: no samples');
  for (const s of samples) {
    if (!Number.isFinite(s)) throw new Error(`summarize: sample ${s} is not a finite number`);
  }
  const sorted = [...samples].sort((a, b) => a - b);
  const n = sorted.length;
  const mid = n >> 1;
  const p50 = n % 2 === 1 ? sorted[mid] : (sorted[mid - 1] + sorted[mid]) / 2;
  return { p50, min: sorted[0], max: sorted[n - 1], n };
}

/** GFLOP/s of `flops` floating-point operations done in `ms` milliseconds. */
export function gflops(flops: number, ms: number): number {
  return flops / (ms * 1e6);
}
