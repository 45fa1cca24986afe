/** `swin inspect FILE [--json]`: what a checkpoint holds, without building a model. */
import type { Checkpoint, RawTensor } from '@swin/io';
import { type Detection, detectFamily } from '../detect.js';
import { type ReadOptions, readWithProgress } from '../runtime.js';

/** Options of {@link inspect}. */
export interface InspectOptions extends ReadOptions {
  json?: boolean;
}

/** The JSON document printed by `swin inspect --json`. */
export interface InspectReport {
  source: string;
  format: Checkpoint['format'];
  /** '' = the file is the state_dict. */
  wrapper: string;
  candidates: string[];
  family: Detection['family'];
  layout?: string;
  tensorCount: number;
  parameterCount: number;
  bytes: number;
  dtypes: Record<string, number>;
  refusedGlobals: string[];
  metadata?: Record<string, string>;
  /** Names of the other top-level values (optimizer, epoch, config, ...). */
  extraKeys: string[];
  tensors: { key: string; dtype: string; shape: number[] }[];
}

function numel(t: RawTensor): number {
  return t.shape.reduce((a, b) => a * b, 1);
}

/** Builds the report of a read checkpoint (pure; exported for tests and embedding). */
export function inspectReport(source: string, ckpt: Checkpoint): InspectReport {
  const entries = Object.entries(ckpt.tensors);
  const dtypes: Record<string, number> = {};
  let params = 0;
  let bytes = 0;
  for (const [, t] of entries) {
    dtypes[t.dtype] = (dtypes[t.dtype] ?? 0) + 1;
    params += numel(t);
    bytes += t.data.byteLength;
  }
  const det = detectFamily(entries.map(([k]) => k));
  const report: InspectReport = {
    source,
    format: ckpt.format,
    wrapper: ckpt.wrapper,
    candidates: [...ckpt.candidates],
    family: det.family,
    tensorCount: entries.length,
    parameterCount: params,
    bytes,
    dtypes,
    refusedGlobals: [...ckpt.refusedGlobals],
    extraKeys: Object.keys(ckpt.extra ?? {}),
    tensors: entries.map(([key, t]) => ({ key, dtype: t.dtype, shape: [...t.shape] })),
  };
  if (det.layout) report.layout = det.layout;
  if (ckpt.metadata && Object.keys(ckpt.metadata).length > 0) report.metadata = { ...ckpt.metadata };
  return report;
}

/** The human-readable form: a summary, then one table row per tensor (key, dtype, shape). */
export function formatInspect(r: InspectReport): string {
  const lines: string[] = [];
  const wrapper = r.wrapper === '' ? '(none: the file is the state_dict)' : `'${r.wrapper}'`;
  lines.push(`source:          ${r.source}`);
  lines.push(`format:          ${r.format}`);
  lines.push(`wrapper:         ${wrapper}`);
  lines.push(`candidates:      ${r.candidates.length > 0 ? r.candidates.join(', ') : '(none)'}`);
  lines.push(`family:          ${r.family}${r.layout ? ` (${r.layout} layout)` : ''}`);
  const dt = Object.entries(r.dtypes)
    .map(([d, n]) => `${d} x${n}`)
    .join(', ');
  lines.push(
    `tensors:         ${r.tensorCount} (${r.parameterCount.toLocaleString('en-US')} values, ${r.bytes.toLocaleString('en-US')} bytes; ${dt || 'none'})`,
  );
  lines.push(`refused globals: ${r.refusedGlobals.length > 0 ? r.refusedGlobals.join(', ') : 'none'}`);
  if (r.extraKeys.length > 0) lines.push(`other values:    ${r.extraKeys.join(', ')}`);
  if (r.metadata) {
    for (const [k, v] of Object.entries(r.metadata)) lines.push(`metadata:        ${k}=${v}`);
  }
  lines.push('');
  const rows = r.tensors.map((t) => [t.key, t.dtype, `[${t.shape.join(', ')}]`]);
  const head = ['key', 'dtype', 'shape'];
  const w = head.map((h, i) => Math.max(h.length, ...rows.map((row) => row[i].length)));
  const fmt = (row: string[]) => row.map((c, i) => (i < row.length - 1 ? c.padEnd(w[i]) : c)).join('  ');
  lines.push(fmt(head));
  lines.push(fmt(w.map((n) => '-'.repeat(n))));
  for (const row of rows) lines.push(fmt(row));
  return `${lines.join('\n')}\n`;
}

/** Runs `swin inspect`. */
export async function inspect(source: string, opts: InspectOptions): Promise<void> {
  const ckpt = await readWithProgress(source, opts);
  const report = inspectReport(source, ckpt);
  process.stdout.write(opts.json ? `${JSON.stringify(report, null, 2)}\n` : formatInspect(report));
}
