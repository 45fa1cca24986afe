import { StateDictError } from '@swin/nn';
import { compareTensors, expectNoLeak, loadFixture, NODE_BACKENDS, tf, useBackend } from '@swin/testing';
import { beforeAll, describe, expect, it } from 'vitest';
import type { PVTConfig } from './config.js';
import { createPVT } from './factory.js';
import { disposeIntermediates, PyramidVisionTransformer } from './pvt-v1.js';
import { isTimmPVTv2StateDict, PyramidVisionTransformerV2 } from './pvt-v2.js';
import { bilinearResize } from './resample.js';

const V1: Partial<PVTConfig> = {
  imgSize: 32,
  embedDims: [8, 16, 24, 32],
  numHeads: [1, 2, 3, 4],
  mlpRatios: [2, 2, 2, 2],
  depths: [1, 1, 1, 1],
  srRatios: [2, 2, 1, 1],
  numClasses: 4,
};
const V2: Partial<PVTConfig> = { ...V1, imgSize: 224 };

/**
 * timm's `_checkpoint_filter_fn` (timm/models/pvt_v2.py), transcribed: official -> timm keys.
 * Kept separate from the package's own converters so the test checks them against timm's rules.
 */
function timmFilter(sd: Record<string, tf.Tensor>): Record<string, tf.Tensor> {
  const out: Record<string, tf.Tensor> = {};
  for (let [k, v] of Object.entries(sd)) {
    if (k.startsWith('patch_embed')) {
      k = k.replace('patch_embed1', 'patch_embed');
      k = k.replace('patch_embed2', 'stages.1.downsample');
      k = k.replace('patch_embed3', 'stages.2.downsample');
      k = k.replace('patch_embed4', 'stages.3.downsample');
    }
    k = k.replace('dwconv.dwconv', 'dwconv');
    k = k.replace(/block(\d+).(\d+)/, (_, a, b) => `stages.${Number(a) - 1}.blocks.${b}`);
    k = k.replace(/^norm(\d+)/, (_, a) => `stages.${Number(a) - 1}.norm`);
    out[k] = v;
  }
  return out;
}

function allTensors(o: unknown): tf.Tensor[] {
  if (o instanceof tf.Tensor) return [o];
  if (Array.isArray(o)) return o.flatMap(allTensors);
  if (o && typeof o === 'object') return Object.values(o).flatMap(allTensors);
  return [];
}

