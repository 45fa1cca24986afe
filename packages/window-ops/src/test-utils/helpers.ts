/**
 * Test-only helpers for @swin/window-ops (excluded from the build): a minimal safetensors reader for the
 * parity fixtures, plain-loop reference implementations, and bit-exact comparison.
 */
import { existsSync, readFileSync } from 'node:fs';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import * as testing from '@swin/testing';

// ---------------------------------------------------------------------------------------------------
// Fixtures

/**
 * Directory of the parity fixtures: `fixturesDir()` of @swin/testing when it provides one, otherwise
 * env SWIN_FIXTURES, otherwise `<repo>/../shared/fixtures/parity` relative to this file.
 */
export function fixturesDir(): string {
  const fromTesting = (testing as Record<string, unknown>)['fixturesDir'];
  if (typeof fromTesting === 'function') return (fromTesting as () => string)();
  if (process.env['SWIN_FIXTURES']) return process.env['SWIN_FIXTURES'];
  // this file: <repo>/packages/window-ops/src/test-utils/helpers.ts
  const repo = resolve(dirname(fileURLToPath(import.meta.url)), '../../../..');
  return join(repo, '..', 'shared', 'fixtures', 'parity');
}

export interface FixtureTensor {
  dtype: string;
  shape: number[];
  data: Float32Array;
}

export interface Fixture {
  metadata: Record<string, string>;
  tensors: Map<string, FixtureTensor>;
}

/** Minimal strict safetensors reader (F32 tensors only, which is all the window_ops fixtures hold). */
export function parseSafetensors(bytes: Uint8Array): Fixture {
  if (bytes.length < 8) throw new Error(`safetensors: file of ${bytes.length} bytes has no header length`);
  const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  const n = view.getBigUint64(0, true);
  if (n > BigInt(bytes.length - 8)) throw new Error(`safetensors: header length ${n} exceeds the file`);
  const headerLen = Number(n);
  const header = JSON.parse(new TextDecoder().decode(bytes.subarray(8, 8 + headerLen))) as Record<
    string,
    unknown
  >;
  const dataStart = 8 + headerLen;
  const metadata = (header['__metadata__'] ?? {}) as Record<string, string>;
  const tensors = new Map<string, FixtureTensor>();
  for (const [name, raw] of Object.entries(header)) {
    if (name === '__metadata__') continue;
    const { dtype, shape, data_offsets } = raw as {
      dtype: string;
      shape: number[];
      data_offsets: [number, number];
    };
    if (dtype !== 'F32')
      throw new Error(`safetensors: tensor '${name}' has dtype ${dtype}, only F32 is supported`);
    const [begin, end] = data_offsets;
    const count = shape.reduce((a, b) => a * b, 1);
    if (end - begin !== count * 4 || dataStart + end > bytes.length) {
      throw new Error(`safetensors: tensor '${name}' offsets [${begin}, ${end}] do not fit shape [${shape}]`);
    }
    // Copy (the data section may not be 4-byte aligned within the underlying buffer).
    const copy = bytes.slice(dataStart + begin, dataStart + end);
    const data = new Float32Array(count);
    const dv = new DataView(copy.buffer);
    for (let i = 0; i < count; i++) data[i] = dv.getFloat32(i * 4, true);
    tensors.set(name, { dtype, shape, data });
  }
  return { metadata, tensors };
}

/** Reads `<fixturesDir>/<name>.safetensors`. */
export function loadFixture(name: string): Fixture {
  const path = join(fixturesDir(), `${name}.safetensors`);
  if (!existsSync(path))
    throw new Error(`fixture not found: ${path} (set SWIN_FIXTURES to the parity directory)`);
  return parseSafetensors(new Uint8Array(readFileSync(path)));
}

export function fixtureTensor(f: Fixture, key: string): FixtureTensor {
  const t = f.tensors.get(key);
  if (!t) throw new Error(`fixture has no tensor '${key}' (has ${[...f.tensors.keys()].join(', ')})`);
  return t;
}

// ---------------------------------------------------------------------------------------------------
// Bit-exact comparison

/**
 * Throws unless `actual` and `expected` have the same shape and bit-identical float32 values; the
 * message names the first differing element.
 */
