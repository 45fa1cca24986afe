import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { DEFAULTS, parseArgs } from './args.js';
import { MODEL_CATALOG, MODEL_IDS } from './models.js';
import { attentionMacs, type ModelCase, planModelCases, slowReason, swinTAttentionShapes } from './plan.js';
import { type BenchRecord, flopsPerMac, makeRecord, skippedRecord, toMarkdown } from './records.js';
import { gflops, summarize } from './stats.js';

describe('parseArgs', () => {
  it('has the documented defaults', () => {
    const o = parseArgs([], MODEL_IDS);
    expect(o.models).toEqual([...MODEL_IDS]);
    expect(o.backends).toEqual(['wasm', 'cpu']);
    expect(o.sizes).toBeNull();
    expect(o.batches).toEqual([1, 8]);
    expect(o.modes).toEqual(['forward', 'train']);
    expect(o.runs).toBe(DEFAULTS.runs);
    expect(o.warmup).toBe(1);
    expect(o.json || o.micro || o.slow || o.profile || o.list || o.help).toBe(false);
    expect(Object.values(o.explicit).some(Boolean)).toBe(false);
  });

  it('reads every filter in both --flag value and --flag=value forms', () => {
    const a = parseArgs(
      [
        '--models',
        'swin_t,pvt_v2_b1',
        '--backends=webgl',
        '--sizes',
        '224,448',
        '--batch=8',
        '--mode',
        'train',
        '--json',
      ],
      MODEL_IDS,
    );
    expect(a.models).toEqual(['swin_t', 'pvt_v2_b1']);
    expect(a.backends).toEqual(['webgl']);
    expect(a.sizes).toEqual([224, 448]);
    expect(a.batches).toEqual([8]);
    expect(a.modes).toEqual(['train']);
    expect(a.json).toBe(true);
    expect(a.explicit).toEqual({ models: true, backends: true, sizes: true, batches: true, modes: true });
    const b = parseArgs(
      ['--runs', '3', '--warmup=2', '--budget', '1.5', '--micro', '--slow', '--profile', '-h'],
      MODEL_IDS,
    );
    expect([b.runs, b.warmup, b.budgetSec, b.micro, b.slow, b.profile, b.help]).toEqual([
      3,
      2,
      1.5,
      true,
      true,
      true,
      true,
    ]);
  });

  it('reads --browser and --threads (counts above 1 only with --browser)', () => {
    const o = parseArgs([], MODEL_IDS);
    expect([o.browser, o.threads]).toEqual([false, null]);
    const b = parseArgs(['--browser', '--threads', '1,2'], MODEL_IDS);
    expect([b.browser, b.threads]).toEqual([true, [1, 2]]);
    expect(parseArgs(['--threads=1'], MODEL_IDS).threads).toEqual([1]);
    expect(parseArgs(['--browser', '--kernel-threads', '1,auto'], MODEL_IDS).kernelThreads).toEqual([
      1,
      'auto',
    ]);
    expect(o.kernelThreads).toBeNull();
  });

  it('reads --optimizer (default swin, the fused Adam of @swin/nn)', () => {
    expect(parseArgs([], MODEL_IDS).optimizer).toBe('swin');
    expect(parseArgs(['--optimizer', 'tfjs'], MODEL_IDS).optimizer).toBe('tfjs');
    expect(parseArgs(['--optimizer=swin'], MODEL_IDS).optimizer).toBe('swin');
  });

  it('deduplicates list items and ignores empty ones', () => {
    expect(parseArgs(['--batch', '1,,1,8,'], MODEL_IDS).batches).toEqual([1, 8]);
  });

  it.each([
    [['--models', 'resnet50'], /unknown model 'resnet50'/],
    [['--backends', 'tensorflow'], /unknown backend 'tensorflow'/],
    [['--mode', 'inference'], /unknown mode 'inference'/],
    [['--batch', '0'], /--batch expects integers >= 1, got 0/],
    [['--batch', '1.5'], /--batch expects integers >= 1, got '1.5'/],
    [['--sizes', 'big'], /--sizes expects integers/],
    [['--runs'], /--runs needs a value/],
    [['--runs', '--json'], /--runs needs a value/],
    [['--budget', '-1'], /--budget expects a positive number/],
    [['--json=yes'], /--json takes no value/],
    [['--fast'], /unknown argument '--fast'/],
    [['--optimizer', 'sgd'], /unknown optimizer 'sgd' \(known: swin, tfjs\)/],
    [['swin_t'], /unknown argument 'swin_t'/],
    [['--models', ','], /non-empty comma-separated list/],
    [['--threads', '2'], /--threads above 1 needs --browser/],
    [['--browser', '--threads', '9'], /--threads expects counts from 1 to 8/],
    [['--browser', '--threads', '0'], /--threads expects integers >= 1/],
    [['--kernel-threads', '2'], /--kernel-threads needs --browser/],
    [['--browser', '--kernel-threads', 'x'], /--kernel-threads expects integers >= 1/],
    [['--browser', '--kernel-threads', '9'], /--kernel-threads expects 'auto' or counts from 1 to 8/],
  ])('rejects %j', (argv, re) => {
    expect(() => parseArgs(argv as string[], MODEL_IDS)).toThrow(re);
  });
});

