import { officialToTimmPVTv2, type PVTConfig, type PVTPresetName, pvtConfig, pvtParamCount } from '@swin/pvt';
import { exportTimmLayout, type SwinTransformer, swinParamCount, swinPresetConfig } from '@swin/swin-core';
import { compareTensors, loadFixture, type tf, useBackend } from '@swin/testing';
import { describe, expect, it } from 'vitest';
import { buildFromConfig, countParams } from './create.js';
import { configFromTimmKwargs, KwargError } from './kwargs.js';
import { listModels, resolveModel } from './registry.js';

/** The kwargs timm's constructor would take for the fixtures' official Swin kwargs. */
function timmSwinKwargs(official: Record<string, unknown>): Record<string, unknown> {
  const { drop_rate, qk_scale, ape, patch_norm, ...rest } = official;
  expect([qk_scale, ape, patch_norm]).toEqual([null, false, true]);
  return {
    ...rest,
    proj_drop_rate: drop_rate,
    global_pool: 'avg',
    head_dim: null,
    always_partition: false,
    strict_img_size: true,
    embed_layer: 'PatchEmbed',
    norm_layer: 'layernorm',
    weight_init: '',
    drop_rate: 0,
  };
}

describe('configFromTimmKwargs(swin)', () => {
  it('builds a model that reproduces the swin_model fixture from timm kwargs and timm-layout weights', async () => {
    await useBackend('wasm');
    const fx = loadFixture('swin_model_64_w4.safetensors');
    try {
      const fc = configFromTimmKwargs('swin', timmSwinKwargs(fx.config.kwargs));
      expect(fc.config).toMatchObject({ embedDim: 32, windowSize: 4, imgSize: 64, numClasses: 10 });
      const model = buildFromConfig(fc) as SwinTransformer;
      const report = model.loadCheckpoint(exportTimmLayout(fx.stateDict));
      expect(report.layout).toBe('timm');
      const logits = model.forward(fx.inputs.input as tf.Tensor4D);
      const cmp = compareTensors(logits, fx.expected.logits);
      expect(cmp.ok, cmp.message).toBe(true);
      logits.dispose();
      model.dispose();
    } finally {
      fx.dispose();
    }
  });

  it('honours per-stage lists that are uniform and embed_dim lists that double', () => {
    const { config } = configFromTimmKwargs('swin', {
      embed_dim: [48, 96, 192, 384],
      window_size: [6, 6],
      mlp_ratio: [2, 2, 2, 2],
      head_dim: 16,
      num_heads: [3, 6, 12, 24],
      norm_layer: { eps: 1e-6 },
      qk_scale: 0.25,
    });
    expect(config).toMatchObject({ embedDim: 48, windowSize: 6, mlpRatio: 2, normEps: 1e-6, qkScale: 0.25 });
  });

  it('refuses architecture changes by name, saying why', () => {
    const refuse = (kw: Record<string, unknown>, kwarg: string, re: RegExp) => {
      try {
        configFromTimmKwargs('swin', kw);
        expect.unreachable(`${kwarg} accepted`);
      } catch (e) {
        expect(e).toBeInstanceOf(KwargError);
        expect((e as KwargError).kwarg).toBe(kwarg);
        expect((e as Error).message).toMatch(re);
      }
    };
    refuse({ window_size: [7, 8] }, 'window_size', /square/);
    refuse({ always_partition: true }, 'always_partition', /not implemented; windows are clamped/);
    refuse({ global_pool: '' }, 'global_pool', /always average-pool/);
    refuse({ head_dim: 48 }, 'head_dim', /differs from dim\/num_heads/);
    refuse({ embed_dim: [96, 128, 256, 512] }, 'embed_dim', /PatchMerging/);
    refuse({ norm_layer: 'rmsnorm' }, 'norm_layer', /only LayerNorm/);
    refuse({ embed_layer: 'HybridEmbed' }, 'embed_layer', /only PatchEmbed/);
    refuse({ weight_init: 'xavier' }, 'weight_init', /weight_init must be/);
    refuse({ mlp_ratio: [4, 4, 2, 2] }, 'mlp_ratio', /one ratio for all stages/);
    refuse({ act_layer: 'relu' }, 'act_layer', /unknown kwarg 'act_layer'/);
  });

  it('gives per-stage windows (Swin-S3) as stageWindows', () => {
    const fc = configFromTimmKwargs('swin', { window_size: [7, 7, 14, 7] });
    expect(fc.family === 'swin' && fc.stageWindows).toEqual([7, 7, 14, 7]);
    expect(() => configFromTimmKwargs('swin', { window_size: [7, 7, 14, 7], ape: true })).toThrow(/ape=True/);
  });

  it('notes training-only kwargs', () => {
    const notes: string[] = [];
    configFromTimmKwargs(
      'swin',
      { drop_rate: 0.1, weight_init: 'jax', use_checkpoint: true },
      { onNote: (m) => notes.push(m) },
    );
    expect(notes.join('\n')).toMatch(/drop_rate=0.1 .*only in training/);
    expect(notes.join('\n')).toMatch(/weight_init='jax'/);
    expect(notes).toHaveLength(3);
  });
});

