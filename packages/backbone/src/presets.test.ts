import type { VisionModel } from '@swin/nn';
import { PVT_PRESETS, type PVTPresetName, pvtConfig, pvtMacs, pvtParamCount } from '@swin/pvt';
import {
  SHUNTED_PRESETS,
  type ShuntedPresetName,
  shuntedMacs,
  shuntedParamCount,
  shuntedPresetConfig,
} from '@swin/shunted-attention';
import { SWIN_PRESETS, swinMacs, swinParamCount, swinPresetConfig } from '@swin/swin-core';
import { SWIN_MLP_PRESETS, swinMlpMacs, swinMlpParamCount, swinMlpPresetConfig } from '@swin/swin-mlp';
import { expectNoLeak, NODE_BACKENDS, tf, useBackend } from '@swin/testing';
import { describe, expect, it } from 'vitest';
import { backboneMacs, backboneParamCount } from './counting.js';
import { createBackbone, disposeOutputs, type HybridBackbone } from './model.js';
import {
  convertPresetStateDict,
  createModel,
  listPresets,
  type PresetOverrides,
  presetConfig,
  presetFamily,
  presetKeyMap,
} from './presets.js';

/** Tiny versions of presets with every structural feature of the original (stages, kinds, norms, tokens). */
const TINY: [string, PresetOverrides, [number, number][]][] = [
  [
    'swin_tiny_patch4_window7_224',
    { imgSize: 64, embedDim: 8, depths: [2, 2, 2, 2], numHeads: [1, 2, 2, 4], windowSize: 4, numClasses: 5 },
    [
      [64, 64],
      [45, 61],
    ],
  ],
  [
    'swin_mlp_tiny_c24_patch4_window8_256',
    { imgSize: 64, embedDim: 8, depths: [2, 2, 2, 2], numHeads: [2, 2, 4, 4], windowSize: 4, numClasses: 5 },
    [
      [64, 64],
      [45, 61],
    ],
  ],
  [
    'shunted_t',
    {
      embedDims: [64, 16, 32, 32],
      numHeads: [2, 2, 4, 4],
      depths: [1, 1, 1, 1],
      mlpRatios: [2, 2, 2, 2],
      numClasses: 5,
    },
    [
      [64, 64],
      [67, 70],
    ],
  ],
  [
    'shunted_s',
    {
      embedDims: [64, 8, 16, 16],
      numHeads: [2, 2, 2, 2],
      depths: [1, 1, 1, 1],
      mlpRatios: [1, 2, 2, 2],
      numClasses: 3,
    },
    [[64, 72]],
  ],
  [
    'pvt_tiny',
    { imgSize: 64, embedDims: [8, 16, 16, 32], numHeads: [1, 2, 2, 4], depths: [1, 1, 1, 1], numClasses: 5 },
    [
      [64, 64],
      [66, 75],
    ],
  ],
  [
    'pvt_v2_b0',
    { embedDims: [8, 16, 16, 32], numHeads: [1, 2, 2, 4], depths: [1, 1, 1, 1], numClasses: 5 },
    [
      [64, 64],
      [45, 61],
    ],
  ],
  [
    'pvt_v2_b2_li',
    { embedDims: [8, 8, 16, 16], numHeads: [1, 2, 2, 4], depths: [1, 1, 1, 1], numClasses: 4 },
    [[64, 64]],
  ],
];

function loadConverted(name: string, official: VisionModel, backbone: HybridBackbone): void {
  const sd = official.stateDict();
  try {
    backbone.loadStateDict(convertPresetStateDict(name, sd));
  } finally {
    tf.dispose(Object.values(sd));
  }
}

async function maxDiff(a: tf.Tensor, b: tf.Tensor): Promise<number> {
  expect(a.shape).toEqual(b.shape);
  const d = tf.max(tf.abs(tf.sub(a, b)));
  const v = (await d.data())[0];
  d.dispose();
  return v;
}

