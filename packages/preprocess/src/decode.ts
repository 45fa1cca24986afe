/**
 * PNG and JPEG bytes to an 8-bit RGB image, converted like PIL 9.4's `Image.open(f).convert('RGB')` (what timm's
 * dataset loader does before its transform).
 *
 * Promises:
 * - The header is read first: an image whose declared `width * height` exceeds the pixel budget
 *   (`maxPixels`, default PIL's `MAX_IMAGE_PIXELS`) is refused before any pixel buffer is allocated; a PNG whose
 *   declared size needs more pixel data than its compressed data can hold (deflate expands at most ~1032x), and
 *   a JPEG declaring more pixels than its bytes can code (at least one bit per 8x8 block), too.
 * - Every chunk / segment length is checked against the file; a truncated or corrupt file throws one
 *   {@link PreprocessError} line naming the format and the problem (PNG chunk CRCs are verified).
 * - PNG to RGB exactly as PIL: alpha is dropped without compositing; grey is replicated; 1/2/4-bit grey is
 *   scaled to 0..255; palette indices look up the palette (indices past its end read PIL's grey ramp); 16-bit
 *   RGB(A) and grey+alpha keep the high byte; 16-bit grey becomes PIL mode `I` and is clipped to 0..255 by
 *   `convert('RGB')` (so values above 255 are white, as in PIL). Gamma, ICC profiles and EXIF orientation are
 *   ignored, as PIL's `convert('RGB')` ignores them.
 * - Adam7-interlaced PNGs with 1, 2 or 4-bit samples, which fast-png de-interlaces wrongly (whole bytes), are
 *   decoded by `png-adam7.ts`. Of an APNG, the default image (IDAT) is decoded.
 * - Not supported (a clear error): 12-bit, lossless and arithmetic-coded JPEGs.
 * - JPEG: baseline and progressive, 1 (grey), 3 (YCbCr/RGB) and 4 (CMYK/YCCK, Adobe) components, decoded by
 *   jpeg-js. For YCbCr data the chroma upsampling and colour conversion are libjpeg's (see `jpeg-color.ts`), so
 *   only jpeg-js's IDCT rounding differs from PIL's: about half a level on average (not exactly equal).
 */
import { decode as decodePngLib } from 'fast-png';
import jpeg from 'jpeg-js';
import { isLibjpegYCbCr, yccToRGBLikeLibjpeg } from './jpeg-color.js';
import { decodeAdam7SubByte, type PngChunk } from './png-adam7.js';
import { PreprocessError, type RGBImage } from './types.js';

/** PIL's `Image.MAX_IMAGE_PIXELS` (`1024 * 1024 * 1024 // 4 // 3`): the default pixel budget. */
export const MAX_IMAGE_PIXELS = Math.floor((1024 * 1024 * 1024) / 4 / 3);

/** Options of {@link decodeImage}. */
export interface DecodeOptions {
  /** Largest accepted `width * height` (default {@link MAX_IMAGE_PIXELS}); checked before decoding. */
  maxPixels?: number;
}

/** Format and declared size, read from the header only. */
export interface ImageInfo {
  format: 'png' | 'jpeg';
  width: number;
  height: number;
}

const PNG_SIGNATURE = [137, 80, 78, 71, 13, 10, 26, 10];
/** Deflate's largest expansion ratio (258 bytes from about 2 bits), rounded up. */
const DEFLATE_MAX_RATIO = 1032;

function fail(message: string, cause?: unknown): never {
  throw new PreprocessError(`decodeImage: ${message}`, cause === undefined ? undefined : { cause });
}

function isPng(b: Uint8Array): boolean {
  return b.length >= 8 && PNG_SIGNATURE.every((v, i) => b[i] === v);
}

function isJpeg(b: Uint8Array): boolean {
  return b.length >= 3 && b[0] === 0xff && b[1] === 0xd8 && b[2] === 0xff;
}

