/**
 * Brute-force float64 reference of a Swin block in plain JS loops, written from the official algorithm
 * (README sections 6 and the official `SwinTransformerBlock.forward`), NOT from the tfjs implementation:
 * every query token attends to the real tokens of the same window (on the cyclically shifted,
 * bottom/right zero-padded map) that carry the same region label; padding tokens are never attended to.
 * Used by the tests as an independent oracle (and for float64 finite differences).
 */

/** PyTorch-layout weights of one block, as flat float64 arrays. */
export interface RefBlockWeights {
  norm1w: Float64Array;
  norm1b: Float64Array;
  /** `[3C, C]` */
  qkvW: Float64Array;
  qkvB: Float64Array | null;
  /** `[(2ws-1)^2, nH]` */
  table: Float64Array;
  /** `[C, C]` */
  projW: Float64Array;
  projB: Float64Array;
  norm2w: Float64Array;
  norm2b: Float64Array;
  /** `[hid, C]` */
  fc1W: Float64Array;
  fc1B: Float64Array;
  /** `[C, hid]` */
  fc2W: Float64Array;
  fc2B: Float64Array;
}

export interface RefBlockArgs {
  B: number;
  H: number;
  W: number;
  C: number;
  numHeads: number;
  window: number;
  shift: number;
  eps: number;
  hidden: number;
  scale?: number;
}

/** erf with ~1e-12 accuracy (Taylor series below 3, asymptotic erfc above). */
export function erf(x: number): number {
  const ax = Math.abs(x);
  if (ax < 3) {
    let term = x;
    let sum = x;
    for (let n = 1; n < 200; n++) {
      term *= (-x * x) / n;
      const t = term / (2 * n + 1);
      sum += t;
      if (Math.abs(t) < 1e-17) break;
    }
    return (2 / Math.sqrt(Math.PI)) * sum;
  }
  const x2 = ax * ax;
  let series = 1;
  let t = 1;
  for (let n = 1; n < 8; n++) {
    t *= -(2 * n - 1) / (2 * x2);
    series += t;
  }
  const erfc = (Math.exp(-x2) / (ax * Math.sqrt(Math.PI))) * series;
  return Math.sign(x) * (1 - erfc);
}

function layerNormRow(
  x: Float64Array,
  off: number,
  C: number,
  w: Float64Array,
  b: Float64Array,
  eps: number,
  out: Float64Array,
  oOff: number,
): void {
  let mean = 0;
  for (let c = 0; c < C; c++) mean += x[off + c];
  mean /= C;
  let v = 0;
  for (let c = 0; c < C; c++) v += (x[off + c] - mean) ** 2;
  v /= C;
  const r = 1 / Math.sqrt(v + eps);
  for (let c = 0; c < C; c++) out[oOff + c] = (x[off + c] - mean) * r * w[c] + b[c];
}

/** `y = W x + b` with torch-layout `W [out, in]`. */
function linearRow(
  x: Float64Array,
  off: number,
  inD: number,
  W: Float64Array,
  b: Float64Array | null,
  outD: number,
  out: Float64Array,
  oOff: number,
): void {
  for (let o = 0; o < outD; o++) {
    let s = b ? b[o] : 0;
    for (let i = 0; i < inD; i++) s += W[o * inD + i] * x[off + i];
    out[oOff + o] = s;
  }
}

/** Region label (0..8) of a position of the rolled padded map, official slices. */
function region(r: number, L: number, ws: number, s: number): number {
  if (s === 0) return 0;
  return r < L - ws ? 0 : r < L - s ? 1 : 2;
}

