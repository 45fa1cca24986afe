import { existsSync, readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';
import { DEFAULT_FASHION_MNIST_DIR, loadFashionMnist } from './fashion-mnist.js';
import { parseIdxSplit } from './web.js';

const pub = fileURLToPath(new URL('../../../docs/public/ablation/', import.meta.url));

function idx(magic: number, dims: number[], body: number[]): Uint8Array {
  const b = new Uint8Array(4 + 4 * dims.length + body.length);
  const v = new DataView(b.buffer);
  v.setUint32(0, magic);
  dims.forEach((d, i) => {
    v.setUint32(4 + 4 * i, d);
  });
  b.set(body, 4 + 4 * dims.length);
  return b;
}

describe('browser IDX parsing', () => {
  it('parses a split and rejects wrong magic numbers, sizes and counts', () => {
    const images = idx(0x803, [2, 2, 2], [1, 2, 3, 4, 5, 6, 7, 8]);
    const labels = idx(0x801, [2], [3, 9]);
    const s = parseIdxSplit(images, labels);
    expect([s.count, s.rows, s.cols, Array.from(s.labels), s.images[7]]).toEqual([2, 2, 2, [3, 9], 8]);
    expect(() => parseIdxSplit(labels, labels)).toThrow(/not an IDX3/);
    expect(() => parseIdxSplit(images, images)).toThrow(/not an IDX1/);
    expect(() => parseIdxSplit(images.subarray(0, 20), labels)).toThrow(/pixel bytes/);
    expect(() => parseIdxSplit(images, idx(0x801, [3], [1, 2, 3]))).toThrow(/3 labels for 2 images/);
  });

  it.runIf(existsSync(`${DEFAULT_FASHION_MNIST_DIR}/t10k-images-idx3-ubyte.gz`))(
    'the docs subset is the first images of Fashion-MNIST',
    () => {
      for (const [name, n] of [
        ['train', 3000],
        ['t10k', 1000],
      ] as const) {
        const sub = parseIdxSplit(
          readFileSync(`${pub}${name}-images-idx3-ubyte`),
          readFileSync(`${pub}${name}-labels-idx1-ubyte`),
        );
        const full = loadFashionMnist(name);
        expect(sub.count).toBe(n);
        expect(Buffer.from(sub.images).equals(Buffer.from(full.images.subarray(0, n * 784)))).toBe(true);
        expect(Buffer.from(sub.labels).equals(Buffer.from(full.labels.subarray(0, n)))).toBe(true);
      }
    },
  );
});
