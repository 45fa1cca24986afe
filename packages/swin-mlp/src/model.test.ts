import {
  compareTensors,
  expectNoLeak,
  type Fixture,
  loadFixture,
  NODE_BACKENDS,
  tf,
  useBackend,
} from '@swin/testing';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
  createSwinMLP,
  listSwinMlpModels,
  SWIN_MLP_PRESETS,
  SwinMLP,
  type SwinMLPConfig,
  swinMlpConfigFromKwargs,
  swinMlpMacs,
  swinMlpParamCount,
  swinMlpPresetConfig,
} from './index.js';

const MODEL_FIXTURE = 'swin_mlp_model_64_w4.safetensors';

/** A tiny model for training/leak tests. */
const TINY: Partial<SwinMLPConfig> = {
  imgSize: 32,
  patchSize: 4,
  embedDim: 8,
  depths: [2, 1],
  numHeads: [2, 4],
  windowSize: 4,
  numClasses: 3,
  dropPathRate: 0,
};

describe.each(NODE_BACKENDS)('SwinMLP on %s', (backend) => {
  beforeAll(async () => {
    await useBackend(backend);
  });

  describe('official fixture', () => {
    let fx: Fixture;
    let model: SwinMLP;
    beforeAll(() => {
      fx = loadFixture(MODEL_FIXTURE);
      model = new SwinMLP(swinMlpConfigFromKwargs(fx.config.kwargs));
    });
    afterAll(() => {
      model.dispose();
      fx.dispose();
    });

    it('clamps every block window/shift like the reference (config.derived)', () => {
      const w = model.blockWindows();
      for (const b of fx.config.derived.blocks) {
        expect(w[b.stage][b.block], `layers.${b.stage}.blocks.${b.block}`).toEqual([
          b.window_size,
          b.shift_size,
        ]);
      }
    });

    it('has exactly the official state_dict keys and shapes', () => {
      const sd = model.stateDict();
      expect(Object.keys(sd).sort()).toEqual(Object.keys(fx.stateDict).sort());
      for (const [k, t] of Object.entries(sd)) {
        expect(t.shape, k).toEqual(fx.stateDict[k].shape);
        t.dispose();
      }
    });

    it('reproduces every stored output (embed, features.i, stage_out.i, pre_logits, logits)', () => {
      model.loadStateDict(fx.stateDict);
      const o = model.forwardWithIntermediates(fx.inputs.input as tf.Tensor4D);
      const mine: Record<string, tf.Tensor> = { embed: o.embed, pre_logits: o.preLogits, logits: o.logits };
      o.features.forEach((t, i) => {
        mine[`features.${i}`] = t;
      });
      o.stageOut.forEach((t, i) => {
        mine[`stage_out.${i}`] = t;
      });
      expect(Object.keys(mine).sort()).toEqual(Object.keys(fx.expected).sort());
      for (const [k, e] of Object.entries(fx.expected)) {
        const cmp = compareTensors(mine[k], e);
        expect(cmp.ok, `${k}: ${cmp.message}`).toBe(true);
      }
      // forward / forwardFeatures / forwardHead agree with the intermediates.
      const logits = model.forward(fx.inputs.input as tf.Tensor4D);
      expect(compareTensors(logits, fx.expected.logits).ok).toBe(true);
      const feats = model.forwardFeatures(fx.inputs.input as tf.Tensor4D);
      feats.forEach((f, i) => {
        expect(compareTensors(f, fx.expected[`features.${i}`]).ok, `features.${i}`).toBe(true);
      });
      const pre = model.forwardHead(feats[feats.length - 1], { preLogits: true });
      expect(compareTensors(pre, fx.expected.pre_logits).ok).toBe(true);
      tf.dispose([...Object.values(mine), logits, ...feats, pre]);
    });

    it('macs() equals the sum of the modules (official flops() terms) and the formula', () => {
      const c = model.config;
      let m = model.patchEmbed.macs(64, 64);
      const res: [number, number][] = [
        [16, 16],
        [8, 8],
        [4, 4],
        [2, 2],
      ];
      model.layers.items.forEach((l, i) => {
        m += l.macs(res[i][0], res[i][1]);
      });
      m += Math.floor((model.numFeatures * 16 * 16) / 2 ** 4) + model.numFeatures * c.numClasses;
      expect(model.macs(64, 64)).toBe(m);
      expect(swinMlpMacs(c)).toBe(m);
      expect(model.numParams()).toBe(swinMlpParamCount(c));
    });
  });

  it('runs odd input sizes (padding), with consistent feature shapes and featureInfo', () => {
    const model = new SwinMLP(TINY);
    try {
      for (const [H, W] of [
        [32, 32],
        [29, 45],
        [7, 9],
      ]) {
        const x = tf.randomNormal([2, H, W, 3]) as tf.Tensor4D;
        const feats = model.forwardFeatures(x);
        let h = Math.ceil(H / 4);
        let w = Math.ceil(W / 4);
        feats.forEach((f, i) => {
          expect(f.shape).toEqual([2, h, w, model.featureInfo[i].channels]);
          h = Math.ceil(h / 2);
          w = Math.ceil(w / 2);
        });
        const y = model.forward(x);
        expect(y.shape).toEqual([2, 3]);
        expect(Number.isFinite(tf.sum(y).dataSync()[0])).toBe(true);
        tf.dispose([x, y, ...feats]);
      }
      expect(model.featureInfo.map((f) => f.reduction)).toEqual([4, 8]);
      expect(model.featureInfo.map((f) => f.module)).toEqual(['layers.0.blocks.1', 'layers.1.blocks.0']);
    } finally {
      model.dispose();
    }
  });

  it('leaks nothing in forward, forwardWithIntermediates and backward', async () => {
    const model = new SwinMLP(TINY);
    const x = tf.randomNormal([1, 30, 34, 3]) as tf.Tensor4D;
    try {
      await expectNoLeak(() => model.forward(x), 'SwinMLP.forward');
      await expectNoLeak(() => {
        const o = model.forwardWithIntermediates(x);
        return [o.embed, o.preLogits, o.logits, ...o.features, ...o.stageOut];
      }, 'SwinMLP.forwardWithIntermediates');
      await expectNoLeak(() => {
        const { value, grads } = tf.variableGrads(
          () => tf.sum(tf.square(model.forward(x))) as tf.Scalar,
          model.trainableVariables(),
        );
        return [value, ...Object.values(grads)];
      }, 'SwinMLP backward');
    } finally {
      x.dispose();
      model.dispose();
    }
  });

  it('gradients reach every parameter (none missing, none all-zero)', () => {
    const model = new SwinMLP(TINY);
    try {
      // Non-zero biases everywhere (official init zeroes them, which would hide a dead path).
      for (const [k, v] of model.namedParameters()) {
        if (k.endsWith('bias')) tf.tidy(() => v.assign(tf.randomNormal(v.shape, 0, 0.1)));
      }
      const x = tf.randomNormal([2, 32, 32, 3]) as tf.Tensor4D;
      const labels = tf.oneHot(tf.tensor1d([0, 2], 'int32'), 3);
      const { value, grads } = tf.variableGrads(
        () => tf.losses.softmaxCrossEntropy(labels, model.forward(x)) as tf.Scalar,
        model.trainableVariables(),
      );
      const names = new Map(model.namedParameters().map(([k, v]) => [v.name, k]));
      expect(Object.keys(grads).length).toBe(model.trainableVariables().length);
      for (const [vname, g] of Object.entries(grads)) {
        const key = names.get(vname);
        const [s, m] = [tf.sum(g).dataSync()[0], tf.max(tf.abs(g)).dataSync()[0]];
        expect(Number.isFinite(s), `${key} finite`).toBe(true);
        expect(m, `${key} non-zero`).toBeGreaterThan(0);
      }
      tf.dispose([x, labels, value, ...Object.values(grads)]);
    } finally {
      model.dispose();
    }
  });

  it('a few Adam steps lower the loss on a tiny classification task', () => {
    const model = new SwinMLP(TINY);
    // Class k: a bright k-th third of the image (learnable from spatial layout alone).
    const xs: number[] = [];
    const ys: number[] = [];
    for (let n = 0; n < 6; n++) {
      const k = n % 3;
      for (let i = 0; i < 32; i++)
        for (let j = 0; j < 32; j++)
          for (let c = 0; c < 3; c++) xs.push(Math.floor(j / 11) === k ? 1 : -1 + 0.1 * Math.sin(i + j + c));
      ys.push(k);
    }
    const x = tf.tensor4d(xs, [6, 32, 32, 3]);
    const labels = tf.oneHot(tf.tensor1d(ys, 'int32'), 3);
    const opt = tf.train.adam(3e-3);
    const lossFn = () => tf.losses.softmaxCrossEntropy(labels, model.forward(x)) as tf.Scalar;
    try {
      model.train();
      const first = tf.tidy(() => lossFn().dataSync()[0]);
      for (let i = 0; i < 12; i++) {
        opt.minimize(lossFn, true, model.trainableVariables())?.dispose();
      }
      model.eval();
      const last = tf.tidy(() => lossFn().dataSync()[0]);
      expect(last).toBeLessThan(first * 0.7);
    } finally {
      opt.dispose();
      tf.dispose([x, labels]);
      model.dispose();
    }
  });

  it('rejects bad inputs with descriptive errors', () => {
    const model = new SwinMLP(TINY);
    const apeModel = new SwinMLP({ ...TINY, ape: true });
    try {
      const x4 = tf.zeros([1, 32, 32, 4]) as tf.Tensor4D;
      expect(() => model.forward(x4)).toThrow(/SwinMLP\.forward: x has 4 channels .*expected 3/);
      const x3 = tf.zeros([32, 32, 3]);
      expect(() => model.forward(x3 as unknown as tf.Tensor4D)).toThrow(/4-D NHWC/);
      const bad = tf.zeros([1, 2, 2, 5]) as tf.Tensor4D;
      expect(() => model.forwardHead(bad)).toThrow(/SwinMLP\.forwardHead: last has 5 channels .*expected 16/);
      const other = tf.zeros([1, 48, 32, 3]) as tf.Tensor4D;
      expect(() => apeModel.forward(other)).toThrow(
        /absolute_pos_embed is defined for a 8x8 patch grid.*12x8/,
      );
      const ok = apeModel.forward(tf.zeros([1, 32, 32, 3]) as tf.Tensor4D);
      expect(ok.shape).toEqual([1, 3]);
      tf.dispose([x4, x3, bad, other, ok]);
    } finally {
      model.dispose();
      apeModel.dispose();
    }
  });
});

