/**
 * Safetensors reader and writer (https://github.com/huggingface/safetensors), platform-neutral: works on
 * `ArrayBuffer` / `Uint8Array` in Node and in browsers, no Node APIs.
 *
 * Layout: `uint64 LE N` | `N bytes UTF-8 JSON header` | raw little-endian tensor data. The header maps
 * tensor names to `{ dtype, shape, data_offsets: [begin, end] }` (offsets relative to the start of the
 * data section) plus an optional `__metadata__` object of string values.
 *
 * Malformed input always raises {@link SafetensorsError}; the header length is bounds-checked (as a
 * BigInt) against the file size and against `maxHeaderBytes` before anything is allocated or decoded.
 */
import * as tf from '@tensorflow/tfjs-core';
import { ITEM_SIZE, LITTLE_ENDIAN, type RawTensor, type TorchDtype, typedView } from './dtypes.js';

/**
 * dtypes this implementation reads and writes. {@link readSafetensors} decodes `F16`/`BF16`/`F64` to float32,
 * `I64`/`I16`/`I8` to int32 (range-checked); {@link readSafetensorsRaw} keeps every dtype as stored.
 */
export type SafetensorsDtype = TorchDtype;

/** One decoded tensor. `data` is row-major (C order); `shape` `[]` is a scalar with one element. */
export interface SafetensorsEntry {
  /** dtype as stored in the file (the decoded `data` type follows from it). */
  dtype: SafetensorsDtype;
  shape: number[];
  /**
   * F32/F16/BF16/F64 -> Float32Array, I64/I32/I16/I8 -> Int32Array, U8/BOOL -> Uint8Array. F32, I32 and U8
   * data that is suitably aligned is a zero-copy view into the input buffer (do not mutate the input afterwards).
   */
  data: Float32Array | Int32Array | Uint8Array;
}

/** A parsed safetensors file. `tensors` keeps the header's key order. */
export interface SafetensorsFile {
  metadata: Record<string, string>;
  tensors: Map<string, SafetensorsEntry>;
}

/** Options of {@link readSafetensors}. */
export interface ReadSafetensorsOptions {
  /** Largest accepted JSON header in bytes (default {@link DEFAULT_MAX_HEADER_BYTES}, 100 MB). */
  maxHeaderBytes?: number;
  /** Deepest accepted nesting of JSON arrays/objects in the header (default {@link DEFAULT_MAX_HEADER_DEPTH}). */
  maxHeaderDepth?: number;
  /** Most tensors accepted in one file (default {@link DEFAULT_MAX_ENTRIES}). */
  maxEntries?: number;
}

/**
 * Tensor data accepted by {@link writeSafetensors}. `data.length` must equal the product of `shape`.
 * Without `dtype` the array type decides: Float32Array -> `opts.dtype` (F32 or F16), Float64Array -> F64,
 * Int32Array -> I32, Int16Array -> I16, Int8Array -> I8, Uint8Array -> U8, BigInt64Array -> I64. With
 * `dtype` the data must be in that dtype's stored form ({@link RawTensor}: F16/BF16 as Uint16Array bits,
 * BOOL as Uint8Array of 0/1), except that Float32Array data may be given with `dtype: 'F16'` (rounded).
 * A {@link RawTensor} is therefore accepted as it is.
 */
export interface SafetensorsTensorData {
  shape: number[];
  data: ArrayBufferView;
  dtype?: SafetensorsDtype;
}

/** Options of {@link writeSafetensors} / {@link tensorsToSafetensors}. */
export interface WriteSafetensorsOptions {
  /** Storage dtype of float data (default `F32`; `F16` rounds to nearest, ties to even). Int32 data is always I32. */
  dtype?: 'F32' | 'F16';
  /** String metadata stored under `__metadata__`. */
  metadata?: Record<string, string>;
}

/** Raised for every malformed safetensors input (and for invalid arguments of the writer). */
export class SafetensorsError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'SafetensorsError';
  }
}

/** Default limit on the JSON header size: 100 MB. */
export const DEFAULT_MAX_HEADER_BYTES = 100 * 1024 * 1024;
/** Default limit on the nesting depth of the JSON header (a valid header nests 3 deep). */
export const DEFAULT_MAX_HEADER_DEPTH = 64;
/** Default limit on the number of tensors in one file. */
export const DEFAULT_MAX_ENTRIES = 200_000;

