// Test-only helpers (excluded from the build): a tiny safetensors reader for the parity fixtures.
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { fixturesDir } from '@swin/testing';

/** The parity fixture directory (env `SWIN_FIXTURES`, else `<repo>/../shared/fixtures/parity`). */
export function parityDir(): string {
  return fixturesDir();
}

export interface RawTensor {
  dtype: string;
  shape: number[];
  /** F32 values as Float32Array, I64 as the low 32-bit words in an Int32Array. */
  data: Float32Array | Int32Array;
}

export interface Safetensors {
  metadata: Record<string, string>;
  tensors: Record<string, RawTensor>;
}

/** Reads a safetensors file (F32 and non-negative small I64 only; enough for these fixtures). */
export function readSafetensors(path: string): Safetensors {
  const buf = readFileSync(path);
  const n = Number(buf.readBigUInt64LE(0));
  const header = JSON.parse(buf.subarray(8, 8 + n).toString('utf8')) as Record<string, unknown>;
  const base = 8 + n;
  const tensors: Record<string, RawTensor> = {};
  let metadata: Record<string, string> = {};
  for (const [name, v] of Object.entries(header)) {
    if (name === '__metadata__') {
      metadata = v as Record<string, string>;
      continue;
    }
    const { dtype, shape, data_offsets } = v as {
      dtype: string;
      shape: number[];
      data_offsets: [number, number];
    };
    const count = shape.reduce((a, b) => a * b, 1);
    const bytes = buf.subarray(base + data_offsets[0], base + data_offsets[1]);
    if (dtype === 'F32') {
      if (bytes.length !== count * 4) throw new Error(`${name}: F32 size mismatch`);
      const data = new Float32Array(count);
      for (let i = 0; i < count; i++) data[i] = bytes.readFloatLE(i * 4);
      tensors[name] = { dtype, shape, data };
    } else if (dtype === 'I64') {
      if (bytes.length !== count * 8) throw new Error(`${name}: I64 size mismatch`);
      const data = new Int32Array(count);
      for (let i = 0; i < count; i++) {
        const v64 = bytes.readBigInt64LE(i * 8);
        if (v64 < 0n || v64 > 0x7fffffffn) throw new Error(`${name}: I64 value ${v64} out of int32 range`);
        data[i] = Number(v64);
      }
      tensors[name] = { dtype, shape, data };
    } else {
      throw new Error(`${name}: dtype ${dtype} not supported by this test reader`);
    }
  }
  return { metadata, tensors };
}

/** Absolute path of a fixture file by its base name (without `.safetensors`). */
export function fixturePath(name: string): string {
  return join(parityDir(), `${name}.safetensors`);
}
