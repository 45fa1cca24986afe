/**
 * PIL's `Image.resize` for 8-bit images, ported from Pillow's `libImaging/Resample.c` (convolution filters) and
 * `libImaging/Geometry.c` (`ImagingScaleAffine`, the nearest-neighbour path), so that the output is
 * byte-identical to PIL's:
 *
 * - coefficients in double precision (`precompute_coeffs`): the filter support is scaled by the downscale
 *   factor (antialiasing when shrinking), each output pixel's weights are normalised to sum to 1;
 * - then converted to fixed point with `PRECISION_BITS = 32 - 8 - 2` (`normalize_coeffs_8bpc`, rounding half
 *   away from zero);
 * - a horizontal pass (only if the width or the box changes it) into an 8-bit image, then a vertical pass
 *   (only if the height or the box changes it) into an 8-bit image, each output rounded by adding half an ulp
 *   and clipped to [0, 255] (`clip8`).
 */
import {
  checkRGBImage,
  PreprocessError,
  RESAMPLE_FILTERS,
  type ResampleFilter,
  type RGBImage,
} from './types.js';

interface Filter {
  fn: (x: number) => number;
  support: number;
}

// C's float literals 0.54f and 0.46f, promoted to double in the expression
const HAMMING_A = Math.fround(0.54);
const HAMMING_B = Math.fround(0.46);

function sinc(x: number): number {
  if (x === 0) return 1;
  const px = x * Math.PI;
  return Math.sin(px) / px;
}

const FILTERS: Record<Exclude<ResampleFilter, 'nearest'>, Filter> = {
  box: { support: 0.5, fn: (x) => (x > -0.5 && x <= 0.5 ? 1 : 0) },
  bilinear: {
    support: 1,
    fn: (x) => {
      const ax = x < 0 ? -x : x;
      return ax < 1 ? 1 - ax : 0;
    },
  },
  hamming: {
    support: 1,
    fn: (x) => {
      const ax = x < 0 ? -x : x;
      if (ax === 0) return 1;
      if (ax >= 1) return 0;
      const px = ax * Math.PI;
      return (Math.sin(px) / px) * (HAMMING_A + HAMMING_B * Math.cos(px));
    },
  },
  bicubic: {
    support: 2,
    fn: (x) => {
      // a = -0.5, as in PIL (and Keys 1981)
      const a = -0.5;
      const ax = x < 0 ? -x : x;
      if (ax < 1) return ((a + 2) * ax - (a + 3)) * ax * ax + 1;
      if (ax < 2) return (((ax - 5) * ax + 8) * ax - 4) * a;
      return 0;
    },
  },
  lanczos: { support: 3, fn: (x) => (x >= -3 && x < 3 ? sinc(x) * sinc(x / 3) : 0) },
};

/** Fixed-point precision of PIL's 8-bit resampling. */
export const PRECISION_BITS = 32 - 8 - 2;

/** Per-output-pixel source window (`bounds`: first index, count) and fixed-point weights, `ksize` per pixel. */
interface Coeffs {
  ksize: number;
  bounds: Int32Array;
  kk: Int32Array;
}

/**
 * `precompute_coeffs` + `normalize_coeffs_8bpc`: weights of the output pixels `[from, to)` (of `outSize`) over the
 * source interval `[in0, in1)` of an axis of `inSize` pixels. Each pixel's weights depend on its index only.
 */
