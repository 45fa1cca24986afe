import { describe, expect, it } from 'vitest';
import {
  DEFAULT_MAX_ENTRIES,
  readSafetensors,
  readSafetensorsRaw,
  SafetensorsError,
  writeSafetensors,
} from './safetensors.js';

/** A safetensors file from raw header text and data bytes. */
function fromHeaderText(text: string, data = new Uint8Array(0)): Uint8Array {
  const json = new TextEncoder().encode(text);
  const out = new Uint8Array(8 + json.length + data.length);
  new DataView(out.buffer).setBigUint64(0, BigInt(json.length), true);
  out.set(json, 8);
  out.set(data, 8 + json.length);
  return out;
}

function errorOf(f: () => unknown): Error {
  try {
    f();
  } catch (e) {
    return e as Error;
  }
  throw new Error('expected a throw');
}

describe('safetensors: every dtype round-trips as stored', () => {
  it('F64, I16, I8, BOOL, I64, F16/BF16 bits, U8, I32 and F32 keep their dtype and bits', () => {
    const tensors = {
      f64: { shape: [2], data: new Float64Array([Math.PI, -1e300]) },
      i16: { shape: [3], data: new Int16Array([-32768, 0, 32767]) },
      i8: { shape: [2, 1], data: new Int8Array([-128, 127]) },
      b: { shape: [3], data: new Uint8Array([1, 0, 1]), dtype: 'BOOL' as const },
      i64: { shape: [1], data: new BigInt64Array([-(2n ** 62n)]) },
      i64small: { shape: [2], data: new BigInt64Array([-3n, 7n]) },
      f16: { shape: [2], data: new Uint16Array([0x3c00, 0x7c00]), dtype: 'F16' as const },
      bf16: { shape: [1], data: new Uint16Array([0xbf80]), dtype: 'BF16' as const },
      u8: { shape: [1], data: new Uint8Array([255]) },
      i32: { shape: [1], data: new Int32Array([-5]) },
      f32: { shape: [], data: new Float32Array([0.1]) },
    };
    const raw = readSafetensorsRaw(writeSafetensors(tensors));
    for (const [k, t] of Object.entries(tensors)) {
      const got = raw.tensors.get(k)!;
      expect(got.shape, k).toEqual(t.shape);
      expect(got.data.constructor, k).toBe(t.data.constructor);
      expect(Array.from(got.data as unknown as ArrayLike<unknown>), k).toEqual(
        Array.from(t.data as ArrayLike<unknown>),
      );
    }
    expect(raw.tensors.get('b')!.dtype).toBe('BOOL');
    expect(raw.tensors.get('bf16')!.dtype).toBe('BF16');
    // the decoding reader widens them
    const { i64: _big, ...small } = tensors;
    const dec = readSafetensors(writeSafetensors(small)).tensors;
    expect(Array.from(dec.get('i64small')!.data)).toEqual([-3, 7]);
    expect(Array.from(dec.get('f64')!.data)).toEqual([Math.fround(Math.PI), Number.NEGATIVE_INFINITY]);
    expect(Array.from(dec.get('i16')!.data)).toEqual([-32768, 0, 32767]);
    expect(Array.from(dec.get('i8')!.data)).toEqual([-128, 127]);
    expect(Array.from(dec.get('b')!.data)).toEqual([1, 0, 1]);
    expect(Array.from(dec.get('bf16')!.data)).toEqual([-1]);
  });
});

describe('safetensors: hostile headers (issue: deep nesting, huge entry counts)', () => {
  const DEEP = 100_000;
  const deepArray = '['.repeat(DEEP) + ']'.repeat(DEEP);

  it('arrays or objects nested 100,000 deep anywhere give a SafetensorsError, not a RangeError', () => {
    const places = [
      deepArray,
      `{"t":{"dtype":"F32","shape":${deepArray},"data_offsets":[0,0]}}`,
      `{"__metadata__":{"a":${deepArray}}}`,
      `{"t":${'{"a":'.repeat(DEEP)}1${'}'.repeat(DEEP)}}`,
      `{"t":{"dtype":${deepArray},"shape":[],"data_offsets":[0,0]}}`,
    ];
    for (const text of places) {
      const e = errorOf(() => readSafetensors(fromHeaderText(text)));
      expect(e).toBeInstanceOf(SafetensorsError);
      expect(e.message).toMatch(/header nests deeper than 64 levels \(maxHeaderDepth\)/);
    }
  });

  it('brackets inside strings do not count as nesting; messages never expand nested values', () => {
    const name = '['.repeat(1000);
    const file = fromHeaderText(
      `{"${name}":{"dtype":"F32","shape":[1],"data_offsets":[0,4]}}`,
      new Uint8Array(4),
    );
    expect([...readSafetensors(file).tensors.keys()]).toEqual([name]);
    const nested = `[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[1]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]`;
    const e = errorOf(() =>
      readSafetensors(fromHeaderText(`{"t":{"dtype":"F32","shape":${nested},"data_offsets":[0,0]}}`)),
    );
    expect(e.message).toMatch(/shape must be an array of non-negative integers, got \[\[\.\.\.\]\]/);
  });

  /** A header of `n` zero-size entries (~56 bytes each: 900,000 give ~50 MB). */
  function hugeHeader(n: number): Uint8Array {
    const parts: string[] = ['{'];
    for (let i = 0; i < n; i++) {
      parts.push(
        `"tensor_with_a_long_name_${String(i).padStart(7, '0')}":{"dtype":"F32","shape":[0],"data_offsets":[0,0]}`,
      );
      parts.push(i + 1 < n ? ',' : '}');
    }
    return fromHeaderText(parts.join(''));
  }

  it('a 50 MB header of 900,000 zero-size entries is rejected by the entry limit in one linear pass', () => {
    const file = hugeHeader(900_000);
    expect(file.length).toBeGreaterThan(50_000_000);
    const t0 = performance.now();
    const e = errorOf(() => readSafetensors(file));
    const ms = performance.now() - t0;
    expect(e).toBeInstanceOf(SafetensorsError);
    expect(e.message).toMatch(
      new RegExp(
        `header lists 900000 entries, more than the limit of ${DEFAULT_MAX_ENTRIES} tensors \\(maxEntries\\)`,
      ),
    );
    // generous bound for a loaded 2-core machine (the old reader took tens of seconds and ~1.5 GB)
    expect(ms).toBeLessThan(10_000);
  });

  it('100,000 zero-size entries (5.6 MB) within the limit parse, in file order', () => {
    const file = hugeHeader(100_000);
    const t0 = performance.now();
    const parsed = readSafetensors(file);
    expect(performance.now() - t0).toBeLessThan(10_000);
    expect(parsed.tensors.size).toBe(100_000);
    expect([...parsed.tensors.keys()][99_999]).toBe('tensor_with_a_long_name_0099999');
  });

  it('maxEntries and maxHeaderDepth are options', () => {
    const file = hugeHeader(10);
    expect(() => readSafetensors(file, { maxEntries: 9 })).toThrow(
      /header lists 10 (entries|tensors), more than the limit of 9/,
    );
    expect(readSafetensors(file, { maxEntries: 10 }).tensors.size).toBe(10);
    expect(() => readSafetensors(file, { maxHeaderDepth: 2 })).toThrow(/nests deeper than 2 levels/);
  });
});
