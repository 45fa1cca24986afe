import { encode as encodePng } from 'fast-png';
import jpeg from 'jpeg-js';
import { describe, expect, it } from 'vitest';
import { decodeImage, MAX_IMAGE_PIXELS, probeImage } from './decode.js';
import { differingBytes, fromBase64, GOLDEN } from './test-utils/golden.js';
import { PreprocessError } from './types.js';

/** A CRC-correct PNG chunk. */
function chunk(type: string, data: Uint8Array): Uint8Array {
  const out = new Uint8Array(12 + data.length);
  const dv = new DataView(out.buffer);
  dv.setUint32(0, data.length);
  for (let i = 0; i < 4; i++) out[4 + i] = type.charCodeAt(i);
  out.set(data, 8);
  let c = 0xffffffff;
  for (const b of out.subarray(4, 8 + data.length)) {
    c ^= b;
    for (let k = 0; k < 8; k++) c = c & 1 ? (c >>> 1) ^ 0xedb88320 : c >>> 1;
  }
  dv.setUint32(8 + data.length, (c ^ 0xffffffff) >>> 0);
  return out;
}

function concat(...parts: Uint8Array[]): Uint8Array {
  const out = new Uint8Array(parts.reduce((n, p) => n + p.length, 0));
  let o = 0;
  for (const p of parts) {
    out.set(p, o);
    o += p.length;
  }
  return out;
}

const SIGNATURE = Uint8Array.from([137, 80, 78, 71, 13, 10, 26, 10]);

function ihdr(width: number, height: number, depth = 8, colorType = 2): Uint8Array {
  const d = new Uint8Array(13);
  const dv = new DataView(d.buffer);
  dv.setUint32(0, width);
  dv.setUint32(4, height);
  d[8] = depth;
  d[9] = colorType;
  return chunk('IHDR', d);
}

function noiseImage(width: number, height: number, seed = 1): Uint8Array {
  const data = new Uint8Array(width * height * 3);
  let s = seed;
  for (let i = 0; i < data.length; i++) {
    s = (s * 1103515245 + 12345) >>> 0;
    data[i] = s >>> 24;
  }
  return data;
}

/** A smooth test picture (JPEG's home ground), RGBA. */
function smoothRGBA(width: number, height: number): Uint8Array {
  const data = new Uint8Array(width * height * 4);
  for (let y = 0; y < height; y++) {
    for (let x = 0; x < width; x++) {
      const o = (y * width + x) * 4;
      data[o] = Math.round(127.5 + 127.5 * Math.sin(x / 9));
      data[o + 1] = Math.round((255 * y) / (height - 1));
      data[o + 2] = Math.round(127.5 + 127.5 * Math.cos((x + y) / 13));
      data[o + 3] = 255;
    }
  }
  return data;
}

function expectError(f: () => unknown, re: RegExp): void {
  let err: unknown;
  try {
    f();
  } catch (e) {
    err = e;
  }
  expect(err).toBeInstanceOf(PreprocessError);
  const msg = (err as Error).message;
  expect(msg).toMatch(/^decodeImage: /);
  expect(msg).toMatch(re);
  expect(msg).not.toContain('\n');
}

describe('PNG: identical to Pillow 9.4 Image.open(f).convert("RGB")', () => {
  it.each(GOLDEN.png)('$name', ({ png, rgb }) => {
    const img = decodeImage(fromBase64(png));
    expect([img.width, img.height]).toEqual([7, 5]);
    expect(differingBytes(img.data, fromBase64(rgb))).toBe(0);
  });

  it('an RGBA PNG keeps the colour of transparent pixels (no compositing)', () => {
    const rgba = Uint8Array.from([10, 20, 30, 0, 200, 100, 50, 128]);
    const img = decodeImage(encodePng({ width: 2, height: 1, data: rgba, channels: 4, depth: 8 }));
    expect(Array.from(img.data)).toEqual([10, 20, 30, 200, 100, 50]);
  });

  it('accepts an ArrayBuffer and a DataView', () => {
    const data = noiseImage(9, 4);
    const png = encodePng({ width: 9, height: 4, data, channels: 3, depth: 8 });
    const copy = png.slice().buffer;
    expect(differingBytes(decodeImage(copy).data, data)).toBe(0);
    expect(differingBytes(decodeImage(new DataView(copy)).data, data)).toBe(0);
    expect(probeImage(png)).toEqual({ format: 'png', width: 9, height: 4 });
  });
});

/** Mean and max absolute difference of two equally long byte arrays. */
function diffStats(a: Uint8Array, b: Uint8Array): { mean: number; max: number } {
  let sum = 0;
  let max = 0;
  for (let i = 0; i < a.length; i++) {
    const d = Math.abs(a[i] - b[i]);
    sum += d;
    max = Math.max(max, d);
  }
  return { mean: sum / a.length, max };
}