describe('summarize', () => {
  it('gives median / min / max of odd and even counts', () => {
    expect(summarize([5, 1, 3])).toEqual({ p50: 3, min: 1, max: 5, n: 3 });
    expect(summarize([4, 1, 3, 2])).toEqual({ p50: 2.5, min: 1, max: 4, n: 4 });
    expect(summarize([7])).toEqual({ p50: 7, min: 7, max: 7, n: 1 });
  });

  it('does not modify its input and rejects empty or non-finite samples', () => {
    const xs = [3, 1, 2];
    summarize(xs);
    expect(xs).toEqual([3, 1, 2]);
    expect(() => summarize([])).toThrow(/no samples/);
    expect(() => summarize([1, Number.NaN])).toThrow(/not a finite number/);
  });

  it('median is order-invariant and between min and max; half the samples are <= it (property)', () => {
    fc.assert(
      fc.property(
        fc.array(fc.double({ min: 0, max: 1e6, noNaN: true }), { minLength: 1, maxLength: 50 }),
        (xs) => {
          const s = summarize(xs);
          const t = summarize([...xs].reverse());
          expect(t).toEqual(s);
          expect(s.min).toBeLessThanOrEqual(s.p50);
          expect(s.p50).toBeLessThanOrEqual(s.max);
          expect(xs.filter((x) => x <= s.p50).length).toBeGreaterThanOrEqual(Math.ceil(xs.length / 2));
          expect(xs.filter((x) => x >= s.p50).length).toBeGreaterThanOrEqual(Math.ceil(xs.length / 2));
        },
      ),
    );
  });

  it('gflops converts flops and milliseconds', () => {
    expect(gflops(2e9, 1000)).toBeCloseTo(2, 12);
    expect(gflops(2 * 1024 ** 3, 75)).toBeCloseTo(28.63, 2);
  });
});

