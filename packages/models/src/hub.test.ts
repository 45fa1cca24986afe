import { useBackend } from '@swin/testing';
import { describe, expect, it } from 'vitest';
import { hubModelSpec, parseShardIndex } from './hub.js';

/** A config.json as timm's push_to_hf_hub writes it. */
const TIMM_CONFIG = {
  architecture: 'swin_tiny_patch4_window7_224',
  num_classes: 1000,
  num_features: 768,
  global_pool: 'avg',
  pretrained_cfg: {
    tag: 'ms_in1k',
    custom_load: false,
    input_size: [3, 224, 224],
    fixed_input_size: true,
    interpolation: 'bicubic',
    crop_pct: 0.9,
    crop_mode: 'center',
    mean: [0.485, 0.456, 0.406],
    std: [0.229, 0.224, 0.225],
    num_classes: 1000,
    pool_size: [7, 7],
    first_conv: 'patch_embed.proj',
    classifier: 'head.fc',
  },
};

describe('hubModelSpec', () => {
  it('reads a timm config.json: the registry architecture with the folder pretrained_cfg', () => {
    const s = hubModelSpec(TIMM_CONFIG);
    expect([s.resolved.name, s.tag, s.familyConfig]).toEqual([
      'swin_tiny_patch4_window7_224',
      'ms_in1k',
      null,
    ]);
    expect(s.pretrainedCfg).toMatchObject({ inputSize: [3, 224, 224], cropPct: 0.9, numClasses: 1000 });
  });

  it('applies model_args, num_classes and label_names (a fine-tuned folder with a custom tag)', async () => {
    await useBackend('cpu');
    const s = hubModelSpec({
      architecture: 'pvt_v2_b0',
      num_classes: 3,
      model_args: { depths: [1, 1, 1, 1], drop_path_rate: 0.1 },
      label_names: ['cat', 'dog', 'bird'],
      pretrained_cfg: { tag: 'my_pets', crop_pct: 0.95, interpolation: 'bilinear' },
    });
    expect(s.tag).toBe('my_pets');
    expect(s.pretrainedCfg).toMatchObject({
      cropPct: 0.95,
      interpolation: 'bilinear',
      numClasses: 3,
      labelSet: 'custom',
      labelNames: ['cat', 'dog', 'bird'],
    });
    expect(s.familyConfig?.config).toMatchObject({
      depths: [1, 1, 1, 1],
      embedDims: [32, 64, 160, 256],
      numClasses: 3,
    });
    const m = s.build();
    expect([m.constructor.name, m.numClasses]).toEqual(['PyramidVisionTransformerV2', 3]);
    m.dispose();
  });

  it('refuses what it cannot read, naming it', () => {
    expect(() => hubModelSpec({ model_type: 'swin', architectures: ['SwinForImageClassification'] })).toThrow(
      /transformers config \(model_type 'swin'\) is not supported/,
    );
    expect(() => hubModelSpec({ architecture: 'swin_tiny_patch4_window7_24' })).toThrow(
      /did you mean 'swin_tiny_patch4_window7_224'/,
    );
    expect(() => hubModelSpec({ ...TIMM_CONFIG, label_names: ['a'] })).toThrow(
      /1 label_names for num_classes 1000/,
    );
    expect(() => hubModelSpec({ ...TIMM_CONFIG, pretrained_cfg: { mean: [1, 2] } })).toThrow(
      /mean must be 3 numbers/,
    );
    expect(() => hubModelSpec({ architecture: 'shunted_t', model_args: { depths: [1, 1, 1, 1] } })).toThrow(
      /model_args for shunted_t \(not a timm architecture\)/,
    );
    expect(() => hubModelSpec([])).toThrow(/expected a JSON object/);
  });
});

describe('parseShardIndex', () => {
  it('lists shards in first-use order and refuses paths outside the folder', () => {
    expect(
      parseShardIndex({
        metadata: {},
        weight_map: {
          a: 'model-00001-of-00002.safetensors',
          b: 'model-00002-of-00002.safetensors',
          c: 'model-00001-of-00002.safetensors',
        },
      }).shards,
    ).toEqual(['model-00001-of-00002.safetensors', 'model-00002-of-00002.safetensors']);
    for (const bad of ['../secret.bin', '/etc/passwd', 'sub/dir.bin', '.hidden', 'a..b']) {
      expect(() => parseShardIndex({ weight_map: { a: bad } })).toThrow(/not a plain file name/);
    }
    expect(() => parseShardIndex({})).toThrow(/no 'weight_map'/);
    const proto = parseShardIndex(
      JSON.parse('{"weight_map": {"__proto__": "a.safetensors", "b": "a.safetensors"}}'),
    );
    expect(Object.keys(proto.weightMap)).toEqual(['__proto__', 'b']);
    expect(() => parseShardIndex({ weight_map: {} })).toThrow(/empty/);
  });
});
