import { expectNoLeak, NODE_BACKENDS, tf, useBackend } from '@swin/testing';
import { describe, expect, it } from 'vitest';
import type { BackboneConfig } from './config.js';
import { backboneMacs, backboneParamCount } from './counting.js';
import { loadBackbone, saveBackbone } from './io.js';
import { createBackbone, disposeOutputs } from './model.js';
import { stageSizes } from './resolve.js';

/** Shunted stages 1-2 (conv stem, two-scale attention) under Swin stages 3-4. */
const SHUNTED_SWIN: BackboneConfig = {
  name: 'shunted-swin',
  imgSize: [45, 61],
  numClasses: 4,
  stages: [
    {
      dim: 64,
      depth: 1,
      downsample: { kind: 'shunted_stem', numConv: 0 },
      block: { kind: 'shunted', numHeads: 2, srRatio: 4, mlpRatio: 1 },
      norm: true,
    },
    {
      dim: 16,
      depth: 1,
      downsample: { kind: 'overlap_patch_embed', patchSize: 3, stride: 2 },
      block: { kind: 'shunted', numHeads: 2, srRatio: 2, mlpRatio: 2 },
      norm: true,
    },
    {
      dim: 32,
      depth: 2,
      downsample: { kind: 'patch_merging' },
      block: { kind: 'swin', numHeads: 2, windowSize: 2, mlpRatio: 2 },
    },
    {
      dim: 32,
      depth: 2,
      downsample: { kind: 'patch_merging' },
      block: { kind: 'swin', numHeads: 4, windowSize: 2, mlpRatio: 2 },
    },
  ],
  finalNorm: true,
};

/** PVT v2 stage 1, Swin-MLP stage 2, global attention stage 3. */
const PVT_MLP_GLOBAL: BackboneConfig = {
  name: 'pvt-mlp-global',
  imgSize: 48,
  inChans: 3,
  numClasses: 3,
  stages: [
    {
      dim: 8,
      depth: 1,
      downsample: { kind: 'overlap_patch_embed', patchSize: 7, stride: 4 },
      block: { kind: 'pvt_v2', numHeads: 1, srRatio: 4, mlpRatio: 2 },
      norm: true,
    },
    {
      dim: 16,
      depth: 2,
      downsample: { kind: 'patch_merging' },
      block: { kind: 'swin_mlp', numHeads: 2, windowSize: 3, mlpRatio: 2 },
    },
    {
      dim: 24,
      depth: 1,
      downsample: { kind: 'strided_conv', kernel: 3, stride: 2, padding: 1 },
      block: { kind: 'global', numHeads: 3, mlpRatio: 2 },
    },
  ],
  finalNorm: { eps: 1e-6 },
};

/** Swin stages then a PVT v1 stage classifying a class token (with position embeddings). */
const SWIN_PVT_CLS: BackboneConfig = {
  name: 'swin-pvt-cls',
  imgSize: 32,
  inChans: 2,
  numClasses: 3,
  stages: [
    {
      dim: 8,
      depth: 2,
      downsample: { kind: 'patch_embed', patchSize: 4 },
      block: { kind: 'swin', numHeads: 2, windowSize: 4, mlpRatio: 2 },
    },
    {
      dim: 16,
      depth: 1,
      downsample: { kind: 'patch_embed', patchSize: 2, remainder: 'drop' },
      block: { kind: 'pvt_sra', numHeads: 2, srRatio: 2, mlpRatio: 2 },
      posEmbed: true,
    },
    {
      dim: 16,
      depth: 1,
      downsample: { kind: 'patch_embed', patchSize: 2, remainder: 'drop' },
      block: { kind: 'pvt_sra', numHeads: 2, srRatio: 1, mlpRatio: 2 },
      posEmbed: true,
    },
  ],
  finalNorm: { eps: 1e-6 },
  headPool: 'cls',
};

const HYBRIDS: [string, BackboneConfig, [number, number][]][] = [
  [
    'shunted+swin',
    SHUNTED_SWIN,
    [
      [45, 61],
      [64, 50],
    ],
  ],
  [
    'pvt_v2+swin_mlp+global',
    PVT_MLP_GLOBAL,
    [
      [45, 61],
      [48, 48],
    ],
  ],
  [
    'swin+pvt_sra(cls)',
    SWIN_PVT_CLS,
    [
      [45, 61],
      [32, 32],
    ],
  ],
];