function precomputeCoeffs(
  inSize: number,
  in0: number,
  in1: number,
  outSize: number,
  filter: Filter,
  from = 0,
  to = outSize,
): Coeffs {
  // (double)(in1 - in0) with float in0/in1
  const scale = Math.fround(in1 - in0) / outSize;
  const filterscale = Math.max(scale, 1);
  const support = filter.support * filterscale;
  const ksize = Math.ceil(support) * 2 + 1;
  const bounds = new Int32Array((to - from) * 2);
  const kk = new Int32Array((to - from) * ksize);
  const w = new Float64Array(ksize);
  const ss = 1 / filterscale;
  const one = 2 ** PRECISION_BITS;
  for (let xx = from; xx < to; xx++) {
    const center = in0 + (xx + 0.5) * scale;
    const j = xx - from;
    let xmin = Math.trunc(center - support + 0.5);
    if (xmin < 0) xmin = 0;
    let xmax = Math.trunc(center + support + 0.5);
    if (xmax > inSize) xmax = inSize;
    xmax -= xmin;
    let ww = 0;
    for (let x = 0; x < xmax; x++) {
      const v = filter.fn((x + xmin - center + 0.5) * ss);
      w[x] = v;
      ww += v;
    }
    for (let x = 0; x < xmax; x++) {
      const k = ww !== 0 ? w[x] / ww : w[x];
      // (int)(±0.5 + k * (1 << PRECISION_BITS)): truncation toward zero
      kk[j * ksize + x] = Math.trunc(k < 0 ? -0.5 + k * one : 0.5 + k * one);
    }
    bounds[j * 2] = xmin;
    bounds[j * 2 + 1] = xmax;
  }
  return { ksize, bounds, kk };
}

const HALF = 1 << (PRECISION_BITS - 1);

/** `clip8`: the accumulator's integer part, clipped to [0, 255]. */
function clip8(ss: number): number {
  const v = ss >> PRECISION_BITS;
  return v < 0 ? 0 : Math.min(v, 255);
}

/** Horizontal pass over rows `[y0, y0 + rows)` of `src` (`inW` wide, `ch` channels) into `outW` columns. */
function resampleHorizontal(
  src: Uint8Array,
  inW: number,
  y0: number,
  rows: number,
  ch: number,
  outW: number,
  c: Coeffs,
): Uint8Array {
  const out = new Uint8Array(outW * rows * ch);
  const { ksize, bounds, kk } = c;
  for (let yy = 0; yy < rows; yy++) {
    const rowIn = (yy + y0) * inW * ch;
    const rowOut = yy * outW * ch;
    for (let xx = 0; xx < outW; xx++) {
      const xmin = bounds[xx * 2];
      const xmax = bounds[xx * 2 + 1];
      const k0 = xx * ksize;
      const o = rowOut + xx * ch;
      if (ch === 3) {
        // the common case, one pass over the taps for the three channels
        let s0 = HALF;
        let s1 = HALF;
        let s2 = HALF;
        let p = rowIn + xmin * 3;
        for (let x = 0; x < xmax; x++, p += 3) {
          const k = kk[k0 + x];
          s0 += src[p] * k;
          s1 += src[p + 1] * k;
          s2 += src[p + 2] * k;
        }
        out[o] = clip8(s0);
        out[o + 1] = clip8(s1);
        out[o + 2] = clip8(s2);
        continue;
      }
      for (let b = 0; b < ch; b++) {
        let ss = HALF;
        let p = rowIn + xmin * ch + b;
        for (let x = 0; x < xmax; x++, p += ch) ss += src[p] * kk[k0 + x];
        out[o + b] = clip8(ss);
      }
    }
  }
  return out;
}

/**
 * Vertical pass: `src` is `w` wide, `ch` channels; bounds are row indices into `src` minus `yOffset`. Each
 * output row accumulates whole source rows (sequential memory access; the sums are PIL's, in the same order).
 */
function resampleVertical(
  src: Uint8Array,
  w: number,
  ch: number,
  outH: number,
  yOffset: number,
  c: Coeffs,
): Uint8Array {
  const stride = w * ch;
  const out = new Uint8Array(stride * outH);
  const acc = new Float64Array(stride);
  const { ksize, bounds, kk } = c;
  for (let yy = 0; yy < outH; yy++) {
    const ymin = bounds[yy * 2] - yOffset;
    const ymax = bounds[yy * 2 + 1];
    const k0 = yy * ksize;
    acc.fill(HALF);
    for (let y = 0; y < ymax; y++) {
      const k = kk[k0 + y];
      const row = (ymin + y) * stride;
      for (let i = 0; i < stride; i++) acc[i] += src[row + i] * k;
    }
    const rowOut = yy * stride;
    for (let i = 0; i < stride; i++) out[rowOut + i] = clip8(acc[i]);
  }
  return out;
}

