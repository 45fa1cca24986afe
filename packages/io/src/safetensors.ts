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

/** dtypes this implementation reads. `F16`/`BF16` decode to float32, `I64` to int32 (range-checked). */
export type SafetensorsDtype = 'F32' | 'F16' | 'BF16' | 'I64' | 'I32' | 'U8';

/** One decoded tensor. `data` is row-major (C order); `shape` `[]` is a scalar with one element. */
export interface SafetensorsEntry {
  /** dtype as stored in the file (the decoded `data` type follows from it). */
  dtype: SafetensorsDtype;
  shape: number[];
  /**
   * F32/F16/BF16 -> Float32Array, I64/I32 -> Int32Array, U8 -> Uint8Array. F32, I32 and U8 data that is
   * suitably aligned is a zero-copy view into the input buffer (do not mutate the input afterwards).
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
}

/** Tensor data accepted by {@link writeSafetensors}. `data.length` must equal the product of `shape`. */
export interface SafetensorsTensorData {
  shape: number[];
  data: Float32Array | Int32Array;
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

const ITEM_SIZE: Record<SafetensorsDtype, number> = { F32: 4, F16: 2, BF16: 2, I64: 8, I32: 4, U8: 1 };
const KNOWN_UNSUPPORTED = ['F64', 'F8_E4M3', 'F8_E5M2', 'I8', 'I16', 'U16', 'U32', 'U64', 'BOOL'];

const LITTLE_ENDIAN = new Uint8Array(new Uint32Array([1]).buffer)[0] === 1;

function fail(message: string): never {
  throw new SafetensorsError(`safetensors: ${message}`);
}

function isPlainObject(v: unknown): v is Record<string, unknown> {
  return typeof v === 'object' && v !== null && !Array.isArray(v);
}

function fmt(v: unknown): string {
  try {
    const s = JSON.stringify(v);
    if (s === undefined) return String(v);
    return s.length > 80 ? `${s.slice(0, 77)}...` : s;
  } catch {
    return String(v);
  }
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

/**
 * Parses a safetensors file.
 *
 * Decoding: F32 -> Float32Array (zero-copy view when 4-byte aligned, else a copy); F16/BF16 ->
 * Float32Array (exact); I64 -> Int32Array (throws naming the key if a value is outside int32); I32 ->
 * Int32Array; U8 -> Uint8Array. The header must describe the data section exactly: tensors contiguous in
 * offset order, no gaps, no overlaps, no trailing bytes.
 *
 * @param bytes the whole file
 * @throws SafetensorsError on any malformed input
 */
export function readSafetensors(
  bytes: ArrayBuffer | Uint8Array,
  opts: ReadSafetensorsOptions = {},
): SafetensorsFile {
  let u8: Uint8Array;
  if (bytes instanceof Uint8Array) u8 = bytes;
  else if (bytes instanceof ArrayBuffer) u8 = new Uint8Array(bytes);
  else if (ArrayBuffer.isView(bytes)) {
    const v = bytes as ArrayBufferView;
    u8 = new Uint8Array(v.buffer, v.byteOffset, v.byteLength);
  } else fail(`expected an ArrayBuffer or Uint8Array, got ${Object.prototype.toString.call(bytes)}`);

  const maxHeader = opts.maxHeaderBytes ?? DEFAULT_MAX_HEADER_BYTES;
  if (!(maxHeader >= 0)) fail(`maxHeaderBytes must be a non-negative number, got ${maxHeader}`);

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

  let text: string;
  try {
    text = new TextDecoder('utf-8', { fatal: true, ignoreBOM: true }).decode(u8.subarray(8, dataStart));
  } catch {
    fail(`header (${n} bytes) is not valid UTF-8`);
  }
  let header: unknown;
  try {
    header = JSON.parse(text);
  } catch (e) {
    fail(`header is not valid JSON: ${(e as Error).message}`);
  }
  if (!isPlainObject(header)) {
    fail(`header must be a JSON object, got ${Array.isArray(header) ? 'an array' : fmt(header)}`);
  }

  let metadata: Record<string, string> = {};
  const rawMeta = header['__metadata__'];
  if (rawMeta !== undefined) {
    if (!isPlainObject(rawMeta)) fail(`__metadata__ must be an object of strings, got ${fmt(rawMeta)}`);
    for (const [k, v] of Object.entries(rawMeta)) {
      if (typeof v !== 'string') fail(`__metadata__ value of '${k}' must be a string, got ${fmt(v)}`);
    }
    // fromEntries defines own properties, so even a '__proto__' key stays plain data
    metadata = Object.fromEntries(Object.entries(rawMeta)) as Record<string, string>;
  }

  const raws: RawEntry[] = [];
  for (const [key, v] of Object.entries(header)) {
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

  const tensors = new Map<string, SafetensorsEntry>();
  for (const r of raws)
    tensors.set(r.key, { dtype: r.dtype, shape: r.shape, data: decode(r, u8, dataStart) });
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

/**
 * Serialises tensors to safetensors bytes. Float32Array data is stored as `opts.dtype` (F32 default, or
 * F16 rounded to nearest-even), Int32Array data as I32. Tensors are laid out contiguously in the object's
 * key order; the header is padded with spaces so that the data starts at a multiple of 8.
 *
 * @throws SafetensorsError on an invalid name, shape, data type or data length
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
  const plan: { data: Float32Array | Int32Array; dtype: SafetensorsDtype; begin: number; end: number }[] = [];
  let pos = 0;
  for (const [key, t] of Object.entries(tensors)) {
    if (key === '__metadata__') fail(`writeSafetensors: '__metadata__' is reserved and cannot name a tensor`);
    if (!t || !Array.isArray(t.shape) || !t.shape.every((d) => Number.isSafeInteger(d) && d >= 0)) {
      fail(
        `writeSafetensors: tensor '${key}': shape must be an array of non-negative integers, got ${fmt(t?.shape)}`,
      );
    }
    let dtype: SafetensorsDtype;
    if (t.data instanceof Float32Array) dtype = floatDtype;
    else if (t.data instanceof Int32Array) dtype = 'I32';
    else fail(`writeSafetensors: tensor '${key}': data must be a Float32Array or Int32Array`);
    const numel = t.shape.reduce((a, b) => a * b, 1);
    if (t.data.length !== numel) {
      fail(
        `writeSafetensors: tensor '${key}': shape ${fmt(t.shape)} has ${numel} elements but data has ${t.data.length}`,
      );
    }
    const end = pos + numel * ITEM_SIZE[dtype];
    header[key] = { dtype, shape: t.shape.slice(), data_offsets: [pos, end] };
    plan.push({ data: t.data, dtype, begin: pos, end });
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
    if (p.dtype === 'F16') {
      for (let i = 0; i < p.data.length; i++) dv.setUint16(o + 2 * i, numberToFloat16Bits(p.data[i]), true);
    } else if (LITTLE_ENDIAN) {
      out.set(new Uint8Array(p.data.buffer, p.data.byteOffset, p.data.byteLength), o);
    } else if (p.dtype === 'F32') {
      for (let i = 0; i < p.data.length; i++) dv.setFloat32(o + 4 * i, p.data[i], true);
    } else {
      for (let i = 0; i < p.data.length; i++) dv.setInt32(o + 4 * i, p.data[i], true);
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
  const plain: Record<string, SafetensorsTensorData> = {};
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
