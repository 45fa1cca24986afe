import { tf, useBackend } from '@swin/testing';
import fc from 'fast-check';
import { beforeAll, describe, expect, it } from 'vitest';
import { evalTransform } from './tensor.js';
import {
  cropAndNormalize,
  type EvalTransformConfig,
  evalResize,
  evalResizeSize,
  evalTransformArray,
} from './transform.js';
import { PreprocessError, RESAMPLE_FILTERS, type RGBImage } from './types.js';

const SWIN_T: EvalTransformConfig = {
  inputSize: 224,
  cropPct: 0.9,
  interpolation: 'bicubic',
  mean: [0.485, 0.456, 0.406],
  std: [0.229, 0.224, 0.225],
};

/** An image whose red channel is the column index and green the row index (mod 256). */
function coordImage(width: number, height: number): RGBImage {
  const data = new Uint8Array(width * height * 3);
  for (let y = 0; y < height; y++) {
    for (let x = 0; x < width; x++) data.set([x & 255, y & 255, 200], (y * width + x) * 3);
  }
  return { data, width, height };
}

/** Inverts Normalize for channel c (to read back an 8-bit value). */
function level(v: number, c: number, cfg: EvalTransformConfig): number {
  return Math.round((v * cfg.std[c] + cfg.mean[c]) * 255);
}

beforeAll(async () => {
  await useBackend('cpu');
});

describe('evalResizeSize follows timm + torchvision 0.14', () => {
  it.each([
    // [w, h, cfg change, expected [w', h']]: shorter side floor(S / crop_pct), longer int(scale * long / short)
    [451, 300, {}, [372, 248]],
    [300, 451, {}, [248, 372]],
    [500, 500, {}, [248, 248]],
    [640, 480, { cropPct: 0.875 }, [341, 256]],
    [480, 640, { cropPct: 0.875 }, [256, 341]],
    [451, 300, { inputSize: 384, cropPct: 1 }, [577, 384]],
    [100, 40, {}, [620, 248]],
    // non-square crops: timm's ResizeKeepRatio (divide by min ratio, round half to even)
    [640, 480, { inputSize: [192, 256], cropPct: 1 }, [256, 192]],
    [600, 480, { inputSize: [3, 192, 256], cropPct: 1 }, [256, 205]],
  ] as const)('%ix%i %j -> %j', (w, h, change, expected) => {
    expect(evalResizeSize(w, h, { ...SWIN_T, ...change } as EvalTransformConfig)).toEqual(expected);
  });

  it('an image already at the scale size is not resampled', () => {
    const img = coordImage(400, 248);
    expect(evalResize(img, SWIN_T)).toBe(img);
  });
});

describe('center crop, scale and normalise', () => {
  it('the crop starts at int(round((w - S) / 2)) with round half to even', () => {
    const cfg = { ...SWIN_T, inputSize: 4, mean: [0, 0, 0], std: [1, 1, 1] } as EvalTransformConfig;
    // (11 - 4) / 2 = 3.5 -> 4; (13 - 4) / 2 = 4.5 -> 4 (Python rounds half to even); (9 - 4) / 2 = 2.5 -> 2
    for (const [w, left] of [
      [11, 4],
      [13, 4],
      [9, 2],
      [10, 3],
    ]) {
      const { data, shape } = cropAndNormalize(coordImage(w, 6), cfg);
      expect(shape).toEqual([1, 4, 4, 3]);
      expect(level(data[0], 0, cfg)).toBe(left);
      expect(level(data[0 + 1], 1, cfg)).toBe(1); // (6 - 4) / 2 = 1
    }
  });

  it('an image smaller than the crop is zero-padded like torchvision (left/top get the floor)', () => {
    const cfg = { ...SWIN_T, inputSize: 8, mean: [0, 0, 0], std: [1, 1, 1] } as EvalTransformConfig;
    const { data } = cropAndNormalize(coordImage(3, 5), cfg);
    // width: pad left (8 - 3) // 2 = 2, right 3; height: pad top (8 - 5) // 2 = 1, bottom 2
    const at = (x: number, y: number, c: number) => level(data[(y * 8 + x) * 3 + c], c, cfg);
    expect(at(1, 1, 2)).toBe(0);
    expect([at(2, 1, 0), at(2, 1, 1), at(2, 1, 2)]).toEqual([0, 0, 200]);
    expect([at(4, 5, 0), at(4, 5, 1), at(4, 5, 2)]).toEqual([2, 4, 200]);
    expect(at(5, 5, 2)).toBe(0);
    expect(at(4, 6, 2)).toBe(0);
  });

  it('values are (v / 255 - mean) / std in float32 steps', () => {
    const img: RGBImage = { data: Uint8Array.from([0, 128, 255]), width: 1, height: 1 };
    const cfg = { ...SWIN_T, inputSize: 1, cropPct: 1 };
    const { data } = evalTransformArray(img, cfg);
    const f = Math.fround;
    expect(data[0]).toBe(f(f(f(0 / 255) - f(0.485)) / f(0.229)));
    expect(data[1]).toBe(f(f(f(128 / 255) - f(0.456)) / f(0.224)));
    expect(data[2]).toBe(f(f(f(255 / 255) - f(0.406)) / f(0.225)));
    expect(data[2]).toBeCloseTo((1 - 0.406) / 0.225, 6);
  });

  it('inputSize may be S, [S, S] or [3, S, S]', () => {
    const img = coordImage(61, 47);
    const cfg = { ...SWIN_T, inputSize: 32 };
    const a = evalTransformArray(img, cfg).data;
    const b = evalTransformArray(img, { ...cfg, inputSize: [32, 32] }).data;
    const c = evalTransformArray(img, { ...cfg, inputSize: [3, 32, 32] }).data;
    expect(b).toEqual(a);
    expect(c).toEqual(a);
  });
});