const KNOWN_UNSUPPORTED = ['F8_E4M3', 'F8_E5M2', 'U16', 'U32', 'U64'];

function fail(message: string): never {
  throw new SafetensorsError(`safetensors: ${message}`);
}

function isPlainObject(v: unknown): v is Record<string, unknown> {
  return typeof v === 'object' && v !== null && !Array.isArray(v);
}

/** Short rendering of an untrusted JSON value: never recurses (nested values show as `[...]` / `{...}`). */
function fmt(v: unknown): string {
  const one = (x: unknown): string => {
    if (Array.isArray(x)) return '[...]';
    if (x !== null && typeof x === 'object') return '{...}';
    if (typeof x === 'string') return JSON.stringify(x.length > 40 ? `${x.slice(0, 37)}...` : x);
    return String(x);
  };
  let s: string;
  if (Array.isArray(v)) s = `[${v.slice(0, 8).map(one).join(',')}${v.length > 8 ? ',...' : ''}]`;
  else if (v !== null && typeof v === 'object') {
    const keys = Object.keys(v);
    s = `{${keys
      .slice(0, 4)
      .map((k) => `${one(k)}:${one((v as Record<string, unknown>)[k])}`)
      .join(',')}${keys.length > 4 ? ',...' : ''}}`;
  } else s = one(v);
  return s.length > 80 ? `${s.slice(0, 77)}...` : s;
}

/**
 * One linear scan over the raw header bytes (before any decoding; no recursion): the deepest nesting of
 * arrays/objects (stopping once `limit` is exceeded) and the number of top-level members (commas at depth
 * 1, plus one). Strings are skipped; UTF-8 continuation bytes never look like ASCII brackets or quotes.
 */
function scanHeader(b: Uint8Array, limit: number): { depth: number; members: number } {
  let depth = 0;
  let max = 0;
  let commas = 0;
  let nonEmpty = false;
  const n = b.length;
  for (let i = 0; i < n; i++) {
    const c = b[i];
    if (c === 0x22) {
      for (i++; i < n; i++) {
        const d = b[i];
        if (d === 0x5c) i++;
        else if (d === 0x22) break;
      }
      if (depth === 1) nonEmpty = true;
    } else if (c === 0x5b || c === 0x7b) {
      if (depth === 1) nonEmpty = true;
      if (++depth > max) {
        max = depth;
        if (max > limit) return { depth: max, members: 0 };
      }
    } else if (c === 0x5d || c === 0x7d) depth--;
    else if (c === 0x2c && depth === 1) commas++;
  }
  return { depth: max, members: nonEmpty ? commas + 1 : 0 };
}

const isWs = (c: number) => c === 0x20 || c === 0x0a || c === 0x0d || c === 0x09;

/** Index just past the JSON string starting at `i` (a `"`), or -1 if it does not end. */
function skipString(text: string, i: number): number {
  for (let j = i + 1; j < text.length; j++) {
    const c = text.charCodeAt(j);
    if (c === 0x5c) j++;
    else if (c === 0x22) return j + 1;
  }
  return -1;
}

/**
 * Splits a JSON object into its members by one linear scan (no recursion): returns `[keyStart, keyEnd,
 * valueStart, valueEnd, ...]` offsets into `text`, or `null` when the text is not an object (the caller then
 * reports what it is). Keys and values are validated later by `JSON.parse` of each slice.
 */
function splitTopLevel(text: string): number[] | null {
  const n = text.length;
  let i = 0;
  while (i < n && isWs(text.charCodeAt(i))) i++;
  if (text.charCodeAt(i) !== 0x7b) return null;
  i++;
  const out: number[] = [];
  const bad = (what: string): never => fail(`header is not valid JSON: ${what} at position ${i}`);
  while (i < n && isWs(text.charCodeAt(i))) i++;
  if (text.charCodeAt(i) === 0x7d) {
    i++;
  } else {
    for (;;) {
      if (text.charCodeAt(i) !== 0x22) bad('expected a key');
      const ks = i;
      i = skipString(text, i);
      if (i < 0) {
        i = n;
        bad('unterminated string');
      }
      const ke = i;
      while (i < n && isWs(text.charCodeAt(i))) i++;
      if (text.charCodeAt(i) !== 0x3a) bad("expected ':'");
      i++;
      const vs = i;
      let depth = 0;
      for (; i < n; i++) {
        const c = text.charCodeAt(i);
        if (c === 0x22) {
          const e = skipString(text, i);
          if (e < 0) {
            i = n;
            bad('unterminated string');
          }
          i = e - 1;
        } else if (c === 0x5b || c === 0x7b) depth++;
        else if (c === 0x5d || c === 0x7d) {
          if (depth === 0) break;
          depth--;
        } else if (c === 0x2c && depth === 0) break;
      }
      if (i >= n) bad('unexpected end');
      out.push(ks, ke, vs, i);
      const c = text.charCodeAt(i);
      i++;
      if (c === 0x7d) break;
      if (c !== 0x2c) bad("expected ',' or '}'");
      while (i < n && isWs(text.charCodeAt(i))) i++;
    }
  }
  while (i < n && isWs(text.charCodeAt(i))) i++;
  if (i < n) bad('trailing characters');
  return out;
}