describe('preset configs (no weights)', () => {
  it('every preset of every package is expressible, with the same parameter count', () => {
    const names = listPresets();
    expect(names.length).toBe(
      Object.keys(SWIN_PRESETS).length +
        Object.keys(SWIN_MLP_PRESETS).length +
        Object.keys(SHUNTED_PRESETS).length +
        Object.keys(PVT_PRESETS).length,
    );
    for (const name of names) {
      const cfg = presetConfig(name);
      expect(JSON.parse(JSON.stringify(cfg))).toEqual(cfg); // JSON-serialisable
      const family = presetFamily(name);
      const expected =
        family === 'swin'
          ? swinParamCount(swinPresetConfig(name))
          : family === 'swin_mlp'
            ? swinMlpParamCount(swinMlpPresetConfig(name))
            : family === 'shunted'
              ? shuntedParamCount(shuntedPresetConfig(name as ShuntedPresetName))
              : pvtParamCount(pvtConfig(name as PVTPresetName));
      expect(backboneParamCount(cfg), name).toBe(expected);
    }
  });

  it('MACs at the preset size equal each package counter (Swin(-MLP): without the final-norm term; PVT: matmul convention)', () => {
    for (const name of listPresets()) {
      const cfg = presetConfig(name);
      const family = presetFamily(name);
      const [H, W] = name.endsWith('384') ? [384, 384] : name.endsWith('256') ? [256, 256] : [224, 224];
      let expected: number;
      if (family === 'swin' || family === 'swin_mlp') {
        const c = family === 'swin' ? swinPresetConfig(name) : swinMlpPresetConfig(name);
        const n = (c.depths as number[]).length;
        const F = (c.embedDim as number) * 2 ** (n - 1);
        const full = family === 'swin' ? swinMacs(c, H, W) : swinMlpMacs(c, H, W);
        expected = full - Math.floor((F * (H / 4) * (W / 4)) / 2 ** n);
      } else if (family === 'shunted')
        expected = shuntedMacs(shuntedPresetConfig(name as ShuntedPresetName), H, W);
      else expected = pvtMacs(pvtConfig(name as PVTPresetName), H, W, { convention: 'matmul' });
      expect(backboneMacs(cfg, H, W), name).toBe(expected);
    }
  });

  it('key maps follow each family layout', () => {
    const swin = presetKeyMap('swin_tiny_patch4_window7_224');
    expect(swin('patch_embed.proj.weight')).toBe('stages.0.downsample.proj.weight');
    expect(swin('layers.1.downsample.reduction.weight')).toBe('stages.2.downsample.reduction.weight');
    expect(swin('layers.3.blocks.1.attn.relative_position_bias_table')).toBe(
      'stages.3.blocks.1.attn.relative_position_bias_table',
    );
    expect(swin('norm.bias')).toBe('norm.bias');
    const mlp = presetKeyMap('swin_mlp_base_patch4_window7_224');
    expect(mlp('layers.0.blocks.1.spatial_mlp.weight')).toBe('stages.0.blocks.1.spatial_mlp.weight');
    expect(mlp('layers.2.downsample.norm.weight')).toBe('stages.3.downsample.norm.weight');
    const sh = presetKeyMap('shunted_b');
    expect(sh('patch_embed1.conv.1.running_var')).toBe('stages.0.downsample.conv.1.running_var');
    expect(sh('norm4.weight')).toBe('stages.3.norm.weight');
    const v1 = presetKeyMap('pvt_small');
    expect(v1('pos_embed4')).toBe('stages.3.pos_embed');
    expect(v1('cls_token')).toBe('cls_token');
    expect(v1('norm.weight')).toBe('norm.weight');
    const v2 = presetKeyMap('pvt_v2_b1');
    expect(v2('norm2.bias')).toBe('stages.1.norm.bias');
    expect(() => v2('cls_token')).toThrow(/'cls_token' is not a pvt_v2 state-dict key/);
    expect(() => presetKeyMap('swin_huge')).toThrow(/unknown preset 'swin_huge' \(known: swin_tiny/);
  });
});

describe.each(NODE_BACKENDS)('presets as backbones on %s', (backend) => {
  it.each(TINY)(
    '%s: same logits and features as the package model after mapping the weights',
    async (name, overrides, sizes) => {
      await useBackend(backend);
      const official = createModel(name, overrides) as VisionModel & {
        forwardWithIntermediates(x: tf.Tensor4D): unknown;
      };
      const backbone = createBackbone(presetConfig(name, overrides));
      try {
        expect(backbone.numParams()).toBe(official.numParams());
        expect(backbone.numParams()).toBe(backboneParamCount(backbone.config));
        loadConverted(name, official, backbone);
        for (const [H, W] of sizes) {
          const x = tf.randomNormal([2, H, W, 3], 0, 1, 'float32', 7) as tf.Tensor4D;
          const a = official.forward(x);
          const b = backbone.forward(x);
          const scale = (await tf.max(tf.abs(a)).data())[0];
          expect(await maxDiff(a, b), `${name} logits at ${H}x${W}`).toBeLessThanOrEqual(
            1e-5 * Math.max(1, scale),
          );
          const fa = official.forwardFeatures(x);
          const fb = backbone.forwardFeatures(x);
          for (let i = 0; i < fa.length; i++) {
            expect(await maxDiff(fa[i], fb[i]), `${name} features.${i} at ${H}x${W}`).toBeLessThanOrEqual(
              1e-4,
            );
          }
          tf.dispose([x, a, b, ...fa, ...fb]);
        }
        const z = tf.zeros([1, 64, 64, 3]) as tf.Tensor4D;
        await expectNoLeak(() => backbone.forward(z), `${name} forward`);
        await expectNoLeak(
          () => disposeOutputs(backbone.forwardWithIntermediates(z)),
          `${name} intermediates`,
        );
        z.dispose();
      } finally {
        official.dispose();
        backbone.dispose();
      }
    },
  );
});
