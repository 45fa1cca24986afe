import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { type BackboneConfig, createBackbone } from '@swin/backbone';
import { SwinConfigError, withInitSeed } from '@swin/nn';
import { tf, useBackend } from '@swin/testing';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { backboneHubConfig, backboneHubFiles, backboneHubSpec, isBackboneHubConfig } from './backbone-hub.js';
import { loadPretrained } from './load.js';
import { pipeline } from './pipeline.js';
import type { PretrainedCfg } from './pretrained.js';

/** A small grayscale backbone (the ablation's shape, narrower): 16x16 input, Swin then global stages. */
const CONFIG: BackboneConfig = {
  name: 'tiny-gray',
  imgSize: 16,
  inChans: 1,
  numClasses: 4,
  stages: [
    {
      dim: 8,
      depth: 1,
      downsample: { kind: 'patch_embed', patchSize: 4 },
      block: { kind: 'swin', numHeads: 2, windowSize: 2 },
    },
    { dim: 16, depth: 1, downsample: { kind: 'patch_merging' }, block: { kind: 'global', numHeads: 2 } },
  ],
  finalNorm: true,
};
const LABELS = ['circle', 'square', 'line', 'dot'];
const CFG: PretrainedCfg = {
  inputSize: [1, 16, 16],
  cropPct: 1,
  interpolation: 'bilinear',
  mean: [0.5],
  std: [0.25],
  numClasses: 4,
  labelSet: 'custom',
  labelNames: LABELS,
  pad: { contentSize: [10, 10], paddedSize: [12, 12] },
};
const GOOD = backboneHubConfig(CONFIG, CFG, { by: 'test' });

/** `GOOD` with `edit` applied to a deep copy. */
// biome-ignore lint/suspicious/noExplicitAny: edits of parsed JSON in tests
function edited(edit: (j: Record<string, any>) => void): unknown {
  const j = JSON.parse(JSON.stringify(GOOD));
  edit(j);
  return j;
}

describe('backboneHubSpec', () => {
  it('reads back what backboneHubConfig writes', () => {
    expect(isBackboneHubConfig(GOOD)).toBe(true);
    expect(isBackboneHubConfig({ architecture: 'swin_tiny_patch4_window7_224' })).toBe(false);
    const s = backboneHubSpec(JSON.parse(JSON.stringify(GOOD)));
    expect(s.pretrainedCfg).toMatchObject({
      inputSize: [1, 16, 16],
      mean: [0.5],
      std: [0.25],
      numClasses: 4,
      labelNames: LABELS,
      pad: { contentSize: [10, 10], paddedSize: [12, 12] },
    });
    expect(s.config.inChans).toBe(1);
    expect(s.trained).toEqual({ by: 'test' });
  });

  const BAD: [string, unknown, string][] = [
    ['not an object', [1, 2], 'the config must be an object'],
    [
      'another architecture',
      edited((j) => (j.architecture = 'swin')),
      'architecture must be one of "backbone", got "swin"',
    ],
    ['a misspelt key', edited((j) => (j.labels = j.label_names)), "unknown option 'labels'"],
    ['no model_args', edited((j) => delete j.model_args), "no 'model_args'"],
    [
      'a bad backbone',
      edited((j) => (j.model_args.stages[0].dim = -3)),
      'model_args: createBackbone: stages[0]',
    ],
    [
      'an unknown block kind',
      edited((j) => (j.model_args.stages[1].block.kind = 'globl')),
      'unknown block kind "globl" (known kinds:',
    ],
    [
      'two channels',
      edited((j) => (j.pretrained_cfg.input_size = [2, 16, 16])),
      'input_size must be [channels (1 or 3), H, W]',
    ],
    [
      'RGB input for a gray model',
      edited((j) => (j.pretrained_cfg.input_size = [3, 16, 16])),
      'has 3 channel(s) but model_args.inChans is 1',
    ],
    [
      'another input size',
      edited((j) => (j.pretrained_cfg.input_size = [1, 32, 32])),
      'differs from model_args.imgSize [16, 16]',
    ],
    [
      'three means for one channel',
      edited((j) => (j.pretrained_cfg.mean = [0.5, 0.5, 0.5])),
      'need 1 entries (one per channel), got 3 and 1',
    ],
    ['a huge input', edited((j) => (j.pretrained_cfg.input_size = [1, 100000, 100000])), 'H, W <= 8192'],
    [
      'a zero std',
      edited((j) => (j.pretrained_cfg.std = [0])),
      'std must be a non-empty array of numbers > 0',
    ],
    ['too few label names', edited((j) => j.label_names.pop()), '3 label_names for 4 classes'],
    [
      'num_classes against the head',
      edited((j) => (j.num_classes = 5)),
      'num_classes 5 differs from model_args.numClasses 4',
    ],
    [
      'a pad smaller than its content',
      edited((j) => (j.pretrained_cfg.pad.padded_size = [8, 8])),
      'padded_size [8, 8] is smaller than content_size [10, 10]',
    ],
    [
      'a pad without content_size',
      edited((j) => delete j.pretrained_cfg.pad.content_size),
      'pad needs content_size and padded_size',
    ],
    [
      'an unknown interpolation',
      edited((j) => (j.pretrained_cfg.interpolation = 'lanczos4')),
      'interpolation must be one of',
    ],
  ];
  it.each(BAD)('refuses %s with one line', (_what, json, message) => {
    let err: unknown;
    try {
      backboneHubSpec(json);
    } catch (e) {
      err = e;
    }
    expect(err).toBeInstanceOf(SwinConfigError);
    const m = (err as Error).message;
    expect(m).toContain(message);
    expect(m.startsWith('backbone config.json')).toBe(true);
    expect(m).not.toContain('\n');
  });
});

