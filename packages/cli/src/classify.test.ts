/**
 * `swin classify` and `swin features` as child processes on a real photo (scikit-image's chelsea.png, the
 * `file` tensor of a preprocess fixture), with weights
 * - from a hub folder on disk: `config.json` (a small PVT v2, the parity fixture's kwargs) + `pytorch_model.bin`
 *   (the shared fixture written by PyTorch's own `torch.save`);
 * - from a file and from a URL on a 127.0.0.1 server started here: `--model pvt_v2_b0` with weights of that
 *   shape made in the test.
 * Real ImageNet weights are not available offline, so the printed top-k is compared with what the library's
 * own `pipeline('image-classification')` computes in this process for the same image and weights.
 */
import { copyFileSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { parseCheckpoint, tensorsToSafetensors } from '@swin/io';
import { createModel, extractFeatures, loadPretrained, pipeline } from '@swin/models';
import { fixturesDir, tf, useBackend } from '@swin/testing';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { ClassifyResult } from './commands/classify.js';
import { type FileServer, runSwin, serveFiles } from './test-utils/run.js';

const SHARED = resolve(fixturesDir(), '..');
const LABELS = Array.from({ length: 10 }, (_, i) => `class ${i}`);

let dir = '';
let photo = '';
let hub = '';
let b0 = '';
let server: FileServer;

beforeAll(async () => {
  dir = mkdtempSync(join(tmpdir(), 'swin-cli-classify-'));
  // the original PNG of the preprocess fixture
  const pre = parseCheckpoint(
    new Uint8Array(readFileSync(join(SHARED, 'preprocess', 'preprocess_chelsea_swin_t_224.safetensors'))),
  );
  photo = join(dir, 'chelsea.png');
  writeFileSync(photo, pre.tensors.file.data as Uint8Array);

  // a hub folder around a real torch.save file: the architecture from config.json's model_args
  hub = join(dir, 'tiny-pvt-v2');
  mkdirSync(hub);
  copyFileSync(join(SHARED, 'checkpoints', 'pvt_v2_64_plain.pth'), join(hub, 'pytorch_model.bin'));
  writeFileSync(
    join(hub, 'config.json'),
    JSON.stringify({
      architecture: 'pvt_v2_b0',
      num_classes: 10,
      model_args: {
        embed_dims: [16, 32, 64, 96],
        depths: [1, 1, 2, 1],
        num_heads: [1, 2, 4, 6],
        mlp_ratios: [8, 8, 4, 4],
        sr_ratios: [8, 4, 2, 1],
        qkv_bias: true,
      },
      pretrained_cfg: {
        input_size: [3, 64, 64],
        crop_pct: 0.875,
        interpolation: 'bicubic',
        mean: [0.485, 0.456, 0.406],
        std: [0.229, 0.224, 0.225],
        num_classes: 10,
      },
      label_names: LABELS,
    }),
  );

  // pvt_v2_b0-shaped weights (its random initialisation with a sharpened head, so the top-k is well separated)
  await useBackend('cpu');
  const model = createModel('pvt_v2_b0');
  const sd = model.stateDict();
  const head = sd['head.weight'];
  sd['head.weight'] = tf.mul(head, 40);
  head.dispose();
  b0 = join(dir, 'pvt_v2_b0.safetensors');
  writeFileSync(b0, await tensorsToSafetensors(sd));
  tf.dispose(Object.values(sd));
  model.dispose();

  server = await serveFiles({ 'weights/pvt_v2_b0.safetensors': b0 });
});

afterAll(async () => {
  await server?.close();
  rmSync(dir, { recursive: true, force: true });
});

/** What the library's own pipeline says for the same inputs (in this process, same backend). */
async function libraryTopK(name: string | null, weights: string, k: number) {
  await useBackend('wasm');
  const classify = await pipeline('image-classification', name as string, { weights });
  try {
    return await classify(photo, { topK: k });
  } finally {
    classify.dispose();
  }
}

function expectSamePredictions(printed: ClassifyResult['predictions'], lib: ClassifyResult['predictions']) {
  expect(printed.map((p) => p.index)).toEqual(lib.map((p) => p.index));
  expect(printed.map((p) => p.label)).toEqual(lib.map((p) => p.label));
  for (let i = 0; i < lib.length; i++) expect(printed[i].probability).toBeCloseTo(lib[i].probability, 6);
}

describe('swin classify', () => {
  it('a hub folder (config.json + torch.save pytorch_model.bin) on disk, a real photo, --json', async () => {
    const r = await runSwin([
      'classify',
      '--weights',
      hub,
      photo,
      '--top',
      '3',
      '--json',
      '--backend',
      'wasm',
    ]);
    expect(r.code, r.stderr).toBe(0);
    const out = JSON.parse(r.stdout) as ClassifyResult[];
    expect(out).toHaveLength(1);
    expect(out[0].image).toBe(photo);
    expect(out[0].predictions).toHaveLength(3);
    for (const p of out[0].predictions) expect(LABELS).toContain(p.label);
    expectSamePredictions(out[0].predictions, await libraryTopK(null, hub, 3));
  });

  it('--model pvt_v2_b0 --weights FILE: the printed table is the library top-5', async () => {
    const r = await runSwin(['classify', '--model', 'pvt_v2_b0', '--weights', b0, photo, photo]);
    expect(r.code, r.stderr).toBe(0);
    const lib = await libraryTopK('pvt_v2_b0', b0, 5);
    // two images, each: its path, then 5 lines "rank. probability%  index  label"
    const lines = r.stdout.trimEnd().split('\n');
    expect(lines).toHaveLength(12);
    expect(lines[0]).toBe(photo);
    expect(lines[6]).toBe(photo);
    for (let i = 0; i < 5; i++) {
      const m = /^ +(\d+)\. +([\d.]+)% +(\d+) {2}(.+)$/.exec(lines[1 + i]);
      expect(m, lines[1 + i]).not.toBeNull();
      expect(Number(m?.[1])).toBe(i + 1);
      expect(Number(m?.[2])).toBeCloseTo(100 * lib[i].probability, 2);
      expect(Number(m?.[3])).toBe(lib[i].index);
      expect(m?.[4]).toBe(lib[i].label);
      expect(lines[7 + i]).toBe(lines[1 + i]);
    }
    // ImageNet-1k names for a pvt_v2_b0 head
    expect(lib[0].label).not.toMatch(/^class /);
  });

  it('--weights URL on 127.0.0.1: downloaded with progress, same top-5 as the library', async () => {
    const url = server.url('weights/pvt_v2_b0.safetensors');
    const r = await runSwin(['classify', '-m', 'pvt_v2_b0', '-w', url, photo, '--json', '-b', 'wasm']);
    expect(r.code, r.stderr).toBe(0);
    expect(server.requests).toContain('/weights/pvt_v2_b0.safetensors');
    // stderr is a pipe: plain progress lines ending in "done"
    expect(r.stderr).toMatch(
      new RegExp(`download ${url.replace(/[.?]/g, '\\$&')}: done \\(\\d+\\.\\d MB\\)`),
    );
    const out = JSON.parse(r.stdout) as ClassifyResult[];
    expectSamePredictions(out[0].predictions, await libraryTopK('pvt_v2_b0', b0, 5));
  });

  it('errors: an unknown model, a missing image, a URL that is not there (one line each)', async () => {
    const unknown = await runSwin(['classify', '-m', 'swin_tiny_patch4_window7', '-w', b0, photo]);
    expect(unknown.code).toBe(1);
    expect(unknown.stderr).toMatch(/^swin: .*unknown model 'swin_tiny_patch4_window7'.*did you mean/);
    const missing = await runSwin(['classify', '-q', '-m', 'pvt_v2_b0', '-w', b0, join(dir, 'nope.png')]);
    expect(missing.code).toBe(1);
    expect(missing.stderr.trim().split('\n')).toHaveLength(1);
    expect(missing.stderr).toMatch(/nope\.png/);
    const notFound = await runSwin([
      'classify',
      '-q',
      '-m',
      'pvt_v2_b0',
      '-w',
      server.url('nothing.pth'),
      photo,
    ]);
    expect(notFound.code).toBe(1);
    expect(notFound.stderr.trim().split('\n')).toHaveLength(1);
    expect(notFound.stderr).toMatch(/404/);
    // a @swin/backbone folder whose config.json contradicts itself: one line naming the field, exit 1
    const bad = join(dir, 'bad-backbone');
    mkdirSync(bad);
    writeFileSync(
      join(bad, 'config.json'),
      JSON.stringify({
        architecture: 'backbone',
        model_args: {
          imgSize: 32,
          inChans: 1,
          numClasses: 10,
          stages: [
            {
              dim: 8,
              depth: 1,
              downsample: { kind: 'patch_embed', patchSize: 4 },
              block: { kind: 'global', numHeads: 2 },
            },
          ],
        },
        pretrained_cfg: { input_size: [3, 32, 32], mean: [0.5, 0.5, 0.5], std: [0.5, 0.5, 0.5] },
      }),
    );
    const contradiction = await runSwin(['classify', '-q', '-w', bad, photo]);
    expect(contradiction.code).toBe(1);
    expect(contradiction.stderr).toBe(
      'swin: backbone config.json: pretrained_cfg.input_size has 3 channel(s) but model_args.inChans is 1\n',
    );
  });
});

describe('swin features', () => {
  it('prints every stage (shape, stride, statistics) and saves them; the saved maps match the printed numbers and the library extractFeatures', async () => {
    const out = join(dir, 'features.safetensors');
    const r = await runSwin(['features', '--weights', hub, photo, '--out', out, '--json', '-q']);
    expect(r.code, r.stderr).toBe(0);
    const rep = JSON.parse(r.stdout) as {
      features: { name: string; shape: number[]; mean: number; std: number }[];
    };
    expect(rep.features.map((f) => f.shape)).toEqual([
      [1, 16, 16, 16],
      [1, 8, 8, 32],
      [1, 4, 4, 64],
      [1, 2, 2, 96],
    ]);
    const saved = parseCheckpoint(new Uint8Array(readFileSync(out)));
    expect(Object.keys(saved.tensors)).toEqual(['features.0', 'features.1', 'features.2', 'features.3']);
    // the library in this process: same weights, same photo, same backend
    await useBackend('wasm');
    const { model, pretrainedCfg } = await loadPretrained(null, { weights: hub });
    const { features } = await extractFeatures(model, photo, pretrainedCfg);
    try {
      for (const [i, f] of rep.features.entries()) {
        const d = saved.tensors[f.name].data as Float32Array;
        const mean = d.reduce((a, b) => a + b, 0) / d.length;
        expect(f.mean).toBeCloseTo(mean, 5);
        expect(saved.tensors[f.name].shape).toEqual(f.shape);
        expect(features[i].shape).toEqual(f.shape);
        const lib = features[i].dataSync();
        let maxDiff = 0;
        for (let j = 0; j < lib.length; j++) maxDiff = Math.max(maxDiff, Math.abs(lib[j] - d[j]));
        expect(maxDiff, f.name).toBeLessThan(1e-5);
      }
    } finally {
      tf.dispose(features);
      model.dispose();
    }
  });
});