describe('records', () => {
  const summary = { p50: 500, min: 400, max: 900, n: 5 };

  it('computes GFLOP/s from 2 * MACs (forward) and 6 * MACs (train), and efficiency against matMul', () => {
    const f = makeRecord({
      model: 'swin_t',
      backend: 'wasm',
      batch: 2,
      size: 224,
      mode: 'forward',
      summary,
      macs: 2 * 4.49e9,
      matmulGflops: 28,
      peakBytes: 1234,
    });
    expect(f.gmacs).toBeCloseTo(8.98, 6);
    expect(f.gflops).toBeCloseTo((2 * 8.98e9) / 0.5 / 1e9, 3);
    expect(f.efficiency).toBeCloseTo(f.gflops! / 28, 3);
    expect([f.p50_ms, f.min_ms, f.max_ms, f.peak_bytes, f.runs]).toEqual([500, 400, 900, 1234, 5]);
    const t = makeRecord({ ...f, summary, macs: 8.98e9, matmulGflops: 28, peakBytes: null, mode: 'train' });
    expect(flopsPerMac('train')).toBe(6);
    expect(t.optimizer).toBeUndefined();
    expect(
      makeRecord({
        ...f,
        summary,
        macs: null,
        matmulGflops: 28,
        peakBytes: null,
        mode: 'train',
        optimizer: 'tfjs',
      }).optimizer,
    ).toBe('tfjs');
    // forward records carry no optimizer
    expect(
      makeRecord({ ...f, summary, macs: null, matmulGflops: 28, peakBytes: null, optimizer: 'swin' })
        .optimizer,
    ).toBeUndefined();
    expect(t.gflops).toBeCloseTo(3 * f.gflops!, 2);
  });

  it('has exactly the documented JSON fields; unknown MACs or matMul give nulls', () => {
    const r = makeRecord({
      model: 'm',
      backend: 'cpu',
      batch: 1,
      size: 56,
      mode: 'forward',
      summary,
      macs: null,
      matmulGflops: null,
      peakBytes: null,
    });
    expect(Object.keys(r).sort()).toEqual(
      [
        'model',
        'backend',
        'batch',
        'size',
        'mode',
        'p50_ms',
        'min_ms',
        'max_ms',
        'gmacs',
        'gflops',
        'matmul_gflops',
        'efficiency',
        'peak_bytes',
        'runs',
        'environment',
        'threads',
      ].sort(),
    );
    expect([r.gmacs, r.gflops, r.matmul_gflops, r.efficiency, r.peak_bytes]).toEqual([
      null,
      null,
      null,
      null,
      null,
    ]);
    const parsed = JSON.parse(JSON.stringify([r])) as BenchRecord[];
    expect(parsed[0]).toEqual(r);
  });

  it('formats a markdown table with one row per record, statuses for skipped cases', () => {
    const ok = makeRecord({
      model: 'swin_t',
      backend: 'wasm',
      batch: 1,
      size: 224,
      mode: 'forward',
      summary,
      macs: 4.49e9,
      matmulGflops: 28,
      peakBytes: 3 * 2 ** 20,
    });
    const bad = skippedRecord(
      { model: 'pvt|x', backend: 'webgpu', batch: 1, size: 224, mode: 'train' },
      'unavailable: no adapter',
    );
    const md = toMarkdown([ok, bad]).split('\n');
    expect(md).toHaveLength(4);
    expect(md[0]).toMatch(/^\| model \| backend \| batch \| size \| mode \| p50 ms /);
    const cells = (line: string) =>
      line
        .split(/(?<!\\)\|/)
        .slice(1, -1)
        .map((c) => c.trim());
    expect(cells(md[1]).length).toBe(cells(md[0]).length);
    expect(cells(md[2])).toEqual([
      'swin_t',
      'wasm',
      '1',
      '224',
      'forward',
      '500.0',
      '400.0',
      '900.0',
      '4.490',
      '17.96',
      '28.0',
      '64.1%',
      '3.0 MiB',
      '5',
    ]);
    expect(cells(md[3]).slice(0, 6)).toEqual([
      'pvt\\|x',
      'webgpu',
      '1',
      '224',
      'train',
      'unavailable: no adapter',
    ]);
    expect(cells(md[3]).length).toBe(cells(md[0]).length);
    // a variant column appears only when some record has one
    expect(toMarkdown([{ ...ok, variant: 'kernel' }]).split('\n')[0]).toContain('| variant |');
    // env and threads columns only once a record comes from the browser or ran threaded
    expect(md[0]).not.toContain('| threads |');
    const threaded = toMarkdown([ok, { ...ok, environment: 'browser', threads: 2 }]).split('\n');
    expect(threaded[0]).toContain('| backend | env | threads | batch |');
    expect(cells(threaded[3]).slice(1, 4)).toEqual(['wasm', 'browser', '2']);
    expect(cells(threaded[2]).slice(1, 4)).toEqual(['wasm', 'node', '-']);
  });
});

