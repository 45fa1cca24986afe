/**
 * Adam7-interlaced PNGs with 1, 2 or 4-bit samples (grey or palette), which fast-png 8 cannot de-interlace (it
 * works in whole bytes): the IDAT stream is inflated by fflate (fast-png's own inflater), each of the seven
 * passes is unfiltered (PNG filter types 0-4, one byte per "pixel" for sub-byte samples) and its samples are
 * scattered to their pixels. Chunk CRCs are checked like fast-png's `checkCrc`.
 */
import { unzlibSync } from 'fflate';

/** Adam7 passes: first column, first row, column step, row step. */
const PASSES: readonly [number, number, number, number][] = [
  [0, 0, 8, 8],
  [4, 0, 8, 8],
  [0, 4, 4, 8],
  [2, 0, 4, 4],
  [0, 2, 2, 4],
  [1, 0, 2, 2],
  [0, 1, 1, 2],
];

const CRC_TABLE = (() => {
  const t = new Uint32Array(256);
  for (let n = 0; n < 256; n++) {
    let c = n;
    for (let k = 0; k < 8; k++) c = c & 1 ? 0xedb88320 ^ (c >>> 1) : c >>> 1;
    t[n] = c >>> 0;
  }
  return t;
})();

function crc32(b: Uint8Array): number {
  let c = 0xffffffff;
  for (let i = 0; i < b.length; i++) c = CRC_TABLE[(c ^ b[i]) & 0xff] ^ (c >>> 8);
  return (c ^ 0xffffffff) >>> 0;
}

/** A chunk of a PNG file: type and data, with its stored CRC. */
export interface PngChunk {
  type: string;
  data: Uint8Array;
  crc: number;
}

function paeth(a: number, b: number, c: number): number {
  const p = a + b - c;
  const pa = Math.abs(p - a);
  const pb = Math.abs(p - b);
  const pc = Math.abs(p - c);
  return pa <= pb && pa <= pc ? a : pb <= pc ? b : c;
}

/**
 * The samples (one byte per pixel, values `0 .. 2^depth - 1`) of an interlaced single-channel PNG with a
 * sub-byte `depth`. Throws an `Error` (turned into a one-line message by the caller) on a bad CRC, a corrupt
 * stream or a stream of the wrong length.
 */
export function decodeAdam7SubByte(
  chunks: readonly PngChunk[],
  width: number,
  height: number,
  depth: number,
): Uint8Array {
  const typeBytes = new Uint8Array(4);
  const parts: Uint8Array[] = [];
  for (const c of chunks) {
    for (let i = 0; i < 4; i++) typeBytes[i] = c.type.charCodeAt(i);
    const whole = new Uint8Array(4 + c.data.length);
    whole.set(typeBytes);
    whole.set(c.data, 4);
    if (crc32(whole) !== c.crc) throw new Error(`CRC mismatch in chunk ${c.type}`);
    if (c.type === 'IDAT') parts.push(c.data);
  }
  const compressed = new Uint8Array(parts.reduce((n, p) => n + p.length, 0));
  let o = 0;
  for (const p of parts) {
    compressed.set(p, o);
    o += p.length;
  }
  let expected = 0;
  for (const [x0, y0, dx, dy] of PASSES) {
    const pw = Math.ceil((width - x0) / dx);
    const ph = Math.ceil((height - y0) / dy);
    if (pw > 0 && ph > 0) expected += ph * (1 + Math.ceil((pw * depth) / 8));
  }
  const raw = unzlibSync(compressed);
  if (raw.length !== expected) throw new Error(`decompressed ${raw.length} bytes, expected ${expected}`);
  const out = new Uint8Array(width * height);
  const mask = (1 << depth) - 1;
  let pos = 0;
  for (const [x0, y0, dx, dy] of PASSES) {
    const pw = Math.ceil((width - x0) / dx);
    const ph = Math.ceil((height - y0) / dy);
    if (pw <= 0 || ph <= 0) continue;
    const lineBytes = Math.ceil((pw * depth) / 8);
    let prev = new Uint8Array(lineBytes);
    for (let r = 0; r < ph; r++) {
      const filter = raw[pos++];
      const line = raw.slice(pos, pos + lineBytes);
      pos += lineBytes;
      for (let i = 0; i < lineBytes; i++) {
        const a = i > 0 ? line[i - 1] : 0; // one byte back: the filter unit of sub-byte samples
        const b = prev[i];
        const c = i > 0 ? prev[i - 1] : 0;
        if (filter === 1) line[i] = (line[i] + a) & 255;
        else if (filter === 2) line[i] = (line[i] + b) & 255;
        else if (filter === 3) line[i] = (line[i] + ((a + b) >> 1)) & 255;
        else if (filter === 4) line[i] = (line[i] + paeth(a, b, c)) & 255;
        else if (filter !== 0) throw new Error(`unknown filter type ${filter}`);
      }
      const y = y0 + r * dy;
      for (let k = 0; k < pw; k++) {
        const bit = k * depth;
        out[y * width + x0 + k * dx] = (line[bit >> 3] >> (8 - depth - (bit & 7))) & mask;
      }
      prev = line;
    }
  }
  return out;
}
