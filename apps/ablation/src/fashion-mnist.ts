import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { gunzipSync } from 'node:zlib';

/** Where Debian's `dataset-fashion-mnist` installs the IDX files. */
export const DEFAULT_FASHION_MNIST_DIR = '/usr/share/datasets/fashion-mnist';

export const FASHION_MNIST_CLASSES = [
  'T-shirt/top',
  'Trouser',
  'Pullover',
  'Dress',
  'Coat',
  'Sandal',
  'Shirt',
  'Sneaker',
  'Bag',
  'Ankle boot',
] as const;

/** A split: `images` uint8 `[count, rows, cols]` row-major, `labels` uint8 `[count]`. */
export interface IdxSplit {
  images: Uint8Array;
  labels: Uint8Array;
  count: number;
  rows: number;
  cols: number;
}

function u32(b: Uint8Array, at: number): number {
  return ((b[at] << 24) | (b[at + 1] << 16) | (b[at + 2] << 8) | b[at + 3]) >>> 0;
}

/** Parses an IDX3 image file (magic 0x00000803, big-endian counts), gzipped or not. */
export function parseIdxImages(
  raw: Uint8Array,
  what = 'images',
): { data: Uint8Array; count: number; rows: number; cols: number } {
  const b = raw[0] === 0x1f && raw[1] === 0x8b ? new Uint8Array(gunzipSync(raw)) : raw;
  if (b.length < 16 || u32(b, 0) !== 0x803) {
    throw new Error(
      `${what}: not an IDX3 image file (magic ${b.length >= 4 ? u32(b, 0).toString(16) : 'missing'}, expected 803)`,
    );
  }
  const [count, rows, cols] = [u32(b, 4), u32(b, 8), u32(b, 12)];
  if (b.length !== 16 + count * rows * cols) {
    throw new Error(`${what}: ${b.length - 16} pixel bytes for ${count}x${rows}x${cols} images`);
  }
  return { data: b.subarray(16), count, rows, cols };
}

/** Parses an IDX1 label file (magic 0x00000801), gzipped or not. */
export function parseIdxLabels(raw: Uint8Array, what = 'labels'): Uint8Array {
  const b = raw[0] === 0x1f && raw[1] === 0x8b ? new Uint8Array(gunzipSync(raw)) : raw;
  if (b.length < 8 || u32(b, 0) !== 0x801) throw new Error(`${what}: not an IDX1 label file`);
  const count = u32(b, 4);
  if (b.length !== 8 + count) throw new Error(`${what}: ${b.length - 8} label bytes for ${count} labels`);
  return b.subarray(8);
}

/** Reads the `train` or `t10k` split of Fashion-MNIST from `dir`. */
export function loadFashionMnist(split: 'train' | 't10k', dir = DEFAULT_FASHION_MNIST_DIR): IdxSplit {
  const img = join(dir, `${split}-images-idx3-ubyte.gz`);
  const lab = join(dir, `${split}-labels-idx1-ubyte.gz`);
  if (!existsSync(img) || !existsSync(lab)) {
    throw new Error(
      `Fashion-MNIST not found in ${dir} (expected ${split}-images-idx3-ubyte.gz and ${split}-labels-idx1-ubyte.gz). ` +
        `Install Debian's dataset-fashion-mnist (bash scripts/ensure-system-deps.sh fashion-mnist) or pass --data <dir>.`,
    );
  }
  const images = parseIdxImages(readFileSync(img), img);
  const labels = parseIdxLabels(readFileSync(lab), lab);
  if (labels.length !== images.count)
    throw new Error(`${split}: ${images.count} images but ${labels.length} labels`);
  return { images: images.data, labels, count: images.count, rows: images.rows, cols: images.cols };
}
