import { expectNoLeak, NODE_BACKENDS, tf, useBackend } from '@swin/testing';
import { describe, expect, it } from 'vitest';
import { SwinTransformerBlock } from './block.js';
import { SwinTransformer } from './model.js';
import { blockArgs, blockWeights, randomizeParams } from './test-utils/helpers.js';
import { type RefBlockWeights, refSwinBlock } from './test-utils/reference.js';

function tinyModel(): SwinTransformer {
  return new SwinTransformer({
    imgSize: 16,
    patchSize: 2,
    embedDim: 8,
    depths: [2, 2],
    numHeads: [1, 2],
    windowSize: 4,
    mlpRatio: 2,
    ape: true,
    numClasses: 3,
    dropPathRate: 0,
  });
}

describe.each(NODE_BACKENDS)('training on %s', (backend) => {
  it.each([
    [16, 16],
    [15, 13],
  ])('gradients reach every parameter (input %ix%i)', async (H, W) => {
    await useBackend(backend);
    const model = tinyModel();
    randomizeParams(model, 0.2, 4);
    const x = tf.randomNormal([2, H, W, 3], 0, 1, 'float32', 9) as tf.Tensor4D;
    const r = tf.randomNormal([2, 3], 0, 1, 'float32', 10);
    const vars = model.namedParameters();
    const { value, grads } = tf.variableGrads(
      () => tf.sum(tf.mul(model.forward(x), r)) as tf.Scalar,
      vars.map(([, v]) => v),
    );
    const problems: string[] = [];
    for (const [name, v] of vars) {
      const g = grads[v.name];
      if (!g) {
        problems.push(`${name}: no gradient`);
        continue;
      }
      const d = g.dataSync();
      if (!d.every(Number.isFinite)) problems.push(`${name}: non-finite gradient`);
      if (d.every((e) => e === 0)) problems.push(`${name}: all-zero gradient`);
    }
    expect(problems).toEqual([]);
    expect(Object.keys(grads)).toHaveLength(vars.length);
    tf.dispose([x, r, value, ...Object.values(grads)]);
    model.dispose();
  });

  it('forward + backward leak nothing', async () => {
    await useBackend(backend);
    const model = tinyModel();
    const x = tf.randomNormal([1, 15, 13, 3]) as tf.Tensor4D;
    await expectNoLeak(() => {
      const { value, grads } = tf.variableGrads(
        () => tf.sum(model.forward(x)) as tf.Scalar,
        model.trainableVariables(),
      );
      tf.dispose([value, ...Object.values(grads)]);
    }, 'variableGrads(model)');
    x.dispose();
    model.dispose();
  });

  it('a few Adam steps lower the loss on a tiny synthetic task', async () => {
    await useBackend(backend);
    const model = tinyModel();
    const xs = tf.randomNormal([6, 16, 16, 3], 0, 1, 'float32', 21) as tf.Tensor4D;
    const labels = tf.oneHot(tf.tensor1d([0, 1, 2, 0, 1, 2], 'int32'), 3);
    const lossFn = () => tf.losses.softmaxCrossEntropy(labels, model.forward(xs)) as tf.Scalar;
    const opt = tf.train.adam(1e-2);
    const first = tf.tidy(() => lossFn().dataSync()[0]);
    for (let i = 0; i < 12; i++) {
      const l = opt.minimize(lossFn, true, model.trainableVariables());
      l?.dispose();
    }
    const last = tf.tidy(() => lossFn().dataSync()[0]);
    expect(last).toBeLessThan(first * 0.7);
    opt.dispose();
    tf.dispose([xs, labels]);
    model.dispose();
  });

  it('gradients of a padded, shifted block match float64 finite differences of the loop reference', async () => {
    await useBackend(backend);
    const [B, H, W, C] = [1, 3, 5, 4];
    const block = new SwinTransformerBlock(C, null, 2, { windowSize: 2, shiftSize: 1, mlpRatio: 2 });
    randomizeParams(block, 0.4, 30);
    const x = tf.randomNormal([B, H, W, C], 0, 1, 'float32', 31) as tf.Tensor4D;
    const R = tf.randomNormal([B, H, W, C], 0, 1, 'float32', 32);
    const Rd = Float64Array.from(R.dataSync());
    const args = blockArgs(block, B, H, W);
    const w0 = blockWeights(block);
    const loss = (xv: ArrayLike<number>, w: RefBlockWeights) => {
      const y = refSwinBlock(xv, w, args);
      let s = 0;
      for (let i = 0; i < y.length; i++) s += y[i] * Rd[i];
      return s;
    };
    // analytic (tfjs, float32)
    const named = block.namedParameters();
    const { grads } = tf.variableGrads(
      () => tf.sum(tf.mul(block.forward(x), R)) as tf.Scalar,
      named.map(([, v]) => v),
    );
    const dx = tf.grad((xi: tf.Tensor) => tf.sum(tf.mul(block.forward(xi as tf.Tensor4D), R)))(x);
    const eps = 1e-5;
    const check = (label: string, analytic: number, fd: number) => {
      expect(Math.abs(analytic - fd), `${label}: analytic ${analytic} vs fd ${fd}`).toBeLessThan(
        2e-3 * Math.max(1, Math.abs(fd)),
      );
    };
    // input
    const xd = Float64Array.from(x.dataSync());
    const dxd = dx.dataSync();
    for (let i = 0; i < xd.length; i++) {
      const p = Float64Array.from(xd);
      const m = Float64Array.from(xd);
      p[i] += eps;
      m[i] -= eps;
      check(`x[${i}]`, dxd[i], (loss(p, w0) - loss(m, w0)) / (2 * eps));
    }
    // parameters: every entry of the small ones, a sample of the matrices (PyTorch layout via stateDict)
    const field: Record<string, keyof RefBlockWeights> = {
      'norm1.weight': 'norm1w',
      'norm1.bias': 'norm1b',
      'attn.qkv.weight': 'qkvW',
      'attn.qkv.bias': 'qkvB',
      'attn.relative_position_bias_table': 'table',
      'attn.proj.weight': 'projW',
      'attn.proj.bias': 'projB',
      'norm2.weight': 'norm2w',
      'norm2.bias': 'norm2b',
      'mlp.fc1.weight': 'fc1W',
      'mlp.fc1.bias': 'fc1B',
      'mlp.fc2.weight': 'fc2W',
      'mlp.fc2.bias': 'fc2B',
    };
    for (const [name, v] of named) {
      const key = field[name];
      expect(key, `reference knows ${name}`).toBeDefined();
      // gradient in PyTorch layout (Linear weights are stored transposed)
      const g = grads[v.name];
      const gT = name.endsWith('.weight') && v.rank === 2 ? tf.transpose(g) : g;
      const ga = gT.dataSync();
      const base = w0[key] as Float64Array;
      const step = Math.max(1, Math.floor(base.length / 12));
      for (let i = 0; i < base.length; i += step) {
        const wp = { ...w0, [key]: Float64Array.from(base) } as RefBlockWeights;
        const wm = { ...w0, [key]: Float64Array.from(base) } as RefBlockWeights;
        (wp[key] as Float64Array)[i] += eps;
        (wm[key] as Float64Array)[i] -= eps;
        check(`${name}[${i}]`, ga[i], (loss(xd, wp) - loss(xd, wm)) / (2 * eps));
      }
      if (gT !== g) gT.dispose();
    }
    tf.dispose([x, R, dx, ...Object.values(grads)]);
    block.dispose();
  });
});
