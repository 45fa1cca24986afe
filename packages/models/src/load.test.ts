import { copyFileSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { tensorsToSafetensors } from '@swin/io';
import { officialToTimmPVTv2 } from '@swin/pvt';
import { exportTimmLayout } from '@swin/swin-core';
import { compareTensors, fixturesDir, loadFixture, tf, useBackend } from '@swin/testing';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { defaultWeights, hfHubBaseUrl, type LoadedModel, loadPretrained } from './load.js';
import { pipeline } from './pipeline.js';

const CKPTS = join(fixturesDir(), '..', 'checkpoints');
const YACS_CKPT = fileURLToPath(new URL('../testdata/swin_32_train_yacs.pth', import.meta.url));

/** Logits of `loaded` on fixture `file`'s input vs its expected logits. */
function expectFixtureLogits(loaded: LoadedModel, file: string, tol = {}): void {
  const fx = loadFixture(file);
  try {
    const logits = loaded.model.forward(fx.inputs.input as tf.Tensor4D);
    const cmp = compareTensors(logits, fx.expected.logits, tol);
    logits.dispose();
    expect(cmp.ok, `${file}: ${cmp.message}`).toBe(true);
  } finally {
    fx.dispose();
  }
}

/** The small swin fixture's architecture as overrides of a registry name. */
const SWIN_32 = {
  imgSize: 32,
  patchSize: 2,
  embedDim: 16,
  depths: [1, 2, 1],
  numHeads: [1, 2, 2],
  windowSize: 4,
  mlpRatio: 2,
  ape: true,
  numClasses: 5,
};

const SWIN_64_TIMM_ARGS = { embed_dim: 32, depths: [2, 2, 2, 2], num_heads: [1, 2, 4, 8], window_size: 4 };

/** Writes a timm hub folder: config.json and the weights (one safetensors file, shards, or a copied .bin). */
async function writeHub(
  config: Record<string, unknown>,
  weights: { tensors?: Record<string, tf.Tensor>; shards?: number; bin?: string },
): Promise<string> {
  const dir = mkdtempSync(join(tmpdir(), 'swin-models-hub-'));
  writeFileSync(join(dir, 'config.json'), JSON.stringify(config));
  if (weights.bin) copyFileSync(weights.bin, join(dir, 'pytorch_model.bin'));
  if (weights.tensors) {
    const keys = Object.keys(weights.tensors);
    const n = weights.shards ?? 1;
    if (n === 1) {
      writeFileSync(join(dir, 'model.safetensors'), await tensorsToSafetensors(weights.tensors));
    } else {
      const weightMap: Record<string, string> = {};
      for (let s = 0; s < n; s++) {
        const file = `model-0000${s + 1}-of-0000${n}.safetensors`;
        const part: Record<string, tf.Tensor> = {};
        keys.forEach((k, i) => {
          if (i % n === s) {
            part[k] = weights.tensors?.[k] as tf.Tensor;
            weightMap[k] = file;
          }
        });
        writeFileSync(join(dir, file), await tensorsToSafetensors(part));
      }
      writeFileSync(
        join(dir, 'model.safetensors.index.json'),
        JSON.stringify({ metadata: {}, weight_map: weightMap }),
      );
    }
  }
  return dir;
}

const dirs: string[] = [];
afterAll(() => {
  for (const d of dirs) rmSync(d, { recursive: true, force: true });
});

describe('loadPretrained: the shared PyTorch checkpoints with a registry name', () => {
  beforeAll(() => useBackend('wasm'));

  it.each([
    'swin_32_plain.pth',
    'swin_32_model_key.pth',
    'swin_32_legacy.pth',
    'swin_32_views.pth',
    'swin_32_f16.pth',
  ])(
    '%s into swin_tiny_patch4_window7_224 with the fixture architecture reproduces the fixture',
    async (file) => {
      const loaded = await loadPretrained('swin_tiny_patch4_window7_224', {
        weights: join(CKPTS, file),
        overrides: SWIN_32,
      });
      expect(loaded.architectureFrom).toBe('name');
      expect([loaded.report.missing, loaded.report.unexpected, loaded.report.layout]).toEqual([
        [],
        [],
        'microsoft',
      ]);
      expect(loaded.pretrainedCfg.numClasses).toBe(5);
      // float16 weights are the float32 ones rounded: their outputs differ from the float32 reference by ~1e-3
      expectFixtureLogits(
        loaded,
        'swin_model_32_p2_ape.safetensors',
        file.includes('f16') ? { abs: 1e-2, rel: 1e-2 } : {},
      );
      loaded.model.dispose();
    },
  );

  it.each([
    [
      'pvt_v2_64_plain.pth',
      'pvt_v2_b0',
      { embedDims: [16, 32, 64, 96], depths: [1, 1, 2, 1], numHeads: [1, 2, 4, 6], numClasses: 10 },
      'pvt_v2_model_64.safetensors',
    ],
    [
      'shunted_64_train.pth',
      'shunted_s',
      { embedDims: [64, 32, 48, 64], depths: [1, 1, 1, 1], numHeads: [2, 2, 2, 4], numClasses: 10 },
      'shunted_model_64.safetensors',
    ],
    [
      'pvt_v1_32_state_dict_key.pth',
      'pvt_tiny',
      {
        imgSize: 32,
        embedDims: [16, 32, 48, 64],
        numHeads: [1, 2, 3, 4],
        mlpRatios: [4, 4, 4, 4],
        srRatios: [4, 2, 1, 1],
        depths: [1, 1, 1, 1],
        numClasses: 5,
      },
      'pvt_v1_model_32_run_32x48_posinterp.safetensors',
    ],
  ])('%s into %s reproduces its fixture', async (file, name, overrides, fixture) => {
    const loaded = await loadPretrained(name, { weights: join(CKPTS, file), overrides });
    expect([loaded.report.missing, loaded.report.unexpected]).toEqual([[], []]);
    expectFixtureLogits(loaded, fixture);
    loaded.model.dispose();
  });

  it('reports key mismatches without strict, names them with strict, and leaks nothing on errors', async () => {
    const weights = join(CKPTS, 'pvt_v2_64_plain.pth');
    const before = tf.memory().numTensors;
    await expect(loadPretrained('pvt_v2_b0', { weights })).rejects.toThrow(
      /shape mismatches .*patch_embed1\.proj\.weight/s,
    );
    expect(tf.memory().numTensors).toBe(before);
    const loose = await loadPretrained('pvt_v2_b0', { weights, strict: false });
    expect(loose.report.mismatched.length).toBeGreaterThan(0);
    expect(loose.report.missing).toContain('block1.1.norm1.weight');
    loose.model.dispose();
    await expect(loadPretrained(null, { weights })).rejects.toThrow(
      /holds no architecture .*pass a model name/,
    );
    await expect(loadPretrained('pvt_v2_b9', { weights })).rejects.toThrow(/did you mean/);
    expect(tf.memory().numTensors).toBe(before);
  });
});

describe('loadPretrained: architecture from the weights', () => {
  beforeAll(() => useBackend('wasm'));

  it('an official Swin training checkpoint builds its model from the yacs config', async () => {
    const loaded = await loadPretrained(null, { weights: YACS_CKPT });
    expect(loaded.architectureFrom).toBe('yacs');
    expect(loaded.name).toBe('swin_micro_patch2_window4_32');
    expect(loaded.refusedGlobals).toContain('yacs.config.CfgNode');
    expect(loaded.report.wrapper).toBe('model');
    expect(loaded.pretrainedCfg).toMatchObject({ inputSize: [3, 32, 32], cropPct: 0.875, numClasses: 5 });
    expectFixtureLogits(loaded, 'swin_model_32_p2_ape.safetensors');
    loaded.model.dispose();
    await expect(loadPretrained(null, { weights: YACS_CKPT, strictPickle: true })).rejects.toThrow(
      /yacs\.config\.CfgNode/,
    );
  });

  describe('hub folders', () => {
    let swinDir: string;
    let server: Server;
    let base: string;
    let refuseHead = false;
    beforeAll(async () => {
      const fx = loadFixture('swin_model_64_w4.safetensors');
      swinDir = await writeHub(
        {
          architecture: 'swin_tiny_patch4_window7_224',
          num_classes: 10,
          model_args: SWIN_64_TIMM_ARGS,
          pretrained_cfg: {
            tag: 'fixture',
            input_size: [3, 64, 64],
            crop_pct: 0.9,
            interpolation: 'bicubic',
          },
          label_names: Array.from({ length: 10 }, (_, i) => `thing ${i}`),
        },
        { tensors: exportTimmLayout(fx.stateDict) },
      );
      fx.dispose();
      dirs.push(swinDir);
      server = createServer((req, res) => {
        const name = (req.url ?? '/').slice(1);
        let body: Buffer;
        try {
          if (!/^[\w.-]+$/.test(name)) throw new Error('bad name');
          body = readFileSync(join(swinDir, name));
        } catch {
          res.writeHead(404).end();
          return;
        }
        if (req.method === 'HEAD' && refuseHead) {
          res.writeHead(405).end();
          return;
        }
        res.writeHead(200, { 'content-length': body.length });
        res.end(req.method === 'HEAD' ? undefined : body);
      });
      await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
      base = `http://127.0.0.1:${(server.address() as AddressInfo).port}/`;
    });
    afterAll(() => new Promise<void>((r) => server.close(() => r())));

    it('a folder with config.json + model.safetensors (timm layout) loads with one call', async () => {
      const loaded = await loadPretrained(null, { weights: swinDir });
      expect(loaded.architectureFrom).toBe('hub');
      expect([loaded.name, loaded.family, loaded.report.layout]).toEqual([
        'swin_tiny_patch4_window7_224',
        'swin',
        'timm',
      ]);
      expect(loaded.pretrainedCfg).toMatchObject({
        inputSize: [3, 64, 64],
        numClasses: 10,
        labelSet: 'custom',
        tag: 'fixture',
      });
      expect(loaded.report.files).toEqual(['model.safetensors']);
      expectFixtureLogits(loaded, 'swin_model_64_w4.safetensors');
      loaded.model.dispose();
      await expect(loadPretrained('pvt_v2_b0', { weights: swinDir })).rejects.toThrow(
        /differs from the hub folder's architecture/,
      );
    });

    it.each([false, true])(
      'the same folder served on 127.0.0.1 loads from its base URL, with progress (server refuses HEAD: %s)',
      async (refuse) => {
        refuseHead = refuse;
        const seen = new Set<string>();
        const loaded = await loadPretrained(null, {
          weights: base,
          onProgress: (_l, _t, file) => seen.add(String(file)),
        });
        refuseHead = false;
        expect(seen.has('model.safetensors')).toBe(true);
        expectFixtureLogits(loaded, 'swin_model_64_w4.safetensors');
        loaded.model.dispose();
      },
    );

    it('sharded safetensors (index.json weight_map) and pytorch_model.bin folders load', async () => {
      const fx = loadFixture('swin_model_64_w4.safetensors');
      const sharded = await writeHub(
        {
          architecture: 'swin_tiny_patch4_window7_224',
          num_classes: 10,
          model_args: { ...SWIN_64_TIMM_ARGS, img_size: 64 },
        },
        { tensors: exportTimmLayout(fx.stateDict), shards: 3 },
      );
      fx.dispose();
      dirs.push(sharded);
      const a = await loadPretrained(null, { weights: sharded });
      expect(a.report.files).toHaveLength(3);
      expectFixtureLogits(a, 'swin_model_64_w4.safetensors');
      a.model.dispose();

      const bin = await writeHub(
        {
          architecture: 'pvt_v2_b0',
          num_classes: 10,
          model_args: { embed_dims: [16, 32, 64, 96], depths: [1, 1, 2, 1], num_heads: [1, 2, 4, 6] },
          pretrained_cfg: { tag: 'in1k' },
        },
        { bin: join(CKPTS, 'pvt_v2_64_plain.pth') },
      );
      dirs.push(bin);
      const b = await loadPretrained(null, { weights: join(bin, 'config.json') });
      expect([b.report.format, b.report.layout]).toEqual(['torch-zip', 'official']);
      expectFixtureLogits(b, 'pvt_v2_model_64.safetensors');
      b.model.dispose();
      // overrides keep the folder's model_args (a new 4-class head: only the head mismatches)
      const c = await loadPretrained(null, { weights: bin, overrides: { numClasses: 4 }, strict: false });
      expect([c.model.numClasses, c.pretrainedCfg.numClasses, c.report.missing]).toEqual([4, 4, []]);
      expect(c.report.mismatched.map((m) => m.key).sort()).toEqual(['head.bias', 'head.weight']);
      c.model.dispose();
    });

    it('pipeline classifies a photo with the folder weights and label names', async () => {
      const classify = await pipeline('image-classification', null, { weights: swinDir, topK: 2 });
      const png = readFileSync(
        join(fixturesDir(), '..', 'preprocess', 'preprocess_chelsea_swin_t_224.safetensors'),
      );
      expect(classify.labels?.[3]).toBe('thing 3');
      const { readSafetensors } = await import('@swin/io');
      const file = readSafetensors(new Uint8Array(png)).tensors.get('file')?.data as Uint8Array;
      const out = await classify(new Uint8Array(file));
      expect(out).toHaveLength(2);
      expect(out[0].label).toBe(`thing ${out[0].index}`);
      expect(out[0].probability).toBeGreaterThanOrEqual(out[1].probability);
      classify.dispose();
    });

    it('a folder without weights or with a transformers config is refused by name', async () => {
      const empty = mkdtempSync(join(tmpdir(), 'swin-models-hub-'));
      dirs.push(empty);
      writeFileSync(join(empty, 'config.json'), JSON.stringify({ architecture: 'pvt_v2_b0' }));
      await expect(loadPretrained(null, { weights: empty })).rejects.toThrow(/has none of model.safetensors/);
      writeFileSync(join(empty, 'config.json'), JSON.stringify({ model_type: 'swin' }));
      await expect(loadPretrained(null, { weights: empty })).rejects.toThrow(/transformers config/);
      writeFileSync(join(empty, 'config.json'), '{"architecture": ');
      await expect(loadPretrained(null, { weights: empty })).rejects.toThrow(/not valid JSON/);
    });
  });
});

describe('loadPretrained: PVT v2 timm layout', () => {
  it('a timm-layout pvt_v2 hub folder loads', async () => {
    await useBackend('wasm');
    const fx = loadFixture('pvt_v2_li_model_64.safetensors');
    const k = fx.config.kwargs;
    const dir = await writeHub(
      {
        architecture: 'pvt_v2_b2_li',
        num_classes: 10,
        model_args: {
          embed_dims: k.embed_dims,
          depths: k.depths,
          num_heads: k.num_heads,
          sr_ratios: k.sr_ratios,
          mlp_ratios: k.mlp_ratios,
        },
      },
      { tensors: officialToTimmPVTv2(fx.stateDict) },
    );
    fx.dispose();
    dirs.push(dir);
    const loaded = await loadPretrained(null, { weights: dir });
    expect(loaded.report.layout).toBe('timm');
    expectFixtureLogits(loaded, 'pvt_v2_li_model_64.safetensors');
    loaded.model.dispose();
  });
});

describe('hfHubBaseUrl', () => {
  it('maps hub ids to their resolve URL and refuses anything else', () => {
    expect(hfHubBaseUrl('hf-hub:timm/swin_tiny_patch4_window7_224.ms_in1k')).toBe(
      'https://huggingface.co/timm/swin_tiny_patch4_window7_224.ms_in1k/resolve/main',
    );
    for (const bad of ['hf-hub:timm', 'hf-hub:../x/y', 'hf-hub:a/b/c', 'hf-hub:a b/c']) {
      expect(() => hfHubBaseUrl(bad)).toThrow(/bad hub id/);
    }
  });
});

describe('defaultWeights', () => {
  it('points registry names at their published weights', async () => {
    expect(defaultWeights('swin_tiny_patch4_window7_224')).toBe(
      'hf-hub:timm/swin_tiny_patch4_window7_224.ms_in1k',
    );
    expect(defaultWeights('pvt_v2_b2_li.in1k')).toBe('hf-hub:timm/pvt_v2_b2_li.in1k');
    expect(() => defaultWeights('shunted_t')).toThrow(/no download location is known for shunted_t.in1k/);
    await expect(loadPretrained('pvt_tiny')).rejects.toThrow(/no download location/);
    await expect(loadPretrained(null)).rejects.toThrow(/give a model name, weights .*, or both/);
  });
});