describe('SwinMLP config, presets and counting', () => {
  beforeAll(async () => {
    await useBackend('cpu');
  });

  it('every preset matches the official README table (params in M, FLOPs in G)', () => {
    for (const name of listSwinMlpModels()) {
      const p = SWIN_MLP_PRESETS[name];
      expect(Math.round(swinMlpParamCount(p.config) / 1e6), `${name} params`).toBe(p.published.paramsM);
      expect(Math.round(swinMlpMacs(p.config) / 1e8) / 10, `${name} FLOPs`).toBe(p.published.gflops);
    }
  });

  it('the analytic parameter count equals the built model (tiny C24 and C6; window clamping at other sizes)', () => {
    const cases: [string, Partial<SwinMLPConfig>][] = [
      ['swin_mlp_tiny_c24_patch4_window8_256', {}],
      ['swin_mlp_tiny_c6_patch4_window8_256', {}],
      ['swin_mlp_tiny_c24_patch4_window8_256', { imgSize: 224, numClasses: 10 }], // stage 3: 7x7 -> window 7
      ['swin_mlp_base_patch4_window7_224', { depths: [2, 2, 2, 2], numClasses: 0 }],
    ];
    for (const [name, over] of cases) {
      const m = createSwinMLP(name, over);
      try {
        expect(m.numParams(), `${name} ${JSON.stringify(over)}`).toBe(
          swinMlpParamCount(swinMlpPresetConfig(name, over)),
        );
      } finally {
        m.dispose();
      }
    }
  });

  it('clamps the last stage of the 224 variant to the 7x7 map', () => {
    const m = createSwinMLP('swin_mlp_tiny_c24_patch4_window8_256', { imgSize: 224, depths: [1, 1, 1, 2] });
    try {
      expect(m.blockWindows()).toEqual([
        [[8, 0]],
        [[8, 0]],
        [[8, 0]],
        [
          [7, 0],
          [7, 0],
        ],
      ]);
      expect(m.stateDict()['layers.3.blocks.1.spatial_mlp.weight'].shape).toEqual([32 * 49, 49, 1]);
    } finally {
      m.dispose();
    }
  });

  it('createSwinMLP / config errors name the problem', () => {
    expect(() => createSwinMLP('swin_mlp_small_c24')).toThrow(
      /unknown model 'swin_mlp_small_c24' \(known: swin_mlp_tiny_c24/,
    );
    expect(() => new SwinMLP({ ...TINY, numHeads: [3, 4] })).toThrow(
      /stage 0: dim=8 .* not divisible by numHeads\[0\]=3/,
    );
    expect(() => new SwinMLP({ ...TINY, numHeads: [2] })).toThrow(/numHeads must be 2 positive integers/);
    expect(() => new SwinMLP({ ...TINY, qkvBias: true } as Partial<SwinMLPConfig>)).toThrow(
      /unknown option 'qkvBias'/,
    );
    expect(() => swinMlpConfigFromKwargs({ qkv_bias: true })).toThrow(/unknown official kwarg 'qkv_bias'/);
    expect(
      swinMlpConfigFromKwargs({ norm_layer: { __layer__: 'LayerNorm', eps: 1e-6 }, embed_dim: 8 }),
    ).toEqual({
      normEps: 1e-6,
      embedDim: 8,
    });
    expect(() => swinMlpMacs(TINY, 0, 5)).toThrow(/swinMlpMacs: H and W must be positive integers/);
  });
});
