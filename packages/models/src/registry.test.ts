import { useBackend } from '@swin/testing';
import { describe, expect, it } from 'vitest';
import { countParams, createModel, type RegistryModel } from './create.js';

/** Effective window of the first block of every stage of a HybridBackbone. */
function stageWindows(m: RegistryModel): number[] {
  const b = m as unknown as { stages: { items: { blocks: { items: { windowSize: number }[] } }[] } };
  return b.stages.items.map((s) => s.blocks.items[0].windowSize);
}

import { pretrainedCfgOf } from './pretrained.js';
import { listModels, modelTags, PRETRAINED_CFGS, resolveModel, UnknownModelError } from './registry.js';

describe('resolveModel', () => {
  it('resolves a timm name without a tag to timm default tag (first listed)', () => {
    expect(resolveModel('swin_tiny_patch4_window7_224').tag).toBe('ms_in1k');
    // timm lists the 22k fine-tuned weights first for S/B/L
    expect(resolveModel('swin_small_patch4_window7_224').tag).toBe('ms_in22k_ft_in1k');
    expect(resolveModel('swin_large_patch4_window12_384').tag).toBe('ms_in22k_ft_in1k');
    expect(resolveModel('pvt_v2_b0').tag).toBe('in1k');
  });

  it('carries each tag pretrained cfg', () => {
    const t = resolveModel('swin_tiny_patch4_window7_224.ms_in1k');
    expect(t).toMatchObject({ name: 'swin_tiny_patch4_window7_224', family: 'swin' });
    expect(t.pretrainedCfg).toMatchObject({
      inputSize: [3, 224, 224],
      cropPct: 0.9,
      interpolation: 'bicubic',
      mean: [0.485, 0.456, 0.406],
      std: [0.229, 0.224, 0.225],
      numClasses: 1000,
      labelSet: 'imagenet-1k',
      hfHubId: 'timm/swin_tiny_patch4_window7_224.ms_in1k',
      tag: 'ms_in1k',
    });
    const b384 = resolveModel('swin_base_patch4_window12_384.ms_in22k').pretrainedCfg;
    expect(b384).toMatchObject({
      inputSize: [3, 384, 384],
      cropPct: 1,
      numClasses: 21841,
      labelSet: 'imagenet-22k',
    });
    expect(resolveModel('swin_mlp_tiny_c24_patch4_window8_256').pretrainedCfg).toMatchObject({
      inputSize: [3, 256, 256],
      cropPct: 0.875,
    });
    expect(resolveModel('shunted_s').family).toBe('shunted');
    expect(resolveModel('pvt_medium').family).toBe('pvt-v1');
    expect(resolveModel('pvt_v2_b2_li.in1k').family).toBe('pvt-v2');
  });

  it('returns fresh copies (editing one does not change the registry)', () => {
    const a = resolveModel('pvt_v2_b1');
    a.pretrainedCfg.mean[0] = 9;
    a.pretrainedCfg.inputSize[1] = 1;
    expect(resolveModel('pvt_v2_b1').pretrainedCfg.mean[0]).toBe(0.485);
    expect(resolveModel('pvt_v2_b1').pretrainedCfg.inputSize[1]).toBe(224);
  });

  it('lists exactly timm tags per architecture, in order', () => {
    expect(modelTags('swin_tiny_patch4_window7_224')).toEqual(['ms_in1k', 'ms_in22k_ft_in1k', 'ms_in22k']);
    expect(modelTags('swin_large_patch4_window7_224')).toEqual(['ms_in22k_ft_in1k', 'ms_in22k']);
    expect(Object.keys(PRETRAINED_CFGS).filter((k) => k.startsWith('pvt_v2'))).toHaveLength(7);
  });

  it('accepts timm deprecated names', () => {
    const r = resolveModel('swin_base_patch4_window7_224_in22k');
    expect([r.name, r.tag, r.pretrainedCfg.numClasses]).toEqual([
      'swin_base_patch4_window7_224',
      'ms_in22k',
      21841,
    ]);
  });

  it('suggests names for typos and lists tags for unknown tags', () => {
    expect(() => resolveModel('swin_tiny_patch4_window7_244')).toThrow(
      /unknown model 'swin_tiny_patch4_window7_244' \(did you mean 'swin_tiny_patch4_window7_224'/,
    );
    expect(() => resolveModel('pvt_v2_b6')).toThrow(/did you mean 'pvt_v2_b[0-5]/);
    expect(() => resolveModel('swin_tiny_patch4_window7_224.in1k')).toThrow(
      /unknown pretrained tag 'in1k' for swin_tiny_patch4_window7_224 \(known tags: ms_in1k, ms_in22k_ft_in1k, ms_in22k\)/,
    );
    try {
      resolveModel('shunted_x');
    } catch (e) {
      expect(e).toBeInstanceOf(UnknownModelError);
      expect((e as UnknownModelError).suggestions).toContain('shunted_t');
    }
  });

  it('uses own properties only', () => {
    for (const n of [
      'constructor',
      '__proto__',
      'toString',
      'hasOwnProperty',
      'swin_tiny_patch4_window7_224.constructor',
    ]) {
      expect(() => resolveModel(n)).toThrow(UnknownModelError);
    }
    expect(() => resolveModel('')).toThrow(/non-empty string/);
  });
});

describe('listModels', () => {
  it('filters like timm list_models and hides unbuildable architectures by default', () => {
    expect(listModels('pvt_v2*')).toEqual([
      'pvt_v2_b0',
      'pvt_v2_b1',
      'pvt_v2_b2',
      'pvt_v2_b3',
      'pvt_v2_b4',
      'pvt_v2_b5',
      'pvt_v2_b2_li',
    ]);
    expect(listModels('swin_s3*')).toEqual(['swin_s3_tiny_224', 'swin_s3_small_224', 'swin_s3_base_224']);
    expect(listModels('swin_tiny*', { pretrained: true })).toEqual([
      'swin_tiny_patch4_window7_224.ms_in1k',
      'swin_tiny_patch4_window7_224.ms_in22k_ft_in1k',
      'swin_tiny_patch4_window7_224.ms_in22k',
    ]);
    expect(listModels('shunted')).toEqual(['shunted_t', 'shunted_s', 'shunted_b']);
    // every listed name resolves
    for (const n of listModels(undefined, { pretrained: true, includeUnsupported: true })) resolveModel(n);
  });
});

describe('createModel', () => {
  it('builds each family with the head of the tag', async () => {
    await useBackend('cpu');
    const m = createModel('pvt_v2_b0.in1k');
    expect([m.constructor.name, m.numClasses, m.numFeatures]).toEqual([
      'PyramidVisionTransformerV2',
      1000,
      256,
    ]);
    m.dispose();
    expect(pretrainedCfgOf(m)).toMatchObject({ tag: 'in1k', numClasses: 1000, cropPct: 0.9 });
    const s = createModel('shunted_t', { numClasses: 7 });
    expect([s.constructor.name, s.numClasses]).toEqual(['ShuntedTransformer', 7]);
    expect(pretrainedCfgOf(s)).toMatchObject({ numClasses: 7, labelSet: 'custom', cropPct: 0.875 });
    s.dispose();
  });

  it('builds Swin-S3 (per-stage windows) as a backbone of Swin stages', async () => {
    await useBackend('cpu');
    const m = createModel('swin_s3_small_224');
    expect([m.constructor.name, m.numClasses, m.numFeatures]).toEqual(['HybridBackbone', 1000, 768]);
    expect(stageWindows(m)).toEqual([14, 14, 14, 7]);
    m.dispose();
  });
});

describe('countParams: every architecture of the registry has its published size', () => {
  // timm's model tables (2 decimals), the papers / official READMEs (1 decimal or whole millions)
  const TIMM: [string, number][] = [
    ['swin_tiny_patch4_window7_224', 28.29],
    ['swin_small_patch4_window7_224', 49.61],
    ['swin_base_patch4_window7_224', 87.77],
    ['swin_base_patch4_window12_384', 87.9],
    ['swin_large_patch4_window7_224', 196.53],
    ['swin_large_patch4_window12_384', 196.74],
    ['swin_s3_tiny_224', 28.33],
    ['swin_s3_small_224', 49.74],
    ['swin_s3_base_224', 71.13],
    ['pvt_v2_b0', 3.67],
    ['pvt_v2_b1', 14.01],
    ['pvt_v2_b2', 25.36],
    ['pvt_v2_b3', 45.24],
    ['pvt_v2_b4', 62.56],
    ['pvt_v2_b5', 81.96],
    ['pvt_v2_b2_li', 22.55],
  ];
  const PAPERS: [string, number, number][] = [
    ['pvt_tiny', 13.2, 0.1],
    ['pvt_small', 24.5, 0.1],
    ['pvt_medium', 44.2, 0.1],
    ['pvt_large', 61.4, 0.1],
    ['shunted_t', 11.5, 0.1],
    ['shunted_s', 22.4, 0.1],
    ['shunted_b', 39.6, 0.1],
    ['swin_mlp_tiny_c24_patch4_window8_256', 20, 0.5],
    ['swin_mlp_tiny_c12_patch4_window8_256', 21, 0.5],
    ['swin_mlp_tiny_c6_patch4_window8_256', 23, 0.5],
    ['swin_mlp_base_patch4_window7_224', 61, 0.5],
  ];
  it.each(TIMM)('%s: %sM (timm)', (name, m) => {
    expect((countParams(name) / 1e6).toFixed(2)).toBe(m.toFixed(2));
  });
  it.each(PAPERS)('%s: %sM (official)', (name, m, tol) => {
    expect(Math.abs(countParams(name) / 1e6 - m)).toBeLessThanOrEqual(tol);
  });
  it('sizes the 22k heads and covers every listed architecture', () => {
    expect(
      countParams('swin_large_patch4_window7_224.ms_in22k') - countParams('swin_large_patch4_window7_224'),
    ).toBe((1536 + 1) * (21841 - 1000)); // head weight + bias
    expect(new Set([...TIMM, ...PAPERS].map((e) => e[0]))).toEqual(new Set(listModels()));
  });
});
