/** One training run: a variant trained from one seed and evaluated on the test set. */
export interface RunRecord {
  variant: string;
  group: string;
  description: string;
  seed: number;
  blocks: string;
  image_size: number;
  mlp_ratio: number;
  params: number;
  macs: number;
  steps: number;
  batch: number;
  lr: number;
  test_size: number;
  test_accuracy: number;
  train_ms_per_step: number;
  eval_ms_per_100: number;
  train_seconds: number;
  loss_first: number;
  loss_last: number;
  /** Loss of every training step. */
  loss_curve: number[];
}

/** Mean and sample standard deviation (n - 1; 0 for one value). */
export function meanStd(xs: number[]): { mean: number; std: number } {
  if (xs.length === 0) return { mean: Number.NaN, std: Number.NaN };
  const mean = xs.reduce((a, b) => a + b, 0) / xs.length;
  if (xs.length === 1) return { mean, std: 0 };
  const v = xs.reduce((a, b) => a + (b - mean) ** 2, 0) / (xs.length - 1);
  return { mean, std: Math.sqrt(v) };
}

export interface VariantSummary {
  variant: string;
  group: string;
  description: string;
  seeds: number;
  params: number;
  macs: number;
  acc_mean: number;
  acc_std: number;
  ms_per_step: number;
  loss_last_mean: number;
}

/** Per-variant summary in the order the variants first appear. */
export function summarise(records: RunRecord[]): VariantSummary[] {
  const by = new Map<string, RunRecord[]>();
  for (const r of records) by.set(r.variant, [...(by.get(r.variant) ?? []), r]);
  return [...by.values()].map((rs) => {
    const acc = meanStd(rs.map((r) => r.test_accuracy));
    const ms = rs.map((r) => r.train_ms_per_step).sort((a, b) => a - b);
    return {
      variant: rs[0].variant,
      group: rs[0].group,
      description: rs[0].description,
      seeds: rs.length,
      params: rs[0].params,
      macs: rs[0].macs,
      acc_mean: acc.mean,
      acc_std: acc.std,
      ms_per_step: ms[Math.floor(ms.length / 2)],
      loss_last_mean: meanStd(rs.map((r) => r.loss_last)).mean,
    };
  });
}

/** The Markdown table of a summary. */
export function markdownTable(s: VariantSummary[]): string {
  const lines = [
    '| variant | params | MMACs | train ms/step | final loss | test accuracy (mean ± std, n seeds) |',
    '|---|---:|---:|---:|---:|---|',
  ];
  for (const r of s) {
    lines.push(
      `| ${r.variant} | ${(r.params / 1e3).toFixed(1)}k | ${(r.macs / 1e6).toFixed(2)} | ${r.ms_per_step.toFixed(0)} | ${r.loss_last_mean.toFixed(3)} | ${(r.acc_mean * 100).toFixed(1)}% ± ${(r.acc_std * 100).toFixed(1)} (n=${r.seeds}) |`,
    );
  }
  return lines.join('\n');
}

const CSV_COLUMNS = [
  'variant',
  'group',
  'seed',
  'image_size',
  'mlp_ratio',
  'params',
  'macs',
  'steps',
  'batch',
  'lr',
  'test_size',
  'test_accuracy',
  'train_ms_per_step',
  'eval_ms_per_100',
  'train_seconds',
  'loss_first',
  'loss_last',
] as const;

/** One CSV row per run (the loss curve stays in results.json). */
export function toCsv(records: RunRecord[]): string {
  const esc = (v: unknown) => {
    const s = String(v);
    return /[",\n]/.test(s) ? `"${s.replace(/"/g, '""')}"` : s;
  };
  return `${[CSV_COLUMNS.join(','), ...records.map((r) => CSV_COLUMNS.map((c) => esc(r[c])).join(','))].join('\n')}\n`;
}
