/**
 * libjpeg(-turbo)'s last two decoding steps, applied to jpeg-js's samples so that JPEG pixels come out as PIL's
 * (which calls libjpeg with its defaults) up to IDCT rounding:
 * - "fancy" chroma upsampling (`jdsample.c`: `h2v1_fancy_upsample`, `h1v2_fancy_upsample`,
 *   `h2v2_fancy_upsample`): triangle interpolation, 3/4 of the nearer sample and 1/4 of the farther one, with
 *   libjpeg's alternating rounding biases and edge rows/columns replicated; jpeg-js replicates samples instead.
 * - YCbCr to RGB in 16-bit fixed point with libjpeg's tables (`jdcolor.c`: `build_ycc_rgb_table`,
 *   `ycc_rgb_convert`).
 *
 * Input: jpeg-js's output with `colorTransform: false`, i.e. Y, Cb, Cr per pixel with subsampled chroma
 * replicated; each chroma plane is recovered exactly by reading every `hs`-th column and `vs`-th row.
 */

interface Component {
  id: number;
  h: number;
  v: number;
}

/**
 * Whether libjpeg would treat a frame as YCbCr that jpeg-js hands over raw with `colorTransform: false`:
 * 3 components, no Adobe marker (jpeg-js applies the Adobe transform itself), ids not 'R', 'G', 'B'.
 */
export function isLibjpegYCbCr(components: readonly Component[], adobe: boolean): boolean {
  if (components.length !== 3 || adobe) return false;
  const [a, b, c] = components;
  return !(a.id === 82 && b.id === 71 && c.id === 66);
}

const SCALEBITS = 16;
const ONE_HALF = 1 << (SCALEBITS - 1);
const fix = (x: number) => Math.floor(x * 2 ** SCALEBITS + 0.5);

/** `build_ycc_rgb_table`. */
const TABLES = (() => {
  const crR = new Int32Array(256);
  const cbB = new Int32Array(256);
  const crG = new Int32Array(256);
  const cbG = new Int32Array(256);
  for (let i = 0; i < 256; i++) {
    const x = i - 128;
    crR[i] = (fix(1.402) * x + ONE_HALF) >> SCALEBITS;
    cbB[i] = (fix(1.772) * x + ONE_HALF) >> SCALEBITS;
    crG[i] = -fix(0.71414) * x;
    cbG[i] = -fix(0.34414) * x + ONE_HALF;
  }
  return { crR, cbB, crG, cbG };
})();

const clamp8 = (v: number) => (v < 0 ? 0 : Math.min(v, 255));

/**
 * One chroma plane (`cw` x `ch`) upsampled by (`hs`, `vs`) into `out` (`width` x `height`, stride 3, channel
 * `c`), like libjpeg. Factors other than 1 and 2 keep jpeg-js's replication (libjpeg's `int_upsample` does the
 * same).
 */
function upsample(
  plane: Uint8Array,
  cw: number,
  ch: number,
  hs: number,
  vs: number,
  out: Uint8Array,
  width: number,
  height: number,
  c: number,
): void {
  const row = new Int32Array(cw * 2 + 2);
  const put = (y: number, x: number, v: number) => {
    if (x < width && y < height) out[(y * width + x) * 3 + c] = v;
  };
  for (let j = 0; j < ch; j++) {
    const near = plane.subarray(j * cw, (j + 1) * cw);
    for (let v = 0; v < vs; v++) {
      const y = j * vs + v;
      if (y >= height) break;
      if (vs === 2) {
        // vertical: 3 * nearer row + the row above (v = 0) or below (v = 1), edges replicated
        const fr = v === 0 ? Math.max(j - 1, 0) : Math.min(j + 1, ch - 1);
        const far = plane.subarray(fr * cw, (fr + 1) * cw);
        for (let i = 0; i < cw; i++) row[i] = near[i] * 3 + far[i];
        if (hs === 2 && cw > 2) {
          // h2v2_fancy_upsample
          put(y, 0, (row[0] * 4 + 8) >> 4);
          put(y, 1, (row[0] * 3 + row[1] + 7) >> 4);
          for (let i = 1; i < cw - 1; i++) {
            put(y, 2 * i, (row[i] * 3 + row[i - 1] + 8) >> 4);
            put(y, 2 * i + 1, (row[i] * 3 + row[i + 1] + 7) >> 4);
          }
          put(y, 2 * cw - 2, (row[cw - 1] * 3 + row[cw - 2] + 8) >> 4);
          put(y, 2 * cw - 1, (row[cw - 1] * 4 + 7) >> 4);
        } else if (hs === 1) {
          // h1v2_fancy_upsample
          const bias = v === 0 ? 1 : 2;
          for (let i = 0; i < cw; i++) put(y, i, (row[i] + bias) >> 2);
        } else {
          return; // h2v2 on planes 2 wide or less: libjpeg replicates, as jpeg-js did
        }
      } else if (hs === 2 && cw > 2) {
        // h2v1_fancy_upsample
        put(y, 0, near[0]);
        put(y, 1, (near[0] * 3 + near[1] + 2) >> 2);
        for (let i = 1; i < cw - 1; i++) {
          put(y, 2 * i, (near[i] * 3 + near[i - 1] + 1) >> 2);
          put(y, 2 * i + 1, (near[i] * 3 + near[i + 1] + 2) >> 2);
        }
        put(y, 2 * cw - 2, (near[cw - 1] * 3 + near[cw - 2] + 1) >> 2);
        put(y, 2 * cw - 1, near[cw - 1]);
      } else {
        return; // no upsampling, or one libjpeg also does by replication
      }
    }
  }
}

/**
 * In place: jpeg-js's replicated Y, Cb, Cr samples (`width * height * 3`) to RGB as libjpeg decodes them.
 * @param components the frame's components (Y, Cb, Cr) with their sampling factors.
 */
export function yccToRGBLikeLibjpeg(
  data: Uint8Array,
  width: number,
  height: number,
  components: readonly Component[],
): void {
  const maxH = Math.max(...components.map((k) => k.h));
  const maxV = Math.max(...components.map((k) => k.v));
  for (let c = 1; c < 3; c++) {
    const { h, v } = components[c];
    if (maxH % h !== 0 || maxV % v !== 0) continue;
    const hs = maxH / h;
    const vs = maxV / v;
    if ((hs !== 1 && hs !== 2) || (vs !== 1 && vs !== 2) || (hs === 1 && vs === 1)) continue;
    // jpeg-js maps output x to sample floor(x * h / maxH): every hs-th column holds the next sample
    const cw = Math.ceil((width * h) / maxH);
    const ch = Math.ceil((height * v) / maxV);
    const plane = new Uint8Array(cw * ch);
    for (let j = 0; j < ch; j++) {
      for (let i = 0; i < cw; i++) plane[j * cw + i] = data[(j * vs * width + i * hs) * 3 + c];
    }
    upsample(plane, cw, ch, hs, vs, data, width, height, c);
  }
  const { crR, cbB, crG, cbG } = TABLES;
  for (let p = 0; p < width * height * 3; p += 3) {
    const y = data[p];
    const cb = data[p + 1];
    const cr = data[p + 2];
    data[p] = clamp8(y + crR[cr]);
    data[p + 1] = clamp8(y + ((cbG[cb] + crG[cr]) >> SCALEBITS));
    data[p + 2] = clamp8(y + cbB[cb]);
  }
}
