/** A window (or map) size: one number for a square, or `[height, width]`. */
export type WindowSize = number | readonly [number, number];

/** @internal Throws unless `v` is an integer >= `min`. */
export function checkInt(fn: string, name: string, v: unknown, min = 1): number {
  if (typeof v !== 'number' || !Number.isInteger(v) || v < min) {
    throw new Error(`${fn}: ${name}=${String(v)} must be an integer >= ${min}`);
  }
  return v;
}

/** @internal Normalises a `WindowSize` to `[h, w]` of positive integers. */
export function toPair(fn: string, name: string, v: WindowSize): [number, number] {
  if (typeof v === 'number') {
    const x = checkInt(fn, name, v);
    return [x, x];
  }
  if (!Array.isArray(v) || v.length !== 2) {
    throw new Error(`${fn}: ${name}=${JSON.stringify(v)} must be a number or a [height, width] pair`);
  }
  return [checkInt(fn, `${name}[0]`, v[0]), checkInt(fn, `${name}[1]`, v[1])];
}

/** Number of rows of a relative position bias table for a `wh x ww` window: `(2wh-1)(2ww-1)`. */
export function biasTableSize(window: WindowSize): number {
  const [wh, ww] = toPair('biasTableSize', 'window', window);
  return (2 * wh - 1) * (2 * ww - 1);
}