/** Names a few formats we do not decode, for a better error. */
function otherFormat(b: Uint8Array): string | undefined {
  const ascii = String.fromCharCode(...b.subarray(0, 12));
  if (ascii.startsWith('GIF8')) return 'GIF';
  if (ascii.startsWith('RIFF') && ascii.slice(8, 12) === 'WEBP') return 'WebP';
  if (ascii.startsWith('BM')) return 'BMP';
  if (ascii.startsWith('II*\0') || ascii.startsWith('MM\0*')) return 'TIFF';
  if (ascii.slice(4, 12) === 'ftypavif' || ascii.slice(4, 12) === 'ftypheic') return 'AVIF/HEIC';
  return undefined;
}

function u32(b: Uint8Array, o: number): number {
  return ((b[o] << 24) >>> 0) + (b[o + 1] << 16) + (b[o + 2] << 8) + b[o + 3];
}

function u16(b: Uint8Array, o: number): number {
  return (b[o] << 8) | b[o + 1];
}

interface PngHeader extends ImageInfo {
  depth: number;
  colorType: number;
  interlace: number;
  idatBytes: number;
  /** Every chunk after IHDR up to IEND (views into the file, no copies). */
  chunks: PngChunk[];
}

const PNG_CHANNELS: Record<number, number> = { 0: 1, 2: 3, 3: 1, 4: 2, 6: 4 };
const PNG_DEPTHS: Record<number, number[]> = {
  0: [1, 2, 4, 8, 16],
  2: [8, 16],
  3: [1, 2, 4, 8],
  4: [8, 16],
  6: [8, 16],
};

/** Walks the chunk list (bounds only, no decompression) and reads IHDR. */
function scanPng(b: Uint8Array): PngHeader {
  let off = 8;
  let header: PngHeader | undefined;
  let sawEnd = false;
  while (off < b.length) {
    if (off + 8 > b.length) fail('truncated PNG: the file ends inside a chunk header');
    const length = u32(b, off);
    const type = String.fromCharCode(b[off + 4], b[off + 5], b[off + 6], b[off + 7]);
    if (!/^[A-Za-z]{4}$/.test(type)) fail(`corrupt PNG: invalid chunk type at byte ${off + 4}`);
    if (length > 0x7fffffff || off + 12 + length > b.length) {
      fail(`truncated PNG: chunk ${type} (${length} bytes) runs past the end of the file`);
    }
    const data = off + 8;
    if (header === undefined) {
      if (type !== 'IHDR' || length !== 13) fail('corrupt PNG: the first chunk is not a 13-byte IHDR');
      const colorType = b[data + 9];
      header = {
        format: 'png',
        width: u32(b, data),
        height: u32(b, data + 4),
        depth: b[data + 8],
        colorType,
        interlace: b[data + 12],
        idatBytes: 0,
        chunks: [],
      };
    } else {
      header.chunks.push({ type, data: b.subarray(data, data + length), crc: u32(b, data + length) });
      if (type === 'IDAT') header.idatBytes += length;
      else if (type === 'IEND') {
        sawEnd = true;
        break;
      }
    }
    off += 12 + length;
  }
  if (header === undefined) fail('truncated PNG: no IHDR chunk');
  if (!sawEnd) fail('truncated PNG: no IEND chunk (the file was cut short)');
  if (header.idatBytes === 0) fail('corrupt PNG: no image data (IDAT)');
  return header;
}

interface JpegHeader extends ImageInfo {
  /** Component ids and sampling factors, in frame order. */
  components: { id: number; h: number; v: number }[];
  /** An Adobe APP14 segment was seen (it may say the data is RGB or YCCK). */
  adobe: boolean;
}