export function expectBitEqual(
  actual: { shape: number[]; data: ArrayLike<number> },
  expected: { shape: number[]; data: ArrayLike<number> },
  label: string,
): void {
  if (actual.shape.join(',') !== expected.shape.join(',')) {
    throw new Error(`${label}: shape [${actual.shape}] != expected [${expected.shape}]`);
  }
  const a = new Uint32Array(Float32Array.from(actual.data).buffer);
  const e = new Uint32Array(Float32Array.from(expected.data).buffer);
  if (a.length !== e.length) throw new Error(`${label}: ${a.length} values != expected ${e.length}`);
  for (let i = 0; i < a.length; i++) {
    if (a[i] !== e[i]) {
      throw new Error(
        `${label}: element ${i} (index [${unravel(i, expected.shape)}]) is ${actual.data[i]}, expected ${expected.data[i]}`,
      );
    }
  }
}

function unravel(i: number, shape: number[]): number[] {
  const idx = new Array<number>(shape.length);
  for (let d = shape.length - 1; d >= 0; d--) {
    idx[d] = i % shape[d];
    i = Math.floor(i / shape[d]);
  }
  return idx;
}

// ---------------------------------------------------------------------------------------------------
// Plain-loop references (row-major flat arrays), written from the PyTorch definitions.

export interface Map4 {
  shape: [number, number, number, number];
  data: Float32Array;
}

/** Random map with distinct, exactly representable values (so any misplacement is visible). */
export function distinctMap(shape: [number, number, number, number], seed = 0): Map4 {
  const n = shape.reduce((a, b) => a * b, 1);
  const data = new Float32Array(n);
  for (let i = 0; i < n; i++) data[i] = ((i * 7919 + seed * 104729) % 1000003) - 500000 + 0.5;
  return { shape, data };
}

/** `torch.roll(x, (dh, dw), dims=(1, 2))`: out[b, h, w, c] = x[b, (h - dh) mod H, (w - dw) mod W, c]. */
export function refRoll(x: Map4, dh: number, dw: number): Map4 {
  const [B, H, W, C] = x.shape;
  const out = new Float32Array(x.data.length);
  const m = (a: number, n: number) => ((a % n) + n) % n;
  for (let b = 0; b < B; b++)
    for (let h = 0; h < H; h++)
      for (let w = 0; w < W; w++)
        for (let c = 0; c < C; c++) {
          const src = ((b * H + m(h - dh, H)) * W + m(w - dw, W)) * C + c;
          out[((b * H + h) * W + w) * C + c] = x.data[src];
        }
  return { shape: x.shape, data: out };
}

/**
 * `window_partition`: window n = b*nW + i*(W/ww) + j holds out[n, r, s, c] = x[b, i*wh + r, j*ww + s, c].
 */
export function refPartition(x: Map4, wh: number, ww: number): Map4 {
  const [B, H, W, C] = x.shape;
  const gh = H / wh;
  const gw = W / ww;
  const out = new Float32Array(x.data.length);
  for (let b = 0; b < B; b++)
    for (let i = 0; i < gh; i++)
      for (let j = 0; j < gw; j++)
        for (let r = 0; r < wh; r++)
          for (let s = 0; s < ww; s++)
            for (let c = 0; c < C; c++) {
              const n = (b * gh + i) * gw + j;
              out[((n * wh + r) * ww + s) * C + c] = x.data[((b * H + i * wh + r) * W + j * ww + s) * C + c];
            }
  return { shape: [B * gh * gw, wh, ww, C], data: out };
}

/** `window_reverse`: the inverse assignment of {@link refPartition}. */
export function refReverse(windows: Map4, wh: number, ww: number, H: number, W: number): Map4 {
  const [N, , , C] = windows.shape;
  const gh = H / wh;
  const gw = W / ww;
  const B = N / (gh * gw);
  const out = new Float32Array(windows.data.length);
  for (let b = 0; b < B; b++)
    for (let i = 0; i < gh; i++)
      for (let j = 0; j < gw; j++)
        for (let r = 0; r < wh; r++)
          for (let s = 0; s < ww; s++)
            for (let c = 0; c < C; c++) {
              const n = (b * gh + i) * gw + j;
              out[((b * H + i * wh + r) * W + j * ww + s) * C + c] =
                windows.data[((n * wh + r) * ww + s) * C + c];
            }
  return { shape: [B, H, W, C], data: out };
}

/** Bottom/right zero padding to `[B, H + ph, W + pw, C]`. */
export function refPad(x: Map4, ph: number, pw: number): Map4 {
  const [B, H, W, C] = x.shape;
  const out = new Float32Array(B * (H + ph) * (W + pw) * C);
  for (let b = 0; b < B; b++)
    for (let h = 0; h < H; h++)
      for (let w = 0; w < W; w++)
        for (let c = 0; c < C; c++)
          out[((b * (H + ph) + h) * (W + pw) + w) * C + c] = x.data[((b * H + h) * W + w) * C + c];
  return { shape: [B, H + ph, W + pw, C], data: out };
}
