import {
  type BatchNorm2d,
  Conv2d,
  DepthwiseConv2d,
  type Downsample,
  type FeatureBlock,
  Linear,
  type Module,
  StateDictError,
  type VisionModel,
} from '@swin/nn';
import { expectNoLeak, loadFixture, NODE_BACKENDS, tf, useBackend } from '@swin/testing';
import { beforeAll, describe, expect, it } from 'vitest';
import {
  createShunted,
  dropPathRates,
  OverlapPatchEmbed,
  resolveShuntedConfig,
  SHUNTED_PRESETS,
  type ShuntedAttention,
  ShuntedBlock,
  type ShuntedConfig,
  ShuntedStem,
  ShuntedTransformer,
  shuntedBlockMacs,
  shuntedConfigFromKwargs,
  shuntedMacs,
  shuntedParamCount,
  shuntedPresetConfig,
} from './index.js';

/** The paper / official README figures: Shunted-T/S/B params (M) and FLOPs (G) at 224x224. */
const PAPER = {
  shunted_t: { params: 11.5, gflops: 2.1 },
  shunted_s: { params: 22.4, gflops: 4.9 },
  shunted_b: { params: 39.6, gflops: 8.1 },
} as const;
const truncate1 = (x: number) => Math.floor(x * 10 + 1e-9) / 10;

const TINY: Partial<ShuntedConfig> = {
  embedDims: [64, 16, 24, 32],
  numHeads: [2, 2, 4, 4],
  mlpRatios: [2, 2, 2, 2],
  depths: [1, 2, 1, 1],
  srRatios: [8, 4, 2, 1],
  numConv: 1,
  numClasses: 7,
};

describe('parameter and MAC counts', () => {
  beforeAll(async () => {
    await useBackend('wasm');
  });

  it.each(Object.keys(PAPER) as (keyof typeof PAPER)[])(
    '%s: analytic params equal the built model and the paper figure (head and stem included)',
    (name) => {
      const count = shuntedParamCount(SHUNTED_PRESETS[name]);
      const m = createShunted(name);
      try {
        expect(m.numParams()).toBe(count);
        expect(m.numFeatures).toBe(512);
      } finally {
        m.dispose();
      }
      // The paper's figure is the whole classifier (1000-class head and conv stem included) truncated
      // to 0.1 M; rounding to nearest would give 11.6 for Shunted-T (11.55 M).
      expect(truncate1(count / 1e6)).toBe(PAPER[name].params);
      // Without the head it does not match (documents the convention).
      expect(truncate1(shuntedParamCount({ ...SHUNTED_PRESETS[name], numClasses: 0 }) / 1e6)).not.toBe(
        PAPER[name].params,
      );
    },
  );

  it.each(Object.keys(PAPER) as (keyof typeof PAPER)[])(
    '%s: MACs at 224x224 match the paper FLOPs',
    (name) => {
      const macs = shuntedMacs(SHUNTED_PRESETS[name], 224, 224);
      expect(truncate1(macs / 1e9)).toBe(PAPER[name].gflops);
    },
  );

  it('analytic params equal numParams() for assorted configs', () => {
    const configs: Partial<ShuntedConfig>[] = [
      TINY,
      { ...TINY, qkvBias: false, numConv: 0, numClasses: 0 },
      { ...TINY, numStages: 3, srRatios: [4, 2, 1, 1] },
      { ...TINY, mlpRatios: [1.5, 3, 2.7, 4], depths: [0, 1, 1, 2] },
    ];
    for (const c of configs) {
      const m = new ShuntedTransformer(c);
      expect(m.numParams()).toBe(shuntedParamCount(c));
      m.dispose();
    }
  });

  it("model MACs equal the sum of the layers' own MAC counters plus the attention products", () => {
    const m = new ShuntedTransformer(TINY);
    try {
      for (const [H, W] of [
        [64, 64],
        [45, 37],
        [70, 33],
      ]) {
        const sizes = m.stageSizes(H, W);
        let total = 0;
        const stem = m.patchEmbeds[0] as ShuntedStem;
        let [h, w] = [Math.floor((H - 1) / 2) + 1, Math.floor((W - 1) / 2) + 1];
        for (const layer of stem.conv) {
          if (layer instanceof Conv2d) {
            total += layer.macs(layer.kernel[0] === 7 ? H : h, layer.kernel[0] === 7 ? W : w);
          }
        }
        for (let i = 0; i < 4; i++) {
          if (i > 0)
            total += (m.patchEmbeds[i] as OverlapPatchEmbed).proj.macs(sizes[i - 1][0], sizes[i - 1][1]);
          [h, w] = sizes[i];
          const N = h * w;
          for (const blk of m.blocks[i]) {
            const a = blk.attn;
            total += a.q.macs(N) + a.proj.macs(N);
            if (a.sr && a.kvs && a.localConvs) {
              for (let b = 0; b < 2; b++) {
                const k = a.sr[b].kernel[0];
                const [rh, rw] = [Math.floor(h / k), Math.floor(w / k)];
                total += a.sr[b].macs(h, w) + a.kvs[b].macs(rh * rw) + a.localConvs[b].macs(rh, rw);
                total += 2 * N * rh * rw * (a.dim / 2);
              }
            } else {
              total += a.kv!.macs(N) + a.localConv!.macs(h, w) + 2 * N * N * a.dim;
            }
            total += blk.mlp.fc1.macs(N) + blk.mlp.fc2.macs(N) + blk.mlp.dwconv.dwconv.macs(h, w);
            expect(blk.macs(h, w)).toBe(shuntedBlockMacs(blk.dim, blk.srRatio, blk.mlpRatio, h, w));
          }
        }
        total += m.head!.macs(1);
        expect(m.macs(H, W)).toBe(total);
        expect(shuntedMacs(TINY, H, W)).toBe(total);
      }
    } finally {
      m.dispose();
    }
  });
});

