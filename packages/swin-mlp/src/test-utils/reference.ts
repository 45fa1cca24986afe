/**
 * Plain-JS reference implementations for the tests (no tfjs): written from the official PyTorch code,
 * loop by loop, so that they can disagree with the tensor implementation.
 * @internal Not exported from the package index.
 */

/** Deterministic pseudo-random numbers in [-1, 1) (mulberry32). */
export function rng(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return (((t ^ (t >>> 14)) >>> 0) / 4294967296) * 2 - 1;
  };
}

export function randomArray(n: number, seed: number, scale = 1): Float32Array {
  const r = rng(seed);
  const out = new Float32Array(n);
  for (let i = 0; i < n; i++) out[i] = r() * scale;
  return out;
}

/**
 * PyTorch `nn.Conv1d(Cin, Cout, kernel_size=1, groups=g)` on `[B, Cin, L]` (row-major), weight
 * `[Cout, Cin/g, 1]`, bias `[Cout]`.
 */
export function conv1dGroupedK1(
  x: ArrayLike<number>,
  B: number,
  Cin: number,
  L: number,
  weight: ArrayLike<number>,
  bias: ArrayLike<number> | null,
  Cout: number,
  groups: number,
): Float64Array {
  const inPer = Cin / groups;
  const outPer = Cout / groups;
  const y = new Float64Array(B * Cout * L);
  for (let b = 0; b < B; b++) {
    for (let o = 0; o < Cout; o++) {
      const g = Math.floor(o / outPer);
      for (let l = 0; l < L; l++) {
        let acc = bias ? bias[o] : 0;
        for (let k = 0; k < inPer; k++) {
          acc += weight[o * inPer + k] * x[(b * Cin + g * inPer + k) * L + l];
        }
        y[(b * Cout + o) * L + l] = acc;
      }
    }
  }
  return y;
}

/**
 * The official `spatial_mlp` step on windows, literally: `x_windows` `[Bw, N, C]` -> view
 * `[Bw, N, nH, d]` -> transpose(1, 2) -> `[Bw, nH*N, d]` -> grouped Conv1d -> view `[Bw, nH, N, d]` ->
 * transpose(1, 2) -> `[Bw, N, C]`.
 */
export function officialWindowSpatialMlp(
  windows: ArrayLike<number>,
  Bw: number,
  N: number,
  C: number,
  nH: number,
  weight: ArrayLike<number>,
  bias: ArrayLike<number> | null,
): Float64Array {
  const d = C / nH;
  const heads = new Float64Array(Bw * nH * N * d);
  for (let b = 0; b < Bw; b++)
    for (let j = 0; j < N; j++)
      for (let h = 0; h < nH; h++)
        for (let c = 0; c < d; c++)
          heads[((b * nH + h) * N + j) * d + c] = windows[(b * N + j) * C + h * d + c];
  const conv = conv1dGroupedK1(heads, Bw, nH * N, d, weight, bias, nH * N, nH);
  const out = new Float64Array(Bw * N * C);
  for (let b = 0; b < Bw; b++)
    for (let h = 0; h < nH; h++)
      for (let i = 0; i < N; i++)
        for (let c = 0; c < d; c++) out[(b * N + i) * C + h * d + c] = conv[((b * nH + h) * N + i) * d + c];
  return out;
}

/**
 * Brute-force token mixing of a `[B, H, W, C]` map as the block defines it: the map is placed at offset
 * `(ws - s)` (if shifted) inside a zero map of window multiples, windows are taken on that grid, and
 * output pixel `(y, x)` of head `h` is `b[h*N+i] + sum_j W[h*N+i, j] * v_j`, where `i` is the pixel's
 * position in its window and `v_j` the value at window position `j` (zero outside the map).
 */
export function bruteForceSpatialMix(
  x: ArrayLike<number>,
  B: number,
  H: number,
  W: number,
  C: number,
  ws: number,
  shift: number,
  nH: number,
  weight: ArrayLike<number>,
  bias: ArrayLike<number>,
): Float64Array {
  const off = shift > 0 ? ws - shift : 0;
  const N = ws * ws;
  const d = C / nH;
  const out = new Float64Array(B * H * W * C);
  for (let b = 0; b < B; b++)
    for (let y = 0; y < H; y++)
      for (let xx = 0; xx < W; xx++) {
        const py = y + off;
        const px = xx + off;
        const wy0 = py - (py % ws);
        const wx0 = px - (px % ws);
        const i = (py % ws) * ws + (px % ws);
        for (let h = 0; h < nH; h++)
          for (let c = 0; c < d; c++) {
            let acc = bias[h * N + i];
            for (let j = 0; j < N; j++) {
              const sy = wy0 + Math.floor(j / ws) - off;
              const sx = wx0 + (j % ws) - off;
              if (sy < 0 || sy >= H || sx < 0 || sx >= W) continue;
              acc += weight[(h * N + i) * N + j] * x[((b * H + sy) * W + sx) * C + h * d + c];
            }
            out[((b * H + y) * W + xx) * C + h * d + c] = acc;
          }
      }
  return out;
}

/** max |a - b|. */
export function maxAbsDiff(a: ArrayLike<number>, b: ArrayLike<number>): number {
  if (a.length !== b.length) throw new Error(`maxAbsDiff: lengths ${a.length} vs ${b.length}`);
  let m = 0;
  for (let i = 0; i < a.length; i++) m = Math.max(m, Math.abs(a[i] - b[i]));
  return m;
}
