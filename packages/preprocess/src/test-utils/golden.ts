// test helper (not exported by the package): the Pillow 9.4 reference outputs of scripts/make-pil-golden.py
import { readFileSync } from 'node:fs';
import type { ResampleFilter } from '../types.js';

export interface Golden {
  generator: string;
  resize_sources: { noise: string; edges: string; width: number; height: number };
  resize: {
    src: 'noise' | 'edges';
    filter: ResampleFilter;
    size: [number, number];
    box?: number[];
    out: string;
  }[];
  png: { name: string; png: string; rgb: string }[];
  jpeg: { name: string; jpeg: string; rgb: string }[];
}

export const GOLDEN: Golden = JSON.parse(
  readFileSync(new URL('../testdata/pil-golden.json', import.meta.url), 'utf8'),
);

export function fromBase64(s: string): Uint8Array {
  return new Uint8Array(Buffer.from(s, 'base64'));
}

/** Number of positions where `a` and `b` differ (plus the length difference). */
export function differingBytes(a: Uint8Array, b: Uint8Array): number {
  let n = Math.abs(a.length - b.length);
  for (let i = 0; i < Math.min(a.length, b.length); i++) if (a[i] !== b[i]) n++;
  return n;
}
