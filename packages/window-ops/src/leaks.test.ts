import { expectNoLeak, NODE_BACKENDS, tf, useBackend } from '@swin/testing';
import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import {
  clearWindowOpsCache,
  cropTo,
  cyclicShift,
  DEFAULT_WINDOW_OPS_CACHE_CAPACITY,
  padToWindow,
  setWindowOpsCacheCapacity,
  shiftedWindowPartition,
  shiftedWindowReverse,
  windowOpsCacheSize,
  windowPartition,
  windowReverse,
} from './index.js';

// The default method is 'auto' (roll on wasm); these tests exercise the cached gather explicitly.
const GATHER = { method: 'gather' } as const;

describe.each(NODE_BACKENDS)('no leaks on %s', (backend) => {
  let x: tf.Tensor4D;
  let xi: tf.Tensor4D;
  let w: tf.Tensor4D;
  beforeAll(async () => {
    await useBackend(backend);
    x = tf.randomNormal([2, 8, 12, 3]) as tf.Tensor4D;
    xi = tf.cast(tf.mul(x, 10), 'int32') as tf.Tensor4D;
    w = tf.randomNormal([2 * 6, 4, 4, 3]) as tf.Tensor4D;
  });
  afterAll(() => {
    tf.dispose([x, xi, w]);
    clearWindowOpsCache();
  });
  beforeEach(() => {
    setWindowOpsCacheCapacity(DEFAULT_WINDOW_OPS_CACHE_CAPACITY);
  });

  const cases: Array<[string, () => unknown]> = [
    ['windowPartition', () => windowPartition(x, 4)],
    ['windowPartition rectangular', () => windowPartition(x, [2, 3])],
    ['windowReverse', () => windowReverse(w, 4, 8, 12)],
    ['cyclicShift', () => cyclicShift(x, [-3, 5])],
    ['cyclicShift by zero', () => cyclicShift(x, [0, 12])],
    ['padToWindow', () => padToWindow(x, 5)],
    ['padToWindow without padding', () => padToWindow(x, 4)],
    ['cropTo', () => cropTo(x, 5, 7)],
    ['cropTo full size', () => cropTo(x, 8, 12)],
    ['shiftedWindowPartition gather', () => shiftedWindowPartition(x, 4, 2, GATHER)],
    ['shiftedWindowPartition roll', () => shiftedWindowPartition(x, 4, 2, { method: 'roll' })],
    ['shiftedWindowPartition auto', () => shiftedWindowPartition(x, 4, 2, { method: 'auto' })],
    ['shiftedWindowPartition zero shift', () => shiftedWindowPartition(x, 4, 0, GATHER)],
    ['shiftedWindowPartition int32', () => shiftedWindowPartition(xi, [4, 3], [1, -1], GATHER)],
    ['shiftedWindowReverse gather', () => shiftedWindowReverse(w, 4, 2, 8, 12, GATHER)],
    ['shiftedWindowReverse roll', () => shiftedWindowReverse(w, 4, 2, 8, 12, { method: 'roll' })],
    ['shiftedWindowReverse auto', () => shiftedWindowReverse(w, 4, 2, 8, 12, { method: 'auto' })],
    [
      'grad of shiftedWindowPartition',
      () =>
        tf.grad((t: tf.Tensor) => tf.sum(tf.square(shiftedWindowPartition(t as tf.Tensor4D, 4, 2, GATHER))))(
          x,
        ),
    ],
    [
      'grad of shiftedWindowReverse',
      () =>
        tf.grad((t: tf.Tensor) =>
          tf.sum(tf.square(shiftedWindowReverse(t as tf.Tensor4D, 4, 2, 8, 12, GATHER))),
        )(w),
    ],
    [
      'grad of cyclicShift + windowPartition',
      () => tf.grad((t: tf.Tensor) => tf.sum(windowPartition(cyclicShift(t as tf.Tensor4D, [1, 2]), 4)))(x),
    ],
  ];

  it.each(cases)('%s leaks no tensor (cached permutations counted once)', async (label, fn) => {
    await expectNoLeak(fn, label);
  });

  it('the fused ops cache exactly two int32 tensors per geometry, shared by partition and reverse', () => {
    clearWindowOpsCache();
    const base = tf.memory().numTensors;
    shiftedWindowPartition(x, 4, 2, GATHER).dispose();
    expect(windowOpsCacheSize()).toBe(1);
    expect(tf.memory().numTensors - base).toBe(2); // permutation + inverse
    shiftedWindowReverse(w, 4, 2, 8, 12, GATHER).dispose();
    shiftedWindowPartition(x, 4, [2 + 8, 2 - 12], GATHER).dispose(); // same shift modulo the map size
    expect(windowOpsCacheSize()).toBe(1);
    expect(tf.memory().numTensors - base).toBe(2);
    shiftedWindowPartition(x, 4, 0, GATHER).dispose(); // zero shift: plain partition, nothing cached
    shiftedWindowPartition(x, 4, 2, { method: 'roll' }).dispose();
    expect(windowOpsCacheSize()).toBe(1);
    clearWindowOpsCache();
    expect(windowOpsCacheSize()).toBe(0);
    expect(tf.memory().numTensors).toBe(base);
  });

  it("method 'auto' uses the permutation cache except on wasm", () => {
    clearWindowOpsCache();
    shiftedWindowPartition(x, 4, 2, { method: 'auto' }).dispose();
    shiftedWindowReverse(w, 4, 2, 8, 12, { method: 'auto' }).dispose();
    expect(windowOpsCacheSize()).toBe(backend === 'wasm' ? 0 : 1);
    clearWindowOpsCache();
  });

  it('the cache is a bounded LRU', () => {
    clearWindowOpsCache();
    const base = tf.memory().numTensors;
    setWindowOpsCacheCapacity(3);
    for (let s = 1; s <= 5; s++) shiftedWindowPartition(x, 4, s, GATHER).dispose();
    expect(windowOpsCacheSize()).toBe(3);
    expect(tf.memory().numTensors - base).toBe(6);
    expect(setWindowOpsCacheCapacity(1)).toBe(3); // shrinking evicts at once
    expect(windowOpsCacheSize()).toBe(1);
    expect(tf.memory().numTensors - base).toBe(2);

    // Least recently used goes first: A, B, touch A, C evicts B (a FIFO would evict A).
    clearWindowOpsCache();
    setWindowOpsCacheCapacity(2);
    const A = () => shiftedWindowPartition(x, 4, 1, GATHER).dispose();
    const B = () => shiftedWindowPartition(x, 4, 2, GATHER).dispose();
    const C = () => shiftedWindowPartition(x, 4, 3, GATHER).dispose();
    A();
    B();
    A();
    C();
    setWindowOpsCacheCapacity(3);
    let n = tf.memory().numTensors;
    A(); // still cached
    expect(tf.memory().numTensors - n).toBe(0);
    n = tf.memory().numTensors;
    B(); // was evicted: rebuilt
    expect(tf.memory().numTensors - n).toBe(2);
    clearWindowOpsCache();
    expect(tf.memory().numTensors).toBe(base);
  });

  it('invalid input throws before allocating anything', () => {
    const base = tf.memory().numTensors;
    expect(() => windowPartition(x, 5)).toThrow();
    expect(() => shiftedWindowPartition(x, 5, 1, GATHER)).toThrow();
    expect(() => shiftedWindowReverse(w, 4, 1, 12, 12, GATHER)).toThrow(/not a multiple of nW=9/);
    expect(() => cropTo(x, 9, 1)).toThrow();
    expect(tf.memory().numTensors).toBe(base);
  });
});

describe('cache keys include the backend', () => {
  it('keeps one entry per backend and clearWindowOpsCache disposes all of them', async () => {
    clearWindowOpsCache();
    await useBackend(NODE_BACKENDS[0]);
    const base = tf.memory().numTensors; // engine-wide count over all backends
    for (const b of NODE_BACKENDS) {
      await useBackend(b);
      const x = tf.zeros([1, 4, 4, 1]) as tf.Tensor4D;
      shiftedWindowPartition(x, 2, 1, GATHER).dispose();
      x.dispose();
    }
    expect(windowOpsCacheSize()).toBe(NODE_BACKENDS.length);
    expect(tf.memory().numTensors - base).toBe(2 * NODE_BACKENDS.length);
    clearWindowOpsCache();
    expect(windowOpsCacheSize()).toBe(0);
    expect(tf.memory().numTensors).toBe(base);
  });
});