describe('a backbone hub folder through loadPretrained and pipeline', () => {
  let dir = '';
  let folder = '';
  let png = '';
  beforeAll(async () => {
    await useBackend('cpu');
    dir = mkdtempSync(join(tmpdir(), 'models-backbone-hub-'));
    folder = join(dir, 'tiny');
    mkdirSync(folder);
    const model = withInitSeed(4, () => createBackbone(CONFIG));
    const files = await backboneHubFiles(model, CFG, { by: 'test' });
    model.dispose();
    for (const [name, data] of Object.entries(files)) writeFileSync(join(folder, name), data);
    // a 10x10 gray PNG (stored as RGB: the transform converts to gray)
    const { encode } = await import('fast-png');
    const data = new Uint8Array(10 * 10 * 3).map((_, i) => (i * 37) % 256);
    png = join(dir, 'x.png');
    writeFileSync(png, encode({ width: 10, height: 10, data, channels: 3, depth: 8 }));
  });
  afterAll(() => rmSync(dir, { recursive: true, force: true }));

  it('loads the same weights and classifies with the folder labels', async () => {
    const ref = withInitSeed(4, () => createBackbone(CONFIG));
    const loaded = await loadPretrained(null, { weights: folder });
    expect([loaded.family, loaded.name, loaded.architectureFrom]).toEqual(['backbone', 'tiny-gray', 'hub']);
    expect(loaded.report.missing).toEqual([]);
    const x = tf.randomNormal<tf.Rank.R4>([2, 16, 16, 1], 0, 1, 'float32', 1);
    const [a, b] = [ref.forward(x), loaded.model.forward(x)];
    expect(Array.from(b.dataSync())).toEqual(Array.from(a.dataSync()));
    tf.dispose([x, a, b]);
    ref.dispose();
    loaded.model.dispose();

    const before = tf.memory().numTensors;
    const classify = await pipeline('image-classification', null, { weights: folder });
    const preds = await classify(png, { topK: 4 });
    expect(preds.map((p) => p.label).sort()).toEqual([...LABELS].sort());
    expect(preds.reduce((s, p) => s + p.probability, 0)).toBeCloseTo(1, 5);
    classify.dispose();
    expect(tf.memory().numTensors).toBe(before);
  });

  it('refuses a registry name, a broken config and missing weights, leaking nothing', async () => {
    const before = tf.memory().numTensors;
    await expect(loadPretrained('swin_tiny_patch4_window7_224', { weights: folder })).rejects.toThrow(
      /holds a @swin\/backbone model/,
    );
    const bad = join(dir, 'bad');
    mkdirSync(bad);
    writeFileSync(join(bad, 'config.json'), JSON.stringify(edited((j) => (j.model_args.inChans = 3))));
    await expect(loadPretrained(null, { weights: bad })).rejects.toThrow(
      /has 1 channel\(s\) but model_args.inChans is 3/,
    );
    writeFileSync(join(bad, 'config.json'), JSON.stringify(GOOD));
    await expect(loadPretrained(null, { weights: bad })).rejects.toThrow(/has none of model.safetensors/);
    // weights of another backbone: strict loading names the mismatch
    const other = join(dir, 'other');
    mkdirSync(other);
    const wide = createBackbone({ ...CONFIG, numClasses: 5 });
    const files = await backboneHubFiles(wide, { ...CFG, numClasses: 5, labelNames: [...LABELS, 'x'] });
    wide.dispose();
    writeFileSync(join(other, 'model.safetensors'), files['model.safetensors']);
    writeFileSync(join(other, 'config.json'), JSON.stringify(GOOD));
    await expect(loadPretrained(null, { weights: other })).rejects.toThrow(/head/);
    // a config asking for a far bigger model than the file holds: refused before anything is built
    const big = edited((j) => {
      j.model_args.stages[1].dim = 4096;
    });
    writeFileSync(join(other, 'config.json'), JSON.stringify(big));
    await expect(loadPretrained(null, { weights: other })).rejects.toThrow(
      /describes a backbone of \d+ parameters but model.safetensors holds \d+ values/,
    );
    expect(tf.memory().numTensors).toBe(before);
  });
});