/**
 * `ImagingScaleAffine` (what `Image.resize(..., NEAREST)` runs): float stepping, truncation, zero fill. Only the
 * output window `[x0, y0, x1, y1)` is written, but the positions are stepped from 0 as PIL accumulates them.
 */
function resampleNearest(
  src: Uint8Array,
  inW: number,
  inH: number,
  ch: number,
  outW: number,
  outH: number,
  box: readonly number[],
  win: readonly number[],
): Uint8Array {
  const [wx0, wy0, wx1, wy1] = win;
  const ow = wx1 - wx0;
  const out = new Uint8Array(ow * (wy1 - wy0) * ch);
  const a0 = Math.fround(box[2] - box[0]) / outW;
  const a4 = Math.fround(box[3] - box[1]) / outH;
  const xintab = new Int32Array(outW).fill(-1);
  let xo = box[0] + a0 * 0.5;
  for (let x = 0; x < outW; x++) {
    const xin = xo < 0 ? -1 : Math.trunc(xo);
    if (xin >= 0 && xin < inW) xintab[x] = xin;
    xo += a0;
  }
  let yo = box[1] + a4 * 0.5;
  for (let y = 0; y < wy1; y++) {
    const yi = yo < 0 ? -1 : Math.trunc(yo);
    if (y >= wy0 && yi >= 0 && yi < inH) {
      const rowIn = yi * inW * ch;
      const rowOut = (y - wy0) * ow * ch;
      for (let x = wx0; x < wx1; x++) {
        const xin = xintab[x];
        if (xin < 0) continue; // outside the source: PIL's fill (zeros)
        for (let b = 0; b < ch; b++) out[rowOut + (x - wx0) * ch + b] = src[rowIn + xin * ch + b];
      }
    }
    yo += a4;
  }
  return out;
}

/** A copy of the integer box `[x0, y0, x1, y1)` of `src` (PIL's `ImagingCrop` inside the box bounds). */
function cropBox(src: Uint8Array, inW: number, ch: number, box: readonly number[]): Uint8Array {
  const [x0, y0, x1, y1] = box;
  const w = x1 - x0;
  const out = new Uint8Array(w * (y1 - y0) * ch);
  for (let y = y0; y < y1; y++) {
    out.set(src.subarray((y * inW + x0) * ch, (y * inW + x1) * ch), (y - y0) * w * ch);
  }
  return out;
}

/**
 * PIL's `Image.resize((width, height), filter, box)` on interleaved 8-bit pixels with `ch` channels (1 to 4),
 * without argument checks (see {@link resizePIL}). `box` (default the whole image) is `[x0, y0, x1, y1]` in
 * source pixels, float32 like PIL's. `window` (default the whole output) is the part `[x0, y0, x1, y1)` of the
 * `width` x `height` output to compute: the same bytes as cropping PIL's output, without computing the rest.
 * @returns the window's pixels, `[y1 - y0, x1 - x0, ch]`.
 */
