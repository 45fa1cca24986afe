import { existsSync } from 'node:fs';
import { gzipSync } from 'node:zlib';
import * as tf from '@tensorflow/tfjs';
import { describe, expect, it } from 'vitest';
import {
  DEFAULT_FASHION_MNIST_DIR,
  loadFashionMnist,
  parseIdxImages,
  parseIdxLabels,
} from './fashion-mnist.js';
import { makeBatch, rng } from './train.js';

function idx3(count: number, rows: number, cols: number, pixel: (i: number) => number): Uint8Array {
  const b = new Uint8Array(16 + count * rows * cols);
  const v = new DataView(b.buffer);
  v.setUint32(0, 0x803);
  v.setUint32(4, count);
  v.setUint32(8, rows);
  v.setUint32(12, cols);
  for (let i = 0; i < count * rows * cols; i++) b[16 + i] = pixel(i);
  return b;
}

describe('Fashion-MNIST IDX parsing', () => {
  it('reads gzipped and raw IDX files and rejects malformed ones', () => {
    const raw = idx3(3, 2, 2, (i) => i);
    for (const buf of [raw, new Uint8Array(gzipSync(raw))]) {
      const r = parseIdxImages(buf);
      expect([r.count, r.rows, r.cols]).toEqual([3, 2, 2]);
      expect(Array.from(r.data)).toEqual(Array.from({ length: 12 }, (_, i) => i));
    }
    expect(() => parseIdxImages(raw.subarray(0, 20))).toThrow(/4 pixel bytes for 3x2x2 images/);
    expect(() => parseIdxImages(new Uint8Array(16))).toThrow(/not an IDX3 image file/);
    const labels = new Uint8Array([0, 0, 8, 1, 0, 0, 0, 2, 7, 9]);
    expect(Array.from(parseIdxLabels(labels))).toEqual([7, 9]);
    expect(() => parseIdxLabels(labels.subarray(0, 9))).toThrow(/1 label bytes for 2 labels/);
  });

  it('makes centred, normalised NHWC batches', () => {
    const split = {
      images: new Uint8Array(2 * 28 * 28).fill(255),
      labels: new Uint8Array([3, 5]),
      count: 2,
      rows: 28,
      cols: 28,
    };
    const { x, y } = makeBatch(split, [1, 0], 32);
    expect(x.shape).toEqual([2, 32, 32, 1]);
    const d = x.dataSync();
    expect(d[0]).toBeCloseTo(-0.286 / 0.353, 5); // padding = normalised zero
    expect(d[2 * 32 + 2]).toBeCloseTo((1 - 0.286) / 0.353, 5); // first image pixel
    expect(Array.from(y.dataSync())).toEqual([5, 3]);
    x.dispose();
    y.dispose();
    const small = makeBatch(split, [0], 16); // resized from the padded 32x32
    expect(small.x.shape).toEqual([1, 16, 16, 1]);
    expect(small.x.dataSync()[0]).toBeCloseTo(-0.286 / 0.353, 4);
    expect(small.x.dataSync()[8 * 16 + 8]).toBeCloseTo((1 - 0.286) / 0.353, 4);
    tf.dispose([small.x, small.y]);
    expect(() => makeBatch(split, [0], 0)).toThrow(/positive integer/);
  });

  it('shuffling is deterministic', () => {
    const a = rng(7);
    const b = rng(7);
    expect([a(), a(), a()]).toEqual([b(), b(), b()]);
  });

  it.runIf(existsSync(DEFAULT_FASHION_MNIST_DIR))('loads the real data set', () => {
    const test = loadFashionMnist('t10k');
    expect([test.count, test.rows, test.cols]).toEqual([10000, 28, 28]);
    expect(new Set(test.labels).size).toBe(10);
  });
});
