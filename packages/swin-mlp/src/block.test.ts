import {
  compareTensors,
  expectNoLeak,
  type Fixture,
  loadFixture,
  NODE_BACKENDS,
  tf,
  useBackend,
} from '@swin/testing';
import fc from 'fast-check';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { SwinMLPBlock, setHeadMatMulMode, swinMlpBlockMacs, swinMlpBlockOptionsFromKwargs } from './index.js';
import { bruteForceSpatialMix, maxAbsDiff, randomArray } from './test-utils/reference.js';

const BLOCK_FIXTURES = ['swin_mlp_block_8x8_w4_s0', 'swin_mlp_block_8x8_w4_s2'];

/** Fills every parameter of `m` with deterministic random values (so biases are non-zero). */
function randomize(m: SwinMLPBlock, seed: number, scale = 0.5): void {
  let s = seed;
  for (const [, v] of m.namedParameters()) {
    const data = randomArray(v.size, s++, scale);
    tf.tidy(() => v.assign(tf.tensor(data, v.shape)));
  }
}

describe.each(NODE_BACKENDS)('SwinMLPBlock on %s', (backend) => {
  beforeAll(async () => {
    await useBackend(backend);
  });

  describe.each(BLOCK_FIXTURES)('fixture %s', (name) => {
    let fx: Fixture;
    beforeAll(() => {
      fx = loadFixture(`${name}.safetensors`);
    });
    afterAll(() => fx.dispose());

    it('matches the official SwinMLPBlock output within the README tolerance', () => {
      const kw = fx.config.kwargs;
      const block = new SwinMLPBlock(swinMlpBlockOptionsFromKwargs(kw));
      try {
        expect(block.windowSize).toBe(fx.config.derived.window_size);
        expect(block.shiftSize).toBe(fx.config.derived.shift_size);
        const report = block.loadStateDict(fx.stateDict);
        expect(report.loaded).toBe(Object.keys(fx.stateDict).length);
        const [H, W] = kw.input_resolution as [number, number];
        const x = fx.inputs.input;
        for (const mode of ['auto', 'batched', 'unstack', 'gather', 'kernel'] as const) {
          const prev = setHeadMatMulMode(mode);
          try {
            const y = tf.tidy(() =>
              tf.reshape(block.forward(tf.reshape(x, [x.shape[0], H, W, kw.dim]) as tf.Tensor4D), x.shape),
            );
            const cmp = compareTensors(y, fx.expected.output);
            y.dispose();
            expect(cmp.ok, `${mode}: ${cmp.message}`).toBe(true);
          } finally {
            setHeadMatMulMode(prev);
          }
        }
      } finally {
        block.dispose();
      }
    });

    it('round-trips the official state_dict (same keys, same values)', () => {
      const block = new SwinMLPBlock(swinMlpBlockOptionsFromKwargs(fx.config.kwargs));
      try {
        block.loadStateDict(fx.stateDict);
        const sd = block.stateDict();
        expect(Object.keys(sd).sort()).toEqual(Object.keys(fx.stateDict).sort());
        for (const [k, t] of Object.entries(sd)) {
          expect(t.shape, k).toEqual(fx.stateDict[k].shape);
          expect(maxAbsDiff(t.dataSync(), fx.stateDict[k].dataSync()), k).toBe(0);
          t.dispose();
        }
      } finally {
        block.dispose();
      }
    });
  });

  it('spatial mixing equals a brute-force loop over windows (shifted, unshifted, odd sizes, tiny maps)', () => {
    const cases: [number, number, number, number, number, number, number][] = [
      // B, H, W, C, nH, ws, shift
      [1, 8, 8, 4, 2, 4, 0],
      [2, 8, 8, 6, 3, 4, 2],
      [1, 7, 10, 4, 1, 3, 1],
      [2, 5, 3, 4, 2, 4, 3],
      [1, 2, 2, 2, 2, 4, 2],
      [1, 9, 6, 8, 4, 3, 0],
      [1, 1, 1, 3, 3, 2, 1],
    ];
    for (const [B, H, W, C, nH, ws, s] of cases) {
      const block = new SwinMLPBlock({ dim: C, numHeads: nH, windowSize: ws, shiftSize: s });
      try {
        randomize(block, 7 + H * W);
        const xd = randomArray(B * H * W * C, H * 31 + W);
        const y = tf.tidy(() => block.spatialMix(tf.tensor4d(xd, [B, H, W, C])));
        const ref = bruteForceSpatialMix(
          xd,
          B,
          H,
          W,
          C,
          ws,
          s,
          nH,
          block.spatialWeight.dataSync(),
          block.spatialBias.dataSync(),
        );
        expect(y.shape).toEqual([B, H, W, C]);
        expect(maxAbsDiff(y.dataSync(), ref), `case ${[B, H, W, C, nH, ws, s]}`).toBeLessThan(1e-5);
        y.dispose();
      } finally {
        block.dispose();
      }
    }
  });

  it('random shapes: spatial mixing equals the brute force (property)', () => {
    fc.assert(
      fc.property(
        fc.integer({ min: 1, max: 2 }),
        fc.integer({ min: 1, max: 11 }),
        fc.integer({ min: 1, max: 11 }),
        fc.integer({ min: 1, max: 3 }),
        fc.integer({ min: 1, max: 3 }),
        fc.integer({ min: 1, max: 5 }),
        fc.nat(),
        (B, H, W, nH, d, ws, shiftSeed) => {
          const C = nH * d;
          const s = shiftSeed % ws;
          const block = new SwinMLPBlock({ dim: C, numHeads: nH, windowSize: ws, shiftSize: s });
          try {
            randomize(block, shiftSeed);
            const xd = randomArray(B * H * W * C, shiftSeed + 1);
            const y = tf.tidy(() => block.spatialMix(tf.tensor4d(xd, [B, H, W, C])));
            const ref = bruteForceSpatialMix(
              xd,
              B,
              H,
              W,
              C,
              ws,
              s,
              nH,
              block.spatialWeight.dataSync(),
              block.spatialBias.dataSync(),
            );
            const err = maxAbsDiff(y.dataSync(), ref);
            y.dispose();
            return err < 1e-5;
          } finally {
            block.dispose();
          }
        },
      ),
      { numRuns: 40, seed: 1234 },
    );
  });

  it('on window multiples equals the official algorithm exactly; the padding does not leak into the map', () => {
    // Padding an odd map to window multiples must give the same values at the kept pixels as running the
    // block on an explicitly zero-padded NORMALISED map: check via spatialMix on a map embedded in zeros.
    const block = new SwinMLPBlock({ dim: 4, numHeads: 2, windowSize: 4, shiftSize: 2 });
    try {
      randomize(block, 3);
      const xd = randomArray(1 * 6 * 7 * 4, 11);
      const [a, b] = tf.tidy(() => {
        const x = tf.tensor4d(xd, [1, 6, 7, 4]);
        const big = tf.pad(x, [
          [0, 0],
          [0, 2],
          [0, 1],
          [0, 0],
        ]) as tf.Tensor4D;
        return [block.spatialMix(x), tf.slice(block.spatialMix(big), [0, 0, 0, 0], [1, 6, 7, 4])];
      });
      expect(maxAbsDiff(a.dataSync(), b.dataSync())).toBeLessThan(1e-6);
      tf.dispose([a, b]);
    } finally {
      block.dispose();
    }
  });

  it('clamps window and shift like the official constructor', () => {
    const cases: [number, number, [number, number], number, number][] = [
      [7, 3, [4, 4], 4, 0],
      [4, 2, [4, 4], 4, 0],
      [4, 2, [8, 8], 4, 2],
      [4, 2, [2, 6], 2, 0],
      [8, 4, [16, 5], 5, 0],
    ];
    for (const [ws, s, res, ews, es] of cases) {
      const b = new SwinMLPBlock({ dim: 4, numHeads: 2, windowSize: ws, shiftSize: s, inputResolution: res });
      expect([b.windowSize, b.shiftSize]).toEqual([ews, es]);
      expect(b.spatialWeight.shape).toEqual([2 * ews * ews, ews * ews, 1]);
      b.dispose();
    }
  });

  it('runs any input size, including maps smaller than the window', () => {
    const block = new SwinMLPBlock({ dim: 6, numHeads: 3, windowSize: 4, shiftSize: 2 });
    try {
      for (const [H, W] of [
        [1, 1],
        [3, 5],
        [4, 4],
        [9, 13],
        [17, 2],
      ]) {
        const y = tf.tidy(() => block.forward(tf.randomNormal([2, H, W, 6])));
        expect(y.shape).toEqual([2, H, W, 6]);
        expect(Number.isFinite(tf.sum(y).dataSync()[0])).toBe(true);
        y.dispose();
      }
    } finally {
      block.dispose();
    }
  });

  it('leaks nothing in forward and backward', async () => {
    const block = new SwinMLPBlock({ dim: 8, numHeads: 2, windowSize: 4, shiftSize: 2 });
    const x = tf.randomNormal([1, 6, 9, 8]) as tf.Tensor4D;
    try {
      await expectNoLeak(() => block.forward(x), 'SwinMLPBlock.forward');
      await expectNoLeak(() => {
        const { value, grads } = tf.variableGrads(
          () => tf.sum(tf.square(block.forward(x))) as tf.Scalar,
          block.trainableVariables(),
        );
        return [value, ...Object.values(grads)];
      }, 'SwinMLPBlock backward');
      await expectNoLeak(
        () => tf.grad((xx: tf.Tensor) => tf.sum(block.forward(xx as tf.Tensor4D)))(x),
        'input grad',
      );
    } finally {
      x.dispose();
      block.dispose();
    }
  });

  it('gradients reach every parameter (none missing, none all-zero)', () => {
    const block = new SwinMLPBlock({ dim: 8, numHeads: 2, windowSize: 4, shiftSize: 2 });
    try {
      randomize(block, 5, 0.3);
      const x = tf.randomNormal([2, 7, 6, 8]) as tf.Tensor4D;
      const { value, grads } = tf.variableGrads(
        () => tf.sum(tf.square(block.forward(x))) as tf.Scalar,
        block.trainableVariables(),
      );
      const names = new Map(block.namedParameters().map(([k, v]) => [v.name, k]));
      expect(Object.keys(grads).length).toBe(block.trainableVariables().length);
      for (const [vname, g] of Object.entries(grads)) {
        const key = names.get(vname);
        expect(Number.isFinite(tf.sum(g).dataSync()[0]), `${key} finite`).toBe(true);
        expect(tf.max(tf.abs(g)).dataSync()[0], `${key} non-zero`).toBeGreaterThan(0);
      }
      tf.dispose([value, x, ...Object.values(grads)]);
    } finally {
      block.dispose();
    }
  });

  it('custom per-head matMul gradient equals tfjs autodiff of the batched matMul formulation', () => {
    const block = new SwinMLPBlock({ dim: 6, numHeads: 3, windowSize: 2, shiftSize: 1 });
    try {
      randomize(block, 9, 0.5);
      const x = tf.randomNormal([1, 4, 5, 6]) as tf.Tensor4D;
      const dy = tf.randomNormal([1, 4, 5, 6]);
      const mine = tf.variableGrads(
        () => tf.sum(tf.mul(block.spatialMix(x), dy)) as tf.Scalar,
        [block.spatialWeight],
      );
      const gx = tf.grad((xx: tf.Tensor) => tf.sum(tf.mul(block.spatialMix(xx as tf.Tensor4D), dy)))(x);
      // Reference gradients, from the brute force: d/dW[h*N+i, j] sum(dy * mix) = sum over pixels with window
      // position i of dy * v_j; computed by finite differences of the exactly linear map in float64.
      const N = 4;
      const wData = block.spatialWeight.dataSync();
      const bData = block.spatialBias.dataSync();
      const xd = x.dataSync();
      const dyd = dy.dataSync();
      const f = (w: ArrayLike<number>, xv: ArrayLike<number>) => {
        const o = bruteForceSpatialMix(xv, 1, 4, 5, 6, 2, 1, 3, w, bData);
        let s = 0;
        for (let i = 0; i < o.length; i++) s += o[i] * dyd[i];
        return s;
      };
      const base = f(wData, xd);
      const gw = mine.grads[block.spatialWeight.name].dataSync();
      const w2 = Float64Array.from(wData);
      for (let k = 0; k < 3 * N * N; k++) {
        w2[k] += 1;
        const fd = f(w2, xd) - base; // exact: linear in w
        w2[k] -= 1;
        expect(Math.abs(gw[k] - fd), `dW[${k}]`).toBeLessThan(1e-4);
      }
      const gxd = gx.dataSync();
      const x2 = Float64Array.from(xd);
      for (let k = 0; k < x2.length; k += 7) {
        x2[k] += 1;
        const fd = f(wData, x2) - base;
        x2[k] -= 1;
        expect(Math.abs(gxd[k] - fd), `dX[${k}]`).toBeLessThan(1e-4);
      }
      tf.dispose([x, dy, gx, mine.value, ...Object.values(mine.grads)]);
    } finally {
      block.dispose();
    }
  });

  it('finite differences agree with the gradient of the whole block (tiny block)', () => {
    const block = new SwinMLPBlock({ dim: 4, numHeads: 2, windowSize: 2, shiftSize: 1, mlpRatio: 2 });
    try {
      randomize(block, 21, 0.5);
      const xd = randomArray(1 * 3 * 3 * 4, 77);
      const x = tf.tensor4d(xd, [1, 3, 3, 4]);
      const loss = () => tf.sum(tf.sin(block.forward(x))) as tf.Scalar;
      const { value, grads } = tf.variableGrads(loss, block.trainableVariables());
      const h = backend === 'cpu' ? 1e-2 : 2e-2;
      for (const [key, v] of block.namedParameters()) {
        const g = grads[v.name].dataSync();
        const orig = v.dataSync().slice();
        for (const k of [0, Math.floor(v.size / 2), v.size - 1]) {
          const set = (delta: number) => {
            const d = orig.slice();
            d[k] += delta;
            tf.tidy(() => v.assign(tf.tensor(d, v.shape)));
          };
          set(h);
          const fp = tf.tidy(() => loss().dataSync()[0]);
          set(-h);
          const fm = tf.tidy(() => loss().dataSync()[0]);
          set(0);
          const fd = (fp - fm) / (2 * h);
          expect(Math.abs(fd - g[k]), `${key}[${k}] fd=${fd} grad=${g[k]}`).toBeLessThan(
            2e-3 + 2e-2 * Math.abs(fd),
          );
        }
      }
      tf.dispose([x, value, ...Object.values(grads)]);
    } finally {
      block.dispose();
    }
  });

  it('a few Adam steps lower the loss on a tiny regression task', () => {
    const block = new SwinMLPBlock({ dim: 8, numHeads: 2, windowSize: 4, shiftSize: 2 });
    const x = tf.randomNormal([2, 8, 8, 8], 0, 1, 'float32', 1) as tf.Tensor4D;
    // Target: a fixed spatial shuffle + channel mix the block has to learn.
    const target = tf.tidy(() => tf.tanh(tf.reverse(x, 1)));
    const opt = tf.train.adam(1e-2);
    const lossFn = () => tf.mean(tf.square(tf.sub(block.forward(x), target))) as tf.Scalar;
    try {
      const first = tf.tidy(() => lossFn().dataSync()[0]);
      for (let i = 0; i < 15; i++) {
        const l = opt.minimize(lossFn, true, block.trainableVariables());
        l?.dispose();
      }
      const last = tf.tidy(() => lossFn().dataSync()[0]);
      expect(last).toBeLessThan(first * 0.8);
    } finally {
      opt.dispose();
      tf.dispose([x, target]);
      block.dispose();
    }
  });

  it('rejects bad inputs with descriptive errors', () => {
    const block = new SwinMLPBlock({ dim: 8, numHeads: 2, windowSize: 4 });
    try {
      const x3 = tf.zeros([1, 16, 8]);
      expect(() => block.forward(x3 as unknown as tf.Tensor4D)).toThrow(
        /SwinMLPBlock\.forward: .*4-D.*\[1,16,8\]/,
      );
      const x5 = tf.zeros([1, 4, 4, 5]);
      expect(() => block.forward(x5 as tf.Tensor4D)).toThrow(/5 channels .*expected 8/);
      const xi = tf.zeros([1, 4, 4, 8], 'int32');
      expect(() => block.forward(xi as tf.Tensor4D)).toThrow(/dtype int32/);
      const xd = tf.zeros([1, 4, 4, 8]);
      xd.dispose();
      expect(() => block.forward(xd as tf.Tensor4D)).toThrow(/disposed/);
      expect(() => block.forward(null as unknown as tf.Tensor4D)).toThrow(/must be a tf.Tensor.*got null/);
      tf.dispose([x3, x5, xi]);
    } finally {
      block.dispose();
    }
    expect(() => new SwinMLPBlock({ dim: 10, numHeads: 3 })).toThrow(/dim=10 is not divisible by numHeads=3/);
    expect(() => new SwinMLPBlock({ dim: 8, numHeads: 2, windowSize: 4, shiftSize: 4 })).toThrow(
      /shiftSize=4 must be in \[0, windowSize=4\)/,
    );
    expect(() => new SwinMLPBlock({ dim: 8, numHeads: 2, windowSize: 0 })).toThrow(/windowSize must be/);
    expect(() => new SwinMLPBlock({ dim: 8, numHeads: 2, shiftSize: -1 })).toThrow(/shiftSize must be/);
  });
});

describe('swinMlpBlockMacs', () => {
  it('equals the official SwinMLPBlock.flops() formula', () => {
    // Official: dim*H*W*2 (norms) + nW*dim*N*N + 2*H*W*dim*dim*mlp_ratio, nW = (H/ws+1)(W/ws+1) if shifted.
    expect(swinMlpBlockMacs(96, 8, 0, 4, 64, 64)).toBe(
      96 * 64 * 64 * 2 + 64 * 96 * 64 * 64 + 2 * 64 * 64 * 96 * 96 * 4,
    );
    expect(swinMlpBlockMacs(96, 8, 4, 4, 64, 64)).toBe(
      96 * 64 * 64 * 2 + 81 * 96 * 64 * 64 + 2 * 64 * 64 * 96 * 96 * 4,
    );
    const b = new SwinMLPBlock({
      dim: 32,
      numHeads: 2,
      windowSize: 4,
      shiftSize: 2,
      inputResolution: [8, 8],
    });
    expect(b.macs(8, 8)).toBe(32 * 64 * 2 + 9 * 32 * 256 + 2 * 64 * 32 * 32 * 4);
    b.dispose();
  });
});
