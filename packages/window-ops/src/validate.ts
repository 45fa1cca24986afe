import type * as tf from '@tensorflow/tfjs-core';

/** A window size: one positive integer for square windows, or `[wh, ww]` (height, width). */
export type WindowSize = number | readonly [number, number];

/** A shift: one integer applied to both spatial axes, or `[dh, dw]` (height, width). Either sign. */
export type ShiftSize = number | readonly [number, number];

/** Dtypes the data-movement ops accept (everything tfjs can gather/slice/transpose on cpu and wasm). */
const SUPPORTED_DTYPES: ReadonlySet<string> = new Set(['float32', 'int32', 'bool']);

/** @internal */
export function fail(fn: string, message: string): never {
  throw new Error(`${fn}: ${message}`);
}

/** @internal Short, readable description of an arbitrary value for error messages. */
export function describe(v: unknown): string {
  if (v === null) return 'null';
  if (v === undefined) return 'undefined';
  if (typeof v === 'number' || typeof v === 'boolean' || typeof v === 'bigint') return String(v);
  if (typeof v === 'string') return JSON.stringify(v.length > 40 ? v.slice(0, 40) + '...' : v);
  if (Array.isArray(v)) return `[${v.slice(0, 6).map(describe).join(', ')}${v.length > 6 ? ', ...' : ''}]`;
  if (isTensorLike(v)) return `Tensor(shape [${v.shape.join(', ')}], ${v.dtype})`;
  return typeof v;
}

function isTensorLike(v: unknown): v is tf.Tensor {
  return (
    typeof v === 'object' &&
    v !== null &&
    Array.isArray((v as tf.Tensor).shape) &&
    typeof (v as tf.Tensor).dtype === 'string' &&
    typeof (v as tf.Tensor).rank === 'number'
  );
}

/**
 * @internal Checks that `x` is a live 4-D tensor `[B, H, W, C]` with no zero-size axis and a supported
 * dtype. `layout` names the axes in messages (e.g. `[B, H, W, C]` or `[B*nW, wh, ww, C]`).
 */
export function assert4D(fn: string, name: string, x: unknown, layout: string): asserts x is tf.Tensor4D {
  if (!isTensorLike(x)) fail(fn, `${name} must be a tf.Tensor of shape ${layout}, got ${describe(x)}`);
  if (x.isDisposed) fail(fn, `${name} has already been disposed`);
  if (x.rank !== 4) {
    fail(fn, `${name} must be 4-D ${layout}, got rank ${x.rank} with shape [${x.shape.join(', ')}]`);
  }
  if (x.shape.some((d) => d === 0)) {
    fail(fn, `${name} has a zero-size axis: shape [${x.shape.join(', ')}] (expected ${layout}, all > 0)`);
  }
  if (!SUPPORTED_DTYPES.has(x.dtype)) {
    fail(fn, `${name} has dtype '${x.dtype}'; expected one of float32, int32, bool`);
  }
}

/** @internal A positive integer (a size). */
export function assertPositiveInt(fn: string, name: string, v: unknown): asserts v is number {
  if (typeof v !== 'number' || !Number.isInteger(v) || v <= 0) {
    fail(fn, `${name} must be a positive integer, got ${describe(v)}`);
  }
}

function parsePair(
  fn: string,
  name: string,
  v: unknown,
  check: (n: string, x: unknown) => void,
): [number, number] {
  if (typeof v === 'number') {
    check(name, v);
    return [v, v];
  }
  if (Array.isArray(v) && v.length === 2) {
    check(`${name}[0]`, v[0]);
    check(`${name}[1]`, v[1]);
    return [v[0] as number, v[1] as number];
  }
  return fail(fn, `${name} must be a number or a pair [height, width], got ${describe(v)}`);
}

/** @internal Normalises a window argument to `[wh, ww]` positive integers. */
export function parseWindow(fn: string, window: unknown): [number, number] {
  return parsePair(fn, 'window', window, (n, x) => assertPositiveInt(fn, n, x));
}

/** @internal Normalises a shift argument to `[dh, dw]` integers of either sign. */
export function parseShift(fn: string, shift: unknown, name = 'shift'): [number, number] {
  return parsePair(fn, name, shift, (n, x) => {
    if (typeof x !== 'number' || !Number.isSafeInteger(x))
      fail(fn, `${n} must be an integer, got ${describe(x)}`);
  });
}

/**
 * @internal Checks that an `H x W` map tiles exactly into `wh x ww` windows.
 */
export function assertTiles(fn: string, H: number, W: number, wh: number, ww: number): void {
  if (wh > H || ww > W) {
    fail(
      fn,
      `window ${wh}x${ww} is larger than the ${H}x${W} feature map ` +
        `(clamp the window to the map size, or pad with padToWindow first)`,
    );
  }
  if (H % wh !== 0) {
    fail(fn, `H=${H} is not a multiple of window height ${wh} (pad with padToWindow first)`);
  }
  if (W % ww !== 0) {
    fail(fn, `W=${W} is not a multiple of window width ${ww} (pad with padToWindow first)`);
  }
}

/** @internal Non-negative remainder: `mod(-1, 5) === 4`. */
export function mod(a: number, n: number): number {
  return ((a % n) + n) % n;
}