// ---------------------------------------------------------------------------------------------------
// float16 / bfloat16 conversion

let f16Table: Float32Array | null = null;

/** Exact value of an IEEE-754 binary16 bit pattern (subnormals, +-0, +-inf; NaN for NaN patterns). */
export function float16BitsToNumber(h: number): number {
  const sign = h & 0x8000 ? -1 : 1;
  const e = (h >>> 10) & 0x1f;
  const m = h & 0x3ff;
  if (e === 0) return sign * m * 2 ** -24;
  if (e === 0x1f) return m === 0 ? sign * Number.POSITIVE_INFINITY : Number.NaN;
  return sign * (1024 + m) * 2 ** (e - 25);
}

function getF16Table(): Float32Array {
  if (!f16Table) {
    const t = new Float32Array(65536);
    for (let h = 0; h < 65536; h++) t[h] = float16BitsToNumber(h);
    f16Table = t;
  }
  return f16Table;
}

const scratchF32 = new Float32Array(1);
const scratchU32 = new Uint32Array(scratchF32.buffer);

/**
 * IEEE-754 binary16 bit pattern of `v` after rounding to float32 and then to float16 with
 * round-to-nearest-even (overflow -> +-inf, NaN stays NaN).
 */
export function numberToFloat16Bits(v: number): number {
  scratchF32[0] = v;
  const x = scratchU32[0];
  const sign = (x >>> 16) & 0x8000;
  const exp = (x >>> 23) & 0xff;
  const mant = x & 0x7fffff;
  if (exp === 0xff) return sign | 0x7c00 | (mant !== 0 ? 0x200 | (mant >>> 13) : 0);
  const e = exp - 112; // float16 biased exponent
  if (e >= 0x1f) return sign | 0x7c00;
  if (e <= 0) {
    if (e < -10) return sign; // below half the smallest subnormal: rounds to +-0
    const full = mant | 0x800000;
    const shift = 14 - e;
    let h = full >>> shift;
    const rem = full & ((1 << shift) - 1);
    const halfway = 1 << (shift - 1);
    if (rem > halfway || (rem === halfway && (h & 1) === 1)) h++;
    return sign | h;
  }
  let h = (e << 10) | (mant >>> 13);
  const rem = mant & 0x1fff;
  if (rem > 0x1000 || (rem === 0x1000 && (h & 1) === 1)) h++; // a carry into the exponent is correct (up to inf)
  return sign | h;
}

// ---------------------------------------------------------------------------------------------------
// reading

interface RawEntry {
  key: string;
  dtype: SafetensorsDtype;
  shape: number[];
  begin: number;
  end: number;
}

