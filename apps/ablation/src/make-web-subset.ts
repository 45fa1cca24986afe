/**
 * Writes the small Fashion-MNIST subset the docs page trains on (docs/public/ablation/): the first
 * TRAIN_COUNT training and TEST_COUNT test images and labels as uncompressed IDX files (the data set's own
 * format; uncompressed so that no server adds or strips a Content-Encoding). Fashion-MNIST is MIT-licensed
 * (Zalando Research); the LICENSE note sits beside the files.
 *   tsx --conditions=@swin/source apps/ablation/src/make-web-subset.ts [--data DIR] [out-dir]
 */
import { mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { DEFAULT_FASHION_MNIST_DIR, type IdxSplit, loadFashionMnist } from './fashion-mnist.js';

export const TRAIN_COUNT = 3000;
export const TEST_COUNT = 1000;

function header(magic: number, dims: number[]): Uint8Array {
  const h = new Uint8Array(4 + 4 * dims.length);
  const v = new DataView(h.buffer);
  v.setUint32(0, magic);
  for (const [i, d] of dims.entries()) v.setUint32(4 + 4 * i, d);
  return h;
}

function write(dir: string, name: string, split: IdxSplit, n: number): void {
  const px = split.rows * split.cols;
  const img = new Uint8Array(16 + n * px);
  img.set(header(0x803, [n, split.rows, split.cols]));
  img.set(split.images.subarray(0, n * px), 16);
  const lab = new Uint8Array(8 + n);
  lab.set(header(0x801, [n]));
  lab.set(split.labels.subarray(0, n), 8);
  writeFileSync(join(dir, `${name}-images-idx3-ubyte`), img);
  writeFileSync(join(dir, `${name}-labels-idx1-ubyte`), lab);
}

const args = process.argv.slice(2);
const dataAt = args.indexOf('--data');
const data = dataAt >= 0 ? args[dataAt + 1] : DEFAULT_FASHION_MNIST_DIR;
const out = args.filter((_, i) => i !== dataAt && i !== dataAt + 1)[0] ?? 'docs/public/ablation';
mkdirSync(out, { recursive: true });
write(out, 'train', loadFashionMnist('train', data), TRAIN_COUNT);
write(out, 't10k', loadFashionMnist('t10k', data), TEST_COUNT);
process.stdout.write(`wrote ${TRAIN_COUNT} train and ${TEST_COUNT} test images to ${out}\n`);
