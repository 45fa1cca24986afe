import { NODE_BACKENDS, useBackend } from '@swin/testing';
import { beforeAll, describe, expect, it } from 'vitest';
import { GlobalAttention, SRAttention } from './attention.js';
import { type PVTConfig, type PVTPresetName, pvtConfig } from './config.js';
import { pvtMacs, pvtParamCount, pvtStageSizes } from './counts.js';
import { createPVT } from './factory.js';
import { PyramidVisionTransformer } from './pvt-v1.js';
import { PyramidVisionTransformerV2 } from './pvt-v2.js';

const M = 1e6;
const G = 1e9;
const round1 = (v: number) => Math.round(v * 10) / 10;

// Published: PVT v1 paper Table 2 / PVT README (params M, GFLOPs at 224); PVT v2 paper Table / README,
// and `python get_flops.py pvt_v2_b2` -> "Flops: 4.04 GFLOPs, Params: 25.36 M" (classification/README.md).
const PUBLISHED: [PVTPresetName, number, number][] = [
  ['pvt_tiny', 13.2, 1.9],
  ['pvt_small', 24.5, 3.8],
  ['pvt_medium', 44.2, 6.7],
  ['pvt_large', 61.4, 9.8],
  ['pvt_v2_b2', 25.4, 4.0],
  ['pvt_v2_b3', 45.2, 6.9],
  ['pvt_v2_b4', 62.6, 10.1],
  ['pvt_v2_b5', 82.0, 11.8],
  ['pvt_v2_b2_li', 22.6, 3.9],
];

describe('pvtParamCount / pvtMacs against the published numbers', () => {
  it.each(PUBLISHED)('%s: %f M params, %f GMACs at 224', (name, params, gmacs) => {
    const cfg = pvtConfig(name);
    expect(round1(pvtParamCount(cfg) / M)).toBe(params);
    expect(round1(pvtMacs(cfg, 224, 224) / G)).toBe(gmacs);
  });

  it('PVTv2-b0/b1/b2: 0.6/2.1/4.0 GMACs in both conventions', () => {
    for (const [name, g] of [
      ['pvt_v2_b0', 0.6],
      ['pvt_v2_b1', 2.1],
      ['pvt_v2_b2', 4.0],
    ] as const) {
      expect(round1(pvtMacs(pvtConfig(name), 224, 224) / G)).toBe(g);
      expect(round1(pvtMacs(pvtConfig(name), 224, 224, { convention: 'matmul' }) / G)).toBe(g);
    }
  });

  it("reproduces get_flops.py's printed pvt_v2_b2 line: 4.04 GFLOPs, 25.36 M", () => {
    const cfg = pvtConfig('pvt_v2_b2');
    expect((pvtMacs(cfg, 224, 224) / G).toFixed(2)).toBe('4.04');
    expect((pvtParamCount(cfg) / M).toFixed(2)).toBe('25.36');
  });

  it('PVTv2-b0/b1 parameters are 3.67 M / 14.01 M as built by the official factories (README says 3.4 / 13.1)', () => {
    // The official code gives 3,666,760 and 14,009,000 parameters (the released checkpoints are 14 MB / 54 MB of
    // float32, timm lists 3.7 / 14.0 M); the README/paper's 3.4 / 13.1 are not reproduced by any counting of
    // these configs that also gives b2's 25.4 (b0 without its classifier happens to be 3.41 M).
    expect(pvtParamCount(pvtConfig('pvt_v2_b0'))).toBe(3_666_760);
    expect(pvtParamCount(pvtConfig('pvt_v2_b1'))).toBe(14_009_000);
    expect(round1(pvtParamCount(pvtConfig('pvt_v2_b0', { numClasses: 0 })) / M)).toBe(3.4);
  });

  it('the matmul convention is smaller than the official one and b5 is the case that separates them', () => {
    const b5 = pvtConfig('pvt_v2_b5');
    expect(round1(pvtMacs(b5, 224, 224, { convention: 'matmul' }) / G)).toBe(11.7);
    expect(pvtMacs(b5, 224, 224, { convention: 'matmul' })).toBeLessThan(pvtMacs(b5, 224, 224));
  });

  it('stage sizes follow the convs (v2 overlapping embeds round up odd sizes)', () => {
    expect(pvtStageSizes(pvtConfig('pvt_v2_b0'), 224, 224)).toEqual([
      [56, 56],
      [28, 28],
      [14, 14],
      [7, 7],
    ]);
    expect(pvtStageSizes(pvtConfig('pvt_v2_b0'), 33, 50)).toEqual([
      [9, 13],
      [5, 7],
      [3, 4],
      [2, 2],
    ]);
    expect(pvtStageSizes(pvtConfig('pvt_tiny'), 70, 45)).toEqual([
      [17, 11],
      [8, 5],
      [4, 2],
      [2, 1],
    ]);
  });

  it('rejects sizes the reductions cannot take', () => {
    expect(() => pvtMacs(pvtConfig('pvt_v2_b0'), 64, 16)).toThrow(
      /stage 1 map 16x4 is smaller than sr_ratio 8/,
    );
    expect(() => pvtMacs(pvtConfig('pvt_tiny'), 0, 16)).toThrow(/positive integers/);
  });
});

