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
import {
  createPVT,
  officialToTimmPVTv2,
  type PVTConfig,
  PyramidVisionTransformer,
  PyramidVisionTransformerV2,
  pvtConfig,
} from './index.js';

const V1: Partial<PVTConfig> = {
  imgSize: 32,
  embedDims: [8, 16, 24, 32],
  numHeads: [1, 2, 3, 4],
  mlpRatios: [2, 2, 2, 2],
  depths: [1, 1, 1, 1],
  srRatios: [2, 2, 1, 1],
  numClasses: 4,
};
const V2: Partial<PVTConfig> = { ...V1, imgSize: 224 };

const NAMES = /PyramidVisionTransformer|createPVT|pvtConfig/;

function configCases(): BadCase[] {
  const v1 = (over: Record<string, unknown>, match: RegExp): BadCase => ({
    label: `v1 config ${JSON.stringify(over)}`,
    run: () => new PyramidVisionTransformer({ ...V1, ...over } as Partial<PVTConfig>),
    match,
  });
  const v2 = (over: Record<string, unknown>, match: RegExp): BadCase => ({
    label: `v2 config ${JSON.stringify(over)}`,
    run: () => new PyramidVisionTransformerV2({ ...V2, ...over } as Partial<PVTConfig>),
    match,
  });
  return [
    v2({ num_heads: [1, 2, 3, 4] }, /unknown option 'num_heads' \(did you mean 'numHeads'\?\)/),
    v2({ embed_dims: [8, 16, 24, 32] }, /unknown option 'embed_dims' \(did you mean 'embedDims'\?\)/),
    v1({ numclasses: 10 }, /unknown option 'numclasses' \(did you mean 'numClasses'\?\)/),
    v2({ sr_ratios: [8, 4, 2, 1] }, /unknown option 'sr_ratios' \(did you mean 'srRatios'\?\)/),
    v2({ linear: 'yes' }, /linear must be a boolean \(true or false\), got "yes"/),
    v2({ qkvBias: 'true' }, /qkvBias must be a boolean/),
    v1({ patchSize: 5 }, /patchSize 5 does not divide imgSize 32x32/),
    v1({ linear: true }, /linear \(Li-SRA\) exists only in PVT v2/),
    v1({ imgSize: 8 }, /empty 0x0 pos_embed3 grid \(stage 3\)/),
    v1({ srRatios: [2, 2, 1, 2] }, /last stage carries a class token, so its sr_ratio must be 1/),
    v2({ version: 3 }, /config\.version is 3, but this class builds PVT v2/),
    v1({ version: 2 }, /config\.version is 2, but this class builds PVT v1/),
    {
      label: 'pvtConfig version 3',
      run: () => pvtConfig('pvt_tiny', { version: 3 } as never),
      match: /version must be one of 1, 2, got 3/,
    },
    v2({ srRatios: [0, 2, 1, 1] }, /srRatios must be a non-empty array of positive integers/),
    v2({ numHeads: [1, 2, 3] }, /numHeads has 3 entries but embedDims has 4 stages/),
    v2({ numHeads: [3, 2, 3, 4] }, /stage 1 dim 8 is not divisible by num_heads 3/),
    v2({ depths: [1, -1, 1, 1] }, /depths must be a non-empty array of integers >= 0/),
    v2({ dropRate: 1 }, /dropRate must be in \[0, 1\), got 1/),
    v2({ mlpRatios: [2, 2, 'x', 2] }, /mlpRatios must be a non-empty array of numbers > 0/),
    v2({ imgSize: -1 }, /imgSize must be a positive integer or \[H, W\]/),
    {
      label: 'v2 config null',
      run: () => new PyramidVisionTransformerV2(null as never),
      match: /config must be an object.*null/,
    },
    {
      label: 'createPVT overrides typo',
      run: () => createPVT('pvt_v2_b0', { numclasses: 10 } as never),
      match: /createPVT: unknown option 'numclasses' \(did you mean 'numClasses'\?\)/,
    },
    {
      label: 'createPVT overrides null',
      run: () => createPVT('pvt_v2_b0', null as never),
      match: /createPVT: the config must be an object.*null/,
    },
  ];
}