describe('configFromTimmKwargs(pvt-v2)', () => {
  it('reproduces the pvt_v2_model fixture from timm kwargs and timm-layout weights', async () => {
    await useBackend('wasm');
    const fx = loadFixture('pvt_v2_model_64.safetensors');
    try {
      const k = fx.config.kwargs;
      const fc = configFromTimmKwargs('pvt-v2', {
        in_chans: k.in_chans,
        num_classes: k.num_classes,
        global_pool: 'avg',
        depths: k.depths,
        embed_dims: k.embed_dims,
        num_heads: k.num_heads,
        sr_ratios: k.sr_ratios,
        mlp_ratios: k.mlp_ratios,
        qkv_bias: k.qkv_bias,
        linear: k.linear,
        drop_rate: 0,
        proj_drop_rate: k.drop_rate,
        attn_drop_rate: k.attn_drop_rate,
        drop_path_rate: k.drop_path_rate,
      });
      // timm's LayerNorm default eps is 1e-6, like the fixture's norm_layer
      expect(fc.config).toMatchObject({ version: 2, normEps: 1e-6, embedDims: [16, 32, 64, 96] });
      const model = buildFromConfig(fc);
      model.loadStateDict(officialToTimmPVTv2(fx.stateDict));
      const logits = model.forward(fx.inputs.input as tf.Tensor4D);
      const cmp = compareTensors(logits, fx.expected.logits);
      expect(cmp.ok, cmp.message).toBe(true);
      logits.dispose();
      model.dispose();
    } finally {
      fx.dispose();
    }
  });

  it('expands int arguments per stage and refuses unknown ones', () => {
    const { config } = configFromTimmKwargs('pvt-v2', {
      depths: [1, 1],
      embed_dims: [32, 64],
      num_heads: 2,
      sr_ratios: 1,
      mlp_ratios: 4,
    });
    expect(config).toMatchObject({ numHeads: [2, 2], srRatios: [1, 1], mlpRatios: [4, 4] });
    expect(() => configFromTimmKwargs('pvt-v2', { patch_size: 4 })).toThrow(/unknown kwarg 'patch_size'/);
    expect(() => configFromTimmKwargs('pvt-v2', { num_heads: [1, 2] })).toThrow(
      /num_heads has 2 entries, expected 4/,
    );
    expect(() => configFromTimmKwargs('pvt-v2', { global_pool: '' })).toThrow(/always average-pool/);
  });
});

describe('configFromTimmKwargs(official families)', () => {
  it('routes Swin-MLP, Shunted and PVT v1 kwargs to the family converters', () => {
    for (const [family, file] of [
      ['swin-mlp', 'swin_mlp_model_64_w4.safetensors'],
      ['shunted', 'shunted_model_64.safetensors'],
      ['pvt-v1', 'pvt_v1_model_64.safetensors'],
    ] as const) {
      const fx = loadFixture(file);
      try {
        const fc = configFromTimmKwargs(family, fx.config.kwargs);
        expect(fc.family).toBe(family);
        expect((fc.config as { numClasses: number }).numClasses).toBe(10);
      } finally {
        fx.dispose();
      }
    }
    expect(() => configFromTimmKwargs('shunted', { window_size: 7 })).toThrow(/unknown kwarg 'window_size'/);
  });
});

describe('the registry timm kwargs', () => {
  it('give the same architecture as the family presets (timm entrypoint model_args = preset)', () => {
    for (const name of listModels()) {
      const r = resolveModel(name);
      if (!r.arch.timmArgs || r.arch.preset === null) continue;
      const size = r.pretrainedCfg.inputSize;
      const fc = configFromTimmKwargs(r.family, {
        ...r.arch.timmArgs,
        ...(r.family === 'swin' ? { img_size: size[1] } : {}),
      });
      const n = fc.family === 'swin' ? swinParamCount(fc.config) : pvtParamCount(fc.config as PVTConfig);
      expect(n, name).toBe(countParams(name));
      const preset = (
        fc.family === 'swin' ? swinPresetConfig(r.arch.preset) : pvtConfig(r.arch.preset as PVTPresetName)
      ) as Record<string, unknown>;
      const got = fc.config as Record<string, unknown>;
      for (const k of [
        'embedDim',
        'embedDims',
        'depths',
        'numHeads',
        'windowSize',
        'mlpRatio',
        'mlpRatios',
        'srRatios',
        'linear',
        'imgSize',
      ]) {
        if (k in preset) expect(got[k], `${name}.${k}`).toEqual(preset[k]);
      }
    }
  });
});