describe('JPEG (jpeg-js)', () => {
  // libjpeg's chroma upsampling and colour conversion are reproduced (jpeg-color.ts); what remains is jpeg-js's
  // IDCT rounding: measured 0.06-0.20 levels on average, at most 3 (the fixtures README allows 1.5 on average).
  it.each(GOLDEN.jpeg)(
    '$name JPEG written by PIL: within 0.25 levels (mean) of PIL/libjpeg decoding',
    (c) => {
      const file = fromBase64(c.jpeg);
      const img = decodeImage(file);
      const { width, height } = probeImage(file);
      expect([img.width, img.height]).toEqual([width, height]);
      const ref = fromBase64(c.rgb);
      expect(ref.length).toBe(width * height * 3);
      const { mean, max } = diffStats(img.data, ref);
      expect(mean).toBeLessThanOrEqual(0.25);
      expect(max).toBeLessThanOrEqual(4);
    },
  );

  it('refuses 12-bit and arithmetic-coded JPEGs by name', () => {
    const file = fromBase64(GOLDEN.jpeg[0].jpeg);
    const sof = file.findIndex((v, i) => v === 0xff && file[i + 1] === 0xc0);
    const arith = file.slice();
    arith[sof + 1] = 0xc9;
    expectError(() => decodeImage(arith), /unsupported JPEG: arithmetic-coded/);
    const twelve = file.slice();
    twelve[sof + 4] = 12;
    expectError(() => decodeImage(twelve), /unsupported JPEG: 12-bit samples/);
  });

  it('decodes an RGB JPEG close to the original (mean abs difference < 1.5 levels)', () => {
    const width = 96;
    const height = 64;
    const rgba = smoothRGBA(width, height);
    const file = new Uint8Array(jpeg.encode({ data: rgba, width, height }, 95).data);
    expect(probeImage(file)).toEqual({ format: 'jpeg', width, height });
    const img = decodeImage(file);
    expect([img.width, img.height]).toEqual([width, height]);
    let sum = 0;
    for (let i = 0; i < width * height; i++) {
      for (let c = 0; c < 3; c++) sum += Math.abs(img.data[i * 3 + c] - rgba[i * 4 + c]);
    }
    const mad = sum / (width * height * 3);
    expect(mad).toBeLessThan(1.5);
    expect(mad).toBeGreaterThan(0); // lossy: proves the pixels came from the JPEG, not a copy
  });

  it('refuses a truncated JPEG with one line', () => {
    const file = new Uint8Array(jpeg.encode({ data: smoothRGBA(64, 64), width: 64, height: 64 }, 90).data);
    for (const n of [100, Math.floor(file.length / 2), file.length - 3]) {
      expectError(() => decodeImage(file.subarray(0, n)), /JPEG/);
    }
  });
});

describe('bad input gives one clear line', () => {
  const good = encodePng({ width: 16, height: 8, data: noiseImage(16, 8), channels: 3, depth: 8 });

  it('not an image', () => {
    expectError(
      () => decodeImage(new TextEncoder().encode('<!DOCTYPE html><html>')),
      /not a PNG or JPEG image/,
    );
    expectError(() => decodeImage(new Uint8Array(0)), /empty input/);
    expectError(() => decodeImage(new TextEncoder().encode('GIF89a....')), /GIF images are not supported/);
    expectError(() => decodeImage('cat.png' as never), /expected bytes/);
  });

  it('truncated PNG, at every length', () => {
    for (let n = 8; n < good.length; n += 7) expectError(() => decodeImage(good.subarray(0, n)), /PNG/);
    expectError(() => decodeImage(good.subarray(0, good.length - 12)), /truncated PNG: no IEND/);
  });

  it('corrupt PNG data (bit flip inside IDAT: CRC mismatch)', () => {
    const bad = good.slice();
    bad[45] ^= 0x10;
    expectError(() => decodeImage(bad), /corrupt PNG/);
  });

  it('zero size', () => {
    const png = concat(
      SIGNATURE,
      ihdr(0, 10),
      chunk('IDAT', Uint8Array.from([120, 156, 3, 0, 0, 0, 0, 1])),
      chunk('IEND', new Uint8Array(0)),
    );
    expectError(() => decodeImage(png), /zero size \(0x10\)/);
  });

  it('a huge declared size is refused before decoding (and before allocating)', () => {
    const idat = chunk('IDAT', new Uint8Array(64));
    const png = concat(SIGNATURE, ihdr(50_000, 50_000), idat, chunk('IEND', new Uint8Array(0)));
    expectError(
      () => decodeImage(png),
      /declares 50000x50000 = 2500000000 pixels, over the budget of 89478485/,
    );
    expect(MAX_IMAGE_PIXELS).toBe(89_478_485);
    // under the budget, but far more pixels than 64 compressed bytes can expand to
    const liar = concat(SIGNATURE, ihdr(4000, 4000), idat, chunk('IEND', new Uint8Array(0)));
    expectError(() => decodeImage(liar), /needs 48004000 bytes of pixel data but 64 compressed bytes/);
    // a configurable budget
    expectError(() => decodeImage(good, { maxPixels: 100 }), /16x8 = 128 pixels, over the budget of 100/);
    // JPEG: the frame header's size is checked before jpeg-js runs
    const jpg = new Uint8Array(jpeg.encode({ data: smoothRGBA(32, 32), width: 32, height: 32 }, 90).data);
    expectError(() => decodeImage(jpg, { maxPixels: 1000 }), /JPEG declares 32x32 = 1024 pixels/);
  });
});