async function values(t: tf.Tensor): Promise<Float32Array> {
  return (await t.data()) as Float32Array;
}

function crossEntropy(logits: tf.Tensor2D, labels: tf.Tensor1D, classes: number): tf.Scalar {
  return tf.tidy(() => {
    const logp = tf.logSoftmax(logits);
    return tf.neg(tf.mean(tf.sum(tf.mul(tf.oneHot(labels, classes), logp), 1))) as tf.Scalar;
  });
}

describe('hybrid configs (no weights)', () => {
  it.each(HYBRIDS)(
    '%s: parameter count and MACs from the config equal the built modules',
    async (_n, cfg, sizes) => {
      await useBackend('cpu');
      const m = createBackbone(cfg);
      try {
        expect(m.numParams()).toBe(backboneParamCount(cfg));
        for (const [H, W] of sizes) {
          expect(m.macs(H, W)).toBe(m.moduleMacs(H, W));
          expect(m.macs(H, W)).toBe(backboneMacs(cfg, H, W));
          expect(m.macs(H, W)).toBeGreaterThan(0);
        }
        expect(JSON.parse(JSON.stringify(m.config))).toEqual(m.config);
      } finally {
        m.dispose();
      }
    },
  );
});

describe('swin relativePositionBias: false', () => {
  it('drops every bias table, counts match the built model, and non-booleans are rejected', async () => {
    await useBackend('cpu');
    const cfg = (rpb: unknown): BackboneConfig =>
      ({
        name: 'swin-norpb',
        imgSize: 16,
        inChans: 1,
        numClasses: 3,
        stages: [
          {
            dim: 8,
            depth: 2,
            downsample: { kind: 'patch_embed', patchSize: 2 },
            block: { kind: 'swin', numHeads: 2, windowSize: 4, relativePositionBias: rpb },
          },
        ],
      }) as BackboneConfig;
    const withBias = createBackbone(cfg(true));
    const without = createBackbone(cfg(false));
    try {
      expect(without.numParams()).toBe(backboneParamCount(cfg(false)));
      expect(withBias.numParams() - without.numParams()).toBe(2 * 7 * 7 * 2);
      expect(without.namedParameters().some(([k]) => k.includes('relative_position'))).toBe(false);
      const y = without.forward(tf.zeros([1, 16, 16, 1]) as tf.Tensor4D);
      expect(y.shape).toEqual([1, 3]);
      y.dispose();
    } finally {
      withBias.dispose();
      without.dispose();
    }
    expect(() => createBackbone(cfg('no'))).toThrow(/relativePositionBias must be a boolean/);
  });
});