function parseEntry(key: string, v: unknown, dataLen: number): RawEntry {
  if (!isPlainObject(v)) fail(`tensor '${key}': header entry must be an object, got ${fmt(v)}`);
  const dtype = v['dtype'];
  if (typeof dtype !== 'string') fail(`tensor '${key}': dtype must be a string, got ${fmt(dtype)}`);
  if (!Object.hasOwn(ITEM_SIZE, dtype)) {
    const why = KNOWN_UNSUPPORTED.includes(dtype) ? 'unsupported' : 'unknown';
    fail(`tensor '${key}': ${why} dtype '${dtype}' (supported: ${Object.keys(ITEM_SIZE).join(', ')})`);
  }
  const shape = v['shape'];
  if (
    !Array.isArray(shape) ||
    !shape.every((d) => typeof d === 'number' && Number.isSafeInteger(d) && d >= 0)
  ) {
    fail(`tensor '${key}': shape must be an array of non-negative integers, got ${fmt(shape)}`);
  }
  let numel = 1;
  for (const d of shape as number[]) {
    numel *= d;
    if (!Number.isSafeInteger(numel)) fail(`tensor '${key}': shape ${fmt(shape)} has too many elements`);
  }
  const offs = v['data_offsets'];
  if (
    !Array.isArray(offs) ||
    offs.length !== 2 ||
    !offs.every((o) => typeof o === 'number' && Number.isSafeInteger(o) && o >= 0)
  ) {
    fail(`tensor '${key}': data_offsets must be [begin, end] with non-negative integers, got ${fmt(offs)}`);
  }
  const [begin, end] = offs as [number, number];
  if (end < begin) fail(`tensor '${key}': data_offsets [${begin}, ${end}] are reversed (end < begin)`);
  if (end > dataLen) {
    fail(
      `tensor '${key}': data_offsets [${begin}, ${end}] are out of range: the data section has ${dataLen} bytes`,
    );
  }
  const itemSize = ITEM_SIZE[dtype as SafetensorsDtype];
  const need = numel * itemSize;
  if (end - begin !== need) {
    fail(
      `tensor '${key}': data_offsets [${begin}, ${end}] hold ${end - begin} bytes but dtype ${dtype} ` +
        `with shape ${fmt(shape)} needs ${numel} x ${itemSize} = ${need} bytes`,
    );
  }
  return { key, dtype: dtype as SafetensorsDtype, shape: (shape as number[]).slice(), begin, end };
}

function decode(raw: RawEntry, bytes: Uint8Array, dataStart: number): SafetensorsEntry['data'] {
  const off = bytes.byteOffset + dataStart + raw.begin;
  const nBytes = raw.end - raw.begin;
  const buf = bytes.buffer;
  const view = new DataView(buf, off, nBytes);
  switch (raw.dtype) {
    case 'U8':
      return bytes.subarray(dataStart + raw.begin, dataStart + raw.end);
    case 'F32': {
      const n = nBytes / 4;
      if (LITTLE_ENDIAN && off % 4 === 0) return new Float32Array(buf, off, n);
      const out = new Float32Array(n);
      if (LITTLE_ENDIAN) new Uint8Array(out.buffer).set(new Uint8Array(buf, off, nBytes));
      else for (let i = 0; i < n; i++) out[i] = view.getFloat32(4 * i, true);
      return out;
    }
    case 'I32': {
      const n = nBytes / 4;
      if (LITTLE_ENDIAN && off % 4 === 0) return new Int32Array(buf, off, n);
      const out = new Int32Array(n);
      if (LITTLE_ENDIAN) new Uint8Array(out.buffer).set(new Uint8Array(buf, off, nBytes));
      else for (let i = 0; i < n; i++) out[i] = view.getInt32(4 * i, true);
      return out;
    }
    case 'F16': {
      const n = nBytes / 2;
      const table = getF16Table();
      const out = new Float32Array(n);
      for (let i = 0; i < n; i++) out[i] = table[view.getUint16(2 * i, true)];
      return out;
    }
    case 'BF16': {
      const n = nBytes / 2;
      const out = new Float32Array(n);
      const bits = new Uint32Array(out.buffer);
      for (let i = 0; i < n; i++) bits[i] = view.getUint16(2 * i, true) << 16;
      return out;
    }
    case 'F64': {
      const n = nBytes / 8;
      const out = new Float32Array(n);
      for (let i = 0; i < n; i++) out[i] = view.getFloat64(8 * i, true);
      return out;
    }
    case 'I16': {
      const n = nBytes / 2;
      const out = new Int32Array(n);
      for (let i = 0; i < n; i++) out[i] = view.getInt16(2 * i, true);
      return out;
    }
    case 'I8': {
      const n = nBytes;
      const out = new Int32Array(n);
      for (let i = 0; i < n; i++) out[i] = view.getInt8(i);
      return out;
    }
    case 'BOOL':
      return bytes.subarray(dataStart + raw.begin, dataStart + raw.end);
    case 'I64': {
      const n = nBytes / 8;
      const out = new Int32Array(n);
      for (let i = 0; i < n; i++) {
        const lo = view.getUint32(8 * i, true);
        const hi = view.getUint32(8 * i + 4, true);
        const ok = (hi === 0 && lo <= 0x7fffffff) || (hi === 0xffffffff && lo >= 0x80000000);
        if (!ok) {
          const value = view.getBigInt64(8 * i, true);
          fail(
            `tensor '${raw.key}': I64 value ${value} at flat index ${i} is outside the int32 range ` +
              `[-2147483648, 2147483647] and cannot be represented`,
          );
        }
        out[i] = lo | 0;
      }
      return out;
    }
  }
}