describe('configuration, presets and errors', () => {
  beforeAll(async () => {
    await useBackend('cpu');
  });

  it('presets mirror the official factory functions', () => {
    expect(SHUNTED_PRESETS.shunted_t.depths).toEqual([1, 2, 4, 1]);
    expect(SHUNTED_PRESETS.shunted_s.depths).toEqual([2, 4, 12, 1]);
    expect(SHUNTED_PRESETS.shunted_b.depths).toEqual([3, 4, 24, 2]);
    expect([0, 1, 2]).toEqual(
      ['shunted_t', 'shunted_s', 'shunted_b'].map((n) => SHUNTED_PRESETS[n as 'shunted_t'].numConv),
    );
    const c = shuntedPresetConfig('shunted_s', { numClasses: 10 });
    expect(c.numClasses).toBe(10);
    expect(c.normEps).toBe(1e-6);
    expect(c.numHeads).toEqual([2, 4, 8, 16]);
    expect(() => createShunted('shunted_x' as 'shunted_t')).toThrow(/unknown preset 'shunted_x'/);
  });

  it('official kwargs convert with the reference defaults', () => {
    const c = shuntedConfigFromKwargs({ embed_dims: [64, 32, 48, 64], num_heads: [2, 2, 2, 4] });
    expect(c.normEps).toBe(1e-5); // nn.LayerNorm default
    expect(c.depths).toEqual([3, 4, 6, 3]);
    expect(c.qkvBias).toBe(false);
    expect(() => resolveShuntedConfig(shuntedConfigFromKwargs({}))).toThrow(
      /stage 0: num_heads must be even .*num_heads 1 with sr_ratio 8/,
    );
  });

  it('drop path rates follow torch.linspace(0, rate, sum(depths))', () => {
    const r = dropPathRates(resolveShuntedConfig({ dropPathRate: 0.7, depths: [1, 2, 4, 1] }));
    expect(r.map((s) => s.length)).toEqual([1, 2, 4, 1]);
    expect(r.flat()).toEqual(Array.from({ length: 8 }, (_, j) => (0.7 * j) / 7));
  });

  it('rejects bad configurations with clear messages', () => {
    expect(() => new ShuntedTransformer({ ...TINY, embedDims: [32, 16, 24, 32] })).toThrow(
      /embed_dims\[0\] must be 64, got 32/,
    );
    expect(() => new ShuntedTransformer({ ...TINY, inChans: 4 })).toThrow(/in_chans must be 3, got 4/);
    expect(() => new ShuntedTransformer({ ...TINY, numHeads: [2, 3, 4, 4] })).toThrow(
      /stage 1: dim 16 should be divided by num_heads 3/,
    );
    expect(
      () => new ShuntedTransformer({ ...TINY, embedDims: [64, 18, 24, 32], numHeads: [2, 3, 4, 4] }),
    ).toThrow(/stage 1: num_heads must be even .*num_heads 3 with sr_ratio 4/);
    expect(() => new ShuntedTransformer({ ...TINY, srRatios: [8, 3, 2, 1] })).toThrow(
      /stage 1: sr_ratio 3 is not supported/,
    );
    expect(() => new ShuntedTransformer({ ...TINY, numStages: 5 })).toThrow(
      /num_stages must be 1, 2, 3 or 4, got 5/,
    );
    expect(() => new ShuntedTransformer({ ...TINY, depths: [1, 1] })).toThrow(
      /depths needs at least num_stages=4 entries/,
    );
    expect(() => new ShuntedTransformer({ ...TINY, numConv: -1 })).toThrow(
      /numConv must be an integer >= 0, got -1/,
    );
    expect(() => new ShuntedTransformer({ ...TINY, dropPathRate: 1 })).toThrow(
      /dropPathRate must be in \[0, 1\)/,
    );
    expect(() => new ShuntedTransformer({ ...TINY, mlpRatios: [0.01, 2, 2, 2] })).toThrow(
      /stage 0: mlp_ratio 0.01 gives a hidden width of 0/,
    );
  });
});

