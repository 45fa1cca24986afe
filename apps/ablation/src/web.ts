/**
 * The browser side of the ablation (the docs site's live page runs it in a Web Worker): the same variants,
 * training loop and seeded runs as the CLI, and an IDX parser with no Node imports.
 */
export { meanStd, type RunRecord, summarise, type VariantSummary } from './report.js';
export { initBackend, type RunSpec, runOne } from './study.js';
export { FULL_VARIANTS, QUICK_VARIANTS, VARIANTS, type Variant } from './variants.js';

import type { IdxSplit } from './fashion-mnist.js';

export type { IdxSplit };

function u32(b: Uint8Array, at: number): number {
  return ((b[at] << 24) | (b[at + 1] << 16) | (b[at + 2] << 8) | b[at + 3]) >>> 0;
}

/** A split from uncompressed IDX3 image and IDX1 label bytes (checked: magic numbers, sizes, counts). */
export function parseIdxSplit(images: Uint8Array, labels: Uint8Array, what = 'Fashion-MNIST'): IdxSplit {
  if (images.length < 16 || u32(images, 0) !== 0x803) throw new Error(`${what}: images are not an IDX3 file`);
  if (labels.length < 8 || u32(labels, 0) !== 0x801) throw new Error(`${what}: labels are not an IDX1 file`);
  const [count, rows, cols] = [u32(images, 4), u32(images, 8), u32(images, 12)];
  if (images.length !== 16 + count * rows * cols)
    throw new Error(`${what}: ${images.length - 16} pixel bytes for ${count}x${rows}x${cols} images`);
  if (labels.length !== 8 + count || u32(labels, 4) !== count)
    throw new Error(`${what}: ${labels.length - 8} labels for ${count} images`);
  return { images: images.subarray(16), labels: labels.subarray(8), count, rows, cols };
}