interface Layout {
  metadata: Record<string, string>;
  raws: RawEntry[];
  u8: Uint8Array;
  dataStart: number;
}

function parseLayout(bytes: ArrayBuffer | Uint8Array, opts: ReadSafetensorsOptions): Layout {
  let u8: Uint8Array;
  if (bytes instanceof Uint8Array) u8 = bytes;
  else if (bytes instanceof ArrayBuffer) u8 = new Uint8Array(bytes);
  else if (ArrayBuffer.isView(bytes)) {
    const v = bytes as ArrayBufferView;
    u8 = new Uint8Array(v.buffer, v.byteOffset, v.byteLength);
  } else fail(`expected an ArrayBuffer or Uint8Array, got ${Object.prototype.toString.call(bytes)}`);

  const maxHeader = opts.maxHeaderBytes ?? DEFAULT_MAX_HEADER_BYTES;
  if (!(maxHeader >= 0)) fail(`maxHeaderBytes must be a non-negative number, got ${maxHeader}`);
  const maxDepth = opts.maxHeaderDepth ?? DEFAULT_MAX_HEADER_DEPTH;
  const maxEntries = opts.maxEntries ?? DEFAULT_MAX_ENTRIES;

  if (u8.byteLength < 8) {
    fail(`file is ${u8.byteLength} bytes, shorter than the 8-byte header-length prefix`);
  }
  const headerLen = new DataView(u8.buffer, u8.byteOffset, 8).getBigUint64(0, true);
  const available = BigInt(u8.byteLength - 8);
  if (headerLen > available) {
    fail(
      `header length ${headerLen} runs past the end of the file (${u8.byteLength} bytes: at most ${available})`,
    );
  }
  if (headerLen > BigInt(Math.floor(Math.min(maxHeader, Number.MAX_SAFE_INTEGER)))) {
    fail(`header length ${headerLen} bytes exceeds the limit of ${maxHeader} bytes (maxHeaderBytes)`);
  }
  const n = Number(headerLen);
  const dataStart = 8 + n;
  const dataLen = u8.byteLength - dataStart;

  // nesting and entry count are checked on the raw bytes before anything is decoded or parsed, so that
  // nothing downstream ever meets deep structures and a huge header is refused in one linear pass
  const stats = scanHeader(u8.subarray(8, dataStart), maxDepth);
  if (stats.depth > maxDepth) fail(`header nests deeper than ${maxDepth} levels (maxHeaderDepth)`);
  if (stats.members > maxEntries + 1) {
    fail(`header lists ${stats.members} entries, more than the limit of ${maxEntries} tensors (maxEntries)`);
  }
  let text: string;
  try {
    text = new TextDecoder('utf-8', { fatal: true, ignoreBOM: true }).decode(u8.subarray(8, dataStart));
  } catch {
    fail(`header (${n} bytes) is not valid UTF-8`);
  }
  // The top-level object is split by one linear scan and each member parsed on its own: JSON.parse of one
  // object with ~10^6 keys is superlinear in V8, and the entry count is known before anything is parsed.
  const members = splitTopLevel(text);
  if (members === null) {
    let header: unknown;
    try {
      header = JSON.parse(text);
    } catch (e) {
      fail(`header is not valid JSON: ${String((e as Error).message).slice(0, 120)}`);
    }
    fail(`header must be a JSON object, got ${Array.isArray(header) ? 'an array' : fmt(header)}`);
  }
  const entries = new Map<string, unknown>();
  for (let i = 0; i < members.length; i += 4) {
    let key: string;
    let value: unknown;
    try {
      key = JSON.parse(text.slice(members[i], members[i + 1])) as string;
      value = JSON.parse(text.slice(members[i + 2], members[i + 3]));
    } catch (e) {
      fail(`header is not valid JSON: ${String((e as Error).message).slice(0, 120)}`);
    }
    entries.set(key, value);
  }

  let metadata: Record<string, string> = {};
  const rawMeta = entries.get('__metadata__');
  if (rawMeta !== undefined) {
    if (!isPlainObject(rawMeta)) fail(`__metadata__ must be an object of strings, got ${fmt(rawMeta)}`);
    for (const [k, v] of Object.entries(rawMeta)) {
      if (typeof v !== 'string') fail(`__metadata__ value of '${k}' must be a string, got ${fmt(v)}`);
    }
    // fromEntries defines own properties, so even a '__proto__' key stays plain data
    metadata = Object.fromEntries(Object.entries(rawMeta)) as Record<string, string>;
  }
  const tensorCount = entries.size - (rawMeta !== undefined ? 1 : 0);
  if (tensorCount > maxEntries) {
    fail(`header lists ${tensorCount} tensors, more than the limit of ${maxEntries} (maxEntries)`);
  }
  const raws: RawEntry[] = [];
  for (const [key, v] of entries) {
    if (key === '__metadata__') continue;
    raws.push(parseEntry(key, v, dataLen));
  }

  // Contiguity: sorted by offsets, each tensor starts where the previous one ended; the last ends at EOF.
  const sorted = raws.slice().sort((a, b) => a.begin - b.begin || a.end - b.end);
  let pos = 0;
  let prev: RawEntry | null = null;
  for (const r of sorted) {
    if (r.begin < pos) {
      fail(
        `tensor '${r.key}' data_offsets [${r.begin}, ${r.end}] overlap tensor '${prev!.key}' [${prev!.begin}, ${prev!.end}]`,
      );
    }
    if (r.begin > pos) {
      fail(
        `gap in the data section: bytes [${pos}, ${r.begin}) before tensor '${r.key}' belong to no tensor ` +
          `(tensors must be contiguous)`,
      );
    }
    pos = r.end;
    prev = r;
  }
  if (pos !== dataLen) {
    fail(
      `data section has ${dataLen} bytes but the tensors cover only ${pos}: ${dataLen - pos} trailing bytes`,
    );
  }
  return { metadata, raws, u8, dataStart };
}

