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
import { createShunted, type ShuntedConfig, ShuntedTransformer, shuntedPresetConfig } from './index.js';

const TINY: Partial<ShuntedConfig> = {
  embedDims: [64, 16, 24, 32],
  numHeads: [2, 2, 4, 4],
  mlpRatios: [2, 2, 2, 2],
  depths: [1, 1, 1, 1],
  srRatios: [8, 4, 2, 1],
  numClasses: 5,
};

const NAMES = /ShuntedTransformer|createShunted|shuntedPresetConfig/;

function configCases(): BadCase[] {
  const cfg = (over: Record<string, unknown>, match: RegExp, label = JSON.stringify(over)): BadCase => ({
    label: `config ${label}`,
    run: () => new ShuntedTransformer({ ...TINY, ...over } as Partial<ShuntedConfig>),
    match,
  });
  return [
    cfg({ num_heads: [2, 2, 4, 4] }, /unknown option 'num_heads' \(did you mean 'numHeads'\?\)/),
    cfg({ embed_dims: [64, 16, 24, 32] }, /unknown option 'embed_dims' \(did you mean 'embedDims'\?\)/),
    cfg({ numclasses: 10 }, /unknown option 'numclasses' \(did you mean 'numClasses'\?\)/),
    cfg({ sr_ratio: [8, 4, 2, 1] }, /unknown option 'sr_ratio' \(did you mean 'srRatios'\?\)/),
    cfg({ foo: 1 }, /unknown option 'foo'.*known: imgSize/),
    cfg({ qkvBias: 'yes' }, /qkvBias must be a boolean \(true or false\), got "yes"/),
    cfg({ qkvBias: 1 }, /qkvBias must be a boolean/),
    cfg({ numClasses: -1 }, /numClasses must be an integer >= 0, got -1/),
    cfg({ numClasses: 2.5 }, /numClasses must be an integer >= 0, got 2.5/),
    cfg({ embedDims: 'wide' }, /embedDims must be a non-empty array of positive integers/),
    cfg({ depths: [1, -1, 1, 1] }, /depths must be a non-empty array of integers >= 0/),
    cfg({ mlpRatios: [2, 0, 2, 2] }, /mlpRatios must be a non-empty array of numbers > 0/),
    cfg({ dropPathRate: 1 }, /dropPathRate must be in \[0, 1\), got 1/),
    cfg({ normEps: 0 }, /normEps must be a number > 0, got 0/),
    cfg({ qkScale: 'auto' }, /qkScale must be a number or null/),
    cfg({ srRatios: [3, 4, 2, 1] }, /sr_ratio 3 is not supported/),
    cfg(
      { numHeads: [3, 2, 4, 4], embedDims: [64, 16, 24, 32] },
      /stage 0: dim 64 should be divided by num_heads 3/,
    ),
    cfg({ numHeads: [2, 3, 4, 4], embedDims: [64, 18, 24, 32] }, /num_heads must be even when sr_ratio > 1/),
    cfg({ numStages: 5 }, /num_stages must be 1, 2, 3 or 4, got 5/),
    cfg({ inChans: 4 }, /in_chans must be 3, got 4/),
    cfg({ embedDims: [32, 16, 24, 32] }, /embed_dims\[0\] must be 64/),
    {
      label: 'config null',
      run: () => new ShuntedTransformer(null as never),
      match: /config must be an object.*null/,
    },
    {
      label: 'config array',
      run: () => new ShuntedTransformer([] as never),
      match: /config must be an object.*array/,
    },
    {
      label: 'createShunted overrides typo',
      run: () => createShunted('shunted_t', { numclasses: 10 } as never),
      match: /did you mean 'numClasses'/,
    },
    {
      label: 'createShunted overrides null',
      run: () => createShunted('shunted_t', null as never),
      match: /overrides must be an object, got null/,
    },
  ];
}

describe('ShuntedTransformer hardening (issue 11)', () => {
  beforeAll(async () => {
    await useBackend('cpu');
  });

  it('bad inputs, configs, presets and state dicts: each a SwinError naming the model and the problem, nothing leaked', () => {
    const m = new ShuntedTransformer(TINY);
    const inputs = badInputCases({
      model: m,
      ok: [32, 32, 3],
      tooSmall: {
        size: [16, 16],
        match: /input 16x16 is too small: stage 0 \(block1\).*4x4 token map.*sr_ratio 8/,
      },
    });
    const sd = badStateDictCases(m);
    const wrongHead = tf.zeros([1, 1, 1, 7]) as tf.Tensor4D;
    const gone = disposedModelCases(() => new ShuntedTransformer(TINY), [32, 32, 3]);
    const head: BadCase[] = [
      {
        label: 'forwardHead(wrong channels)',
        run: () => m.forwardHead(wrongHead),
        match: /forwardHead: last has 7 channels.*expected 32/,
      },
      {
        label: 'forwardHead(null)',
        run: () => m.forwardHead(null as never),
        match: /last must be a tf\.Tensor/,
      },
    ];
    try {
      const cases = [
        ...inputs.cases,
        ...head,
        ...configCases(),
        ...presetCases(createShunted as (n: never) => unknown, 'shunted_tt', 'shunted_t'),
        ...presetCases(shuntedPresetConfig as (n: never) => unknown, 'Shunted_S', 'shunted_s'),
        ...sd.cases,
        ...gone.cases,
      ];
      expect(cases.length).toBeGreaterThanOrEqual(40);
      const messages = expectBadCases(cases, NAMES);
      expect(messages.length).toBe(cases.length);
    } finally {
      inputs.dispose();
      sd.dispose();
      wrongHead.dispose();
      gone.dispose();
      m.dispose();
    }
  });

  it('a failed strict load changes no parameter', () => {
    const m = new ShuntedTransformer(TINY);
    try {
      expectAllOrNothingLoad(m);
    } finally {
      m.dispose();
    }
  });

  it('errors inside tf.variableGrads, optimizer.minimize and tf.tidy leak nothing', () => {
    const m = new ShuntedTransformer(TINY).train();
    const bad: [string, unknown][] = [
      ['a map smaller than sr_ratio 8 at stage 0', tf.zeros([2, 16, 16, 3])],
      ['a map smaller than sr_ratio 2 at stage 2', tf.zeros([1, 24, 24, 3])],
      ['batch 0', tf.zeros([0, 32, 32, 3])],
      ['int32', tf.zeros([1, 32, 32, 3], 'int32')],
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
