import { expectNoLeak, NODE_BACKENDS, tf, useBackend } from '@swin/testing';
import { beforeAll, describe, expect, it } from 'vitest';
import { ShuntedAttention, ShuntedBlock, type ShuntedConfig, ShuntedTransformer } from './index.js';
import { randomize } from './test-utils/helpers.js';

const TINY: Partial<ShuntedConfig> = {
  embedDims: [64, 16, 16, 16],
  numHeads: [2, 2, 2, 2],
  mlpRatios: [2, 2, 2, 2],
  depths: [1, 1, 1, 1],
  srRatios: [8, 4, 2, 1],
  numConv: 1,
  numClasses: 5,
};

/** Checks that every trainable variable gets a finite, not-all-zero gradient. */
function expectGradsEverywhere(named: [string, tf.Variable][], loss: () => tf.Scalar): void {
  const trainable = named.filter(([, v]) => v.trainable);
  const { value, grads } = tf.variableGrads(
    loss,
    trainable.map(([, v]) => v),
  );
  try {
    const problems: string[] = [];
    for (const [key, v] of trainable) {
      const g = grads[v.name];
      if (!g) {
        problems.push(`${key}: no gradient`);
        continue;
      }
      const d = g.dataSync();
      let nonzero = false;
      for (const x of d) {
        if (!Number.isFinite(x)) {
          problems.push(`${key}: non-finite gradient`);
          break;
        }
        if (x !== 0) nonzero = true;
      }
      if (!nonzero) problems.push(`${key}: all-zero gradient`);
    }
    expect(problems).toEqual([]);
  } finally {
    value.dispose();
    tf.dispose(Object.values(grads));
  }
}