/**
 * Parses a safetensors file.
 *
 * Decoding: F32 -> Float32Array (zero-copy view when 4-byte aligned, else a copy); F16/BF16 ->
 * Float32Array (exact); F64 -> Float32Array (rounded); I64 -> Int32Array (throws naming the key if a value
 * is outside int32); I32/I16/I8 -> Int32Array; U8/BOOL -> Uint8Array. The header must describe the data
 * section exactly: tensors contiguous in offset order, no gaps, no overlaps, no trailing bytes. The header's
 * nesting depth and number of entries are limited (`maxHeaderDepth`, `maxEntries`); parsing is linear in
 * the header size.
 *
 * @param bytes the whole file
 * @throws SafetensorsError on any malformed input
 */
export function readSafetensors(
  bytes: ArrayBuffer | Uint8Array,
  opts: ReadSafetensorsOptions = {},
): SafetensorsFile {
  const { metadata, raws, u8, dataStart } = parseLayout(bytes, opts);
  const tensors = new Map<string, SafetensorsEntry>();
  for (const r of raws)
    tensors.set(r.key, { dtype: r.dtype, shape: r.shape, data: decode(r, u8, dataStart) });
  return { metadata, tensors };
}

/**
 * Parses a safetensors file keeping every tensor in its stored dtype: a fresh, aligned copy per tensor in
 * the {@link RawTensor} layout (F16/BF16 as Uint16Array bits, I64 as BigInt64Array, BOOL as Uint8Array).
 * Same checks and limits as {@link readSafetensors}.
 *
 * @throws SafetensorsError on any malformed input
 */
export function readSafetensorsRaw(
  bytes: ArrayBuffer | Uint8Array,
  opts: ReadSafetensorsOptions = {},
): { metadata: Record<string, string>; tensors: Map<string, RawTensor> } {
  const { metadata, raws, u8, dataStart } = parseLayout(bytes, opts);
  const tensors = new Map<string, RawTensor>();
  for (const r of raws) {
    const item = ITEM_SIZE[r.dtype];
    const n = (r.end - r.begin) / item;
    const buf = new ArrayBuffer(r.end - r.begin);
    const out = new Uint8Array(buf);
    out.set(u8.subarray(dataStart + r.begin, dataStart + r.end));
    if (!LITTLE_ENDIAN) {
      for (let i = 0; i < out.length; i += item) out.subarray(i, i + item).reverse();
    }
    tensors.set(r.key, { dtype: r.dtype, shape: r.shape, data: typedView(r.dtype, buf, n) });
  }
  return { metadata, tensors };
}