describe.each(NODE_BACKENDS)('hybrid backbones on %s', (backend) => {
  it.each(HYBRIDS)('%s: per-stage NHWC features at odd sizes, logits, no leaks', async (_n, cfg, sizes) => {
    await useBackend(backend);
    const m = createBackbone(cfg);
    try {
      const C = m.config.inChans;
      for (const [H, W] of sizes) {
        const x = tf.randomNormal([2, H, W, C], 0, 1, 'float32', 3) as tf.Tensor4D;
        const feats = m.forwardFeatures(x);
        const expected = stageSizes(m.config, H, W);
        expect(feats.map((f) => f.shape)).toEqual(
          expected.map(([h, w], i) => [2, h, w, m.config.stages[i].dim]),
        );
        const logits = m.forward(x);
        expect(logits.shape).toEqual([2, m.numClasses]);
        const o = m.forwardWithIntermediates(x);
        const lv = await values(logits);
        expect(Array.from(lv).every(Number.isFinite)).toBe(true);
        expect(Array.from(await values(o.logits))).toEqual(Array.from(lv));
        for (let i = 0; i < feats.length; i++) {
          expect(Array.from(await values(o.features[i]))).toEqual(Array.from(await values(feats[i])));
        }
        // forwardHead on the last map (+ class token) reproduces the logits.
        const again = m.forwardHead(o.features[o.features.length - 1], { clsToken: o.clsToken });
        expect(Array.from(await values(again))).toEqual(Array.from(lv));
        tf.dispose([x, logits, again, ...feats]);
        disposeOutputs(o);
        const y = tf.randomNormal([1, H, W, C]) as tf.Tensor4D;
        await expectNoLeak(() => m.forward(y), 'forward');
        await expectNoLeak(() => m.forwardFeatures(y), 'forwardFeatures');
        await expectNoLeak(() => disposeOutputs(m.forwardWithIntermediates(y)), 'forwardWithIntermediates');
        y.dispose();
      }
    } finally {
      m.dispose();
    }
  });

  it.each(HYBRIDS)('%s: gradients reach every parameter and Adam lowers the loss', async (_n, cfg) => {
    await useBackend(backend);
    const m = createBackbone({ ...cfg, dropPathRate: 0 });
    const [H, W] = [37, 45];
    const x = tf.randomNormal([3, H, W, m.config.inChans], 0, 1, 'float32', 11) as tf.Tensor4D;
    const labels = tf.tensor1d([0, 1, 2], 'int32');
    const loss = () => crossEntropy(m.forward(x), labels, m.numClasses);
    const opt = tf.train.adam(3e-3);
    try {
      m.train();
      const vars = m.trainableVariables();
      const { value, grads } = tf.variableGrads(loss, vars);
      const names = new Map(m.namedParameters().map(([k, v]) => [v.name, k]));
      const zero: string[] = [];
      for (const v of vars) {
        const g = grads[v.name];
        expect(g, `gradient of ${names.get(v.name)}`).toBeDefined();
        if ((await values(tf.max(tf.abs(g)))).at(0) === 0) zero.push(names.get(v.name) as string);
      }
      expect(zero).toEqual([]);
      tf.dispose([value, ...Object.values(grads)]);
      const losses: number[] = [];
      for (let step = 0; step < 6; step++) {
        const l = opt.minimize(loss, true, vars) as tf.Scalar;
        losses.push((await l.data())[0]);
        l.dispose();
      }
      m.eval();
      expect(losses.every(Number.isFinite)).toBe(true);
      expect(losses[losses.length - 1]).toBeLessThan(losses[0]);
    } finally {
      opt.dispose();
      tf.dispose([x, labels]);
      m.dispose();
    }
  });

  it.each(HYBRIDS)('%s: saveBackbone / loadBackbone round trip is bit-identical', async (_n, cfg, sizes) => {
    await useBackend(backend);
    const m = createBackbone(cfg);
    // Make every parameter (incl. BatchNorm statistics, zero-initialised biases) distinctive.
    for (const [, v] of m.namedParameters()) v.assign(tf.randomNormal(v.shape, 0, 0.1) as tf.Tensor);
    const bytes = await saveBackbone(m);
    const r = loadBackbone(bytes);
    try {
      expect(r.config).toEqual(m.config);
      expect(r.numParams()).toBe(m.numParams());
      const [H, W] = sizes[0];
      const x = tf.randomNormal([2, H, W, m.config.inChans]) as tf.Tensor4D;
      const a = m.forward(x);
      const b = r.forward(x);
      expect(Array.from(await values(b))).toEqual(Array.from(await values(a)));
      const fa = m.forwardFeatures(x);
      const fb = r.forwardFeatures(x);
      for (let i = 0; i < fa.length; i++)
        expect(Array.from(await values(fb[i]))).toEqual(Array.from(await values(fa[i])));
      // saving the reloaded model gives the same bytes
      expect(await saveBackbone(r)).toEqual(bytes);
      tf.dispose([x, a, b, ...fa, ...fb]);
      await expectNoLeak(async () => {
        await saveBackbone(m);
      }, 'saveBackbone');
      await expectNoLeak(() => loadBackbone(bytes).dispose(), 'loadBackbone');
    } finally {
      m.dispose();
      r.dispose();
    }
  });
});

