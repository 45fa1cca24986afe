import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { readSafetensors } from '@swin/io';
import { compareTensors, fixturesDir, loadFixture, tf, useBackend } from '@swin/testing';
import { beforeAll, describe, expect, it } from 'vitest';
import { buildFromConfig } from './create.js';
import { configFromTimmKwargs } from './kwargs.js';
import { disposeFeatures, extractFeatures, pipeline, preprocessImage } from './pipeline.js';
import { resolveModel } from './registry.js';
import { topK } from './topk.js';
import { loadWeights } from './weights.js';

/** A photo of the preprocess fixtures: its PNG bytes and timm's transform output. */
function photo(name: string): {
  file: Uint8Array;
  expected: tf.Tensor4D;
  transform: Record<string, unknown>;
} {
  const path = join(fixturesDir(), '..', 'preprocess', name);
  const st = readSafetensors(new Uint8Array(readFileSync(path)));
  const e = st.tensors.get('expected');
  const f = st.tensors.get('file');
  if (!e || !f) throw new Error(`${name}: no expected/file`);
  return {
    file: new Uint8Array(f.data as Uint8Array),
    expected: tf.tensor4d(e.data as Float32Array, e.shape as [number, number, number, number]),
    transform: JSON.parse(st.metadata.transform),
  };
}

// one 8-bit level after normalisation (fixtures README)
const LEVEL = 1 / (255 * 0.224) + 1e-5;

describe('preprocessImage with registry pretrained cfgs', () => {
  beforeAll(() => useBackend('wasm'));

  it.each([
    ['preprocess_chelsea_swin_t_224.safetensors', 'swin_tiny_patch4_window7_224'],
    ['preprocess_chelsea_swin_b_384.safetensors', 'swin_base_patch4_window12_384'],
  ])('%s: the cfg of %s gives timm eval transform', async (file, name) => {
    const p = photo(file);
    const cfg = resolveModel(name).pretrainedCfg;
    expect([cfg.inputSize[1], cfg.cropPct, cfg.interpolation]).toEqual([
      p.transform.img_size,
      p.transform.crop_pct,
      p.transform.interpolation,
    ]);
    const x = await preprocessImage(p.file, cfg);
    const cmp = compareTensors(x, p.expected, { abs: LEVEL, rel: 1 });
    expect(cmp.ok, cmp.message).toBe(true);
    x.dispose();
    p.expected.dispose();
  });
});

describe('pipeline and extractFeatures', () => {
  beforeAll(() => useBackend('wasm'));

  it('classifies an image file in one call, as forward + topK on the transformed image, without leaks', async () => {
    const fx = loadFixture('pvt_v2_model_64.safetensors');
    const kw = { ...fx.config.kwargs, proj_drop_rate: 0 };
    for (const k of ['drop_rate', 'img_size', 'patch_size']) delete kw[k];
    const model = buildFromConfig(configFromTimmKwargs('pvt-v2', kw));
    loadWeights(model, fx.stateDict);
    fx.dispose();
    const labels = Array.from({ length: 10 }, (_, i) => `label ${i}`);
    const pretrainedCfg = {
      ...resolveModel('swin_tiny_patch4_window7_224').pretrainedCfg,
      numClasses: 10,
      labelNames: labels,
    };
    const classify = await pipeline('image-classification', null, { model, pretrainedCfg, topK: 3 });
    const p = photo('preprocess_chelsea_swin_t_224.safetensors');
    await classify(p.file); // warm-up: caches
    const before = tf.memory().numTensors;
    const got = await classify(p.file);
    expect(tf.memory().numTensors).toBe(before);
    const logits = model.forward(p.expected);
    const want = topK(logits, 3, { labels })[0];
    logits.dispose();
    expect(got.map((g) => g.index)).toEqual(want.map((w) => w.index));
    expect(got[0].label).toBe(`label ${got[0].index}`);
    for (const [i, g] of got.entries()) expect(g.probability).toBeCloseTo(want[i].probability, 2);
    expect(await classify(p.file, { topK: 1 })).toHaveLength(1);

    const feats = await extractFeatures(model, p.file, pretrainedCfg);
    expect(feats.features.map((f) => f.shape)).toEqual([
      [1, 56, 56, 16],
      [1, 28, 28, 32],
      [1, 14, 14, 64],
      [1, 7, 7, 96],
    ]);
    expect(feats.info.map((i) => i.reduction)).toEqual([4, 8, 16, 32]);
    disposeFeatures(feats);
    await expect(extractFeatures(model, p.file)).rejects.toThrow(/no pretrained config attached/);
    p.expected.dispose();
    classify.dispose();
    await expect(classify(p.file)).rejects.toThrow(/after dispose/);
  });

  it('refuses unknown tasks', async () => {
    // biome-ignore lint/suspicious/noExplicitAny: testing a wrong task name
    await expect(pipeline('object-detection' as any, 'pvt_v2_b0', { weights: 'x' })).rejects.toThrow(
      /unknown task/,
    );
  });
});
