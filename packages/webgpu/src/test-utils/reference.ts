/**
 * Plain-JS references (loops, float64) for the kernel tests, written from the official definitions,
 * independent of tfjs and of the generic @swin implementations.
 */

/** Deterministic uniform [-1, 1) numbers (mulberry32). */
export function randomArray(n: number, seed: number, scale = 1): Float32Array {
  let a = seed >>> 0;
  const out = new Float32Array(n);
  for (let i = 0; i < n; i++) {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    out[i] = ((((t ^ (t >>> 14)) >>> 0) / 4294967296) * 2 - 1) * scale;
  }
  return out;
}

const mod = (a: number, n: number) => ((a % n) + n) % n;

/**
 * `window_partition(torch.roll(x, (-sh, -sw), (1, 2)), (wh, ww))`: x `[B, H, W, C]` (flat) ->
 * `[B*nW, wh, ww, C]` (flat).
 */
export function shiftedPartitionRef(
  x: ArrayLike<number>,
  [B, H, W, C]: number[],
  wh: number,
  ww: number,
  sh: number,
  sw: number,
): number[] {
  // roll: rolled[y][x] = x[(y + sh) mod H][(x + sw) mod W]
  const out: number[] = [];
  for (let b = 0; b < B; b++)
    for (let wy = 0; wy < H / wh; wy++)
      for (let wx = 0; wx < W / ww; wx++)
        for (let i = 0; i < wh; i++)
          for (let j = 0; j < ww; j++) {
            const y = mod(wy * wh + i + sh, H);
            const xx = mod(wx * ww + j + sw, W);
            for (let c = 0; c < C; c++) out.push(x[((b * H + y) * W + xx) * C + c]);
          }
  return out;
}

/**
 * `torch.roll(window_reverse(windows, (wh, ww), H, W), (sh, sw), (1, 2))`: windows `[B*nW, wh, ww, C]`
 * (flat) -> `[B, H, W, C]` (flat).
 */
export function shiftedReverseRef(
  windows: ArrayLike<number>,
  B: number,
  H: number,
  W: number,
  C: number,
  wh: number,
  ww: number,
  sh: number,
  sw: number,
): number[] {
  const nWw = W / ww;
  const nW = (H / wh) * nWw;
  // unrolled map u[y][x] = windows[b*nW + (y/wh)*nWw + x/ww][y%wh][x%ww]; out[y][x] = u[(y - sh) mod H][(x - sw) mod W]
  const out = new Array<number>(B * H * W * C);
  for (let b = 0; b < B; b++)
    for (let y = 0; y < H; y++)
      for (let x = 0; x < W; x++) {
        const uy = mod(y - sh, H);
        const ux = mod(x - sw, W);
        const w = b * nW + Math.floor(uy / wh) * nWw + Math.floor(ux / ww);
        for (let c = 0; c < C; c++) {
          out[((b * H + y) * W + x) * C + c] = windows[((w * wh + (uy % wh)) * ww + (ux % ww)) * C + c];
        }
      }
  return out;
}

/** Shapes and broadcast of {@link attentionRef} (the `SwinWindowAttention` convention). */
export interface AttentionCase {
  G: number;
  N: number;
  M: number;
  D: number;
  Dv: number;
  /** bias matrices (0: none) */
  nB: number;
  /** mask matrices (0: none) */
  nM: number;
  heads: number;
  scale: number;
}

/** float64 `softmax(q kᵀ · scale + bias[g % nB] + mask[floor(g / heads) % nM]) v` -> `[G, N, Dv]` (flat). */
export function attentionRef(
  q: ArrayLike<number>,
  k: ArrayLike<number>,
  v: ArrayLike<number>,
  bias: ArrayLike<number> | null,
  mask: ArrayLike<number> | null,
  p: AttentionCase,
): Float64Array {
  const { G, N, M, D, Dv, heads, scale } = p;
  const out = new Float64Array(G * N * Dv);
  const s = new Float64Array(M);
  for (let g = 0; g < G; g++) {
    const bo = bias ? (g % p.nB) * N * M : 0;
    const mo = mask ? (Math.floor(g / heads) % p.nM) * N * M : 0;
    for (let i = 0; i < N; i++) {
      let mx = Number.NEGATIVE_INFINITY;
      for (let j = 0; j < M; j++) {
        let acc = 0;
        for (let c = 0; c < D; c++) acc += q[(g * N + i) * D + c] * k[(g * M + j) * D + c];
        acc *= scale;
        if (bias) acc += bias[bo + i * M + j];
        if (mask) acc += mask[mo + i * M + j];
        s[j] = acc;
        mx = Math.max(mx, acc);
      }
      let sum = 0;
      for (let j = 0; j < M; j++) {
        s[j] = Math.exp(s[j] - mx);
        sum += s[j];
      }
      for (let c = 0; c < Dv; c++) {
        let acc = 0;
        for (let j = 0; j < M; j++) acc += s[j] * v[(g * M + j) * Dv + c];
        out[(g * N + i) * Dv + c] = acc / sum;
      }
    }
  }
  return out;
}

/** `max |a - b|` and `max |b|`. */
export function maxAbsDiff(a: ArrayLike<number>, b: ArrayLike<number>): { maxAbs: number; maxRef: number } {
  if (a.length !== b.length) throw new Error(`length ${a.length} vs ${b.length}`);
  let maxAbs = 0;
  let maxRef = 0;
  for (let i = 0; i < a.length; i++) {
    const d = Math.abs(a[i] - b[i]);
    if (!(d <= maxAbs)) maxAbs = Number.isNaN(d) ? Number.POSITIVE_INFINITY : d;
    maxRef = Math.max(maxRef, Math.abs(b[i]));
  }
  return { maxAbs, maxRef };
}