describe('PVT hardening (issue 11)', () => {
  beforeAll(async () => {
    await useBackend('cpu');
  });

  it('bad inputs, configs, presets and state dicts: each a SwinError naming the model and the problem, nothing leaked', () => {
    const v1 = new PyramidVisionTransformer(V1);
    const v2 = new PyramidVisionTransformerV2(V2);
    const in1 = badInputCases({
      model: v1,
      ok: [32, 32, 3],
      tooSmall: {
        size: [4, 8],
        match: /input 4x8 is too small: stage 1 \(block1\) has a 1x2 map, smaller than its sr_ratio 2/,
      },
    });
    const in2 = badInputCases({
      model: v2,
      ok: [32, 32, 3],
      tooSmall: {
        size: [8, 8],
        match: /input 8x8 is too small: stage 2 \(block2\) has a 1x1 map, smaller than its sr_ratio 2/,
      },
    });
    const sd1 = badStateDictCases(v1);
    const sd2 = badStateDictCases(v2);
    const x64 = tf.zeros([1, 64, 64, 3]) as tf.Tensor4D;
    const cls = tf.zeros([2, 5]);
    const gone1 = disposedModelCases(() => new PyramidVisionTransformer(V1), [32, 32, 3]);
    const gone2 = disposedModelCases(() => new PyramidVisionTransformerV2(V2), [32, 32, 3]);
    try {
      const cases: BadCase[] = [
        ...in1.cases,
        ...in2.cases,
        {
          label: 'v1 pos_embed grid the reference cannot add',
          run: () => v1.forward(x64),
          match: /PyramidVisionTransformer\.forward: stage 2 has a 8x8 token grid/,
        },
        {
          label: 'v1 forwardHead without clsToken',
          run: () => v1.forwardHead(x64),
          match: /pass opts\.clsToken/,
        },
        {
          label: 'v1 forwardHead wrong clsToken',
          run: () => v1.forwardHead(x64, { clsToken: cls }),
          match: /opts\.clsToken has 5 channels.*expected 32/,
        },
        {
          label: 'v2 forwardHead(null)',
          run: () => v2.forwardHead(null as never),
          match: /last must be a tf\.Tensor/,
        },
        ...configCases(),
        ...presetCases(createPVT as (n: never) => unknown, 'pvt_v2_b6', 'pvt_v2_b0'),
        ...presetCases(pvtConfig as (n: never) => unknown, 'pvt_smal', 'pvt_small'),
        ...sd1.cases,
        ...sd2.cases,
        ...gone1.cases,
        ...gone2.cases,
      ];
      expect(cases.length).toBeGreaterThanOrEqual(80);
      expectBadCases(cases, NAMES);
    } finally {
      tf.dispose([x64, cls]);
      for (const c of [in1, in2, sd1, sd2, gone1, gone2]) c.dispose();
      v1.dispose();
      v2.dispose();
    }
  });

  it('a failed strict load changes no parameter (v1, v2, v2 with timm keys)', () => {
    const v1 = new PyramidVisionTransformer(V1);
    const v2 = new PyramidVisionTransformerV2(V2);
    try {
      expectAllOrNothingLoad(v1);
      expectAllOrNothingLoad(v2);
      expectAllOrNothingLoad(v2, (sd) =>
        v2.loadStateDict(officialToTimmPVTv2(sd) as Record<string, tf.Tensor>),
      );
    } finally {
      v1.dispose();
      v2.dispose();
    }
  });

  it('errors inside tf.variableGrads, optimizer.minimize and tf.tidy leak nothing', () => {
    const v1 = new PyramidVisionTransformer(V1).train();
    const v2 = new PyramidVisionTransformerV2(V2).train();
    const bad: [string, unknown][] = [
      ['a map smaller than sr_ratio 2 at stage 2', tf.zeros([2, 8, 8, 3])],
      ['a map smaller than sr_ratio 2 at stage 1', tf.zeros([1, 4, 8, 3])],
      ['batch 0', tf.zeros([0, 32, 32, 3])],
      ['complex64', tf.complex(tf.zeros([1, 32, 32, 3]), tf.zeros([1, 32, 32, 3]))],
      ['a plain array', [[[[0, 0, 0]]]]],
    ];
    const v1only: [string, unknown][] = [
      ['the pos_embed grid the reference cannot add', tf.zeros([1, 64, 64, 3])],
    ];
    try {
      expectNoLeakInTapes(v1, [...bad, ...v1only]);
      expectNoLeakInTapes(v2, bad);
    } finally {
      tf.dispose([...bad, ...v1only].map(([, x]) => x).filter((x): x is tf.Tensor => x instanceof tf.Tensor));
      v1.dispose();
      v2.dispose();
    }
  });
});