describe.each(NODE_BACKENDS)('PVT models on %s', (backend) => {
  beforeAll(async () => {
    await useBackend(backend);
  });

  it('official preset key layouts (pvt_tiny, pvt_v2_b0, pvt_v2_b2_li)', () => {
    const tiny = createPVT('pvt_tiny');
    const shapes = Object.fromEntries(tiny.namedParameters().map(([k, v]) => [k, v.shape]));
    expect(shapes['pos_embed1']).toEqual([1, 56 * 56, 64]);
    expect(shapes['pos_embed2']).toEqual([1, 28 * 28, 128]);
    expect(shapes['pos_embed4']).toEqual([1, 1 + 7 * 7, 512]);
    expect(shapes['cls_token']).toEqual([1, 1, 512]);
    expect(shapes['block1.1.attn.sr.weight']).toEqual([8, 8, 64, 64]); // stored HWIO
    expect(shapes['block4.1.attn.sr.weight']).toBeUndefined();
    expect(shapes['head.weight']).toEqual([512, 1000]);
    tiny.dispose();
    const b0 = createPVT('pvt_v2_b0');
    const keys = b0.namedParameters().map(([k]) => k);
    expect(keys.filter((k) => k.startsWith('norm')).sort()).toEqual(
      ['norm1', 'norm2', 'norm3', 'norm4'].flatMap((n) => [`${n}.bias`, `${n}.weight`]),
    );
    expect(keys).toContain('block1.1.mlp.dwconv.dwconv.weight');
    expect(keys).toContain('patch_embed4.proj.weight');
    b0.dispose();
    const li = createPVT('pvt_v2_b2_li', { numClasses: 0 });
    const lk = Object.fromEntries(li.namedParameters().map(([k, v]) => [k, v.shape]));
    expect(lk['block1.0.attn.sr.weight']).toEqual([1, 1, 64, 64]);
    expect(lk['head.weight']).toBeUndefined();
    li.dispose();
  });

  it('loads a timm-layout checkpoint (fixture rewritten with timm rules) and reproduces the logits', () => {
    const fx = loadFixture('pvt_v2_model_64.safetensors');
    const timm = timmFilter(fx.stateDict);
    expect(isTimmPVTv2StateDict(timm)).toBe(true);
    expect(isTimmPVTv2StateDict(fx.stateDict)).toBe(false);
    expect(Object.keys(timm)).toContain('stages.0.blocks.0.mlp.dwconv.weight');
    expect(Object.keys(timm)).toContain('stages.1.downsample.proj.weight');
    expect(Object.keys(timm)).toContain('patch_embed.norm.bias');
    const m = new PyramidVisionTransformerV2({
      embedDims: [16, 32, 64, 96],
      numHeads: [1, 2, 4, 6],
      depths: [1, 1, 2, 1],
      numClasses: 10,
    });
    m.loadStateDict(timm);
    // export in timm layout = timm's filter of our official export
    const mine = m.stateDict({ layout: 'timm' });
    const ours = m.stateDict();
    expect(Object.keys(mine).sort()).toEqual(Object.keys(timmFilter(ours)).sort());
    const y = m.forward(fx.inputs['input'] as tf.Tensor4D);
    const cmp = compareTensors(y, fx.expected['logits']);
    expect(cmp.ok, cmp.message).toBe(true);
    tf.dispose([y, ...Object.values(mine), ...Object.values(ours)]);
    fx.dispose();
    m.dispose();
  });

  it('strict loading names missing / unexpected keys', () => {
    const m = new PyramidVisionTransformerV2(V2);
    const sd = m.stateDict();
    const missing = { ...sd };
    delete missing['block2.0.attn.sr.weight'];
    expect(() => m.loadStateDict(missing)).toThrow(StateDictError);
    expect(() => m.loadStateDict(missing)).toThrow(/block2\.0\.attn\.sr\.weight/);
    const extra = { ...sd, pos_embed1: sd['norm1.weight'] };
    expect(() => m.loadStateDict(extra)).toThrow(/unexpected keys \(1\): pos_embed1/);
    tf.dispose(Object.values(sd));
    m.dispose();
  });

  it('features are NHWC with the advertised reductions; forward == forwardHead(forwardFeatures)', () => {
    for (const m of [new PyramidVisionTransformer(V1), new PyramidVisionTransformerV2(V2)]) {
      const x = tf.randomNormal([2, 64, 96, 3]) as tf.Tensor4D;
      const f = m.forwardFeatures(x);
      f.forEach((t, i) => {
        expect(t.shape).toEqual([
          2,
          64 / m.featureInfo[i].reduction,
          96 / m.featureInfo[i].reduction,
          m.featureInfo[i].channels,
        ]);
      });
      const y = m.forward(x);
      expect(y.shape).toEqual([2, 4]);
      let y2: tf.Tensor2D;
      if (m instanceof PyramidVisionTransformer) {
        const r = m.forwardFeaturesWithClassToken(x);
        y2 = m.forwardHead(r.features[3], { clsToken: r.clsToken });
        tf.dispose([...r.features, r.clsToken]);
        expect(() => m.forwardHead(f[3])).toThrow(/pass opts\.clsToken/);
      } else {
        y2 = m.forwardHead(f[3]);
      }
      expect(Math.max(...tf.abs(tf.sub(y, y2)).dataSync())).toBeLessThan(1e-5);
      tf.dispose([x, y, y2, ...f]);
      m.dispose();
    }
  });

  it('odd input sizes: remainders dropped (v1) or padded (v2); batch items independent', () => {
    const v1 = new PyramidVisionTransformer(V1);
    const v2 = new PyramidVisionTransformerV2(V2);
    const x = tf.randomNormal([2, 37, 53, 3]) as tf.Tensor4D;
    const o1 = v1.forwardWithIntermediates(x);
    expect(o1.embeds.map((e) => e.shape.slice(1, 3))).toEqual([
      [9, 13],
      [4, 6],
      [2, 3],
      [1, 1],
    ]);
    expect(o1.lastTokens!.shape).toEqual([2, 2, 32]);
    const o2 = v2.forwardWithIntermediates(x);
    expect(o2.features.map((e) => e.shape.slice(1, 3))).toEqual([
      [10, 14],
      [5, 7],
      [3, 4],
      [2, 2],
    ]);
    for (const [m, o] of [
      [v1, o1],
      [v2, o2],
    ] as const) {
      const x1 = tf.slice(x, [1, 0, 0, 0], [1, 37, 53, 3]);
      const y1 = m.forward(x1);
      const ref = tf.slice(o.logits, [1, 0], [1, 4]);
      expect(Math.max(...tf.abs(tf.sub(y1, ref)).dataSync())).toBeLessThan(1e-5);
      tf.dispose([x1, y1, ref]);
    }
    disposeIntermediates(o1);
    disposeIntermediates(o2);
    x.dispose();
    v1.dispose();
    v2.dispose();
  });

  it('v1 position embeddings: stored grid at native size, bilinear resize otherwise (reference quirk)', () => {
    const m = new PyramidVisionTransformer(V1); // grids 8x8, 4x4, 2x2, 1x1 (+ class row)
    expect(m.posGrids).toEqual([
      [8, 8],
      [4, 4],
      [2, 2],
      [1, 1],
    ]);
    tf.tidy(() => {
      for (const v of m.posEmbeds) v.assign(tf.randomNormal(v.shape));
      // native: identity
      const p1 = m.posEmbedFor(1, 4, 4);
      expect(Array.from(p1.dataSync())).toEqual(Array.from(m.posEmbeds[1].dataSync()));
      // H*W == patch_embed1.num_patches (64) with another aspect: used WITHOUT resizing, as the reference does
      const p0 = m.posEmbedFor(0, 4, 16);
      expect(Array.from(p0.dataSync())).toEqual(Array.from(m.posEmbeds[0].dataSync()));
      // otherwise resized with PyTorch bilinear (align_corners=False)
      const p2 = m.posEmbedFor(1, 3, 5);
      const ref = bilinearResize(tf.reshape(m.posEmbeds[1], [1, 4, 4, 16]) as tf.Tensor4D, 3, 5);
      expect(Array.from(p2.dataSync())).toEqual(Array.from(ref.dataSync()));
      // the last stage resizes only the grid rows and keeps the class row
      const p3 = m.posEmbedFor(3, 2, 2);
      const row = m.posEmbeds[3].dataSync().slice(32, 64);
      for (let i = 0; i < 4; i++)
        expect(Array.from(p3.dataSync().slice(i * 32, i * 32 + 32))).toEqual(Array.from(row));
    });
    // a stage whose grid has patch_embed1.num_patches tokens but a smaller stored pos_embed: the reference fails
    expect(() => m.posEmbedFor(1, 8, 8)).toThrow(
      /stage 2 has a 8x8 token grid.*pos_embed2 \(4x4 = 16 rows\)/,
    );
    m.dispose();
  });

  it('bad inputs: clear errors naming the stage, size and ratio', () => {
    expect(() => createPVT('pvt_v2_b0', { numHeads: [1, 2, 5, 7] })).toThrow(
      /stage 4 dim 256 is not divisible by num_heads 7/,
    );
    expect(() => createPVT('pvt_tiny', { depths: [1, 1, 1] })).toThrow(
      /depths has 3 entries but embedDims has 4/,
    );
    expect(() => new PyramidVisionTransformer({ ...V1, srRatios: [2, 2, 1, 2] })).toThrow(
      /last stage carries a class token, so its sr_ratio must be 1/,
    );
    const v2 = createPVT('pvt_v2_b0', { numClasses: 3 });
    const small = tf.zeros([1, 16, 16, 3]) as tf.Tensor4D;
    expect(() => v2.forward(small)).toThrow(
      /PyramidVisionTransformerV2\.forward: input 16x16 is too small: stage 1 \(block1\) has a 4x4 map, smaller than its sr_ratio 8/,
    );
    const gray = tf.zeros([1, 32, 32, 1]) as tf.Tensor4D;
    expect(() => v2.forward(gray)).toThrow(
      /PyramidVisionTransformerV2\.forward: x has 1 channels .*shape \[1,32,32,1\].*expected 3/,
    );
    v2.dispose();
    const v1 = new PyramidVisionTransformer({ ...V1, srRatios: [1, 1, 1, 1] });
    const x8 = tf.zeros([1, 8, 8, 3]) as tf.Tensor4D;
    expect(() => v1.forward(x8)).toThrow(
      /PyramidVisionTransformer\.forward: input 8x8 is too small: stage 3 \(patch_embed3, 2x2 patches\) would get an empty 0x0 map/,
    );
    const x64 = tf.zeros([1, 64, 64, 3]) as tf.Tensor4D;
    expect(() => v1.forward(x64)).toThrow(/stage 2 has a 8x8 token grid/);
    v1.dispose();
    tf.dispose([small, gray, x8, x64]);
  });

  it('leaks nothing (forward, features, intermediates, head, gradients, state dicts)', async () => {
    for (const m of [
      new PyramidVisionTransformer(V1),
      new PyramidVisionTransformerV2({ ...V2, linear: true }),
    ]) {
      const x = tf.randomNormal([1, 32, 48, 3]) as tf.Tensor4D;
      await expectNoLeak(() => m.forward(x), 'forward');
      await expectNoLeak(() => m.forwardFeatures(x), 'forwardFeatures');
      await expectNoLeak(
        () => disposeIntermediates(m.forwardWithIntermediates(x)),
        'forwardWithIntermediates',
      );
      await expectNoLeak(() => {
        const { value, grads } = tf.variableGrads(
          () => tf.sum(m.forward(x)) as tf.Scalar,
          m.trainableVariables(),
        );
        return [value, ...Object.values(grads)];
      }, 'gradients');
      await expectNoLeak(() => {
        const sd = m.stateDict();
        m.loadStateDict(sd);
        return Object.values(sd);
      }, 'stateDict + loadStateDict');
      tf.dispose([x]);
      m.dispose();
    }
    // errors thrown after some stages ran (v1: stage 1 sr 2 on 1x1; v2: stage 2 sr 2 on 1x1) free everything
    for (const m of [new PyramidVisionTransformer(V1), new PyramidVisionTransformerV2(V2)]) {
      const bad = tf.zeros([1, m instanceof PyramidVisionTransformer ? 4 : 8, 8, 3]) as tf.Tensor4D;
      expect(() => m.forward(bad)).toThrow(/smaller than its sr_ratio 2/);
      await expectNoLeak(() => {
        try {
          m.forward(bad);
        } catch {
          /* expected */
        }
      }, 'failing forward');
      bad.dispose();
      m.dispose();
    }
  });

  it('gradients reach every parameter (v1 native and resized pos-embeds, v2, v2-li)', () => {
    const cases: [PyramidVisionTransformer | PyramidVisionTransformerV2, [number, number]][] = [
      [new PyramidVisionTransformer(V1), [32, 32]],
      [new PyramidVisionTransformer(V1), [40, 56]],
      [new PyramidVisionTransformerV2(V2), [64, 48]],
      [new PyramidVisionTransformerV2({ ...V2, linear: true }), [40, 40]],
    ];
    for (const [m, [H, W]] of cases) {
      for (const [, v] of m.namedParameters()) tf.tidy(() => v.assign(tf.randomNormal(v.shape, 0, 0.2)));
      const x = tf.randomNormal([2, H, W, 3]) as tf.Tensor4D;
      const r = tf.randomNormal([2, 4]);
      const { value, grads } = tf.variableGrads(
        () => tf.sum(tf.mul(m.forward(x), r)) as tf.Scalar,
        m.trainableVariables(),
      );
      const problems: string[] = [];
      for (const [k, v] of m.namedParameters()) {
        const g = grads[v.name];
        if (!g) problems.push(`${k}: no gradient`);
        else {
          const d = g.dataSync();
          if (!d.every(Number.isFinite)) problems.push(`${k}: non-finite`);
          if (d.every((e) => e === 0)) problems.push(`${k}: all zero`);
        }
      }
      expect(problems, `${m.constructor.name} at ${H}x${W}`).toEqual([]);
      tf.dispose([x, r, value, ...Object.values(grads)]);
      m.dispose();
    }
  });

  it('a few Adam steps lower a classification loss', () => {
    for (const m of [
      new PyramidVisionTransformer(V1),
      new PyramidVisionTransformerV2({ ...V2, linear: true }),
    ]) {
      const x = tf.randomNormal([8, 32, 32, 3]);
      const labels = tf.oneHot(tf.tensor1d([0, 1, 2, 3, 0, 1, 2, 3], 'int32'), 4);
      const opt = tf.train.adam(3e-3);
      const lossFn = () => tf.losses.softmaxCrossEntropy(labels, m.forward(x as tf.Tensor4D)) as tf.Scalar;
      const before = tf.tidy(() => lossFn().dataSync()[0]);
      m.train();
      for (let i = 0; i < 8; i++) opt.minimize(lossFn, false, m.trainableVariables());
      m.eval();
      const after = tf.tidy(() => lossFn().dataSync()[0]);
      expect(after, `${m.constructor.name}: ${before} -> ${after}`).toBeLessThan(before * 0.8);
      opt.dispose();
      tf.dispose([x, labels]);
      m.dispose();
    }
  });

  it('train mode applies stochastic depth and dropout; eval is deterministic', () => {
    const m = new PyramidVisionTransformerV2({ ...V2, dropPathRate: 0.5, dropRate: 0.2 });
    const x = tf.randomNormal([2, 32, 32, 3]) as tf.Tensor4D;
    const e1 = m.forward(x);
    const e2 = m.forward(x);
    expect(Array.from(e1.dataSync())).toEqual(Array.from(e2.dataSync()));
    m.train();
    const t1 = m.forward(x);
    const t2 = m.forward(x);
    expect(Math.max(...tf.abs(tf.sub(t1, t2)).dataSync())).toBeGreaterThan(0);
    m.eval();
    tf.dispose([x, e1, e2, t1, t2]);
    m.dispose();
  });

  it('forwardWithIntermediates names every fixture output', () => {
    const v1 = new PyramidVisionTransformer(V1);
    const x = tf.randomNormal([1, 32, 32, 3]) as tf.Tensor4D;
    const o = v1.forwardWithIntermediates(x);
    expect(Object.keys(o.named).sort()).toEqual([
      'embed.0',
      'embed.1',
      'embed.2',
      'embed.3',
      'features.0',
      'features.1',
      'features.2',
      'features.3',
      'logits',
      'pre_logits',
    ]);
    expect(o.named['features.3']).toBe(o.lastTokens);
    expect(allTensors(o).every((t) => !t.isDisposed)).toBe(true);
    disposeIntermediates(o);
    expect(allTensors(o).every((t) => t.isDisposed)).toBe(true);
    x.dispose();
    v1.dispose();
  });
});
