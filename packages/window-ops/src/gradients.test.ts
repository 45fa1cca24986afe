import { NODE_BACKENDS, tf, useBackend } from '@swin/testing';
import fc from 'fast-check';
import { afterEach, beforeAll, describe, expect, it } from 'vitest';
import {
  clearWindowOpsCache,
  cyclicShift,
  DEFAULT_WINDOW_OPS_CACHE_CAPACITY,
  setWindowOpsCacheCapacity,
  shiftedWindowPartition,
  shiftedWindowReverse,
  windowPartition,
  windowReverse,
} from './index.js';
import {
  distinctMap,
  expectBitEqual,
  type Map4,
  refPartition,
  refReverse,
  refRoll,
} from './test-utils/helpers.js';

// The default method is 'auto' (roll on wasm); these tests exercise the cached gather explicitly.
const GATHER = { method: 'gather' } as const;

const geometry = fc.record({
  B: fc.integer({ min: 1, max: 2 }),
  C: fc.integer({ min: 1, max: 3 }),
  wh: fc.integer({ min: 1, max: 4 }),
  ww: fc.integer({ min: 1, max: 4 }),
  gh: fc.integer({ min: 1, max: 3 }),
  gw: fc.integer({ min: 1, max: 3 }),
  sh: fc.integer({ min: -9, max: 9 }),
  sw: fc.integer({ min: -9, max: 9 }),
  seed: fc.integer({ min: 0, max: 1000 }),
});

const toTensor = (m: Map4) => tf.tensor4d(m.data, m.shape);
function read(t: tf.Tensor): Map4 {
  const out = { shape: t.shape as Map4['shape'], data: Float32Array.from(t.dataSync()) };
  t.dispose();
  return out;
}

describe.each(NODE_BACKENDS)('gradients on %s', (backend) => {
  beforeAll(async () => {
    await useBackend(backend);
  });
  afterEach(() => {
    setWindowOpsCacheCapacity(DEFAULT_WINDOW_OPS_CACHE_CAPACITY);
  });

  it.each(['gather', 'roll', 'auto'] as const)(
    'd shiftedWindowPartition (%s) == d(windowPartition o cyclicShift)',
    (method) => {
      fc.assert(
        fc.property(geometry, (g) => {
          const H = g.wh * g.gh;
          const W = g.ww * g.gw;
          const x = toTensor(distinctMap([g.B, H, W, g.C], g.seed));
          const dyRef = distinctMap([g.B * g.gh * g.gw, g.wh, g.ww, g.C], g.seed + 1);
          const dy = toTensor(dyRef);
          const fused = tf.grad((t: tf.Tensor) =>
            shiftedWindowPartition(t as tf.Tensor4D, [g.wh, g.ww], [g.sh, g.sw], { method }),
          );
          const unfused = tf.grad((t: tf.Tensor) =>
            windowPartition(cyclicShift(t as tf.Tensor4D, [-g.sh, -g.sw]), [g.wh, g.ww]),
          );
          const gf = read(fused(x, dy));
          expectBitEqual(gf, read(unfused(x, dy)), 'fused vs unfused gradient');
          // The adjoint of a permutation is its inverse: dx = roll(+s) of reverse(dy).
          expectBitEqual(gf, refRoll(refReverse(dyRef, g.wh, g.ww, H, W), g.sh, g.sw), 'gradient vs loops');
          tf.dispose([x, dy]);
        }),
        { numRuns: 30 },
      );
    },
  );

  it.each(['gather', 'roll', 'auto'] as const)(
    'd shiftedWindowReverse (%s) == d(cyclicShift o windowReverse)',
    (method) => {
      fc.assert(
        fc.property(geometry, (g) => {
          const H = g.wh * g.gh;
          const W = g.ww * g.gw;
          const w = toTensor(distinctMap([g.B * g.gh * g.gw, g.wh, g.ww, g.C], g.seed));
          const dyRef = distinctMap([g.B, H, W, g.C], g.seed + 1);
          const dy = toTensor(dyRef);
          const fused = tf.grad((t: tf.Tensor) =>
            shiftedWindowReverse(t as tf.Tensor4D, [g.wh, g.ww], [g.sh, g.sw], H, W, { method }),
          );
          const unfused = tf.grad((t: tf.Tensor) =>
            cyclicShift(windowReverse(t as tf.Tensor4D, [g.wh, g.ww], H, W), [g.sh, g.sw]),
          );
          const gf = read(fused(w, dy));
          expectBitEqual(gf, read(unfused(w, dy)), 'fused vs unfused gradient');
          expectBitEqual(gf, refPartition(refRoll(dyRef, -g.sh, -g.sw), g.wh, g.ww), 'gradient vs loops');
          tf.dispose([w, dy]);
        }),
        { numRuns: 30 },
      );
    },
  );

  it('the fused backward pass is a gather, not UnsortedSegmentSum (the gather gradient wasm lacks)', async () => {
    const x = tf.randomNormal([2, 8, 8, 3]) as tf.Tensor4D;
    const loss = (t: tf.Tensor) =>
      tf.sum(
        tf.square(
          shiftedWindowReverse(shiftedWindowPartition(t as tf.Tensor4D, 4, 2, GATHER), 4, 2, 8, 8, GATHER),
        ),
      );
    const info = await tf.profile(() => tf.grad(loss)(x));
    expect(info.kernelNames).toContain('GatherV2');
    expect(info.kernelNames).not.toContain('UnsortedSegmentSum');
    expect(info.kernelNames).not.toContain('ScatterNd');
    // d/dx sum((P^-1 P x)^2) = 2x
    const g = tf.grad(loss)(x);
    expectBitEqual(read(g), read(tf.mul(x, 2)), 'gradient of the round trip');
    x.dispose();
  });

  it('gradients stay correct when the permutation is evicted between forward and backward', () => {
    clearWindowOpsCache();
    setWindowOpsCacheCapacity(1);
    const x = toTensor(distinctMap([1, 4, 6, 2], 3));
    const k1 = toTensor(distinctMap([6, 2, 2, 2], 4));
    const k2 = toTensor(distinctMap([4, 2, 3, 2], 5));
    // The forward pass of the second term evicts the first term's permutation before either backward runs.
    const fused = (t: tf.Tensor) =>
      tf.add(
        tf.sum(tf.mul(shiftedWindowPartition(t as tf.Tensor4D, 2, 1), k1)),
        tf.sum(tf.mul(shiftedWindowPartition(t as tf.Tensor4D, [2, 3], [1, -2]), k2)),
      );
    const unfused = (t: tf.Tensor) =>
      tf.add(
        tf.sum(tf.mul(windowPartition(cyclicShift(t as tf.Tensor4D, [-1, -1]), 2), k1)),
        tf.sum(tf.mul(windowPartition(cyclicShift(t as tf.Tensor4D, [-1, 2]), [2, 3]), k2)),
      );
    expectBitEqual(read(tf.grad(fused)(x)), read(tf.grad(unfused)(x)), 'gradient after eviction');
    tf.dispose([x, k1, k2]);
  });
});