/** The block on an NHWC map `x` (flat `[B, H, W, C]`), returns flat `[B, H, W, C]`. */
export function refSwinBlock(x: ArrayLike<number>, w: RefBlockWeights, a: RefBlockArgs): Float64Array {
  const { B, H, W, C, numHeads: nH, window: ws, shift: s, eps, hidden } = a;
  const hd = C / nH;
  const scale = a.scale ?? hd ** -0.5;
  const Hp = Math.ceil(H / ws) * ws;
  const Wp = Math.ceil(W / ws) * ws;
  const L = H * W;
  const xs = Float64Array.from(x);
  const h = new Float64Array(B * L * C);
  for (let t = 0; t < B * L; t++) layerNormRow(xs, t * C, C, w.norm1w, w.norm1b, eps, h, t * C);
  const qkv = new Float64Array(B * L * 3 * C);
  for (let t = 0; t < B * L; t++) linearRow(h, t * C, C, w.qkvW, w.qkvB, 3 * C, qkv, t * 3 * C);
  // token geometry on the rolled padded frame
  const win = new Int32Array(L);
  const pos = new Int32Array(L * 2);
  const lab = new Int32Array(L);
  for (let y = 0; y < H; y++) {
    for (let xx = 0; xx < W; xx++) {
      const t = y * W + xx;
      const r = (((y - s) % Hp) + Hp) % Hp;
      const c = (((xx - s) % Wp) + Wp) % Wp;
      win[t] = Math.floor(r / ws) * (Wp / ws) + Math.floor(c / ws);
      pos[2 * t] = r % ws;
      pos[2 * t + 1] = c % ws;
      lab[t] = region(r, Hp, ws, s) * 3 + region(c, Wp, ws, s);
    }
  }
  const attnOut = new Float64Array(B * L * C);
  const logits = new Float64Array(L);
  for (let b = 0; b < B; b++) {
    for (let i = 0; i < L; i++) {
      for (let hh = 0; hh < nH; hh++) {
        let mx = Number.NEGATIVE_INFINITY;
        for (let j = 0; j < L; j++) {
          logits[j] = Number.NEGATIVE_INFINITY;
          if (win[j] !== win[i] || lab[j] !== lab[i]) continue;
          let dot = 0;
          const qo = (b * L + i) * 3 * C + hh * hd;
          const ko = (b * L + j) * 3 * C + C + hh * hd;
          for (let d = 0; d < hd; d++) dot += qkv[qo + d] * scale * qkv[ko + d];
          const idx =
            (pos[2 * i] - pos[2 * j] + ws - 1) * (2 * ws - 1) + (pos[2 * i + 1] - pos[2 * j + 1] + ws - 1);
          logits[j] = dot + w.table[idx * nH + hh];
          if (logits[j] > mx) mx = logits[j];
        }
        let z = 0;
        for (let j = 0; j < L; j++) if (logits[j] !== Number.NEGATIVE_INFINITY) z += Math.exp(logits[j] - mx);
        for (let j = 0; j < L; j++) {
          if (logits[j] === Number.NEGATIVE_INFINITY) continue;
          const p = Math.exp(logits[j] - mx) / z;
          const vo = (b * L + j) * 3 * C + 2 * C + hh * hd;
          for (let d = 0; d < hd; d++) attnOut[(b * L + i) * C + hh * hd + d] += p * qkv[vo + d];
        }
      }
    }
  }
  const y = new Float64Array(B * L * C);
  const proj = new Float64Array(C);
  const n2 = new Float64Array(C);
  const f1 = new Float64Array(hidden);
  const f2 = new Float64Array(C);
  for (let t = 0; t < B * L; t++) {
    linearRow(attnOut, t * C, C, w.projW, w.projB, C, proj, 0);
    for (let c = 0; c < C; c++) y[t * C + c] = xs[t * C + c] + proj[c];
    layerNormRow(y, t * C, C, w.norm2w, w.norm2b, eps, n2, 0);
    linearRow(n2, 0, C, w.fc1W, w.fc1B, hidden, f1, 0);
    for (let k = 0; k < hidden; k++) f1[k] = 0.5 * f1[k] * (1 + erf(f1[k] / Math.SQRT2));
    linearRow(f1, 0, hidden, w.fc2W, w.fc2B, C, f2, 0);
    for (let c = 0; c < C; c++) y[t * C + c] += f2[c];
  }
  return y;
}

/**
 * Official `WindowAttention.forward` in plain loops: x `[Bn, N, C]` flat, window `[wh, ww]`,
 * torch-layout weights, optional mask `[nW, N, N]` (window `b` uses `mask[b % nW]`).
 */
export function refWindowAttention(
  x: ArrayLike<number>,
  Bn: number,
  wh: number,
  ww: number,
  C: number,
  nH: number,
  w: {
    qkvW: ArrayLike<number>;
    qkvB: ArrayLike<number> | null;
    table: ArrayLike<number>;
    projW: ArrayLike<number>;
    projB: ArrayLike<number>;
  },
  mask: ArrayLike<number> | null,
  nW = 1,
  scaleOverride?: number,
): Float64Array {
  const N = wh * ww;
  const hd = C / nH;
  const scale = scaleOverride ?? hd ** -0.5;
  const out = new Float64Array(Bn * N * C);
  const qkv = new Float64Array(N * 3 * C);
  const o = new Float64Array(N * C);
  const p = new Float64Array(N);
  for (let b = 0; b < Bn; b++) {
    for (let t = 0; t < N; t++) {
      for (let r = 0; r < 3 * C; r++) {
        let s = w.qkvB ? w.qkvB[r] : 0;
        for (let c = 0; c < C; c++) s += w.qkvW[r * C + c] * x[(b * N + t) * C + c];
        qkv[t * 3 * C + r] = s;
      }
    }
    o.fill(0);
    for (let h = 0; h < nH; h++) {
      for (let i = 0; i < N; i++) {
        let mx = Number.NEGATIVE_INFINITY;
        for (let j = 0; j < N; j++) {
          let dot = 0;
          for (let d = 0; d < hd; d++)
            dot += qkv[i * 3 * C + h * hd + d] * scale * qkv[j * 3 * C + C + h * hd + d];
          const dh = Math.floor(i / ww) - Math.floor(j / ww) + wh - 1;
          const dw = (i % ww) - (j % ww) + ww - 1;
          let l = dot + w.table[(dh * (2 * ww - 1) + dw) * nH + h];
          if (mask) l += mask[(b % nW) * N * N + i * N + j];
          p[j] = l;
          if (l > mx) mx = l;
        }
        let z = 0;
        for (let j = 0; j < N; j++) {
          p[j] = Math.exp(p[j] - mx);
          z += p[j];
        }
        for (let j = 0; j < N; j++) {
          for (let d = 0; d < hd; d++)
            o[i * C + h * hd + d] += (p[j] / z) * qkv[j * 3 * C + 2 * C + h * hd + d];
        }
      }
    }
    for (let t = 0; t < N; t++) {
      for (let r = 0; r < C; r++) {
        let s = w.projB[r];
        for (let c = 0; c < C; c++) s += w.projW[r * C + c] * o[t * C + c];
        out[(b * N + t) * C + r] = s;
      }
    }
  }
  return out;
}
