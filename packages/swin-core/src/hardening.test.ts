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
import { createSwin, type SwinConfig, SwinTransformer, swinPresetConfig } from './index.js';

const TINY: Partial<SwinConfig> = {
  imgSize: 32,
  patchSize: 2,
  embedDim: 8,
  depths: [2, 1],
  numHeads: [1, 2],
  windowSize: 4,
  numClasses: 5,
  dropPathRate: 0,
};

const NAMES = /SwinTransformer|SwinConfig|createSwin|swinPresetConfig|loadSwinCheckpoint/;

function configCases(): BadCase[] {
  const cfg = (over: Record<string, unknown>, match: RegExp): BadCase => ({
    label: `config ${JSON.stringify(over)}`,
    run: () => new SwinTransformer({ ...TINY, ...over } as Partial<SwinConfig>),
    match,
  });
  return [
    cfg({ num_heads: [1, 2] }, /unknown option 'num_heads' \(did you mean 'numHeads'\?\)/),
    cfg({ window_size: 4 }, /unknown option 'window_size' \(did you mean 'windowSize'\?\)/),
    cfg({ embeddim: 8 }, /unknown option 'embeddim' \(did you mean 'embedDim'\?\)/),
    cfg({ toString: 1 }, /unknown option 'toString'/),
    cfg({ qkvBias: 'yes' }, /qkvBias must be a boolean \(true or false\), got "yes"/),
    cfg({ ape: 1 }, /ape must be a boolean/),
    cfg({ patchNorm: 'no' }, /patchNorm must be a boolean/),
    cfg({ imgSize: [32] }, /imgSize must be a positive integer or \[H, W\]/),
    cfg({ imgSize: 0 }, /imgSize must be a positive integer/),
    cfg({ patchSize: 1.5 }, /patchSize must be a positive integer, got 1.5/),
    cfg({ depths: [] }, /depths must be a non-empty array of positive integers/),
    cfg({ numHeads: [1] }, /numHeads must be 2 positive integers \(one per stage\)/),
    cfg({ numHeads: [3, 2] }, /stage 0: dim=8 .*not divisible by numHeads\[0\]=3/),
    cfg({ mlpRatio: 0 }, /mlpRatio must be a number > 0, got 0/),
    cfg({ dropRate: 1 }, /dropRate must be in \[0, 1\), got 1/),
    cfg({ attnDropRate: -0.1 }, /attnDropRate must be in \[0, 1\), got -0.1/),
    cfg({ normEps: -1 }, /normEps must be a number > 0/),
    cfg({ qkScale: 'auto' }, /qkScale must be a number or null/),
    cfg({ numClasses: -2 }, /numClasses must be an integer >= 0/),
    {
      label: 'config null',
      run: () => new SwinTransformer(null as never),
      match: /config must be an object.*null/,
    },
    {
      label: 'createSwin overrides typo',
      run: () => createSwin('swin_tiny_patch4_window7_224', { numclasses: 3 } as never),
      match: /did you mean 'numClasses'/,
    },
    {
      label: 'createSwin overrides not an object',
      run: () => createSwin('swin_tiny_patch4_window7_224', 10 as never),
      match: /overrides must be an object, got the number 10/,
    },
  ];
}

describe('SwinTransformer hardening (issue 11)', () => {
  beforeAll(async () => {
    await useBackend('cpu');
  });

  it('bad inputs, configs, presets and state dicts: each a SwinError naming the model and the problem, nothing leaked', () => {
    const m = new SwinTransformer(TINY);
    const inputs = badInputCases({ model: m, ok: [32, 32, 3] });
    const sd = badStateDictCases(m);
    const ckpt = badStateDictCases(m, (t) => m.loadCheckpoint(t as Record<string, tf.Tensor>));
    const wrongHead = tf.zeros([1, 1, 1, 7]) as tf.Tensor4D;
    const int = tf.zeros([1, 32, 32, 3], 'int32') as tf.Tensor4D;
    const gone = disposedModelCases(() => new SwinTransformer(TINY), [32, 32, 3]);
    try {
      const cases: BadCase[] = [
        ...inputs.cases,
        {
          label: 'forwardHead(wrong channels)',
          run: () => m.forwardHead(wrongHead),
          match: /forwardHead: last has 7 channels.*expected 16/,
        },
        {
          label: 'forwardEmbed(null)',
          run: () => m.forwardEmbed(null as never),
          match: /must be a tf\.Tensor/,
        },
        {
          label: 'forwardWithIntermediates(int32)',
          run: () => m.forwardWithIntermediates(int),
          match: /forwardWithIntermediates: x has dtype int32/,
        },
        ...configCases(),
        ...presetCases(
          createSwin as (n: never) => unknown,
          'swin_tiny_patch4_window7_244',
          'swin_tiny_patch4_window7_224',
        ),
        ...presetCases(
          swinPresetConfig as (n: never) => unknown,
          'swin_base_patch4_window12_348',
          'swin_base_patch4_window12_384',
        ),
        ...sd.cases,
        ...ckpt.cases,
        ...gone.cases,
      ];
      expect(cases.length).toBeGreaterThanOrEqual(40);
      expectBadCases(cases, NAMES);
    } finally {
      tf.dispose([wrongHead, int]);
      inputs.dispose();
      sd.dispose();
      ckpt.dispose();
      gone.dispose();
      m.dispose();
    }
  });

  it('a failed strict load (loadStateDict and loadCheckpoint) changes no parameter', () => {
    const m = new SwinTransformer(TINY);
    try {
      expectAllOrNothingLoad(m);
      expectAllOrNothingLoad(m, (sd) => m.loadCheckpoint(sd as Record<string, tf.Tensor>));
    } finally {
      m.dispose();
    }
  });

  it('errors inside tf.variableGrads, optimizer.minimize and tf.tidy leak nothing', () => {
    const m = new SwinTransformer(TINY).train();
    const bad: [string, unknown][] = [
      ['batch 0', tf.zeros([0, 32, 32, 3])],
      ['int32', tf.zeros([1, 32, 32, 3], 'int32')],
      ['NCHW', tf.zeros([1, 3, 32, 32])],
      ['null', null],
    ];
    try {
      expectNoLeakInTapes(m, bad);
    } finally {
      tf.dispose(bad.map(([, x]) => x).filter((x): x is tf.Tensor => x instanceof tf.Tensor));
      m.dispose();
    }
  });
});
