import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { resizePIL } from './resize.js';
import { differingBytes, fromBase64, GOLDEN } from './test-utils/golden.js';
import { PreprocessError, RESAMPLE_FILTERS, type RGBImage } from './types.js';

const { width, height } = GOLDEN.resize_sources;
const SOURCES: Record<string, RGBImage> = {
  noise: { data: fromBase64(GOLDEN.resize_sources.noise), width, height },
  edges: { data: fromBase64(GOLDEN.resize_sources.edges), width, height },
};

describe('resizePIL is byte-identical to Pillow 9.4 Image.resize', () => {
  const cases = GOLDEN.resize.map((c) => ({
    ...c,
    label: `${c.src} ${width}x${height} -> ${c.size.join('x')} ${c.filter}${c.box ? ` box [${c.box.join(', ')}]` : ''}`,
  }));
  it('covers every filter', () => {
    expect(new Set(cases.map((c) => c.filter))).toEqual(new Set(RESAMPLE_FILTERS));
  });
  it.each(cases)('$label', (c) => {
    const box = c.box as [number, number, number, number] | undefined;
    const out = resizePIL(SOURCES[c.src], c.size[0], c.size[1], c.filter, box);
    expect([out.width, out.height]).toEqual(c.size);
    expect(differingBytes(out.data, fromBase64(c.out))).toBe(0);
  });
});

describe('resizePIL by hand and by property', () => {
  it('bilinear 4 -> 2 of one row, computed by hand from the algorithm', () => {
    // scale 2: support 2, centre of output 0 at 1.0, taps x = 0, 1, 2 with weights 0.75, 0.75, 0.25 (/1.75)
    const row = [0, 255, 0, 255];
    const img: RGBImage = { data: Uint8Array.from(row.flatMap((v) => [v, v, v])), width: 4, height: 1 };
    const out = resizePIL(img, 2, 1, 'bilinear');
    const v0 = Math.floor((255 * 0.75) / 1.75 + 0.5); // 109
    // output 1: centre 3.0, taps x = 2, 3 (xmax clipped at 4): weights 0.25 at x=1 is out: x = 1, 2, 3 -> 0.25, 0.75, 0.75
    const v1 = Math.floor((255 * (0.25 + 0.75)) / 1.75 + 0.5); // 146
    expect(Array.from(out.data)).toEqual([v0, v0, v0, v1, v1, v1]);
  });

  it('same size is a copy, not the same buffer', () => {
    const img = SOURCES.noise;
    for (const f of RESAMPLE_FILTERS) {
      const out = resizePIL(img, width, height, f);
      expect(out.data).not.toBe(img.data);
      expect(differingBytes(out.data, img.data)).toBe(0);
    }
  });

  it('a constant image stays constant for every filter and size', () => {
    fc.assert(
      fc.property(
        fc.integer({ min: 0, max: 255 }),
        fc.integer({ min: 1, max: 40 }),
        fc.integer({ min: 1, max: 40 }),
        fc.integer({ min: 1, max: 60 }),
        fc.integer({ min: 1, max: 60 }),
        fc.constantFrom(...RESAMPLE_FILTERS),
        (v, w, h, ow, oh, f) => {
          const img: RGBImage = { data: new Uint8Array(w * h * 3).fill(v), width: w, height: h };
          const out = resizePIL(img, ow, oh, f);
          return out.data.length === ow * oh * 3 && out.data.every((x) => x === v);
        },
      ),
      { numRuns: 200 },
    );
  });

  it('nearest with integer factors picks the pixel under each output centre', () => {
    const img = SOURCES.noise;
    const out = resizePIL(img, width * 2, height * 3, 'nearest');
    for (let y = 0; y < height * 3; y++) {
      for (let x = 0; x < width * 2; x++) {
        const s = (Math.floor(y / 3) * width + Math.floor(x / 2)) * 3;
        const o = (y * width * 2 + x) * 3;
        expect([out.data[o], out.data[o + 1], out.data[o + 2]]).toEqual([
          img.data[s],
          img.data[s + 1],
          img.data[s + 2],
        ]);
      }
    }
  });

  it('rejects bad arguments with a PreprocessError naming resizePIL', () => {
    const img = SOURCES.noise;
    const bad: [string, () => unknown][] = [
      ['zero width', () => resizePIL(img, 0, 5, 'bicubic')],
      ['fractional', () => resizePIL(img, 2.5, 5, 'bicubic')],
      ['filter', () => resizePIL(img, 5, 5, 'cubic' as never)],
      ['box outside', () => resizePIL(img, 5, 5, 'bicubic', [0, 0, width + 1, height])],
      ['negative box', () => resizePIL(img, 5, 5, 'bicubic', [-1, 0, 3, 3])],
      ['bad image', () => resizePIL({ data: new Uint8Array(5), width: 2, height: 2 }, 5, 5, 'bicubic')],
    ];
    for (const [what, f] of bad) {
      expect(f, what).toThrow(PreprocessError);
      expect(f, what).toThrow(/^resizePIL: /);
    }
  });
});
