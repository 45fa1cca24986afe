/**
 * Issue 11 (hardening): every bad input, config, preset name and state dict gives a SwinError naming the
 * model and the problem, before any op; a failed load changes nothing; errors inside gradient tapes leak nothing.
 */
import type { BadCase } from '@swin/testing';
import {
  badInputCases,
  badStateDictCases,
  disposedModelCases,
  expectAllOrNothingLoad,
  expectBadCases,
  expectNoLeakInTapes,
  presetCases,
  tf,
  useBackend,
} from '@swin/testing';
import { beforeAll, describe, expect, it } from 'vitest';
import { type BackboneConfig, createBackbone, createModel, HybridBackbone, presetConfig } from './index.js';

const SHUNTED_SWIN: BackboneConfig = {
  name: 'shunted-swin',
  imgSize: [45, 61],
  numClasses: 4,
  stages: [
    {
      dim: 64,
      depth: 1,
      downsample: { kind: 'shunted_stem', numConv: 0 },
      block: { kind: 'shunted', numHeads: 2, srRatio: 4, mlpRatio: 1 },
      norm: true,
    },
    {
      dim: 16,
      depth: 1,
      downsample: { kind: 'overlap_patch_embed', patchSize: 3, stride: 2 },
      block: { kind: 'shunted', numHeads: 2, srRatio: 2, mlpRatio: 2 },
      norm: true,
    },
    {
      dim: 32,
      depth: 1,
      downsample: { kind: 'patch_merging' },
      block: { kind: 'swin', numHeads: 2, windowSize: 2, mlpRatio: 2 },
    },
  ],
  finalNorm: true,
};

const NAMES = /HybridBackbone|createBackbone|createModel|presetConfig|createPVT|SwinConfig/;

function configCases(): BadCase[] {
  const stage = (i: number, over: Record<string, unknown>) => ({
    ...SHUNTED_SWIN,
    stages: SHUNTED_SWIN.stages.map((s, j) => (j === i ? { ...s, ...over } : s)),
  });
  const block = (i: number, over: Record<string, unknown>) =>
    stage(i, { block: { ...SHUNTED_SWIN.stages[i].block, ...over } });
  const cfg = (label: string, c: unknown, match: RegExp): BadCase => ({
    label: `config ${label}`,
    run: () => createBackbone(c as BackboneConfig),
    match,
  });
  return [
    cfg(
      'numclasses',
      { ...SHUNTED_SWIN, numclasses: 3 },
      /unknown option 'numclasses' \(did you mean 'numClasses'\?\)/,
    ),
    cfg(
      'img_size',
      { ...SHUNTED_SWIN, img_size: 32 },
      /unknown option 'img_size' \(did you mean 'imgSize'\?\)/,
    ),
    cfg(
      'stage typo',
      stage(0, { blocks: {} }),
      /stages\[0\]: unknown option 'blocks' \(did you mean 'block'\?\)/,
    ),
    cfg(
      'block option typo',
      block(0, { num_heads: 2 }),
      /unknown option 'num_heads' \(did you mean 'numHeads'\?\)/,
    ),
    cfg('block kind toString', block(0, { kind: 'toString' }), /unknown block kind "toString"/),
    cfg(
      'downsample kind constructor',
      stage(1, { downsample: { kind: 'constructor' } }),
      /unknown downsample kind "constructor"/,
    ),
    cfg('norm "yes"', stage(0, { norm: 'yes' }), /must be true, false or \{ eps: number > 0 \}/),
    cfg('dropPathRate 1', { ...SHUNTED_SWIN, dropPathRate: 1 }, /dropPathRate must be in \[0, 1\)/),
    cfg('null', null, /config must be an object, got null/),
    cfg('stages not an array', { ...SHUNTED_SWIN, stages: 3 }, /stages/),
    cfg(
      'srRatio 4 at stage 1 too big for imgSize',
      block(1, { srRatio: 8 }),
      /stages\[1\]\.block \(shunted\) at imgSize 45x61: the 6x8 map is smaller than the shunted srRatio 8/,
    ),
    {
      label: 'createModel overrides typo',
      run: () => createModel('pvt_v2_b0', { numclasses: 10 } as never),
      match: /createPVT: unknown option 'numclasses' \(did you mean 'numClasses'\?\)/,
    },
    {
      label: 'createModel Swin overrides typo',
      run: () => createModel('swin_tiny_patch4_window7_224', { window_size: 8 } as never),
      match: /unknown option 'window_size' \(did you mean 'windowSize'\?\)/,
    },
  ];
}

describe('HybridBackbone hardening (issue 11)', () => {
  beforeAll(async () => {
    await useBackend('cpu');
  });

  it('bad inputs, configs, presets and state dicts: each a SwinError naming the model and the problem, nothing leaked', () => {
    const m = createBackbone(SHUNTED_SWIN);
    const inputs = badInputCases({
      model: m,
      ok: [45, 61, 3],
      tooSmall: {
        size: [12, 12],
        match:
          /stages\[0\]\.block \(shunted\) at input 12x12: the 3x3 map is smaller than the shunted srRatio 4/,
      },
    });
    const sd = badStateDictCases(m);
    const gone = disposedModelCases(() => createBackbone(SHUNTED_SWIN), [45, 61, 3]);
    try {
      const cases: BadCase[] = [
        ...inputs.cases,
        {
          label: 'forwardHead(null)',
          run: () => m.forwardHead(null as never),
          match: /last must be a tf\.Tensor/,
        },
        ...configCases(),
        ...presetCases(createModel as (n: never) => unknown, 'pvt_v2_b9', 'pvt_v2_b0'),
        ...presetCases(presetConfig as (n: never) => unknown, 'shunted_x', 'shunted_t'),
        ...sd.cases,
        ...gone.cases,
      ];
      expect(cases.length).toBeGreaterThanOrEqual(40);
      expectBadCases(cases, NAMES);
    } finally {
      inputs.dispose();
      sd.dispose();
      gone.dispose();
      m.dispose();
    }
  });

  it('a failed strict load changes no parameter', () => {
    const m = createBackbone(SHUNTED_SWIN);
    try {
      expect(m).toBeInstanceOf(HybridBackbone);
      expectAllOrNothingLoad(m);
    } finally {
      m.dispose();
    }
  });

  it('errors inside tf.variableGrads, optimizer.minimize and tf.tidy leak nothing', () => {
    const m = createBackbone(SHUNTED_SWIN).train();
    const bad: [string, unknown][] = [
      ['a map smaller than srRatio 4 at stage 0', tf.zeros([2, 12, 12, 3])],
      ['batch 0', tf.zeros([0, 45, 61, 3])],
      ['int32', tf.zeros([1, 45, 61, 3], 'int32')],
      ['a number', 7],
    ];
    try {
      expectNoLeakInTapes(m, bad);
    } finally {
      tf.dispose(bad.map(([, x]) => x).filter((x): x is tf.Tensor => x instanceof tf.Tensor));
      m.dispose();
    }
  });
});