/** Reads the frame header (SOFn) of a JPEG, checking every segment length against the file. */
function scanJpeg(b: Uint8Array): JpegHeader {
  let off = 2;
  let adobe = false;
  while (off < b.length) {
    if (b[off] !== 0xff) fail(`corrupt JPEG: expected a marker at byte ${off}`);
    while (off < b.length && b[off] === 0xff) off++; // fill bytes
    if (off >= b.length) break;
    const marker = b[off++];
    if ((marker >= 0xd0 && marker <= 0xd7) || marker === 0x01) continue; // no length
    if (marker === 0xd9 || marker === 0xda) fail('corrupt JPEG: no frame header (SOF) before the image data');
    if (off + 2 > b.length) break;
    const length = u16(b, off);
    if (length < 2 || off + length > b.length) {
      fail(`truncated JPEG: segment 0xFF${marker.toString(16).toUpperCase()} runs past the end of the file`);
    }
    if (marker === 0xee && length >= 7 && String.fromCharCode(...b.subarray(off + 2, off + 7)) === 'Adobe') {
      adobe = true;
    }
    const isSof = marker >= 0xc0 && marker <= 0xcf && marker !== 0xc4 && marker !== 0xc8 && marker !== 0xcc;
    if (isSof) {
      if (length < 8) fail('corrupt JPEG: frame header too short');
      if (marker > 0xc2) {
        const kind =
          marker === 0xc3 || marker === 0xc7 || marker === 0xcb || marker === 0xcf
            ? 'lossless'
            : 'arithmetic-coded or hierarchical';
        fail(
          `unsupported JPEG: ${kind} (SOF 0xFF${marker.toString(16).toUpperCase()}); baseline and progressive are supported`,
        );
      }
      if (b[off + 2] !== 8) fail(`unsupported JPEG: ${b[off + 2]}-bit samples (8-bit are supported)`);
      const n = b[off + 7];
      if (length < 8 + 3 * n) fail('corrupt JPEG: frame header too short for its components');
      const components = [];
      for (let i = 0; i < n; i++) {
        const c = off + 8 + 3 * i;
        components.push({ id: b[c], h: b[c + 1] >> 4, v: b[c + 1] & 15 });
      }
      return { format: 'jpeg', height: u16(b, off + 3), width: u16(b, off + 5), components, adobe };
    }
    off += length;
  }
  return fail('truncated JPEG: the file ends before the frame header (SOF)');
}

