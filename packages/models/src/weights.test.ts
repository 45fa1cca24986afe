import { officialToTimmPVTv2 } from '@swin/pvt';
import { exportTimmLayout } from '@swin/swin-core';
import { compareTensors, type Fixture, loadFixture, tf, useBackend } from '@swin/testing';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { buildFromConfig, type FamilyConfig, swinStageWindowBackbone } from './create.js';
import { configFromTimmKwargs } from './kwargs.js';
import type { ModelFamily } from './registry.js';
import { loadWeights } from './weights.js';

const CASES: [string, ModelFamily, ((sd: Record<string, tf.Tensor>) => Record<string, tf.Tensor>) | null][] =
  [
    ['swin_model_64_w4.safetensors', 'swin', null],
    ['swin_model_64_w4.safetensors', 'swin', exportTimmLayout],
    ['swin_mlp_model_64_w4.safetensors', 'swin-mlp', null],
    ['shunted_model_64.safetensors', 'shunted', null],
    ['pvt_v1_model_64.safetensors', 'pvt-v1', null],
    ['pvt_v2_model_64.safetensors', 'pvt-v2', null],
    ['pvt_v2_li_model_64.safetensors', 'pvt-v2', officialToTimmPVTv2],
  ];

/** The fixture's official kwargs as a family config (Swin: official drop_rate = timm proj_drop_rate). */
function familyConfig(fx: Fixture, family: ModelFamily): FamilyConfig {
  const kw = { ...fx.config.kwargs };
  if (family === 'swin') {
    kw.proj_drop_rate = kw.drop_rate;
    delete kw.drop_rate;
  }
  if (family === 'pvt-v2') {
    kw.proj_drop_rate = kw.drop_rate;
    for (const k of ['drop_rate', 'img_size', 'patch_size']) delete kw[k];
    return configFromTimmKwargs('pvt-v2', kw);
  }
  return configFromTimmKwargs(family, kw);
}

describe('loadWeights', () => {
  beforeAll(() => useBackend('wasm'));

  it.each(CASES)('%s (%s, %s layout) reproduces the fixture logits', (file, family, layout) => {
    const fx = loadFixture(file);
    try {
      const model = buildFromConfig(familyConfig(fx, family));
      const report = loadWeights(model, layout ? layout(fx.stateDict) : fx.stateDict);
      expect(report.missing).toEqual([]);
      expect(report.unexpected).toEqual([]);
      expect(report.layout).toBe(layout ? 'timm' : family === 'swin' ? 'microsoft' : 'official');
      const logits = model.forward(fx.inputs.input as tf.Tensor4D);
      const cmp = compareTensors(logits, fx.expected.logits);
      expect(cmp.ok, cmp.message).toBe(true);
      logits.dispose();
      model.dispose();
    } finally {
      fx.dispose();
    }
  });

  describe('per-stage windows (Swin-S3 path)', () => {
    let fx: Fixture;
    beforeAll(() => {
      fx = loadFixture('swin_model_64_w4.safetensors');
    });
    afterAll(() => fx.dispose());

    it.each([
      ['microsoft', (sd: Record<string, tf.Tensor>) => sd],
      ['timm', exportTimmLayout],
    ])('a backbone of Swin stages loads %s keys and reproduces SwinTransformer', (layout, f) => {
      const fc = familyConfig(fx, 'swin');
      const model = swinStageWindowBackbone(fc.config, [4, 4, 4, 4]);
      const report = loadWeights(model, f(fx.stateDict));
      expect([report.layout, report.missing, report.unexpected]).toEqual([layout, [], []]);
      const logits = model.forward(fx.inputs.input as tf.Tensor4D);
      const cmp = compareTensors(logits, fx.expected.logits);
      expect(cmp.ok, cmp.message).toBe(true);
      logits.dispose();
      model.dispose();
    });

    it('builds each stage with its own window (clamped to the stage map like the official code)', () => {
      const fc = familyConfig(fx, 'swin');
      const model = swinStageWindowBackbone(fc.config, [2, 4, 8, 4]);
      const b = model as unknown as { stages: { items: { blocks: { items: { windowSize: number }[] } }[] } };
      // stage maps 16, 8, 4, 2: window 8 on the 4x4 map and 4 on the 2x2 map clamp to the map
      expect(b.stages.items.map((s) => s.blocks.items[0].windowSize)).toEqual([2, 4, 4, 2]);
      expect(() => loadWeights(model, fx.stateDict)).toThrow(
        /relative_position_bias_table expected \[9,1\] got \[49,1\]/,
      );
      model.dispose();
    });
  });

  it('reports missing and unexpected keys without strict, names them with strict, and leaks nothing', () => {
    const fx = loadFixture('pvt_v2_model_64.safetensors');
    try {
      const model = buildFromConfig(familyConfig(fx, 'pvt-v2'));
      const sd: Record<string, tf.Tensor> = { ...fx.stateDict, 'extra.weight': fx.stateDict['head.weight'] };
      delete sd['head.bias'];
      const before = tf.memory().numTensors;
      const r = loadWeights(model, sd, { strict: false });
      expect(r.missing).toEqual(['head.bias']);
      expect(r.unexpected).toEqual(['extra.weight']);
      expect(() => loadWeights(model, sd)).toThrow(
        /missing keys \(1\): head\.bias.*unexpected keys \(1\): extra\.weight/s,
      );
      expect(tf.memory().numTensors).toBe(before);
      model.dispose();
    } finally {
      fx.dispose();
    }
  });
});
