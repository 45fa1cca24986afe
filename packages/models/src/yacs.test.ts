import { compareTensors, loadFixture, type tf, useBackend } from '@swin/testing';
import { describe, expect, it } from 'vitest';
import { buildFromConfig } from './create.js';
import { loadWeights } from './weights.js';
import { configFromYacs, isSwinYacsConfig, toPlain } from './yacs.js';

/** A yacs CfgNode as `@swin/io` leaves it: an inert placeholder with its dict items and BUILD state. */
function cfgNode(items: Record<string, unknown>): unknown {
  return {
    __refused__: 'yacs.config.CfgNode',
    args: [],
    items: { map: new Map(Object.entries(items)) },
    state: {
      __immutable__: true,
      __deprecated_keys__: { __refused__: 'builtins.set' },
      __new_allowed__: false,
    },
    listItems: [],
  };
}

/** The official config.py tree for a small Swin (what a training checkpoint's `config` holds). */
function swinTrainingConfig(kw: Record<string, unknown>, type = 'swin'): unknown {
  const sec = cfgNode({
    PATCH_SIZE: kw.patch_size,
    IN_CHANS: kw.in_chans,
    EMBED_DIM: kw.embed_dim,
    DEPTHS: kw.depths,
    NUM_HEADS: kw.num_heads,
    WINDOW_SIZE: kw.window_size,
    MLP_RATIO: kw.mlp_ratio,
    ...(type === 'swin' ? { QKV_BIAS: kw.qkv_bias, QK_SCALE: kw.qk_scale } : {}),
    APE: kw.ape,
    PATCH_NORM: kw.patch_norm,
  });
  return cfgNode({
    BASE: [''],
    DATA: cfgNode({ IMG_SIZE: kw.img_size, INTERPOLATION: 'bicubic', BATCH_SIZE: 128, DATASET: 'imagenet' }),
    MODEL: cfgNode({
      TYPE: type,
      NAME: `${type}_tiny_test`,
      NUM_CLASSES: kw.num_classes,
      DROP_RATE: kw.drop_rate,
      DROP_PATH_RATE: kw.drop_path_rate,
      LABEL_SMOOTHING: 0.1,
      [type === 'swin' ? 'SWIN' : 'SWIN_MLP']: sec,
    }),
    TRAIN: cfgNode({ EPOCHS: 300, BASE_LR: 5e-4 }),
    TEST: cfgNode({ CROP: true }),
  });
}

describe('toPlain', () => {
  it('reads placeholders, maps and plain objects as data and drops yacs bookkeeping', () => {
    const plain = toPlain(cfgNode({ A: cfgNode({ B: [1, 2n] }), C: 'x' }));
    expect(plain).toEqual({ A: { B: [1, 2] }, C: 'x' });
    expect(toPlain({ MODEL: { TYPE: 'swin' } })).toEqual({ MODEL: { TYPE: 'swin' } });
    let deep: unknown = 1;
    for (let i = 0; i < 100; i++) deep = { a: deep };
    expect(() => toPlain(deep)).toThrow(/deeper than 64/);
  });
});

describe('configFromYacs', () => {
  it.each([
    ['swin', 'swin_model_64_w4.safetensors'],
    ['swin_mlp', 'swin_mlp_model_64_w4.safetensors'],
  ])('a %s training config builds the model that reproduces the fixture', async (type, file) => {
    await useBackend('wasm');
    const fx = loadFixture(file);
    try {
      const cfg = swinTrainingConfig(fx.config.kwargs, type);
      expect(isSwinYacsConfig(cfg)).toBe(true);
      const y = configFromYacs(cfg);
      expect(y.model.family).toBe(type === 'swin' ? 'swin' : 'swin-mlp');
      expect(y.name).toBe(`${type}_tiny_test`);
      expect(y.pretrainedCfg).toMatchObject({ inputSize: [3, 64, 64], cropPct: 0.875, numClasses: 10 });
      const model = buildFromConfig(y.model);
      loadWeights(model, fx.stateDict);
      const logits = model.forward(fx.inputs.input as tf.Tensor4D);
      const cmp = compareTensors(logits, fx.expected.logits);
      expect(cmp.ok, cmp.message).toBe(true);
      logits.dispose();
      model.dispose();
    } finally {
      fx.dispose();
    }
  });

  it('takes the official defaults for missing fields and plain nested objects', () => {
    const y = configFromYacs({
      MODEL: { TYPE: 'swin', SWIN: { EMBED_DIM: 128, DEPTHS: [2, 2, 18, 2], NUM_HEADS: [4, 8, 16, 32] } },
    });
    expect(y.model.config).toMatchObject({
      imgSize: 224,
      windowSize: 7,
      embedDim: 128,
      numClasses: 1000,
      patchSize: 4,
    });
    expect(y.pretrainedCfg.labelSet).toBe('imagenet-1k');
  });

  it('refuses other model types and malformed fields by name', () => {
    expect(() => configFromYacs({ MODEL: { TYPE: 'swinv2' } })).toThrow(/MODEL.TYPE 'swinv2' is not built/);
    expect(() => configFromYacs({ MODEL: { TYPE: 'swin', SWIN: { DEPTHS: 'x' } } })).toThrow(
      /MODEL.SWIN.DEPTHS/,
    );
    expect(() => configFromYacs({ DATA: {} })).toThrow(/no MODEL section/);
    expect(isSwinYacsConfig({ epoch: 3 })).toBe(false);
    expect(isSwinYacsConfig(null)).toBe(false);
  });
});
