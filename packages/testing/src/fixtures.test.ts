import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { writeSafetensors } from '@swin/io';
import { afterAll, afterEach, describe, expect, it } from 'vitest';
import { NODE_BACKENDS, tf, useBackend } from './backend.js';
import {
  ABS_TOL,
  compareTensors,
  fixturesDir,
  listFixtures,
  loadFixture,
  REL_TOL,
  resolveFixturePath,
  toleranceFor,
} from './fixtures.js';

describe('fixturesDir / listFixtures', () => {
  const saved = process.env.SWIN_FIXTURES;
  afterEach(() => {
    if (saved === undefined) delete process.env.SWIN_FIXTURES;
    else process.env.SWIN_FIXTURES = saved;
  });

  it('resolves <repo>/../shared/fixtures/parity from the source location', () => {
    delete process.env.SWIN_FIXTURES;
    expect(fixturesDir().replace(/\\/g, '/')).toMatch(/\/shared\/fixtures\/parity$/);
    const files = listFixtures();
    expect(files.length).toBeGreaterThan(0);
    expect(files.every((f) => f.endsWith('.safetensors'))).toBe(true);
    expect(files).toEqual([...files].sort());
    expect(files).toContain('swin_block_8x8_w4_s2.safetensors');
  });

  it('honours SWIN_FIXTURES', () => {
    const dir = mkdtempSync(join(tmpdir(), 'swin-fx-'));
    try {
      writeFileSync(join(dir, 'b.safetensors'), writeSafetensors({}));
      writeFileSync(join(dir, 'a.safetensors'), writeSafetensors({}));
      writeFileSync(join(dir, 'notes.txt'), 'x');
      process.env.SWIN_FIXTURES = dir;
      expect(fixturesDir()).toBe(dir);
      expect(listFixtures()).toEqual(['a.safetensors', 'b.safetensors']);
      expect(resolveFixturePath('a.safetensors')).toBe(join(dir, 'a.safetensors'));
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });
});

describe.each(NODE_BACKENDS)('loadFixture on %s', (backend) => {
  it('splits a module case into stateDict / inputs / expected and parses the JSON metadata', async () => {
    await useBackend(backend);
    const before = tf.memory().numTensors;
    const fx = loadFixture('swin_block_8x8_w4_s2.safetensors');
    expect(fx.file).toBe('swin_block_8x8_w4_s2.safetensors');
    expect(fx.family).toBe('swin_block');
    expect(fx.module).toBe('SwinTransformerBlock');
    expect(fx.reference).toMatch(/^microsoft\/Swin-Transformer@[0-9a-f]{40} /);
    expect(fx.config.kwargs.window_size).toBe(4);
    expect(fx.config.derived.shift_size).toBe(2);
    expect(fx.layouts.input).toMatch(/tokens/);
    expect(fx.features).toEqual({});
    expect(Object.keys(fx.inputs)).toEqual(['input']);
    expect(Object.keys(fx.expected)).toEqual(['output']);
    expect(fx.inputs.input.shape).toEqual([1, 64, 32]);
    expect(Object.keys(fx.stateDict)).toContain('attn.qkv.weight');
    expect(Object.keys(fx.stateDict).some((k) => k.startsWith('state_dict.'))).toBe(false);
    expect(fx.stateDict['attn.qkv.weight'].shape).toEqual([96, 32]);
    expect(fx.stateDict['attn.relative_position_index'].dtype).toBe('int32');
    expect(fx.dtypes['state_dict.attn.relative_position_index']).toBe('I64');
    expect(fx.stateDict['attn_mask'].shape).toEqual([4, 16, 16]);
    const n = Object.keys(fx.stateDict).length + 2;
    expect(tf.memory().numTensors - before).toBe(n);
    fx.dispose();
    fx.dispose(); // idempotent
    expect(tf.memory().numTensors).toBe(before);
  });

  it('classifies mask / reverse_input as inputs and model outputs as expected', async () => {
    await useBackend(backend);
    const wa = loadFixture('window_attention_w4_mask_b2.safetensors');
    expect(Object.keys(wa.inputs).sort()).toEqual(['input', 'mask']);
    wa.dispose();
    const wo = loadFixture('window_ops_b1_8x8_w4_s2.safetensors');
    expect(Object.keys(wo.inputs).sort()).toEqual(['input', 'reverse_input']);
    expect(Object.keys(wo.expected).sort()).toEqual([
      'partition',
      'reverse',
      'roll_neg',
      'roll_pos',
      'shifted_partition',
    ]);
    wo.dispose();
    const m = loadFixture('shunted_model_64.safetensors');
    expect(m.expected.logits.rank).toBe(2);
    expect(Object.keys(m.expected)).toContain('features.3');
    expect(m.features['features.0']).toMatch(/./);
    expect(m.stateDict['patch_embed1.conv.1.num_batches_tracked'].shape).toEqual([]);
    m.dispose();
  });

  it('upcasts F16 state_dict entries to float32 (and takes a path)', async () => {
    await useBackend(backend);
    const dir = mkdtempSync(join(tmpdir(), 'swin-fx-'));
    try {
      const bytes = writeSafetensors(
        {
          input: { shape: [2], data: new Float32Array([1, 2]) },
          output: { shape: [2], data: new Float32Array([3, 4]) },
          'state_dict.w': { shape: [3], data: new Float32Array([1, 0.1, 65504]) },
        },
        { dtype: 'F16', metadata: { family: 'x', module: 'M', config: '{"kwargs":{"a":1}}' } },
      );
      const path = join(dir, 'f16.safetensors');
      writeFileSync(path, bytes);
      const fx = loadFixture(path);
      expect(fx.dtypes['state_dict.w']).toBe('F16');
      expect(fx.stateDict.w.dtype).toBe('float32');
      expect(Array.from(fx.stateDict.w.dataSync())).toEqual([1, 0.0999755859375, 65504]);
      expect(fx.config).toEqual({ kwargs: { a: 1 } });
      expect(fx.layouts).toEqual({});
      fx.dispose();
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });
});

describe('compareTensors (README section 7)', () => {
  const made: tf.Tensor[] = [];
  const t = (v: number[], s?: number[]) => {
    const x = tf.tensor(v, s ?? [v.length]);
    made.push(x);
    return x;
  };
  afterAll(() => {
    for (const x of made) x.dispose();
  });

  it('toleranceFor: exact for data-movement families, 1e-4 / 1e-3 otherwise', () => {
    expect(toleranceFor('window_ops')).toEqual({ exact: true });
    expect(toleranceFor('rel_pos_index')).toEqual({ exact: true });
    expect(toleranceFor('shifted_mask')).toEqual({ exact: true });
    expect(toleranceFor('swin_block')).toEqual({ abs: ABS_TOL, rel: REL_TOL });
    expect(ABS_TOL).toBe(1e-4);
    expect(REL_TOL).toBe(1e-3);
  });

  it('identical tensors pass with zero error', () => {
    const r = compareTensors(t([1, -2, 3]), t([1, -2, 3]), { exact: true });
    expect(r).toMatchObject({ ok: true, maxAbs: 0, maxRel: 0, maxExpected: 3, worstIndex: [] });
  });

  it('absolute bound 1e-4 (when max|expected| >= 0.1)', () => {
    const e = t([2, 0.5, -1]);
    expect(compareTensors(t([2, 0.5 + 9e-5, -1]), e).ok).toBe(true);
    const r = compareTensors(t([2, 0.5 + 1.2e-4, -1]), e);
    expect(r.ok).toBe(false);
    expect(r.maxAbs).toBeCloseTo(1.2e-4, 7);
    expect(r.maxRel).toBeCloseTo(1.2e-4 / 2, 7);
    expect(r.worstIndex).toEqual([1]);
    expect(r.message).toMatch(/MISMATCH: max_abs=1\.2\d*e-4 at \[1\]/);
  });

  it('relative bound 1e-3 * max|expected| (small-valued outputs)', () => {
    const e = t([0.05, -0.02]);
    expect(compareTensors(t([0.05 + 4e-5, -0.02]), e).ok).toBe(true); // 4e-5 <= 5e-5
    const r = compareTensors(t([0.05, -0.02 - 6e-5]), e); // 6e-5 < 1e-4 but > 5e-5
    expect(r.ok).toBe(false);
    expect(r.maxExpected).toBeCloseTo(0.05, 7);
    expect(r.message).toMatch(/bound min\(/);
  });

  it('exact mode fails on a single ulp and reports the count and the multi-index', () => {
    const base = [0, -100, 0, 0, -100, 0];
    const off = base.slice();
    off[4] = Math.fround(-100 + 1e-5);
    const r = compareTensors(t(off, [1, 2, 3]), t(base, [1, 2, 3]), { exact: true });
    expect(r.ok).toBe(false);
    expect(r.worstIndex).toEqual([0, 1, 1]);
    expect(r.message).toMatch(/exact equality required: 1 of 6 elements differ/);
  });

  it('works on int32 tensors and catches NaN', () => {
    const a = tf.tensor([1, 2, 3], [3], 'int32');
    const b = tf.tensor([1, 2, 4], [3], 'int32');
    made.push(a, b);
    expect(compareTensors(a, a, { exact: true }).ok).toBe(true);
    expect(compareTensors(a, b, { exact: true }).maxAbs).toBe(1);
    const r = compareTensors(t([1, Number.NaN]), t([1, 2]));
    expect(r.ok).toBe(false);
    expect(r.maxAbs).toBe(Number.POSITIVE_INFINITY);
    expect(r.worstIndex).toEqual([1]);
  });

  it('a shape mismatch is not ok, even with the same number of elements', () => {
    const r = compareTensors(t([1, 2, 3, 4], [2, 2]), t([1, 2, 3, 4], [4]));
    expect(r.ok).toBe(false);
    expect(r.message).toMatch(/shape mismatch: actual \[2, 2\] vs expected \[4\]/);
  });
});
