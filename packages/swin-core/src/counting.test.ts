import { NODE_BACKENDS, tf, useBackend } from '@swin/testing';
import { describe, expect, it } from 'vitest';
import { swinMacs, swinParamCount } from './counting.js';
import { SwinTransformer } from './model.js';
import { createSwin, listSwinModels, SWIN_PRESETS, swinPresetConfig } from './presets.js';

/**
 * Published figures (Swin paper Table 1 / official model zoo; "FLOPs" there are multiply-adds of the
 * official `flops()`), rounded as published: [params (M), GMACs].
 */
const PUBLISHED: Record<string, [number, number]> = {
  swin_tiny_patch4_window7_224: [28, 4.5],
  swin_small_patch4_window7_224: [50, 8.7],
  swin_base_patch4_window7_224: [88, 15.4],
  swin_large_patch4_window7_224: [197, 34.5],
  swin_base_patch4_window12_384: [88, 47.0],
  swin_large_patch4_window12_384: [197, 103.9],
};

describe('analytic counts', () => {
  it('Swin-T: 4.49 GMACs and 28.3 M parameters at 224 (official flops() / model zoo)', () => {
    const cfg = swinPresetConfig('swin_tiny_patch4_window7_224');
    const macs = swinMacs(cfg);
    expect(macs / 1e9).toBeGreaterThanOrEqual(4.49);
    expect(macs / 1e9).toBeLessThan(4.5);
    // timm / the official repo list Swin-T with 28,288,354 parameters
    expect(swinParamCount(cfg)).toBe(28_288_354);
  });

  it('Swin-S 8.7 and Swin-B 15.4 GMACs', () => {
    expect(Math.floor(swinMacs(swinPresetConfig('swin_small_patch4_window7_224')) / 1e8) / 10).toBe(8.7);
    expect(Math.floor(swinMacs(swinPresetConfig('swin_base_patch4_window7_224')) / 1e8) / 10).toBe(15.4);
  });

  it.each(Object.keys(PUBLISHED))('%s matches the published params and FLOPs', (name) => {
    const [params, gmacs] = PUBLISHED[name];
    const cfg = swinPresetConfig(name);
    expect(Math.round(swinParamCount(cfg) / 1e6)).toBe(params);
    // published with one decimal; allow the rounding direction either way (15.44 -> 15.4, 47.1 vs 47.0)
    expect(Math.abs(swinMacs(cfg) / 1e9 - gmacs)).toBeLessThan(0.11);
  });

  it('reproduces the official flops() term by term on a small config', async () => {
    await useBackend('cpu');
    // Literal transcription of the official SwinTransformer.flops() for a 64x64 image, patch 4, C=32,
    // depths [2,2,2,2], heads [1,2,4,8], window 4 (stage 2 keeps window 4 without shift, stage 3 -> window 2).
    const cfg = {
      imgSize: 64,
      patchSize: 4,
      embedDim: 32,
      depths: [2, 2, 2, 2],
      numHeads: [1, 2, 4, 8],
      windowSize: 4,
      numClasses: 10,
    };
    const attn = (dim: number, nH: number, N: number) =>
      N * dim * 3 * dim +
      nH * N * Math.floor(dim / nH) * N +
      nH * N * N * Math.floor(dim / nH) +
      N * dim * dim;
    const block = (dim: number, nH: number, H: number, W: number, ws: number) =>
      dim * H * W + ((H * W) / ws / ws) * attn(dim, nH, ws * ws) + 2 * H * W * dim * dim * 4 + dim * H * W;
    const merge = (dim: number, H: number, W: number) => H * W * dim + (H / 2) * (W / 2) * 4 * dim * 2 * dim;
    let f = 16 * 16 * 32 * 3 * 16 + 16 * 16 * 32;
    const res = [16, 8, 4, 2];
    const win = [4, 4, 4, 2];
    for (let i = 0; i < 4; i++) {
      const dim = 32 * 2 ** i;
      f += 2 * block(dim, cfg.numHeads[i], res[i], res[i], win[i]);
      if (i < 3) f += merge(dim, res[i], res[i]);
    }
    f += Math.floor((256 * 16 * 16) / 2 ** 4);
    f += 256 * 10;
    expect(swinMacs(cfg)).toBe(f);
    // and a built model sums its modules' macs to the same number
    const m = new SwinTransformer({ ...cfg, dropPathRate: 0 });
    expect(m.macs(64, 64)).toBe(f);
    let sum = m.patchEmbed.macs(64, 64);
    m.layers.items.forEach((l, i) => {
      sum += l.macs(res[i], res[i]);
    });
    sum += Math.floor((256 * 16 * 16) / 2 ** 4) + 256 * 10;
    expect(sum).toBe(f);
    m.dispose();
  });

  it('counts padded execution for sizes that do not divide', () => {
    const cfg = {
      imgSize: 64,
      patchSize: 4,
      embedDim: 8,
      depths: [2],
      numHeads: [1],
      windowSize: 4,
      numClasses: 0,
    };
    // 37x53 is padded to 40x56 (10x14 tokens, then 12x16 = 12 windows of 16 tokens)
    expect(swinMacs(cfg, 37, 53)).toBe(swinMacs(cfg, 40, 56));
    expect(swinMacs(cfg, 37, 53)).toBeGreaterThan(swinMacs(cfg, 36, 52));
  });
});

describe.each(NODE_BACKENDS)('parameter count of a built model on %s', (backend) => {
  it('swinParamCount equals the sum of variables for small configs (and key names are official)', async () => {
    await useBackend(backend);
    for (const cfg of [
      {
        imgSize: 32,
        patchSize: 2,
        embedDim: 16,
        depths: [1, 2, 1],
        numHeads: [1, 2, 2],
        windowSize: 4,
        ape: true,
        mlpRatio: 2,
        numClasses: 5,
      },
      {
        imgSize: 64,
        embedDim: 8,
        depths: [2, 2],
        numHeads: [2, 2],
        windowSize: 7,
        qkvBias: false,
        numClasses: 0,
      },
    ]) {
      const m = new SwinTransformer(cfg);
      expect(m.numParams()).toBe(swinParamCount(cfg));
      m.dispose();
    }
  });
});

describe('Swin-T parameters by construction', () => {
  it('building Swin-T and summing its variables gives 28,288,354', async () => {
    await useBackend('cpu');
    const before = tf.memory().numTensors;
    const m = createSwin('swin_tiny_patch4_window7_224');
    expect(m.numParams()).toBe(28_288_354);
    expect(m.numParams()).toBe(swinParamCount(m.config));
    expect(m.macs()).toBe(swinMacs(m.config));
    m.dispose();
    expect(tf.memory().numTensors).toBe(before);
  });
});

describe('presets', () => {
  it('lists the six official variants and builds with overrides', () => {
    expect(listSwinModels()).toEqual(Object.keys(SWIN_PRESETS));
    expect(listSwinModels()).toHaveLength(6);
    const cfg = swinPresetConfig('swin_base_patch4_window12_384', { numClasses: 10, imgSize: 96 });
    expect(cfg).toMatchObject({
      embedDim: 128,
      windowSize: 12,
      numClasses: 10,
      imgSize: 96,
      depths: [2, 2, 18, 2],
    });
    expect(() => createSwin('swin_huge')).toThrow(/unknown model 'swin_huge'.*swin_tiny_patch4_window7_224/);
  });
});