describe('hand-counted module MACs', () => {
  beforeAll(async () => {
    await useBackend('cpu');
  });
  it('SRAttention dim 8, sr 2 on 4x4: q 1024 + kv 512 + conv 1024 + attention 1024 + proj 1024', () => {
    const a = new SRAttention(8, 2, { srRatio: 2 });
    expect(a.macs(4, 4)).toBe(4608);
    // mmcv extras: conv bias (2*2*8) + LayerNorm (2 * 2*2*8)
    expect(a.macs(4, 4, { extras: true })).toBe(4608 + 32 + 64);
    a.dispose();
  });
  it('linear SRA pools to 7x7 whatever the map: 1x1 conv 49*C*C, kv on 49 tokens', () => {
    const a = new SRAttention(4, 1, { linear: true, srRatio: 8 });
    const N = 100;
    expect(a.macs(10, 10)).toBe(2 * N * 16 + 49 * 16 + 49 * 4 * 8 + 2 * N * 49 * 4);
    a.dispose();
  });
  it('GlobalAttention is quadratic: qkv 3NC^2 + proj NC^2 + 2 N^2 C', () => {
    const a = new GlobalAttention(8, 2);
    expect(a.macs(4, 4)).toBe(16 * 8 * 24 + 16 * 64 + 2 * 256 * 8);
    a.dispose();
  });
});

const SMALL: Partial<PVTConfig>[] = [
  {
    version: 1,
    imgSize: 32,
    embedDims: [8, 16, 24, 32],
    numHeads: [1, 2, 3, 4],
    depths: [1, 2, 1, 1],
    srRatios: [4, 2, 1, 1],
    numClasses: 5,
  },
  {
    version: 2,
    embedDims: [8, 16, 24, 32],
    numHeads: [1, 2, 3, 4],
    depths: [2, 1, 1, 1],
    srRatios: [4, 2, 1, 1],
    numClasses: 7,
  },
  {
    version: 2,
    embedDims: [8, 16, 24, 32],
    numHeads: [1, 2, 3, 4],
    depths: [1, 1, 1, 1],
    linear: true,
    numClasses: 0,
  },
];

describe.each(NODE_BACKENDS)('counters agree with the built modules on %s', (backend) => {
  beforeAll(async () => {
    await useBackend(backend);
  });

  it.each(SMALL.map((c, i) => [i, c] as const))(
    'config %i: pvtParamCount == numParams; matmul MACs == module sum',
    (_, c) => {
      const model = c.version === 1 ? new PyramidVisionTransformer(c) : new PyramidVisionTransformerV2(c);
      try {
        expect(pvtParamCount(model.config)).toBe(model.numParams());
        for (const [H, W] of [
          [64, 64],
          [96, 64],
          [72, 40],
        ]) {
          const sizes = pvtStageSizes(model.config, H, W);
          let sum = 0;
          let ph = H;
          let pw = W;
          model.patchEmbeds.forEach((pe, i) => {
            sum += pe.macs(ph, pw);
            const [h, w] = sizes[i];
            const last = i === sizes.length - 1;
            for (const blk of model.blocks[i]) {
              sum +=
                model instanceof PyramidVisionTransformer && last
                  ? blk.macs(h, w, { tokens: h * w + 1 })
                  : blk.macs(h, w);
            }
            [ph, pw] = [h, w];
          });
          sum += model.numClasses * model.numFeatures;
          expect(pvtMacs(model.config, H, W, { convention: 'matmul' })).toBe(sum);
          expect(model.macs(H, W)).toBe(pvtMacs(model.config, H, W));
        }
      } finally {
        model.dispose();
      }
    },
  );

  it('pvt_v2_b0 and pvt_tiny as built have exactly the counted parameters', () => {
    for (const name of ['pvt_v2_b0', 'pvt_tiny'] as const) {
      const m = createPVT(name);
      expect(m.numParams()).toBe(pvtParamCount(m.config));
      m.dispose();
    }
  });
});
