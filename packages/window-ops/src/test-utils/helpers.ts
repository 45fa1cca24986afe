/**
 * Test-only helpers for @swin/window-ops (excluded from the build): plain-loop reference implementations
 * and bit-exact comparison (the parity fixtures are loaded with `loadFixture` of @swin/testing).
 */
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