describe.each(NODE_BACKENDS)('ShuntedTransformer on %s', (backend) => {
  beforeAll(async () => {
    await useBackend(backend);
  });

  it('registers the official keys (stem Sequential indices, blocks, norms, head)', () => {
    const m = new ShuntedTransformer({ ...TINY, numConv: 2 });
    try {
      const sd = m.stateDict();
      const keys = Object.keys(sd);
      const bn = (i: number) =>
        ['weight', 'bias', 'running_mean', 'running_var', 'num_batches_tracked'].map(
          (k) => `patch_embed1.conv.${i}.${k}`,
        );
      expect(keys.filter((k) => k.startsWith('patch_embed1.'))).toEqual([
        'patch_embed1.conv.0.weight',
        ...bn(1),
        'patch_embed1.conv.3.weight',
        ...bn(4),
        'patch_embed1.conv.6.weight',
        ...bn(7),
        'patch_embed1.conv.9.weight',
        'patch_embed1.conv.9.bias',
        'patch_embed1.norm.weight',
        'patch_embed1.norm.bias',
      ]);
      expect(sd['patch_embed1.conv.0.weight'].shape).toEqual([64, 3, 7, 7]);
      expect(sd['patch_embed1.conv.9.weight'].shape).toEqual([64, 64, 2, 2]);
      expect(sd['patch_embed2.proj.weight'].shape).toEqual([16, 64, 3, 3]);
      expect(keys).toContain('block2.1.mlp.dwconv.dwconv.weight');
      expect(keys).toContain('block1.0.attn.local_conv2.bias');
      expect(keys).toContain('block4.0.attn.local_conv.weight');
      expect(keys).toContain('norm4.weight');
      expect(sd['head.weight'].shape).toEqual([7, 32]);
      tf.dispose(Object.values(sd));
    } finally {
      m.dispose();
    }
  });

  it('state_dict round trip reproduces the fixture weights exactly', () => {
    const fx = loadFixture('shunted_model_64.safetensors');
    const m = new ShuntedTransformer(shuntedConfigFromKwargs(fx.config.kwargs));
    try {
      m.loadStateDict(fx.stateDict);
      const sd = m.stateDict();
      expect(Object.keys(sd).sort()).toEqual(Object.keys(fx.stateDict).sort());
      for (const [k, t] of Object.entries(sd)) {
        if (k.endsWith('num_batches_tracked')) continue;
        expect(Array.from(t.dataSync()), k).toEqual(Array.from(fx.stateDict[k].dataSync()));
      }
      tf.dispose(Object.values(sd));
      const missing = { ...fx.stateDict };
      delete missing['block3.0.attn.kv1.weight'];
      expect(() => m.loadStateDict(missing)).toThrow(StateDictError);
      expect(() => m.loadStateDict(missing)).toThrow(/block3\.0\.attn\.kv1\.weight/);
    } finally {
      m.dispose();
      fx.dispose();
    }
  });

  it.each([
    [64, 64],
    [45, 37],
    [32, 48],
    [70, 33],
    [35, 35],
  ])('runs on %ix%i inputs: stage shapes follow the strided-conv arithmetic', (H, W) => {
    const m: VisionModel & ShuntedTransformer = new ShuntedTransformer(TINY);
    const x = tf.randomNormal([2, H, W, 3]) as tf.Tensor4D;
    try {
      // independent size arithmetic: stem 7x7/2 pad 3 then 2x2/2, then 3x3/2 pad 1 per stage
      let h = Math.floor(Math.floor((H + 6 - 7) / 2 + 1) / 2);
      let w = Math.floor(Math.floor((W + 6 - 7) / 2 + 1) / 2);
      const expected: number[][] = [];
      for (let i = 0; i < 4; i++) {
        if (i > 0) {
          h = Math.floor((h + 2 - 3) / 2) + 1;
          w = Math.floor((w + 2 - 3) / 2) + 1;
        }
        expected.push([2, h, w, TINY.embedDims![i]]);
      }
      const feats = m.forwardFeatures(x);
      expect(feats.map((f) => f.shape)).toEqual(expected);
      expect(m.stageSizes(H, W)).toEqual(expected.map((s) => [s[1], s[2]]));
      expect(m.featureInfo.map((f) => [f.channels, f.reduction, f.module])).toEqual([
        [64, 4, 'norm1'],
        [16, 8, 'norm2'],
        [24, 16, 'norm3'],
        [32, 32, 'norm4'],
      ]);
      // forward = forwardHead(last feature); preLogits = mean over tokens of the last feature
      const logits = m.forward(x);
      const viaHead = m.forwardHead(feats[3]);
      const pre = m.forwardHead(feats[3], { preLogits: true });
      const mean = tf.mean(feats[3], [1, 2]);
      expect(logits.shape).toEqual([2, 7]);
      expect(tf.max(tf.abs(tf.sub(logits, viaHead))).dataSync()[0]).toBeLessThan(1e-6);
      expect(tf.max(tf.abs(tf.sub(pre, mean))).dataSync()[0]).toBeLessThan(1e-6);
      const o = m.forwardWithIntermediates(x);
      expect(o.embed).toBe(o.embeds[0]);
      expect(o.embeds.map((e) => e.shape)).toEqual(expected);
      expect(tf.max(tf.abs(tf.sub(o.logits, logits))).dataSync()[0]).toBeLessThan(1e-6);
      tf.dispose([...feats, logits, viaHead, pre, mean, ...o.embeds, ...o.features, o.preLogits, o.logits]);
    } finally {
      x.dispose();
      m.dispose();
    }
  });

  it('gives clear errors for bad inputs and inputs too small for a stage', () => {
    const m = new ShuntedTransformer(TINY);
    try {
      expect(() => m.forward(tf.zeros([1, 16, 16, 3]) as tf.Tensor4D)).toThrow(
        /input 16x16 is too small: stage 0 \(block1\): the 4x4 token map is smaller than the 8x8 reduction conv sr1 of sr_ratio 8/,
      );
      expect(() => m.forward(tf.zeros([1, 32, 2, 3]) as tf.Tensor4D)).toThrow(
        /input 32x2 is too small: ShuntedStem: a 32x2 input/,
      );
      // stage 1 (sr 4) needs a 4x4 map: 32x40 gives 8x10 -> 4x5 fine; 28x40 gives 7x10 -> 4x5 fine; 24x40 -> 6x10 -> 3x5
      expect(() => m.forward(tf.zeros([1, 24, 40, 3]) as tf.Tensor4D)).toThrow(
        /stage 0 \(block1\): the 6x10 token map/,
      );
      const m2 = new ShuntedTransformer({ ...TINY, srRatios: [4, 4, 2, 1] });
      expect(() => m2.forward(tf.zeros([1, 24, 24, 3]) as tf.Tensor4D)).toThrow(
        /input 24x24 is too small: stage 1 \(block2\): the 3x3 token map is smaller than the 4x4 reduction conv sr1 of sr_ratio 4/,
      );
      m2.dispose();
      expect(() => m.forward(tf.zeros([1, 64, 64, 1]) as tf.Tensor4D)).toThrow(
        /ShuntedTransformer\.forward: x has 1 channels .*expected 3/,
      );
      expect(() => m.forward(tf.zeros([64, 64, 3]) as unknown as tf.Tensor4D)).toThrow(
        /ShuntedTransformer\.forward: x must be a 4-D NHWC tensor.*add the batch axis/,
      );
      expect(() => m.forwardHead(tf.zeros([1, 2, 2, 16]) as tf.Tensor4D)).toThrow(
        /forwardHead: last has 16 channels .*expected 32/,
      );
      expect(() => m.stageSizes(0, 10)).toThrow(/positive integers/);
    } finally {
      m.dispose();
    }
  });

  it('numClasses 0 has no head: forward returns the pooled features', () => {
    const m = new ShuntedTransformer({ ...TINY, numClasses: 0 });
    try {
      expect(m.namedParameters().some(([k]) => k.startsWith('head'))).toBe(false);
      const y = m.forward(tf.zeros([1, 32, 32, 3]) as tf.Tensor4D);
      expect(y.shape).toEqual([1, 32]);
      y.dispose();
    } finally {
      m.dispose();
    }
  });

  it('stochastic depth and dropout act only in training mode', () => {
    const m = new ShuntedTransformer({ ...TINY, dropPathRate: 0.5, dropRate: 0.3, attnDropRate: 0.3 });
    const x = tf.randomNormal([2, 32, 32, 3]) as tf.Tensor4D;
    try {
      const diff = (a: tf.Tensor, b: tf.Tensor) => tf.tidy(() => tf.max(tf.abs(tf.sub(a, b))).dataSync()[0]);
      const e1 = m.forward(x);
      const e2 = m.forward(x);
      expect(diff(e1, e2)).toBe(0);
      m.train();
      const t1 = m.forward(x);
      const t2 = m.forward(x);
      expect(diff(t1, t2)).toBeGreaterThan(0);
      tf.dispose([e1, e2, t1, t2]);
    } finally {
      x.dispose();
      m.dispose();
    }
  });

  it('blocks and embeddings implement the nn contracts (FeatureBlock, Downsample) on odd sizes', async () => {
    const blk: FeatureBlock = new ShuntedBlock(16, 2, { srRatio: 2, mlpRatio: 3 });
    const stem: Downsample = new ShuntedStem(1);
    const pe: Downsample = new OverlapPatchEmbed(16, 24);
    try {
      expect(blk.dim).toBe(16);
      const xb = tf.randomNormal([2, 5, 7, 16]) as tf.Tensor4D;
      const yb = blk.forward(xb);
      expect(yb.shape).toEqual([2, 5, 7, 16]);
      for (const [H, W] of [
        [3, 3],
        [9, 14],
        [17, 6],
      ]) {
        const xs = tf.randomNormal([1, H, W, 3]) as tf.Tensor4D;
        const ys = stem.forward(xs);
        expect(ys.shape).toEqual([1, ...stem.outSize(H, W), 64]);
        const xp = tf.randomNormal([1, H, W, 16]) as tf.Tensor4D;
        const yp = pe.forward(xp);
        expect(yp.shape).toEqual([1, ...pe.outSize(H, W), 24]);
        expect(pe.outSize(H, W)).toEqual([Math.ceil(H / 2), Math.ceil(W / 2)]);
        await expectNoLeak(() => stem.forward(xs), 'stem');
        await expectNoLeak(() => pe.forward(xp), 'overlap patch embed');
        tf.dispose([xs, ys, xp, yp]);
      }
      expect(() => stem.forward(tf.zeros([1, 2, 2, 3]) as tf.Tensor4D)).toThrow(
        /ShuntedStem: a 2x2 input gives a 1x1 map/,
      );
      expect(() => stem.forward(tf.zeros([1, 8, 8, 4]) as tf.Tensor4D)).toThrow(
        /ShuntedStem\.forward: x has 4 channels .*expected 3/,
      );
      expect(() => pe.forward(tf.zeros([1, 8, 8, 8]) as tf.Tensor4D)).toThrow(
        /OverlapPatchEmbed\.forward: x has 8 channels .*expected 16/,
      );
      expect(() => blk.forward(tf.zeros([1, 4, 4, 8]) as tf.Tensor4D)).toThrow(
        /ShuntedBlock.forward: x has 8 channels .*expected 16/,
      );
      expect(() => blk.forward(tf.zeros([1, 1, 4, 16]) as tf.Tensor4D)).toThrow(
        /the 1x4 token map is smaller than the 2x2 reduction conv/,
      );
      tf.dispose([xb, yb]);
    } finally {
      for (const m of [blk, stem, pe] as Module[]) m.dispose();
    }
  });

  it('uses the official init (LayerNorm ones/zeros, zero biases, conv std sqrt(2/fan_out), BatchNorm ones)', () => {
    const m = new ShuntedTransformer(TINY);
    try {
      const a = m.blocks[0].at(0).attn as ShuntedAttention;
      const std = (t: tf.Tensor) => tf.tidy(() => Math.sqrt(tf.moments(t).variance.dataSync()[0]));
      // sr1: 8x8 conv 64 -> 64: fan_out = 64 * 64
      expect(std(a.sr![0].weight) / Math.sqrt(2 / (64 * 64))).toBeCloseTo(1, 1);
      expect(Array.from(a.sr![0].bias!.dataSync()).every((v) => v === 0)).toBe(true);
      expect(std(a.q.weight) / (0.02 * 0.88)).toBeCloseTo(1, 1); // trunc_normal(0.02), cut at 2 sigma
      expect(Array.from(m.norms[0].weight.dataSync()).every((v) => v === 1)).toBe(true);
      const bn = (m.patchEmbeds[0] as ShuntedStem).conv.at(1) as BatchNorm2d;
      expect(Array.from(bn.runningVar.dataSync()).every((v) => v === 1)).toBe(true);
      expect(a.localConvs![0]).toBeInstanceOf(DepthwiseConv2d);
      expect(m.head).toBeInstanceOf(Linear);
    } finally {
      m.dispose();
    }
  });
});
