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
import { createSwinMLP, SwinMLP, type SwinMLPConfig, swinMlpPresetConfig } from './index.js';

const TINY: Partial<SwinMLPConfig> = {
  imgSize: 32,
  patchSize: 4,
  embedDim: 8,
  depths: [2, 1],
  numHeads: [2, 4],
  windowSize: 4,
  numClasses: 3,
  dropPathRate: 0,
};

const NAMES = /SwinMLP|createSwinMLP/;

function configCases(): BadCase[] {
  const cfg = (over: Record<string, unknown>, match: RegExp): BadCase => ({
    label: `config ${JSON.stringify(over)}`,
    run: () => new SwinMLP({ ...TINY, ...over } as Partial<SwinMLPConfig>),
    match,
  });
  return [
    cfg({ num_heads: [2, 4] }, /unknown option 'num_heads' \(did you mean 'numHeads'\?\)/),
    cfg({ qkvBias: true }, /unknown option 'qkvBias'/),
    cfg({ mlp_ratio: 4 }, /unknown option 'mlp_ratio' \(did you mean 'mlpRatio'\?\)/),
    cfg({ constructor: 1 }, /unknown option 'constructor'/),
    cfg({ ape: 'true' }, /ape must be a boolean/),
    cfg({ patchNorm: 0 }, /patchNorm must be a boolean/),
    cfg({ windowSize: 0 }, /windowSize must be a positive integer, got 0/),
    cfg({ embedDim: '8' }, /embedDim must be a positive integer, got "8"/),
    cfg({ numHeads: [3, 4] }, /stage 0: dim=8 .*not divisible by numHeads\[0\]=3/),
    cfg({ depths: [2, 0] }, /depths must be a non-empty array of positive integers/),
    cfg({ dropPathRate: 2 }, /dropPathRate must be in \[0, 1\), got 2/),
    cfg({ inChans: -3 }, /inChans must be a positive integer/),
    {
      label: 'config an array',
      run: () => new SwinMLP([] as never),
      match: /config must be an object.*array/,
    },
    {
      label: 'createSwinMLP overrides typo',
      run: () => createSwinMLP('swin_mlp_tiny_c24_patch4_window8_256', { num_classes: 3 } as never),
      match: /did you mean 'numClasses'/,
    },
  ];
}

describe('SwinMLP hardening (issue 11)', () => {
  beforeAll(async () => {
    await useBackend('cpu');
  });

  it('bad inputs, configs, presets and state dicts: each a SwinError naming the model and the problem, nothing leaked', () => {
    const m = new SwinMLP(TINY);
    const ape = new SwinMLP({ ...TINY, ape: true });
    const inputs = badInputCases({ model: m, ok: [32, 32, 3] });
    const sd = badStateDictCases(m);
    const other = tf.zeros([1, 48, 32, 3]) as tf.Tensor4D;
    const gone = disposedModelCases(() => new SwinMLP(TINY), [32, 32, 3]);
    try {
      const cases: BadCase[] = [
        ...inputs.cases,
        {
          label: 'ape model at another size',
          run: () => ape.forward(other),
          match: /absolute_pos_embed is defined for a 8x8 patch grid.*12x8/,
        },
        {
          label: 'forwardHead(undefined)',
          run: () => m.forwardHead(undefined as never),
          match: /last must be a tf\.Tensor/,
        },
        ...configCases(),
        ...presetCases(
          createSwinMLP as (n: never) => unknown,
          'swin_mlp_tiny_c24_patch4_window8_265',
          'swin_mlp_tiny_c24_patch4_window8_256',
        ),
        ...presetCases(
          swinMlpPresetConfig as (n: never) => unknown,
          'swin_mlp_tiny_c12_patch4_window8_256x',
          'swin_mlp_tiny_c12_patch4_window8_256',
        ),
        ...sd.cases,
        ...gone.cases,
      ];
      expect(cases.length).toBeGreaterThanOrEqual(40);
      expectBadCases(cases, NAMES);
    } finally {
      tf.dispose(other);
      inputs.dispose();
      sd.dispose();
      gone.dispose();
      m.dispose();
      ape.dispose();
    }
  });

  it('a failed strict load changes no parameter', () => {
    const m = new SwinMLP(TINY);
    try {
      expectAllOrNothingLoad(m);
    } finally {
      m.dispose();
    }
  });

  it('errors inside tf.variableGrads, optimizer.minimize and tf.tidy leak nothing', () => {
    const m = new SwinMLP(TINY).train();
    const ape = new SwinMLP({ ...TINY, ape: true }).train();
    const bad: [string, unknown][] = [
      ['batch 0', tf.zeros([0, 32, 32, 3])],
      ['bool', tf.zeros([1, 32, 32, 3], 'bool')],
      ['rank 3', tf.zeros([32, 32, 3])],
      ['undefined', undefined],
    ];
    const other: [string, unknown][] = [['ape model at another size', tf.zeros([1, 48, 32, 3])]];
    try {
      expectNoLeakInTapes(m, bad);
      expectNoLeakInTapes(ape, other);
    } finally {
      tf.dispose([...bad, ...other].map(([, x]) => x).filter((x): x is tf.Tensor => x instanceof tf.Tensor));
      m.dispose();
      ape.dispose();
    }
  });
});
