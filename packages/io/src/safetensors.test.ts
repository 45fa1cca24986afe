import { readdirSync, readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import * as tf from '@tensorflow/tfjs';
import '@tensorflow/tfjs-backend-wasm';
import fc from 'fast-check';
import { afterEach, describe, expect, it, vi } from 'vitest';
import {
  float16BitsToNumber,
  numberToFloat16Bits,
  readSafetensors,
  SafetensorsError,
  tensorsToSafetensors,
  toTensors,
  writeSafetensors,
} from './safetensors.js';

// @swin/testing depends on @swin/nn, so this test resolves the fixtures directory itself (same rule).
const FIXTURES =
  process.env.SWIN_FIXTURES ?? fileURLToPath(new URL('../../../../shared/fixtures/parity', import.meta.url));
const BACKENDS = ['cpu', 'wasm'] as const;

/** Builds a safetensors file by hand: 8-byte LE length, header text (not padded), data bytes. */
function build(header: unknown, data: ArrayLike<number> = [], headerLength?: bigint): Uint8Array {
  const text = typeof header === 'string' ? header : JSON.stringify(header);
  const json = new TextEncoder().encode(text);
  const out = new Uint8Array(8 + json.length + data.length);
  new DataView(out.buffer).setBigUint64(0, headerLength ?? BigInt(json.length), true);
  out.set(json, 8);
  out.set(Array.from(data), 8 + json.length);
  return out;
}

function u16le(values: number[]): number[] {
  return values.flatMap((v) => [v & 0xff, (v >>> 8) & 0xff]);
}

function i64le(values: bigint[]): number[] {
  const b = new Uint8Array(values.length * 8);
  const dv = new DataView(b.buffer);
  for (let i = 0; i < values.length; i++) dv.setBigInt64(8 * i, values[i], true);
  return Array.from(b);
}

function f32le(values: number[]): number[] {
  return Array.from(new Uint8Array(new Float32Array(values).buffer));
}

function expectError(bytes: Uint8Array, pattern: RegExp, opts?: { maxHeaderBytes?: number }): void {
  let err: unknown;
  try {
    readSafetensors(bytes, opts);
  } catch (e) {
    err = e;
  }
  expect(err, 'readSafetensors should have thrown').toBeInstanceOf(SafetensorsError);
  expect(err).toBeInstanceOf(Error);
  expect((err as Error).message).toMatch(/^safetensors: /);
  expect((err as Error).message).toMatch(pattern);
}

describe('readSafetensors: hand-written byte vectors', () => {
  it('decodes F16 exactly (normal, max, subnormal, zero, inf, nan)', () => {
    const bits = [
      0x3c00, 0x7bff, 0x0001, 0x03ff, 0x0400, 0x8000, 0x0000, 0x7c00, 0xfc00, 0x7e00, 0xc000, 0x3555,
    ];
    const f = readSafetensors(
      build({ h: { dtype: 'F16', shape: [bits.length], data_offsets: [0, 2 * bits.length] } }, u16le(bits)),
    );
    const e = f.tensors.get('h')!;
    expect(e.dtype).toBe('F16');
    expect(e.data).toBeInstanceOf(Float32Array);
    const d = Array.from(e.data);
    expect(d[0]).toBe(1);
    expect(d[1]).toBe(65504);
    expect(d[2]).toBe(2 ** -24);
    expect(d[3]).toBe(1023 * 2 ** -24);
    expect(d[4]).toBe(2 ** -14);
    expect(Object.is(d[5], -0)).toBe(true);
    expect(Object.is(d[6], 0)).toBe(true);
    expect(d[7]).toBe(Number.POSITIVE_INFINITY);
    expect(d[8]).toBe(Number.NEGATIVE_INFINITY);
    expect(Number.isNaN(d[9])).toBe(true);
    expect(d[10]).toBe(-2);
    expect(d[11]).toBe(0x155 / 1024 / 4 + 0.25); // 0x3555 = 2^-2 * (1 + 0x155/1024)
  });

  it('decodes BF16 exactly', () => {
    const bits = [0x3f80, 0xc000, 0x7f80, 0xff80, 0x0001, 0x7fc0, 0x4049];
    const f = readSafetensors(
      build({ b: { dtype: 'BF16', shape: [7], data_offsets: [0, 14] } }, u16le(bits)),
    );
    const d = Array.from(f.tensors.get('b')!.data);
    expect(d[0]).toBe(1);
    expect(d[1]).toBe(-2);
    expect(d[2]).toBe(Number.POSITIVE_INFINITY);
    expect(d[3]).toBe(Number.NEGATIVE_INFINITY);
    expect(d[4]).toBe(2 ** -133); // float32 subnormal
    expect(Number.isNaN(d[5])).toBe(true);
    expect(d[6]).toBe(3.140625);
  });

  it('decodes I64 to Int32Array, including negatives and the int32 extremes', () => {
    const vals = [0n, 5n, -1n, 2147483647n, -2147483648n, 168n];
    const f = readSafetensors(
      build({ i: { dtype: 'I64', shape: [2, 3], data_offsets: [0, 48] } }, i64le(vals)),
    );
    const e = f.tensors.get('i')!;
    expect(e.dtype).toBe('I64');
    expect(e.shape).toEqual([2, 3]);
    expect(e.data).toBeInstanceOf(Int32Array);
    expect(Array.from(e.data)).toEqual(vals.map(Number));
  });

  it('rejects I64 values outside int32, naming the key and value', () => {
    expectError(
      build({ idx: { dtype: 'I64', shape: [2], data_offsets: [0, 16] } }, i64le([1n, 2147483648n])),
      /tensor 'idx': I64 value 2147483648 at flat index 1 is outside the int32 range/,
    );
    expectError(
      build({ big: { dtype: 'I64', shape: [1], data_offsets: [0, 8] } }, i64le([-(2n ** 40n)])),
      /tensor 'big': I64 value -1099511627776/,
    );
  });

  it('decodes F32 (aligned view and unaligned copy), I32, U8 and a scalar', () => {
    // U8 of 1 byte first, so the F32 tensor sits at an odd offset of the data section
    const header = {
      __metadata__: { a: 'x', json: '{"k":1}' },
      u: { dtype: 'U8', shape: [1], data_offsets: [0, 1] },
      f: { dtype: 'F32', shape: [2], data_offsets: [1, 9] },
      s: { dtype: 'I32', shape: [], data_offsets: [9, 13] },
    };
    const data = [7, ...f32le([1.5, -2.25]), ...Array.from(new Uint8Array(new Int32Array([-42]).buffer))];
    const f = readSafetensors(build(header, data));
    expect(f.metadata).toEqual({ a: 'x', json: '{"k":1}' });
    expect([...f.tensors.keys()].sort()).toEqual(['f', 's', 'u']);
    expect(Array.from(f.tensors.get('u')!.data)).toEqual([7]);
    expect(f.tensors.get('u')!.data).toBeInstanceOf(Uint8Array);
    expect(Array.from(f.tensors.get('f')!.data)).toEqual([1.5, -2.25]);
    expect(f.tensors.get('s')!.shape).toEqual([]);
    expect(Array.from(f.tensors.get('s')!.data)).toEqual([-42]);
  });

  it('accepts ArrayBuffer, a Uint8Array at a non-zero byteOffset, no __metadata__, zero-size tensors', () => {
    const file = build(
      {
        e: { dtype: 'F32', shape: [0, 3], data_offsets: [0, 0] },
        x: { dtype: 'F32', shape: [1], data_offsets: [0, 4] },
      },
      f32le([3]),
    );
    const padded = new Uint8Array(file.length + 3);
    padded.set(file, 3);
    for (const input of [file.buffer, padded.subarray(3)]) {
      const f = readSafetensors(input as ArrayBuffer | Uint8Array);
      expect(f.metadata).toEqual({});
      expect(f.tensors.get('e')!.data.length).toBe(0);
      expect(Array.from(f.tensors.get('x')!.data)).toEqual([3]);
    }
  });

  it('an empty header {} with no data is a valid empty file', () => {
    const f = readSafetensors(build({}));
    expect(f.tensors.size).toBe(0);
  });
});

describe('readSafetensors: every malformed category throws SafetensorsError with a clear message', () => {
  afterEach(() => vi.restoreAllMocks());
  const ok = { t: { dtype: 'F32', shape: [2], data_offsets: [0, 8] } };

  it('file shorter than 8 bytes', () => {
    for (let n = 0; n < 8; n++) expectError(new Uint8Array(n), /file is \d bytes, shorter than the 8-byte/);
  });

  it('header length past the end (including the full uint64 range)', () => {
    expectError(build(ok, f32le([1, 2]), 1000n), /header length 1000 runs past the end of the file/);
    expectError(
      build(ok, f32le([1, 2]), 2n ** 64n - 1n),
      /header length 18446744073709551615 runs past the end/,
    );
    expectError(build(ok, f32le([1, 2]), 2n ** 53n + 1n), /runs past the end/);
  });

  it('header over the limit is rejected before decoding', () => {
    const decode = vi.spyOn(TextDecoder.prototype, 'decode');
    const file = build({ __metadata__: { pad: 'x'.repeat(200) }, ...ok }, f32le([1, 2]));
    expectError(file, /header length \d+ bytes exceeds the limit of 100 bytes/, { maxHeaderBytes: 100 });
    expect(decode).not.toHaveBeenCalled();
    decode.mockRestore();
    expect(readSafetensors(file, { maxHeaderBytes: 1000 }).tensors.size).toBe(1);
  });

  it('bad UTF-8 in the header', () => {
    const bytes = build('{"a":"xx"}');
    bytes[8 + 6] = 0xff; // inside the string
    expectError(bytes, /header \(10 bytes\) is not valid UTF-8/);
    const overlong = build('{"a":"xx"}');
    overlong[8 + 6] = 0xc0; // overlong encoding lead byte
    overlong[8 + 7] = 0xaf;
    expectError(overlong, /not valid UTF-8/);
  });

  it('bad JSON', () => {
    expectError(build('{"t": {"dtype": '), /header is not valid JSON/);
    expectError(build(''), /header is not valid JSON/);
    expectError(build('{} trailing'), /header is not valid JSON/);
  });

  it('header not an object', () => {
    expectError(build('[1, 2]'), /header must be a JSON object, got an array/);
    expectError(build('null'), /header must be a JSON object, got null/);
    expectError(build('"str"'), /header must be a JSON object, got "str"/);
    expectError(build('42'), /header must be a JSON object, got 42/);
  });

  it('metadata values not strings / metadata not an object', () => {
    expectError(
      build({ __metadata__: { a: 'x', n: 1 } }),
      /__metadata__ value of 'n' must be a string, got 1/,
    );
    expectError(build({ __metadata__: { o: { x: 1 } } }), /__metadata__ value of 'o' must be a string/);
    expectError(build({ __metadata__: ['a'] }), /__metadata__ must be an object of strings/);
    expectError(build({ __metadata__: 'a' }), /__metadata__ must be an object of strings/);
  });

  it('unknown or unsupported dtype, or a non-object entry', () => {
    expectError(
      build({ t: { dtype: 'F99', shape: [1], data_offsets: [0, 4] } }, [0, 0, 0, 0]),
      /tensor 't': unknown dtype 'F99'/,
    );
    expectError(
      build({ t: { dtype: 'U16', shape: [1], data_offsets: [0, 2] } }, new Array(2).fill(0)),
      /unsupported dtype 'U16'/,
    );
    expectError(
      build({ t: { dtype: 3, shape: [1], data_offsets: [0, 4] } }),
      /tensor 't': dtype must be a string, got 3/,
    );
    expectError(build({ t: [1, 2] }), /tensor 't': header entry must be an object/);
    expectError(build({ t: 'F32' }), /tensor 't': header entry must be an object/);
  });

  it('shape not non-negative integers', () => {
    for (const shape of [[-1], [1.5], ['2'], [null], 'x', null, [2 ** 60], [1, Number.NaN]]) {
      expectError(
        build(
          `{"t": {"dtype": "F32", "shape": ${JSON.stringify(shape)}, "data_offsets": [0, 4]}}`,
          [0, 0, 0, 0],
        ),
        /tensor 't': shape must be an array of non-negative integers/,
      );
    }
    expectError(
      build({ t: { dtype: 'F32', shape: [2 ** 30, 2 ** 30, 2 ** 30], data_offsets: [0, 4] } }, [0, 0, 0, 0]),
      /tensor 't': shape \[1073741824,1073741824,1073741824\] has too many elements/,
    );
  });

  it('data_offsets malformed, out of range, reversed', () => {
    for (const offs of [[0], [0, 4, 8], [-4, 0], [0, 1.5], 'x', null, ['0', '4']]) {
      expectError(
        build(`{"t": {"dtype": "U8", "shape": [4], "data_offsets": ${JSON.stringify(offs)}}}`, [0, 0, 0, 0]),
        /tensor 't': data_offsets must be \[begin, end\] with non-negative integers/,
      );
    }
    expectError(
      build({ t: { dtype: 'F32', shape: [2], data_offsets: [0, 8] } }, [0, 0, 0, 0]),
      /tensor 't': data_offsets \[0, 8\] are out of range: the data section has 4 bytes/,
    );
    expectError(
      build({ t: { dtype: 'F32', shape: [1], data_offsets: [8, 4] } }, new Array(8).fill(0)),
      /tensor 't': data_offsets \[8, 4\] are reversed/,
    );
  });

  it('overlapping, gaps, trailing bytes', () => {
    expectError(
      build(
        {
          a: { dtype: 'F32', shape: [2], data_offsets: [0, 8] },
          b: { dtype: 'F32', shape: [1], data_offsets: [4, 8] },
        },
        new Array(8).fill(0),
      ),
      /tensor 'a' data_offsets \[0, 8\] overlap tensor 'b' \[4, 8\]|tensor 'b' data_offsets \[4, 8\] overlap tensor 'a'/,
    );
    expectError(
      build(
        {
          a: { dtype: 'F32', shape: [1], data_offsets: [0, 4] },
          b: { dtype: 'F32', shape: [1], data_offsets: [8, 12] },
        },
        new Array(12).fill(0),
      ),
      /gap in the data section: bytes \[4, 8\) before tensor 'b' belong to no tensor/,
    );
    expectError(
      build({ a: { dtype: 'F32', shape: [1], data_offsets: [4, 8] } }, new Array(8).fill(0)),
      /gap in the data section: bytes \[0, 4\) before tensor 'a'/,
    );
    expectError(
      build({ a: { dtype: 'F32', shape: [1], data_offsets: [0, 4] } }, new Array(6).fill(0)),
      /data section has 6 bytes but the tensors cover only 4: 2 trailing bytes/,
    );
  });

  it('byte count != product(shape) * itemsize', () => {
    expectError(
      build({ t: { dtype: 'F32', shape: [2, 2], data_offsets: [0, 12] } }, new Array(12).fill(0)),
      /tensor 't': data_offsets \[0, 12\] hold 12 bytes but dtype F32 with shape \[2,2\] needs 4 x 4 = 16 bytes/,
    );
    expectError(
      build({ t: { dtype: 'I64', shape: [], data_offsets: [0, 4] } }, new Array(4).fill(0)),
      /tensor 't': data_offsets \[0, 4\] hold 4 bytes but dtype I64 with shape \[\] needs 1 x 8 = 8 bytes/,
    );
  });

  it('a non-buffer argument', () => {
    expect(() => readSafetensors('abc' as unknown as Uint8Array)).toThrow(SafetensorsError);
    expect(() => readSafetensors('abc' as unknown as Uint8Array)).toThrow(
      /expected an ArrayBuffer or Uint8Array/,
    );
  });

  it("a '__proto__' key stays an ordinary key", () => {
    const f = readSafetensors(
      build(
        '{"__metadata__": {"__proto__": "m"}, "__proto__": {"dtype": "U8", "shape": [1], "data_offsets": [0, 1]}}',
        [9],
      ),
    );
    expect(Object.keys(f.metadata)).toEqual(['__proto__']);
    expect(Object.getPrototypeOf(f.metadata)).toBe(Object.prototype);
    expect(Array.from(f.tensors.get('__proto__')!.data)).toEqual([9]);
  });
});

describe('float16 conversion', () => {
  it('numberToFloat16Bits inverts float16BitsToNumber on all 65536 patterns (NaNs stay NaN)', () => {
    for (let h = 0; h < 65536; h++) {
      const v = float16BitsToNumber(h);
      const back = numberToFloat16Bits(v);
      if (Number.isNaN(v)) expect(Number.isNaN(float16BitsToNumber(back))).toBe(true);
      else if (back !== h) expect.fail(`pattern 0x${h.toString(16)} -> ${v} -> 0x${back.toString(16)}`);
    }
  });

  it('rounds to nearest, ties to even, at hand-picked points', () => {
    expect(numberToFloat16Bits(1)).toBe(0x3c00);
    expect(numberToFloat16Bits(1 + 2 ** -11)).toBe(0x3c00); // tie -> even (down)
    expect(numberToFloat16Bits(1 + 3 * 2 ** -11)).toBe(0x3c02); // tie -> even (up)
    expect(numberToFloat16Bits(1 + 2 ** -11 + 2 ** -20)).toBe(0x3c01); // above the tie
    expect(numberToFloat16Bits(65504)).toBe(0x7bff);
    expect(numberToFloat16Bits(65519)).toBe(0x7bff);
    expect(numberToFloat16Bits(65520)).toBe(0x7c00); // tie between 65504 and 65536 (=inf) -> even = inf
    expect(numberToFloat16Bits(-1e9)).toBe(0xfc00);
    expect(numberToFloat16Bits(2 ** -24)).toBe(0x0001);
    expect(numberToFloat16Bits(2 ** -25)).toBe(0x0000); // tie -> even (0)
    expect(numberToFloat16Bits(1.5 * 2 ** -25)).toBe(0x0001);
    expect(numberToFloat16Bits(3 * 2 ** -25)).toBe(0x0002); // tie between 1 and 2 -> even 2
    expect(numberToFloat16Bits(2 ** -14 - 2 ** -25)).toBe(0x0400); // rounds up from subnormal to normal
    expect(numberToFloat16Bits(-0)).toBe(0x8000);
    expect(numberToFloat16Bits(1e-10)).toBe(0);
    expect(numberToFloat16Bits(Number.POSITIVE_INFINITY)).toBe(0x7c00);
    expect(Number.isNaN(float16BitsToNumber(numberToFloat16Bits(Number.NaN)))).toBe(true);
  });

  it('picks the nearest float16 for random float32 values (brute-force neighbour check)', () => {
    fc.assert(
      fc.property(fc.float({ noNaN: true, min: -70000, max: 70000 }), (x) => {
        const h = numberToFloat16Bits(x);
        const v = float16BitsToNumber(h);
        const mag = h & 0x7fff;
        if (mag === 0x7c00) return Math.abs(x) >= 65520;
        // neighbours in magnitude order (same sign)
        const sign = h & 0x8000;
        const err = Math.abs(x - v);
        for (const m of [mag - 1, mag + 1]) {
          if (m < 0 || m > 0x7bff) continue;
          const other = Math.abs(x - float16BitsToNumber(sign | m));
          if (other < err) return false;
          if (other === err && (mag & 1) === 1) return false; // tie must go to the even pattern
        }
        // zero can be the nearest value with either sign
        if (mag === 0) return Math.abs(x) <= 2 ** -25;
        return true;
      }),
      { seed: 20261122, numRuns: 20000 },
    );
  });
});

describe('writeSafetensors', () => {
  it('writes the documented byte layout (padding, offsets, little-endian data)', () => {
    const bytes = writeSafetensors(
      { w: { shape: [2], data: new Float32Array([1, -2]) }, i: { shape: [], data: new Int32Array([258]) } },
      { metadata: { k: 'v' } },
    );
    const dv = new DataView(bytes.buffer, bytes.byteOffset);
    const n = Number(dv.getBigUint64(0, true));
    expect((8 + n) % 8).toBe(0);
    const text = new TextDecoder().decode(bytes.subarray(8, 8 + n));
    expect(text.trimEnd()).toBe(
      '{"__metadata__":{"k":"v"},"w":{"dtype":"F32","shape":[2],"data_offsets":[0,8]},' +
        '"i":{"dtype":"I32","shape":[],"data_offsets":[8,12]}}',
    );
    expect(/^ *$/.test(text.slice(text.trimEnd().length))).toBe(true);
    expect(Array.from(bytes.subarray(8 + n))).toEqual([0, 0, 0x80, 0x3f, 0, 0, 0, 0xc0, 2, 1, 0, 0]);
  });

  it('writes F16 bit patterns with round-to-nearest-even', () => {
    const bytes = writeSafetensors(
      { h: { shape: [4], data: new Float32Array([1, 65504, 2 ** -24, 1 + 2 ** -11]) } },
      { dtype: 'F16' },
    );
    const n = Number(new DataView(bytes.buffer).getBigUint64(0, true));
    expect(Array.from(bytes.subarray(8 + n))).toEqual(u16le([0x3c00, 0x7bff, 0x0001, 0x3c00]));
    expect(readSafetensors(bytes).tensors.get('h')!.dtype).toBe('F16');
  });

  it('rejects bad arguments with SafetensorsError', () => {
    expect(() => writeSafetensors({ a: { shape: [3], data: new Float32Array(2) } })).toThrow(
      /tensor 'a': shape \[3\] has 3 elements but data has 2/,
    );
    expect(() => writeSafetensors({ a: { shape: [-1], data: new Float32Array(0) } })).toThrow(
      SafetensorsError,
    );
    expect(() => writeSafetensors({ __metadata__: { shape: [], data: new Float32Array(1) } })).toThrow(
      /reserved/,
    );
    expect(() => writeSafetensors({ a: { shape: [1], data: new Uint32Array(1) } })).toThrow(
      /unsupported data type Uint32Array/,
    );
    expect(() => writeSafetensors({ a: { shape: [1], data: new Float32Array(1), dtype: 'I16' } })).toThrow(
      /dtype I16 needs a Int16Array, got Float32Array/,
    );
    expect(() => writeSafetensors({ a: { shape: [1], data: new Uint8Array([2]), dtype: 'BOOL' } })).toThrow(
      /BOOL data must be 0 or 1/,
    );
    expect(() => writeSafetensors({}, { metadata: { a: 1 as unknown as string } })).toThrow(
      /metadata value of 'a' must be a string/,
    );
  });

  const shapeArb = fc.array(fc.integer({ min: 0, max: 4 }), { maxLength: 4 });
  const entryArb = (kind: 'f' | 'i') =>
    shapeArb.chain((shape) => {
      const n = shape.reduce((a, b) => a * b, 1);
      const data =
        kind === 'f'
          ? fc.array(fc.float(), { minLength: n, maxLength: n }).map((a) => new Float32Array(a))
          : fc
              .array(fc.integer({ min: -(2 ** 31), max: 2 ** 31 - 1 }), { minLength: n, maxLength: n })
              .map((a) => new Int32Array(a));
      return data.map((d) => ({ shape, data: d as Float32Array | Int32Array }));
    });
  const dictArb = fc.dictionary(
    fc.string({ maxLength: 12 }).filter((k) => k !== '__metadata__'),
    fc.oneof(entryArb('f'), entryArb('i')),
    {
      maxKeys: 6,
    },
  );
  const metaArb = fc.dictionary(fc.string({ maxLength: 8 }), fc.string({ maxLength: 20 }), { maxKeys: 4 });

  it('round trip F32 is bit-exact, I32 exact, metadata preserved (property)', () => {
    fc.assert(
      fc.property(dictArb, metaArb, (tensors, metadata) => {
        const f = readSafetensors(writeSafetensors(tensors, { metadata }));
        expect(f.metadata).toEqual({ ...metadata });
        expect(f.tensors.size).toBe(Object.keys(tensors).length);
        for (const [k, t] of Object.entries(tensors)) {
          const e = f.tensors.get(k)!;
          expect(e.shape).toEqual(t.shape);
          expect(e.dtype).toBe(t.data instanceof Float32Array ? 'F32' : 'I32');
          expect(e.data.constructor).toBe(t.data.constructor);
          const a = new Uint32Array(e.data.buffer, e.data.byteOffset, e.data.length);
          const b = new Uint32Array(t.data.buffer, t.data.byteOffset, t.data.length);
          expect(Array.from(a)).toEqual(Array.from(b));
        }
      }),
      { seed: 7, numRuns: 300 },
    );
  });

  it('round trip F16 is within half an ulp of float16 (property)', () => {
    fc.assert(
      fc.property(
        fc.array(fc.float({ noNaN: true, min: -60000, max: 60000 }), { minLength: 1, maxLength: 64 }),
        (vals) => {
          const data = new Float32Array(vals);
          const f = readSafetensors(
            writeSafetensors({ x: { shape: [data.length], data } }, { dtype: 'F16' }),
          );
          const got = f.tensors.get('x')!.data;
          for (let i = 0; i < data.length; i++) {
            const x = data[i];
            const ax = Math.abs(x);
            // spacing of float16 around x: 2^(e-10) for normals, 2^-24 for subnormals
            const ulp = ax < 2 ** -14 ? 2 ** -24 : 2 ** (Math.floor(Math.log2(ax)) - 10);
            if (Math.abs(got[i] - x) > ulp / 2 + 1e-30) return false;
          }
          return true;
        },
      ),
      { seed: 11, numRuns: 500 },
    );
  });
});

describe.each(BACKENDS)('toTensors / tensorsToSafetensors on %s', (backend) => {
  it('builds float32/int32 tensors with the right shapes (scalars included) and round-trips', async () => {
    await tf.setBackend(backend);
    await tf.ready();
    const before = tf.memory().numTensors;
    const file = readSafetensors(
      build(
        {
          a: { dtype: 'F16', shape: [2], data_offsets: [0, 4] },
          n: { dtype: 'I64', shape: [], data_offsets: [4, 12] },
          u: { dtype: 'U8', shape: [2, 1], data_offsets: [12, 14] },
        },
        [...u16le([0x3c00, 0xc000]), ...i64le([7n]), 250, 3],
      ),
    );
    const ts = toTensors(file);
    expect(Object.keys(ts).sort()).toEqual(['a', 'n', 'u']);
    expect(ts.a.dtype).toBe('float32');
    expect(Array.from(await ts.a.data())).toEqual([1, -2]);
    expect(ts.n.dtype).toBe('int32');
    expect(ts.n.shape).toEqual([]);
    expect(Array.from(await ts.n.data())).toEqual([7]);
    expect(ts.u.dtype).toBe('int32');
    expect(ts.u.shape).toEqual([2, 1]);
    expect(Array.from(await ts.u.data())).toEqual([250, 3]);

    const extra = { b: tf.tensor([true, false], [2], 'bool') };
    const bytes = await tensorsToSafetensors({ ...ts, ...extra }, { metadata: { m: '1' } });
    const back = readSafetensors(bytes);
    expect(back.metadata).toEqual({ m: '1' });
    expect(back.tensors.get('a')!.dtype).toBe('F32');
    expect(back.tensors.get('n')!).toEqual({ dtype: 'I32', shape: [], data: new Int32Array([7]) });
    expect(Array.from(back.tensors.get('b')!.data)).toEqual([1, 0]);
    for (const t of [...Object.values(ts), ...Object.values(extra)]) t.dispose();
    expect(tf.memory().numTensors).toBe(before);
  });
});

describe('every fixture file reads and agrees with its own header', () => {
  const files = readdirSync(FIXTURES)
    .filter((f) => f.endsWith('.safetensors'))
    .sort();

  it('finds the fixtures', () => {
    expect(files.length).toBeGreaterThan(0);
  });

  it.each(files)('%s', (name) => {
    const bytes = new Uint8Array(readFileSync(`${FIXTURES}/${name}`));
    // independent header parse
    const n = Number(new DataView(bytes.buffer).getBigUint64(0, true));
    const header = JSON.parse(new TextDecoder().decode(bytes.subarray(8, 8 + n)));
    const keys = Object.keys(header).filter((k) => k !== '__metadata__');
    const f = readSafetensors(bytes);
    expect(f.tensors.size).toBe(keys.length);
    expect(f.metadata).toEqual(header.__metadata__);
    const perElement: Record<string, number> = { F32: 4, F16: 2, BF16: 2, I64: 8, I32: 4, U8: 1 };
    for (const k of keys) {
      const h = header[k];
      const e = f.tensors.get(k)!;
      expect(e.dtype).toBe(h.dtype);
      expect(e.shape).toEqual(h.shape);
      const numel = h.shape.reduce((a: number, b: number) => a * b, 1);
      expect(e.data.length).toBe(numel);
      expect(h.data_offsets[1] - h.data_offsets[0]).toBe(numel * perElement[h.dtype]);
      if (h.dtype === 'F32' && numel > 0) {
        const dv = new DataView(bytes.buffer, 8 + n + h.data_offsets[0]);
        expect(e.data[0]).toBe(dv.getFloat32(0, true));
        expect(e.data[numel - 1]).toBe(dv.getFloat32(4 * (numel - 1), true));
      }
    }
    // re-serialising (I64 -> I32) gives a file with identical contents
    const plain: Record<string, { shape: number[]; data: Float32Array | Int32Array }> = {};
    for (const [k, e] of f.tensors) plain[k] = { shape: e.shape, data: e.data as Float32Array | Int32Array };
    const again = readSafetensors(writeSafetensors(plain, { metadata: f.metadata }));
    expect(again.metadata).toEqual(f.metadata);
    for (const [k, e] of f.tensors)
      expect(Array.from(again.tensors.get(k)!.data)).toEqual(Array.from(e.data));
  });
});
