import { backboneMacs, backboneParamCount, createBackbone } from '@swin/backbone';
import { useBackend } from '@swin/testing';
import { describe, expect, it } from 'vitest';
import { FULL_VARIANTS, QUICK_VARIANTS, VARIANTS } from './variants.js';

const reference = backboneParamCount(VARIANTS.swin.config);

describe('ablation variants', () => {
  it('covers the attention kinds, window sizes and input resolutions of the study', () => {
    for (const n of [
      'swin',
      'swin-noshift',
      'swin-norpb',
      'swin-mlp',
      'shunted',
      'pvt-v1-sra',
      'pvt-v2-sra',
      'pvt-v2-linear',
      'global',
      'hybrid-shunted-swin',
    ])
      expect(VARIANTS[n]?.group).toBe('attention');
    expect(FULL_VARIANTS.filter((n) => VARIANTS[n].group === 'window').length).toBeGreaterThanOrEqual(1);
    expect(new Set(FULL_VARIANTS.map((n) => VARIANTS[n].imageSize)).size).toBeGreaterThanOrEqual(2);
    expect(new Set(Object.values(VARIANTS).map((v) => v.imageSize)).size).toBe(3);
    for (const n of QUICK_VARIANTS) expect(FULL_VARIANTS).toContain(n);
  });

  it.each(Object.keys(VARIANTS))(
    '%s: parameters within 10 percent of the reference Swin, counts equal the built model',
    async (name) => {
      await useBackend('cpu');
      const v = VARIANTS[name];
      const p = backboneParamCount(v.config);
      expect(Math.abs(p / reference - 1)).toBeLessThanOrEqual(0.1);
      const m = createBackbone(v.config);
      try {
        expect(m.numParams()).toBe(p);
        expect(m.macs(v.imageSize, v.imageSize)).toBe(backboneMacs(v.config, v.imageSize, v.imageSize));
      } finally {
        m.dispose();
      }
    },
  );

  it('the ablated options are really off', () => {
    expect(
      VARIANTS['swin-noshift'].config.stages.every((s) => s.block.kind === 'swin' && s.block.shift === false),
    ).toBe(true);
    const m = createBackbone(VARIANTS['swin-norpb'].config);
    expect(m.namedParameters().some(([k]) => k.includes('relative_position_bias_table'))).toBe(false);
    m.dispose();
  });
});
