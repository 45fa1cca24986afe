import { describe, expect, it } from 'vitest';
import { meanCurves, plotSpecs, renderSvg } from './plots.js';
import type { RunRecord } from './report.js';
import { markdownTable, meanStd, summarise, toCsv } from './report.js';

function rec(variant: string, seed: number, acc: number, curve: number[]): RunRecord {
  return {
    variant,
    group: 'attention',
    description: variant,
    seed,
    blocks: 'swin/swin/swin',
    image_size: 32,
    mlp_ratio: 4,
    params: 1000,
    macs: 2e6,
    steps: curve.length,
    batch: 4,
    lr: 0.002,
    test_size: 100,
    test_accuracy: acc,
    train_ms_per_step: 10 * seed,
    eval_ms_per_100: 5,
    train_seconds: 1,
    loss_first: curve[0],
    loss_last: curve[curve.length - 1],
    loss_curve: curve,
  };
}

const records = [
  rec('alpha', 1, 0.5, [2, 1, 0]),
  rec('alpha', 2, 0.7, [4, 3, 2]),
  rec('beta', 1, 0.9, [1, 1, 1]),
];

describe('ablation report and plots', () => {
  it('mean ± sample std, summary, table and CSV', () => {
    expect(meanStd([0.5, 0.7]).mean).toBeCloseTo(0.6);
    expect(meanStd([0.5, 0.7]).std).toBeCloseTo(Math.SQRT2 * 0.1);
    expect(meanStd([3]).std).toBe(0);
    const s = summarise(records);
    expect(s.map((r) => [r.variant, r.seeds])).toEqual([
      ['alpha', 2],
      ['beta', 1],
    ]);
    expect(markdownTable(s)).toContain('| alpha | 1.0k | 2.00 | 20 | 1.000 | 60.0% ± 14.1 (n=2) |');
    const csv = toCsv(records).trim().split('\n');
    expect(csv).toHaveLength(4);
    expect(csv[0].split(',')).toContain('test_accuracy');
    expect(csv[1]).toContain('alpha,attention,1,');
  });

  it('mean curves over seeds with a moving average', () => {
    const c = meanCurves(records, 2).filter((p) => p.variant === 'alpha');
    expect(c.map((p) => p.loss)).toEqual([3, 2.5, 1.5]);
  });

  it('renders every plot to an SVG that holds the data', async () => {
    const specs = plotSpecs(records);
    expect(Object.keys(specs)).toEqual([
      'loss-curves',
      'test-accuracy',
      'accuracy-vs-macs',
      'accuracy-vs-time',
    ]);
    const bars = await renderSvg(specs['test-accuracy']);
    expect(bars.startsWith('<svg')).toBe(true);
    expect(bars).toContain('alpha');
    expect(bars).toContain('beta');
    expect(bars).toContain('mean ± std over 2 seed(s)');
    const lines = await renderSvg(specs['loss-curves']);
    expect((lines.match(/<path/g) ?? []).length).toBeGreaterThan(2);
  }, 60_000);
});