describe.each(NODE_BACKENDS)('training on %s', (backend) => {
  beforeAll(async () => {
    await useBackend(backend);
  });

  it('gradients reach every parameter of a tiny Shunted model (training mode, BatchNorm batch statistics)', () => {
    const m = new ShuntedTransformer(TINY);
    randomize(m, 5);
    m.train();
    // 32x48: the last stage keeps 1x2 tokens (with a single token, q could not matter: softmax over one key).
    const x = tf.randomNormal([2, 32, 48, 3], 0, 1, 'float32', 1) as tf.Tensor4D;
    const r = tf.randomNormal([2, 5], 0, 1, 'float32', 2);
    try {
      expect(m.trainableVariables().length).toBeGreaterThan(60);
      expectGradsEverywhere(m.namedParameters(), () => tf.sum(tf.mul(m.forward(x), r)) as tf.Scalar);
    } finally {
      tf.dispose([x, r]);
      m.dispose();
    }
  });

  it.each([1, 2, 4, 8])('gradients reach every parameter of a block with sr %i', (sr) => {
    const blk = new ShuntedBlock(16, 2, { srRatio: sr, mlpRatio: 2, qkvBias: true });
    randomize(blk, sr);
    const x = tf.randomNormal([2, 9, 8, 16], 0, 1, 'float32', 3) as tf.Tensor4D;
    const r = tf.randomNormal([2, 9, 8, 16], 0, 1, 'float32', 4);
    try {
      expectGradsEverywhere(blk.namedParameters(), () => tf.sum(tf.mul(blk.forward(x), r)) as tf.Scalar);
    } finally {
      tf.dispose([x, r]);
      blk.dispose();
    }
  });

  it.each([
    [1, 3, 4],
    [2, 4, 5],
    [4, 5, 4],
    [8, 8, 9],
  ])('finite differences agree with the gradients of a tiny attention (sr %i, %ix%i map)', (sr, H, W) => {
    const m = new ShuntedAttention(8, { numHeads: 2, srRatio: sr, qkvBias: true });
    randomize(m, 11 * sr);
    const x = tf.variable(tf.randomNormal([1, H, W, 8], 0, 1, 'float32', 5), true, `fd_x_${backend}_${sr}`);
    const r = tf.randomNormal([1, H, W, 8], 0, 1, 'float32', 6);
    const loss = () => tf.sum(tf.mul(m.forward(x as unknown as tf.Tensor4D), r)) as tf.Scalar;
    const vars: [string, tf.Variable][] = [...m.namedParameters(), ['input', x]];
    const { value, grads } = tf.variableGrads(
      loss,
      vars.map(([, v]) => v),
    );
    value.dispose();
    try {
      const eps = 1e-2;
      const failures: string[] = [];
      for (const [key, v] of vars) {
        const g = grads[v.name];
        // Direction: half the normalised analytic gradient, half a random unit vector (so both the scale
        // and the direction of the gradient are tested).
        const dir = tf.tidy(() => {
          const rnd = tf.randomNormal(v.shape, 0, 1, 'float32', 17);
          const d = tf.add(tf.div(g, tf.add(tf.norm(g), 1e-12)), tf.div(rnd, tf.norm(rnd)));
          return tf.div(d, tf.norm(d));
        });
        const analytic = tf.tidy(() => tf.sum(tf.mul(g, dir)).dataSync()[0]);
        const orig = tf.clone(v);
        const evalAt = (s: number) => {
          tf.tidy(() => v.assign(tf.add(orig, tf.mul(dir, s))));
          return tf.tidy(() => loss().dataSync()[0]);
        };
        const numeric = (evalAt(eps) - evalAt(-eps)) / (2 * eps);
        v.assign(orig);
        tf.dispose([dir, orig]);
        if (Math.abs(numeric - analytic) > 2e-3 + 2e-2 * Math.abs(analytic))
          failures.push(`${key}: analytic ${analytic}, numeric ${numeric}`);
      }
      expect(failures).toEqual([]);
    } finally {
      tf.dispose(Object.values(grads));
      tf.dispose([x, r]);
      m.dispose();
    }
  });

  it('a few Adam steps lower the loss of a tiny classifier', () => {
    // numConv 0 keeps this fast: the backward pass of @swin/nn's stride-1 3x3 conv is slow on both
    // backends (its patch extraction uses rank-6 slices); the numConv layers' gradients are checked above.
    const m = new ShuntedTransformer({ ...TINY, numConv: 0 });
    m.train();
    const x = tf.randomNormal([4, 32, 32, 3], 0, 1, 'float32', 21) as tf.Tensor4D;
    const labels = tf.oneHot(tf.tensor1d([0, 1, 2, 3], 'int32'), 5);
    const opt = tf.train.adam(3e-3);
    const lossFn = () =>
      tf.tidy(() => tf.neg(tf.mean(tf.sum(tf.mul(labels, tf.logSoftmax(m.forward(x))), -1))) as tf.Scalar);
    const losses: number[] = [];
    try {
      for (let step = 0; step < 10; step++) {
        const l = opt.minimize(lossFn, true, m.trainableVariables());
        losses.push(l!.dataSync()[0]);
        l!.dispose();
      }
      expect(losses.every(Number.isFinite)).toBe(true);
      expect(losses[losses.length - 1]).toBeLessThan(0.8 * losses[0]);
    } finally {
      opt.dispose();
      tf.dispose([x, labels]);
      m.dispose();
    }
  });

  it('BatchNorm: training mode uses and updates batch statistics, eval mode uses the running ones', () => {
    const m = new ShuntedTransformer(TINY);
    const x = tf.randomNormal([2, 32, 32, 3], 3, 2, 'float32', 8) as tf.Tensor4D;
    try {
      const stem = m.patchEmbeds[0] as unknown as { conv: { at(i: number): { runningMean: tf.Variable } } };
      const rm = stem.conv.at(1).runningMean;
      const before = rm.dataSync().slice();
      tf.dispose(m.forward(x)); // eval
      expect(Array.from(rm.dataSync())).toEqual(Array.from(before));
      m.train();
      const t1 = m.forward(x);
      expect(Array.from(rm.dataSync())).not.toEqual(Array.from(before));
      m.eval();
      const e1 = m.forward(x);
      const diff = tf.tidy(() => tf.max(tf.abs(tf.sub(t1, e1))).dataSync()[0]);
      expect(diff).toBeGreaterThan(1e-4);
      tf.dispose([t1, e1]);
    } finally {
      x.dispose();
      m.dispose();
    }
  });

  it('leaks nothing in forward and backward passes of blocks and models', async () => {
    const m = new ShuntedTransformer(TINY);
    const blk = new ShuntedBlock(16, 2, { srRatio: 4, mlpRatio: 2 });
    const x = tf.randomNormal([1, 35, 33, 3]) as tf.Tensor4D;
    const xb = tf.randomNormal([1, 7, 9, 16]) as tf.Tensor4D;
    const tb = tf.reshape(xb, [1, 63, 16]) as tf.Tensor3D;
    try {
      await expectNoLeak(() => blk.forward(xb), 'block forward');
      await expectNoLeak(() => blk.forwardTokens(tb, 7, 9), 'block tokens');
      await expectNoLeak(() => m.forward(x), 'model forward');
      await expectNoLeak(() => m.forwardFeatures(x), 'model forwardFeatures');
      await expectNoLeak(() => {
        const o = m.forwardWithIntermediates(x);
        return [...o.embeds, ...o.features, o.preLogits, o.logits];
      }, 'model forwardWithIntermediates');
      await expectNoLeak(() => {
        const f = m.forwardFeatures(x);
        const h = m.forwardHead(f[3]);
        tf.dispose(f);
        return h;
      }, 'model forwardHead');
      for (const mode of ['eval', 'train'] as const) {
        m[mode]();
        await expectNoLeak(() => {
          const { value, grads } = tf.variableGrads(
            () => tf.sum(m.forward(x)) as tf.Scalar,
            m.trainableVariables(),
          );
          return [value, ...Object.values(grads)];
        }, `model gradients (${mode})`);
      }
      await expectNoLeak(() => {
        const { value, grads } = tf.variableGrads(() => tf.sum(blk.forward(xb)) as tf.Scalar);
        return [value, ...Object.values(grads)];
      }, 'block gradients');
    } finally {
      tf.dispose([x, xb, tb]);
      m.dispose();
      blk.dispose();
    }
  });
});