describe('errors', () => {
  const base = (): BackboneConfig => JSON.parse(JSON.stringify(SHUNTED_SWIN));
  const bad: [string, (c: BackboneConfig) => void, RegExp][] = [
    [
      'unknown block kind',
      (c) => {
        (c.stages[2].block as { kind: string }).kind = 'swinv2';
      },
      /stages\[2\]\.block: unknown block kind "swinv2" \(known kinds: swin, swin_mlp, shunted, pvt_sra, pvt_v2, global\)/,
    ],
    [
      'unknown downsample kind',
      (c) => {
        (c.stages[1].downsample as { kind: string }).kind = 'pixel_shuffle';
      },
      /stages\[1\]\.downsample: unknown downsample kind "pixel_shuffle" \(known kinds: patch_embed, overlap_patch_embed, patch_merging, shunted_stem, strided_conv\)/,
    ],
    [
      'dim not divisible by heads',
      (c) => {
        c.stages[3].block = { kind: 'swin', numHeads: 5, windowSize: 2 };
      },
      /stages\[3\]\.block \(swin\): dim 32 is not divisible by numHeads 5/,
    ],
    [
      'odd shunted heads',
      (c) => {
        c.stages[1].block = { kind: 'shunted', numHeads: 1, srRatio: 2 };
      },
      /stages\[1\]\.block \(shunted\): numHeads must be even when srRatio > 1 .* got numHeads 1 with srRatio 2/,
    ],
    [
      'reduction too large for the map at imgSize',
      (c) => {
        c.stages[1].block = { kind: 'shunted', numHeads: 2, srRatio: 8 };
      },
      /stages\[1\]\.block \(shunted\) at imgSize 45x61: the 6x8 map is smaller than the shunted srRatio 8/,
    ],
    [
      'shunted_stem dim',
      (c) => {
        c.stages[0].dim = 32;
      },
      /stages\[0\]\.downsample \(shunted_stem\): shunted_stem requires the stage dim 64 .* got dim 32/,
    ],
    [
      'shunted_stem channels',
      (c) => {
        c.inChans = 1;
      },
      /shunted_stem takes 3 input channels .* but its input has 1/,
    ],
    [
      'misspelt option',
      (c) => {
        (c.stages[2].block as Record<string, unknown>).window = 7;
      },
      /stages\[2\]\.block \(swin\): unknown option 'window' \(known: kind, numHeads, windowSize, shift/,
    ],
    [
      'missing option',
      (c) => {
        delete (c.stages[2].block as Record<string, unknown>).windowSize;
      },
      /stages\[2\]\.block \(swin\): missing required option 'windowSize'/,
    ],
    [
      'class token on a windowed stage',
      (c) => {
        c.headPool = 'cls';
      },
      /headPool 'cls' .* block kind 'swin' cannot take/,
    ],
    [
      'empty map',
      (c) => {
        c.stages[3].downsample = { kind: 'strided_conv', kernel: 9, stride: 2 };
      },
      /stages\[3\]\.downsample \(strided_conv\) turns the 3x4 map into an empty -2x-2 one at imgSize 45x61/,
    ],
  ];
  it.each(bad)('%s', (_n, edit, re) => {
    const c = base();
    edit(c);
    expect(() => createBackbone(c)).toThrow(re);
  });

  it('inputs the stages cannot take are named by stage and size', async () => {
    await useBackend('cpu');
    const m = createBackbone(SHUNTED_SWIN);
    const x = tf.zeros([1, 12, 12, 3]) as tf.Tensor4D;
    const gray = tf.zeros([1, 45, 61, 1]) as tf.Tensor4D;
    try {
      expect(() => m.forward(x)).toThrow(
        /stages\[0\]\.block \(shunted\) at input 12x12: the 3x3 map is smaller than the shunted srRatio 4/,
      );
      expect(() => m.forward(gray)).toThrow(
        /HybridBackbone\.forward: x has 1 channels .*shape \[1,45,61,1\].*expected 3/,
      );
    } finally {
      tf.dispose([x, gray]);
      m.dispose();
    }
  });

  it('loadBackbone rejects files without a config and mismatched weights', async () => {
    await useBackend('cpu');
    const { tensorsToSafetensors } = await import('@swin/io');
    const t = tf.zeros([2]);
    const plain = await tensorsToSafetensors({ a: t });
    t.dispose();
    expect(() => loadBackbone(plain)).toThrow(/no 'backbone_config' metadata/);
    const m = createBackbone(PVT_MLP_GLOBAL);
    const bytes = await saveBackbone(m);
    m.dispose();
    // same file with a different config: weights no longer fit
    const { readSafetensors, writeSafetensors } = await import('@swin/io');
    const f = readSafetensors(bytes);
    const other = {
      ...PVT_MLP_GLOBAL,
      stages: PVT_MLP_GLOBAL.stages.map((s, i) =>
        i === 2 ? { ...s, dim: 32, block: { kind: 'global' as const, numHeads: 4 } } : s,
      ),
    };
    const tensors = Object.fromEntries(
      [...f.tensors].map(([k, e]) => [k, { shape: e.shape, data: e.data as Float32Array }]),
    );
    const forged = writeSafetensors(tensors, { metadata: { backbone_config: JSON.stringify(other) } });
    const before = tf.memory().numTensors;
    expect(() => loadBackbone(forged)).toThrow(/shape mismatches .*stages\.2\.downsample\.proj\.weight/);
    expect(tf.memory().numTensors).toBe(before);
  });
});

describe.each(NODE_BACKENDS)('finite differences on %s', (backend) => {
  it('gradients of pos_embed (resized), cls_token and a strided_conv match central differences', async () => {
    await useBackend(backend);
    const cfg: BackboneConfig = {
      imgSize: 16,
      inChans: 2,
      numClasses: 3,
      stages: [
        {
          dim: 4,
          depth: 1,
          downsample: { kind: 'strided_conv', kernel: 3, stride: 2, padding: 1 },
          block: { kind: 'global', numHeads: 2, mlpRatio: 1 },
          posEmbed: true,
        },
        {
          dim: 4,
          depth: 1,
          downsample: { kind: 'patch_embed', patchSize: 2, remainder: 'drop' },
          block: { kind: 'pvt_sra', numHeads: 1, srRatio: 1, mlpRatio: 1 },
          posEmbed: true,
        },
      ],
      finalNorm: true,
      headPool: 'cls',
    };
    const m = createBackbone(cfg);
    const x = tf.randomNormal([1, 13, 19, 2], 0, 1, 'float32', 5) as tf.Tensor4D; // not 16x16: pos_embed resized
    const r = tf.randomNormal([1, 3], 0, 1, 'float32', 6);
    const f = () => tf.sum(tf.mul(m.forward(x), r)) as tf.Scalar;
    const params = new Map(m.namedParameters());
    const names = [
      'stages.0.pos_embed',
      'stages.1.pos_embed',
      'cls_token',
      'stages.0.downsample.proj.weight',
    ];
    const vars = names.map((n) => params.get(n) as tf.Variable);
    const { value, grads } = tf.variableGrads(f, vars);
    value.dispose();
    const h = 1e-3; // LayerNorm on 4 channels is strongly curved: larger steps bias the estimate
    try {
      for (let k = 0; k < names.length; k++) {
        const v = vars[k];
        const g = (await grads[v.name].data()) as Float32Array;
        const base = (await v.data()) as Float32Array;
        // the largest-gradient element and two others
        let top = 0;
        for (let i = 1; i < g.length; i++) if (Math.abs(g[i]) > Math.abs(g[top])) top = i;
        for (const i of [top, 0, g.length - 1]) {
          const at = (d: number) => {
            const p = base.slice();
            p[i] += d;
            v.assign(tf.tensor(p, v.shape));
            const l = f();
            const out = l.dataSync()[0];
            l.dispose();
            return out;
          };
          const fd = (at(h) - at(-h)) / (2 * h);
          v.assign(tf.tensor(base, v.shape));
          expect(
            Math.abs(fd - g[i]),
            `${names[k]}[${i}]: analytic ${g[i]}, numeric ${fd}`,
          ).toBeLessThanOrEqual(2e-4 + 1e-2 * Math.abs(g[i]));
        }
        expect(Math.abs(g[top])).toBeGreaterThan(0);
      }
    } finally {
      tf.dispose([x, r, ...Object.values(grads)]);
      m.dispose();
    }
  });
});