describe('bad configs and images', () => {
  const img = coordImage(20, 20);
  it.each([
    ['cropPct 0', { cropPct: 0 }, /cropPct must be a positive number/],
    ['interpolation', { interpolation: 'cubic' }, /unknown interpolation 'cubic'/],
    ['std 0', { std: [0.2, 0, 0.2] }, /std must not contain 0/],
    ['mean length', { mean: [0.5, 0.5] }, /mean must be 3 finite numbers/],
    ['inputSize channels', { inputSize: [4, 8, 8] }, /must have 3 channels first/],
    ['inputSize fraction', { inputSize: 22.5 }, /crop size 22.5 is not a positive integer/],
  ])('%s', (_what, change, re) => {
    const before = tf.memory().numTensors;
    const cfg = { ...SWIN_T, ...change } as EvalTransformConfig;
    expect(() => evalTransform(img, cfg)).toThrow(PreprocessError);
    expect(() => evalTransform(img, cfg)).toThrow(re);
    expect(tf.memory().numTensors).toBe(before);
  });

  it('a malformed image', () => {
    const before = tf.memory().numTensors;
    expect(() => evalTransform({ data: new Uint8Array(11), width: 2, height: 2 }, SWIN_T)).toThrow(
      /^evalTransform: image data must be a Uint8Array of width\*height\*3 = 12 bytes \(got 11 bytes\)$/,
    );
    expect(() => evalTransform({ data: new Uint8Array(0), width: 0, height: 2 }, SWIN_T)).toThrow(
      /image size 0x2 is not a positive integer size/,
    );
    expect(tf.memory().numTensors).toBe(before);
  });
});

describe('only the crop is resampled, with the same bytes', () => {
  it('evalTransformArray == cropAndNormalize(evalResize) for any size, crop and filter', () => {
    fc.assert(
      fc.property(
        fc.integer({ min: 1, max: 70 }),
        fc.integer({ min: 1, max: 70 }),
        fc.integer({ min: 1, max: 40 }),
        fc.constantFrom(0.5, 0.875, 0.9, 1, 1.3),
        fc.constantFrom(...RESAMPLE_FILTERS),
        fc.integer({ min: 1, max: 1000 }),
        (w, h, s, cropPct, interpolation, seed) => {
          fc.pre(Math.floor(s / cropPct) >= 1); // else both refuse: nothing to resize to
          const img = coordImage(w, h);
          for (let i = 0; i < img.data.length; i++) img.data[i] = (img.data[i] * 31 + seed + i * 7) & 255;
          const cfg = { ...SWIN_T, inputSize: s, cropPct, interpolation };
          const direct = evalTransformArray(img, cfg);
          const viaFull = cropAndNormalize(evalResize(img, cfg), cfg);
          expect(direct.shape).toEqual(viaFull.shape);
          expect(direct.data).toEqual(viaFull.data);
        },
      ),
      { numRuns: 300 },
    );
  });

  it('an extreme aspect ratio: the full resize is refused, the transform computes only the crop', () => {
    const img = coordImage(2, 3000); // resizes to 248 x 372000
    expect(() => evalResize(img, SWIN_T)).toThrow(/resizes to 248x372000 = 92256000 pixels/);
    const { shape } = evalTransformArray(img, SWIN_T);
    expect(shape).toEqual([1, 224, 224, 3]);
  });
});