function toBytes(bytes: Uint8Array | ArrayBuffer | ArrayBufferView): Uint8Array {
  if (bytes instanceof Uint8Array) return bytes;
  if (bytes instanceof ArrayBuffer) return new Uint8Array(bytes);
  if (ArrayBuffer.isView(bytes)) return new Uint8Array(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  return fail(`expected bytes (Uint8Array or ArrayBuffer), got ${bytes === null ? 'null' : typeof bytes}`);
}

/**
 * Reads an image's format and declared size from its header without decoding pixels.
 * @throws {PreprocessError} if the bytes are not a PNG or JPEG, or the header is truncated or corrupt.
 */
export function probeImage(bytes: Uint8Array | ArrayBuffer | ArrayBufferView): ImageInfo {
  const b = toBytes(bytes);
  if (b.length === 0) fail('empty input (0 bytes)');
  if (isPng(b)) {
    const { format, width, height } = scanPng(b);
    return { format, width, height };
  }
  if (isJpeg(b)) {
    const { format, width, height } = scanJpeg(b);
    return { format, width, height };
  }
  const other = otherFormat(b);
  if (other) fail(`${other} images are not supported (PNG and JPEG are)`);
  const head = Array.from(b.subarray(0, 4), (v) => v.toString(16).padStart(2, '0')).join(' ');
  return fail(`not a PNG or JPEG image (first bytes ${head})`);
}

function checkSize(info: ImageInfo, maxPixels: number): void {
  const { width, height, format } = info;
  const name = format.toUpperCase();
  if (width === 0 || height === 0) fail(`${name} declares a zero size (${width}x${height})`);
  if (width * height > maxPixels) {
    fail(
      `${name} declares ${width}x${height} = ${width * height} pixels, over the budget of ${maxPixels} ` +
        '(raise maxPixels if the file is trusted)',
    );
  }
}

/** PIL 9.4's `ImagingPaletteNew` fills all 256 entries with a grey ramp before the PLTE entries. */
function paletteTable(palette: number[][] | undefined): Uint8Array {
  if (palette === undefined) fail('corrupt PNG: a palette image without a PLTE chunk');
  const table = new Uint8Array(256 * 3);
  for (let i = 0; i < 256; i++) table.fill(i, i * 3, i * 3 + 3);
  for (let i = 0; i < Math.min(256, palette.length); i++) table.set(palette[i].slice(0, 3), i * 3);
  return table;
}

function decodePng(b: Uint8Array, maxPixels: number): RGBImage {
  const h = scanPng(b);
  checkSize(h, maxPixels);
  const channels = PNG_CHANNELS[h.colorType];
  if (channels === undefined) fail(`corrupt PNG: unknown color type ${h.colorType}`);
  if (!PNG_DEPTHS[h.colorType].includes(h.depth)) {
    fail(`corrupt PNG: bit depth ${h.depth} is not allowed with color type ${h.colorType}`);
  }
  if (h.interlace > 1) fail(`corrupt PNG: unknown interlace method ${h.interlace}`);
  const { width, height, depth } = h;
  const rowBytes = Math.ceil((width * channels * depth) / 8);
  const rawBytes = height * (rowBytes + 1);
  if (rawBytes > h.idatBytes * DEFLATE_MAX_RATIO + 64) {
    fail(
      `corrupt PNG: ${width}x${height} needs ${rawBytes} bytes of pixel data but ${h.idatBytes} compressed ` +
        'bytes can hold at most about 1032 times that',
    );
  }
  if (h.interlace === 1 && depth < 8) return decodeAdam7(h);
  let png: ReturnType<typeof decodePngLib>;
  try {
    png = decodePngLib(b, { checkCrc: true });
  } catch (e) {
    const why = e instanceof Error ? (e.cause instanceof Error ? e.cause.message : e.message) : String(e);
    return fail(`corrupt PNG: ${why.split('\n')[0]}`, e);
  }
  const src = png.data;
  const expected = depth < 8 ? height * rowBytes : width * height * channels;
  if (png.width !== width || png.height !== height || src.length !== expected) {
    fail(`corrupt PNG: decoded ${src.length} samples, expected ${expected}`);
  }
  const n = width * height;
  const out = new Uint8Array(n * 3);
  const ct = h.colorType;
  if (ct === 3 || (ct === 0 && depth < 8)) {
    // packed samples, most significant bits first, rows padded to a byte
    const table = ct === 3 ? paletteTable(png.palette) : undefined;
    const scale = 255 / ((1 << depth) - 1); // 1 -> 255, 2 -> 85, 4 -> 17, 8 -> 1
    const perByte = 8 / depth;
    const mask = (1 << depth) - 1;
    for (let y = 0; y < height; y++) {
      for (let x = 0; x < width; x++) {
        const byte = src[y * rowBytes + Math.floor(x / perByte)];
        const v = depth === 8 ? byte : (byte >> (8 - depth * ((x % perByte) + 1))) & mask;
        const o = (y * width + x) * 3;
        if (table) {
          out[o] = table[v * 3];
          out[o + 1] = table[v * 3 + 1];
          out[o + 2] = table[v * 3 + 2];
        } else out.fill(v * scale, o, o + 3);
      }
    }
    return { data: out, width, height };
  }
  // 8 or 16 bits per sample: PIL keeps the high byte of 16-bit samples, except 16-bit grey (mode I, clipped)
  const shift = depth === 16 ? 8 : 0;
  for (let i = 0; i < n; i++) {
    const o = i * 3;
    const s = i * channels;
    if (ct === 0) {
      const v = depth === 16 ? Math.min(src[s], 255) : src[s];
      out[o] = out[o + 1] = out[o + 2] = v;
    } else if (ct === 4) {
      out[o] = out[o + 1] = out[o + 2] = src[s] >> shift;
    } else {
      out[o] = src[s] >> shift;
      out[o + 1] = src[s + 1] >> shift;
      out[o + 2] = src[s + 2] >> shift;
    }
  }
  return { data: out, width, height };
}

/**
 * Every 8x8 block of a JPEG costs at least one bit (its DC code, in the first scan that covers it), so a file of
 * `n` bytes holds at most `512 * n` pixels.
 */
const JPEG_MAX_PIXELS_PER_BYTE = 512;

/** Interlaced 1/2/4-bit grey or palette PNGs, which fast-png cannot de-interlace (see `png-adam7.ts`). */
function decodeAdam7(h: PngHeader): RGBImage {
  const { width, height, depth, colorType } = h;
  let samples: Uint8Array;
  try {
    samples = decodeAdam7SubByte(h.chunks, width, height, depth);
  } catch (e) {
    return fail(`corrupt PNG: ${e instanceof Error ? e.message.split('\n')[0] : String(e)}`, e);
  }
  const plte = h.chunks.find((c) => c.type === 'PLTE');
  if (colorType === 3 && (plte === undefined || plte.data.length % 3 !== 0)) {
    fail('corrupt PNG: a palette image without a valid PLTE chunk');
  }
  const table =
    colorType === 3 && plte
      ? paletteTable(
          Array.from({ length: plte.data.length / 3 }, (_, i) => [...plte.data.subarray(i * 3, i * 3 + 3)]),
        )
      : undefined;
  const scale = 255 / ((1 << depth) - 1);
  const out = new Uint8Array(width * height * 3);
  for (let i = 0; i < samples.length; i++) {
    const v = samples[i];
    if (table) out.set(table.subarray(v * 3, v * 3 + 3), i * 3);
    else out.fill(v * scale, i * 3, i * 3 + 3);
  }
  return { data: out, width, height };
}

function decodeJpeg(b: Uint8Array, maxPixels: number): RGBImage {
  const info = scanJpeg(b);
  checkSize(info, maxPixels);
  const pixels = info.width * info.height;
  if (pixels > JPEG_MAX_PIXELS_PER_BYTE * b.length + 4096) {
    fail(
      `corrupt JPEG: declares ${info.width}x${info.height} but ${b.length} bytes can hold at most ` +
        `${JPEG_MAX_PIXELS_PER_BYTE * b.length + 4096} pixels`,
    );
  }
  // YCbCr data: take jpeg-js's samples before its colour conversion, upsample and convert like libjpeg
  const ycc = isLibjpegYCbCr(info.components, info.adobe);
  let img: { width: number; height: number; data: Uint8Array };
  try {
    img = jpeg.decode(b, {
      useTArray: true,
      formatAsRGBA: false,
      colorTransform: ycc ? false : undefined,
      tolerantDecoding: false,
      maxResolutionInMP: maxPixels / 1e6 + 1,
      // component planes (up to 4, padded to blocks) plus the RGB output
      maxMemoryUsageInMB: Math.ceil((maxPixels * 8) / 2 ** 20) + 64,
    });
  } catch (e) {
    const why = e instanceof Error ? e.message : String(e);
    return fail(`corrupt or unsupported JPEG: ${why.split('\n')[0]}`, e);
  }
  const { width, height, data } = img;
  if (width !== info.width || height !== info.height || data.length !== width * height * 3) {
    fail(`corrupt JPEG: decoded ${width}x${height}, header says ${info.width}x${info.height}`);
  }
  const bytes = data instanceof Uint8Array ? data : new Uint8Array(data);
  if (ycc) yccToRGBLikeLibjpeg(bytes, width, height, info.components);
  return { data: bytes, width, height };
}

/**
 * Decodes PNG or JPEG bytes to 8-bit RGB like PIL's `Image.open(f).convert('RGB')` (see the module comment
 * for the exact conversions).
 *
 * @param bytes the file's bytes.
 * @param opts `maxPixels`: the largest accepted `width * height` (default {@link MAX_IMAGE_PIXELS}).
 * @returns `{ data, width, height }`, `data` `[height, width, 3]` uint8.
 * @throws {PreprocessError} one line naming the problem: not an image, an unsupported format, a zero or
 *   over-budget declared size, a truncated or corrupt file.
 */
export function decodeImage(
  bytes: Uint8Array | ArrayBuffer | ArrayBufferView,
  opts: DecodeOptions = {},
): RGBImage {
  const maxPixels = opts.maxPixels ?? MAX_IMAGE_PIXELS;
  if (!(maxPixels > 0)) fail(`maxPixels must be positive, got ${maxPixels}`);
  const b = toBytes(bytes);
  const info = probeImage(b);
  return info.format === 'png' ? decodePng(b, maxPixels) : decodeJpeg(b, maxPixels);
}