/**
 * Converts every entry of a parsed file into a tfjs tensor on the current backend: float dtypes -> float32,
 * integer dtypes (I64, I32, U8) -> int32. Shape `[]` gives a scalar. The caller owns (and disposes) them.
 */
export function toTensors(file: SafetensorsFile): Record<string, tf.Tensor> {
  const out: [string, tf.Tensor][] = [];
  try {
    for (const [key, e] of file.tensors) {
      if (e.data instanceof Float32Array) out.push([key, tf.tensor(e.data, e.shape, 'float32')]);
      else if (e.data instanceof Int32Array) out.push([key, tf.tensor(e.data, e.shape, 'int32')]);
      else out.push([key, tf.tensor(Int32Array.from(e.data), e.shape, 'int32')]);
    }
  } catch (err) {
    for (const [, t] of out) t.dispose();
    throw err;
  }
  return Object.fromEntries(out);
}

// ---------------------------------------------------------------------------------------------------
// writing

const ARRAY_DTYPE: [new (...a: never[]) => ArrayBufferView, SafetensorsDtype][] = [
  [Float64Array, 'F64'],
  [Int32Array, 'I32'],
  [Int16Array, 'I16'],
  [Int8Array, 'I8'],
  [Uint8Array, 'U8'],
  [BigInt64Array, 'I64'],
];

/** The typed array class that holds `dtype` in its stored form. */
const STORED_ARRAY: Record<SafetensorsDtype, new (...a: never[]) => ArrayBufferView> = {
  F64: Float64Array,
  F32: Float32Array,
  F16: Uint16Array,
  BF16: Uint16Array,
  I64: BigInt64Array,
  I32: Int32Array,
  I16: Int16Array,
  I8: Int8Array,
  U8: Uint8Array,
  BOOL: Uint8Array,
};

/**
 * Serialises tensors to safetensors bytes, each in its own dtype (see {@link SafetensorsTensorData}):
 * Float32Array data is stored as `opts.dtype` (F32 default, or F16 rounded to nearest-even) unless the
 * entry names a dtype; F64, F16/BF16 bits, I64, I32, I16, I8, U8 and BOOL are written as given. Tensors
 * are laid out contiguously in the object's key order; the header is padded with spaces so that the data
 * starts at a multiple of 8.
 *
 * @throws SafetensorsError on an invalid name, shape, dtype, data type or data length
 */