export function resizePILUnchecked(
  src: Uint8Array,
  inW: number,
  inH: number,
  ch: number,
  width: number,
  height: number,
  filter: ResampleFilter,
  boxIn?: readonly [number, number, number, number],
  window?: readonly [number, number, number, number],
): Uint8Array {
  const box = (boxIn ?? [0, 0, inW, inH]).map((v) => Math.fround(v));
  const [wx0, wy0, wx1, wy1] = window ?? [0, 0, width, height];
  // _imaging.c `_resize`: an integer box of the requested size is a crop (a copy for the whole image)
  const isInt = box[0] === Math.trunc(box[0]) && box[1] === Math.trunc(box[1]);
  if (isInt && Math.fround(box[2] - box[0]) === width && Math.fround(box[3] - box[1]) === height) {
    return cropBox(src, inW, ch, [box[0] + wx0, box[1] + wy0, box[0] + wx1, box[1] + wy1]);
  }
  if (filter === 'nearest')
    return resampleNearest(src, inW, inH, ch, width, height, box, [wx0, wy0, wx1, wy1]);
  const f = FILTERS[filter];
  // ImagingResampleInner: each pass only where the size or the box changes that axis
  const needHorizontal = width !== inW || box[0] !== 0 || box[2] !== width;
  const needVertical = height !== inH || box[1] !== 0 || box[3] !== height;
  const ow = wx1 - wx0;
  const oh = wy1 - wy0;
  const vert = needVertical ? precomputeCoeffs(inH, box[1], box[3], height, f, wy0, wy1) : undefined;
  // the source rows the vertical pass reads (without one, the output rows themselves)
  const yFirst = vert ? vert.bounds[0] : wy0;
  const yLast = vert ? vert.bounds[oh * 2 - 2] + vert.bounds[oh * 2 - 1] : wy1;
  const rows = needHorizontal
    ? resampleHorizontal(
        src,
        inW,
        yFirst,
        yLast - yFirst,
        ch,
        ow,
        precomputeCoeffs(inW, box[0], box[2], width, f, wx0, wx1),
      )
    : cropBox(src, inW, ch, [wx0, yFirst, wx1, yLast]);
  return vert ? resampleVertical(rows, ow, ch, oh, yFirst, vert) : rows;
}

/**
 * Resizes an RGB image exactly like PIL 9.x's `Image.resize((width, height), filter, box=box)` on an `RGB`
 * image (byte-identical output; see the module comment for the algorithm).
 *
 * @param img source image, `[H, W, 3]` uint8.
 * @param width output width (positive integer).
 * @param height output height (positive integer).
 * @param filter one of {@link ResampleFilter}; `bicubic` uses a = -0.5 like PIL.
 * @param box optional source region `[x0, y0, x1, y1]` (floats allowed), like PIL's `box` argument.
 * @returns a new image `[height, width, 3]` uint8.
 * @throws {PreprocessError} for a malformed image, a non-positive or non-integer size, an unknown filter or a
 *   box outside the image.
 */
export function resizePIL(
  img: RGBImage,
  width: number,
  height: number,
  filter: ResampleFilter,
  box?: readonly [number, number, number, number],
): RGBImage {
  checkRGBImage(img, 'resizePIL');
  if (!Number.isInteger(width) || !Number.isInteger(height) || width < 1 || height < 1) {
    throw new PreprocessError(`resizePIL: output size ${width}x${height} must be positive integers`);
  }
  if (!RESAMPLE_FILTERS.includes(filter)) {
    throw new PreprocessError(
      `resizePIL: unknown filter '${filter}' (expected one of ${RESAMPLE_FILTERS.join(', ')})`,
    );
  }
  if (width * height > 2 ** 31 / 3)
    throw new PreprocessError(`resizePIL: output ${width}x${height} is too large`);
  if (box !== undefined) {
    const [x0, y0, x1, y1] = box;
    if (box.length !== 4 || !box.every(Number.isFinite)) {
      throw new PreprocessError(`resizePIL: box must be 4 finite numbers [x0, y0, x1, y1]`);
    }
    if (x0 < 0 || y0 < 0) throw new PreprocessError(`resizePIL: box offset can't be negative`);
    if (x1 > img.width || y1 > img.height) {
      throw new PreprocessError(
        `resizePIL: box [${box.join(', ')}] exceeds the ${img.width}x${img.height} image`,
      );
    }
    if (x1 - x0 < 0 || y1 - y0 < 0) throw new PreprocessError(`resizePIL: box can't be empty`);
  }
  const data = resizePILUnchecked(img.data, img.width, img.height, 3, width, height, filter, box);
  return { data, width, height };
}