describe('planning', () => {
  it('runs the default plan without the slow combinations and lists why the others are skipped', () => {
    const { cases, skipped } = planModelCases(parseArgs([], MODEL_IDS), MODEL_CATALOG);
    const has = (p: Partial<ModelCase>) =>
      cases.some((c) => Object.entries(p).every(([k, v]) => c[k as keyof ModelCase] === v));
    expect(has({ backend: 'wasm', model: 'swin_t', size: 224, batch: 1, mode: 'train' })).toBe(true);
    expect(has({ backend: 'wasm', model: 'swin_t', size: 448, batch: 1, mode: 'forward' })).toBe(true);
    expect(has({ size: 448, batch: 8 }) || has({ size: 448, mode: 'train' })).toBe(false);
    expect(has({ backend: 'wasm', model: 'pvt_v2_b1', size: 224, batch: 8, mode: 'forward' })).toBe(true);
    expect(has({ backend: 'cpu', model: 'swin_t', size: 224, batch: 1, mode: 'forward' })).toBe(true);
    expect(has({ size: 896 })).toBe(false);
    expect(has({ mode: 'train', batch: 8 })).toBe(false);
    expect(has({ backend: 'cpu', mode: 'train' })).toBe(false);
    expect(has({ backend: 'cpu', batch: 8 })).toBe(false);
    expect(cases.filter((c) => c.backend === 'cpu').map((c) => c.model)).toEqual(['swin_t']);
    for (const s of skipped) expect(slowReason(s.c, parseArgs([], MODEL_IDS).explicit)).toBe(s.reason);
    // every combination is either planned or skipped
    const all = 2 * (5 + 2) * 2 * 2; // backends x (model sizes) x batches x modes
    expect(cases.length + skipped.length).toBe(all);
  });

  it('--slow and explicit filters lift the matching rules', () => {
    expect(planModelCases(parseArgs(['--slow'], MODEL_IDS), MODEL_CATALOG).skipped).toHaveLength(0);
    const b8 = planModelCases(
      parseArgs(['--backends', 'cpu', '--batch', '8', '--mode', 'forward'], MODEL_IDS),
      MODEL_CATALOG,
    );
    expect(b8.cases.map((c) => [c.backend, c.model, c.batch, c.size])).toEqual([['cpu', 'swin_t', 8, 224]]);
    const cpuAll = parseArgs(
      ['--backends', 'cpu', '--models', MODEL_IDS.join(','), '--mode', 'forward'],
      MODEL_IDS,
    );
    expect(planModelCases(cpuAll, MODEL_CATALOG).cases).toHaveLength(5);
    const big = planModelCases(
      parseArgs(['--models', 'swin_t', '--sizes', '896', '--batch', '1', '--mode', 'forward'], MODEL_IDS),
      MODEL_CATALOG,
    );
    expect(big.cases.map((c) => `${c.backend}:${c.size}`)).toEqual(['wasm:896', 'cpu:896']);
  });

  it('Swin-T attention shapes and MACs', () => {
    const s = swinTAttentionShapes(224);
    expect(s.map((x) => [x.nW, x.nH, x.masked])).toEqual([
      [64, 3, true],
      [16, 6, true],
      [4, 12, true],
      [1, 24, false],
    ]);
    // q k^T and p v of 64 windows x 3 heads, 49 tokens, head dim 32
    expect(attentionMacs(192, 49, 49, 32, 32)).toBe(2 * 192 * 49 * 49 * 32);
  });
});