export function writeSafetensors(
  tensors: Record<string, SafetensorsTensorData>,
  opts: WriteSafetensorsOptions = {},
): Uint8Array {
  const floatDtype = opts.dtype ?? 'F32';
  if (floatDtype !== 'F32' && floatDtype !== 'F16') {
    fail(`writeSafetensors: dtype must be 'F32' or 'F16', got ${fmt(floatDtype)}`);
  }
  // null prototype: a tensor named '__proto__' must stay an ordinary key
  const header: Record<string, unknown> = Object.create(null);
  if (opts.metadata !== undefined) {
    if (!isPlainObject(opts.metadata)) fail('writeSafetensors: metadata must be an object of strings');
    for (const [k, v] of Object.entries(opts.metadata)) {
      if (typeof v !== 'string')
        fail(`writeSafetensors: metadata value of '${k}' must be a string, got ${fmt(v)}`);
    }
    header['__metadata__'] = Object.fromEntries(Object.entries(opts.metadata));
  }
  const plan: {
    data: ArrayBufferView;
    dtype: SafetensorsDtype;
    f32ToF16: boolean;
    begin: number;
    end: number;
  }[] = [];
  let pos = 0;
  for (const [key, t] of Object.entries(tensors)) {
    if (key === '__metadata__') fail(`writeSafetensors: '__metadata__' is reserved and cannot name a tensor`);
    if (!t || !Array.isArray(t.shape) || !t.shape.every((d) => Number.isSafeInteger(d) && d >= 0)) {
      fail(
        `writeSafetensors: tensor '${key}': shape must be an array of non-negative integers, got ${fmt(t?.shape)}`,
      );
    }
    const data = t.data;
    if (!ArrayBuffer.isView(data) || data instanceof DataView) {
      fail(`writeSafetensors: tensor '${key}': data must be a typed array`);
    }
    let dtype: SafetensorsDtype;
    let f32ToF16 = false;
    if (t.dtype !== undefined) {
      if (!Object.hasOwn(STORED_ARRAY, t.dtype))
        fail(`writeSafetensors: tensor '${key}': unknown dtype ${fmt(t.dtype)}`);
      dtype = t.dtype;
      if (dtype === 'F16' && data instanceof Float32Array) f32ToF16 = true;
      else if (!(data instanceof STORED_ARRAY[dtype])) {
        fail(
          `writeSafetensors: tensor '${key}': dtype ${dtype} needs a ${STORED_ARRAY[dtype].name}, got ${Object.prototype.toString.call(data).slice(8, -1)}`,
        );
      }
    } else if (data instanceof Float32Array) {
      dtype = floatDtype;
      f32ToF16 = floatDtype === 'F16';
    } else {
      const hit = ARRAY_DTYPE.find(([C]) => data instanceof C);
      if (!hit) {
        fail(
          `writeSafetensors: tensor '${key}': unsupported data type ${data.constructor.name} (give a dtype, e.g. 'F16' for Uint16Array bits)`,
        );
      }
      dtype = hit[1];
    }
    const numel = t.shape.reduce((a, b) => a * b, 1);
    const length = (data as unknown as { length: number }).length;
    if (length !== numel) {
      fail(
        `writeSafetensors: tensor '${key}': shape ${fmt(t.shape)} has ${numel} elements but data has ${length}`,
      );
    }
    if (dtype === 'BOOL') {
      const u = data as Uint8Array;
      for (let i = 0; i < u.length; i++) {
        if (u[i] > 1)
          fail(`writeSafetensors: tensor '${key}': BOOL data must be 0 or 1, got ${u[i]} at ${i}`);
      }
    }
    const end = pos + numel * ITEM_SIZE[dtype];
    header[key] = { dtype, shape: t.shape.slice(), data_offsets: [pos, end] };
    plan.push({ data, dtype, f32ToF16, begin: pos, end });
    pos = end;
  }
  const json = new TextEncoder().encode(JSON.stringify(header));
  const padded = Math.ceil((8 + json.length) / 8) * 8 - 8;
  const out = new Uint8Array(8 + padded + pos);
  const dv = new DataView(out.buffer);
  dv.setBigUint64(0, BigInt(padded), true);
  out.set(json, 8);
  out.fill(0x20, 8 + json.length, 8 + padded);
  const base = 8 + padded;
  for (const p of plan) {
    const o = base + p.begin;
    if (p.f32ToF16) {
      const f = p.data as Float32Array;
      for (let i = 0; i < f.length; i++) dv.setUint16(o + 2 * i, numberToFloat16Bits(f[i]), true);
      continue;
    }
    const src = new Uint8Array(p.data.buffer, p.data.byteOffset, p.data.byteLength);
    out.set(src, o);
    if (!LITTLE_ENDIAN) {
      const item = ITEM_SIZE[p.dtype];
      for (let i = o; i < o + src.length; i += item) out.subarray(i, i + item).reverse();
    }
  }
  return out;
}

/**
 * Reads the data of tfjs tensors (`await t.data()`) and serialises them with {@link writeSafetensors}:
 * float32 -> F32/F16, int32 and bool -> I32. Tensors are not disposed.
 */
export async function tensorsToSafetensors(
  tensors: Record<string, tf.Tensor>,
  opts: WriteSafetensorsOptions = {},
): Promise<Uint8Array> {
  const plain: Record<string, SafetensorsTensorData> = Object.create(null);
  for (const [key, t] of Object.entries(tensors)) {
    if (!(t instanceof tf.Tensor)) fail(`tensorsToSafetensors: '${key}' is not a tf.Tensor`);
    const values = await t.data();
    let data: Float32Array | Int32Array;
    if (t.dtype === 'float32')
      data = values instanceof Float32Array ? values : Float32Array.from(values as ArrayLike<number>);
    else if (t.dtype === 'int32' || t.dtype === 'bool') {
      data = values instanceof Int32Array ? values : Int32Array.from(values as ArrayLike<number>);
    } else fail(`tensorsToSafetensors: tensor '${key}' has unsupported dtype ${t.dtype}`);
    plain[key] = { shape: t.shape.slice(), data };
  }
  return writeSafetensors(plain, opts);
}
