import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { Resvg } from '@resvg/resvg-js';
import * as vega from 'vega';
import { compile, type TopLevelSpec } from 'vega-lite';
import { type RunRecord, summarise } from './report.js';

/**
 * The study's plots as Vega-Lite specs (rendered to SVG by Vega, headless, and to PNG by resvg):
 * loss curves, test accuracy with error bars, accuracy against MACs and against time per step.
 * Vega-Lite because a spec is plain data: the same specs could be shown in a page, and the SVG renderer
 * needs no canvas in Node.
 */

/** Mean loss per step over seeds, smoothed with a trailing window of `k` steps. */
export function meanCurves(records: RunRecord[], k = 10): { variant: string; step: number; loss: number }[] {
  const by = new Map<string, RunRecord[]>();
  for (const r of records) by.set(r.variant, [...(by.get(r.variant) ?? []), r]);
  const out: { variant: string; step: number; loss: number }[] = [];
  for (const [variant, rs] of by) {
    const n = Math.min(...rs.map((r) => r.loss_curve.length));
    const mean = Array.from({ length: n }, (_, i) => rs.reduce((a, r) => a + r.loss_curve[i], 0) / rs.length);
    for (let i = 0; i < n; i++) {
      const w = mean.slice(Math.max(0, i - k + 1), i + 1);
      out.push({ variant, step: i + 1, loss: w.reduce((a, b) => a + b, 0) / w.length });
    }
  }
  return out;
}

/** The four Vega-Lite specs of a result set, by file stem. */
export function plotSpecs(records: RunRecord[]): Record<string, TopLevelSpec> {
  const summary = summarise(records).map((s) => ({
    ...s,
    acc: s.acc_mean * 100,
    lo: (s.acc_mean - s.acc_std) * 100,
    hi: (s.acc_mean + s.acc_std) * 100,
    mmacs: s.macs / 1e6,
  }));
  const n = Math.max(...summary.map((s) => s.seeds));
  const base = {
    $schema: 'https://vega.github.io/schema/vega-lite/v6.json',
    width: 520,
    height: 300,
  } as const;
  const scatter = (field: string, title: string, file: string): TopLevelSpec => ({
    ...base,
    title: `Test accuracy against ${title}`,
    data: { values: summary },
    layer: [
      {
        mark: { type: 'point', filled: true, size: 70 },
        encoding: {
          x: { field, type: 'quantitative', title, scale: { zero: false } },
          y: { field: 'acc', type: 'quantitative', title: 'test accuracy (%)', scale: { zero: false } },
          color: { field: 'group', type: 'nominal' },
        },
      },
      {
        mark: { type: 'text', align: 'left', dx: 6, fontSize: 10 },
        encoding: {
          x: { field, type: 'quantitative' },
          y: { field: 'acc', type: 'quantitative' },
          text: { field: 'variant' },
        },
      },
    ],
    description: file,
  });
  return {
    'loss-curves': {
      ...base,
      title: `Training loss (mean over seeds, 10-step moving average)`,
      data: { values: meanCurves(records) },
      mark: { type: 'line', strokeWidth: 1.5 },
      encoding: {
        x: { field: 'step', type: 'quantitative', title: 'step' },
        y: { field: 'loss', type: 'quantitative', title: 'cross-entropy', scale: { zero: false } },
        color: { field: 'variant', type: 'nominal', title: 'variant' },
      },
    },
    'test-accuracy': {
      ...base,
      title: `Test accuracy, mean ± std over ${n} seed(s)`,
      data: { values: summary },
      layer: [
        {
          mark: 'bar',
          encoding: {
            y: { field: 'variant', type: 'nominal', sort: null, title: null },
            x: { field: 'acc', type: 'quantitative', title: 'test accuracy (%)' },
            color: { field: 'group', type: 'nominal' },
          },
        },
        {
          mark: { type: 'rule', color: 'black' },
          encoding: {
            y: { field: 'variant', type: 'nominal', sort: null },
            x: { field: 'lo', type: 'quantitative' },
            x2: { field: 'hi' },
          },
        },
      ],
    },
    'accuracy-vs-macs': scatter('mmacs', 'MMACs per image', 'accuracy-vs-macs'),
    'accuracy-vs-time': scatter('ms_per_step', 'training ms per step', 'accuracy-vs-time'),
  };
}

/** Renders a Vega-Lite spec to an SVG string (headless). */
export async function renderSvg(spec: TopLevelSpec): Promise<string> {
  const view = new vega.View(vega.parse(compile(spec).spec), { renderer: 'none' });
  try {
    return await view.toSVG();
  } finally {
    view.finalize();
  }
}

/** Writes `<name>.svg` and `<name>.png` for every plot to `dir`; returns the file names. */
export async function writePlots(dir: string, records: RunRecord[]): Promise<string[]> {
  const files: string[] = [];
  for (const [name, spec] of Object.entries(plotSpecs(records))) {
    const svg = await renderSvg(spec);
    writeFileSync(join(dir, `${name}.svg`), svg);
    const png = new Resvg(svg, { background: 'white', fitTo: { mode: 'zoom', value: 2 } }).render().asPng();
    writeFileSync(join(dir, `${name}.png`), png);
    files.push(`${name}.svg`, `${name}.png`);
  }
  return files;
}
