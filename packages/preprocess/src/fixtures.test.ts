import { readdirSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fixturesDir, loadFixture, tf, useBackend } from '@swin/testing';
import { beforeAll, describe, expect, it } from 'vitest';
import { decodeImage } from './decode.js';
import { evalTransform } from './tensor.js';
import { type EvalTransformConfig, evalResize, evalTransformArray } from './transform.js';
import type { RGBImage } from './types.js';

/** `../shared/fixtures/preprocess`, next to the parity fixtures. */
const DIR = join(dirname(fixturesDir()), 'preprocess');
const FILES = readdirSync(DIR)
  .filter((f) => f.endsWith('.safetensors'))
  .sort();

interface PreFixture {
  file: Uint8Array;
  decoded: RGBImage;
  resized: RGBImage;
  expected: Float32Array;
  expectedShape: number[];
  cfg: EvalTransformConfig;
  format: string;
}

function load(name: string): PreFixture {
  const fx = loadFixture(join(DIR, name));
  try {
    const u8 = (k: string) => Uint8Array.from(fx.expected[k].dataSync());
    const img = (k: string): RGBImage => {
      const [height, width] = fx.expected[k].shape;
      return { data: u8(k), width, height };
    };
    const t = JSON.parse(fx.metadata.transform);
    return {
      file: u8('file'),
      decoded: img('decoded'),
      resized: img('resized'),
      expected: Float32Array.from(fx.expected.expected.dataSync()),
      expectedShape: fx.expected.expected.shape,
      cfg: {
        inputSize: t.img_size,
        cropPct: t.crop_pct,
        interpolation: t.interpolation,
        mean: t.mean,
        std: t.std,
      },
      format: fx.metadata.format,
    };
  } finally {
    fx.dispose();
  }
}

function differingBytes(a: Uint8Array, b: Uint8Array): number {
  let n = 0;
  for (let i = 0; i < a.length; i++) if (a[i] !== b[i]) n++;
  return n;
}

beforeAll(async () => {
  await useBackend('cpu');
});

it('finds the preprocess fixtures', () => {
  expect(FILES.length).toBeGreaterThanOrEqual(4);
});

describe.each(FILES)('%s', (name) => {
  let fx: PreFixture;
  beforeAll(() => {
    fx = load(name);
  });

  it('file -> decoded is exact (PNG)', () => {
    expect(fx.format).toBe('png');
    const img = decodeImage(fx.file);
    expect([img.height, img.width]).toEqual([fx.decoded.height, fx.decoded.width]);
    expect(differingBytes(img.data, fx.decoded.data)).toBe(0);
  });

  it('decoded -> resized is exact (PIL resampling)', () => {
    const r = evalResize(fx.decoded, fx.cfg);
    expect([r.height, r.width]).toEqual([fx.resized.height, fx.resized.width]);
    expect(differingBytes(r.data, fx.resized.data)).toBe(0);
  });

  it('decoded -> expected within one 8-bit level', () => {
    const { data, shape } = evalTransformArray(fx.decoded, fx.cfg);
    expect(shape).toEqual(fx.expectedShape);
    const bound = 1 / (255 * Math.min(...fx.cfg.std)) + 1e-5;
    let maxAbs = 0;
    for (let i = 0; i < data.length; i++) maxAbs = Math.max(maxAbs, Math.abs(data[i] - fx.expected[i]));
    expect(maxAbs).toBeLessThanOrEqual(bound);
    // with the exact resize and float32 steps like torch's, it is in fact exact
    expect(maxAbs).toBeLessThan(1e-6);
  });

  it('evalTransform returns the same values as a [1,S,S,3] float32 tensor and leaks nothing', () => {
    const before = tf.memory().numTensors;
    const t = evalTransform(fx.decoded, fx.cfg);
    expect(t.shape).toEqual(fx.expectedShape);
    expect(t.dtype).toBe('float32');
    const arr = evalTransformArray(fx.decoded, fx.cfg).data;
    expect(differingBytes(new Uint8Array(t.dataSync().buffer), new Uint8Array(arr.buffer))).toBe(0);
    t.dispose();
    expect(tf.memory().numTensors).toBe(before);
  });
});
