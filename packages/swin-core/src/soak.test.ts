import { NODE_BACKENDS, tf, useBackend } from '@swin/testing';
import { setWindowOpsCacheCapacity, windowOpsCacheSize } from '@swin/window-ops';
import { describe, expect, it } from 'vitest';
import { SwinTransformer } from './model.js';

// 200 forwards at alternating input sizes: no tensor may leak, and the per-shape caches (permutations,
// masks, relative indices) must stay bounded however many distinct sizes pass through.
describe.each(NODE_BACKENDS)('200 forwards at alternating sizes on %s', (backend) => {
  it('leaks nothing and keeps the caches bounded', async () => {
    await useBackend(backend);
    // A small permutation cache, so that it fills within the run (the default holds 64 geometries).
    const previousCapacity = setWindowOpsCacheCapacity(8);
    const model = new SwinTransformer({
      imgSize: 32,
      patchSize: 2,
      inChans: 3,
      numClasses: 5,
      embedDim: 8,
      depths: [2, 2],
      numHeads: [1, 2],
      windowSize: 4,
    });
    // Even forwards use 32x32, odd ones a new size each time (100 distinct sizes, more than any cache
    // holds): an unbounded per-shape cache would grow with every new size.
    const sizeAt = (k: number): [number, number] =>
      k % 2 === 0 ? [32, 32] : [13 + ((k >> 1) % 10) * 3, 11 + Math.floor((k >> 1) / 10) * 4];
    const run = (k: number) => {
      const [H, W] = sizeAt(k);
      const x = tf.randomNormal([1, H, W, 3]) as tf.Tensor4D;
      const y = model.forward(x);
      expect(y.shape).toEqual([1, 5]);
      tf.dispose([x, y]);
    };
    const counts: number[] = [];
    for (let k = 0; k < 200; k++) {
      run(k);
      counts.push(tf.memory().numTensors);
    }
    // Once the caches are full the count is flat: the last 50 new sizes add nothing.
    const plateau = counts[99];
    expect(Math.max(...counts.slice(100))).toBeLessThanOrEqual(plateau);
    // Growth from the first forward is bounded by the caches' capacity, not by the number of sizes.
    expect(plateau - counts[0]).toBeLessThan(2 * 8 + 32 + 32);
    expect(windowOpsCacheSize()).toBeLessThanOrEqual(8);
    setWindowOpsCacheCapacity(previousCapacity);
    model.dispose();
  });
});
