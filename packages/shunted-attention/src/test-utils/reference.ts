/**
 * Test-only plain-JavaScript (float64, loops) transcription of the official `Attention.forward` of
 * `SSA.py`, working directly on PyTorch-layout weights. Independent of tfjs, used to check sizes the
 * fixtures do not cover (maps that are not multiples of the reduction).
 */

export type Weights = Record<string, { shape: number[]; data: Float32Array | Float64Array }>;

/** erf with |error| < 1.2e-7 (Numerical Recipes erfc, Chebyshev fit). */
export function erf(x: number): number {
  const z = Math.abs(x);
  const t = 1 / (1 + 0.5 * z);
  const r =
    t *
    Math.exp(
      -z * z -
        1.26551223 +
        t *
          (1.00002368 +
            t *
              (0.37409196 +
                t *
                  (0.09678418 +
                    t *
                      (-0.18628806 +
                        t *
                          (0.27886807 +
                            t * (-1.13520398 + t * (1.48851587 + t * (-0.82215223 + t * 0.17087277)))))))),
    );
  return x >= 0 ? 1 - r : r - 1;
}

const gelu = (x: number) => 0.5 * x * (1 + erf(x / Math.SQRT2));

/** Tokens `[N][C]` (one image) through `nn.Linear` with weight `[out, in]`. */
function linear(x: number[][], w: Weights[string], b?: Weights[string]): number[][] {
  const [out, inn] = w.shape;
  return x.map((row) => {
    const y = new Array<number>(out).fill(0);
    for (let o = 0; o < out; o++) {
      let s = b ? b.data[o] : 0;
      for (let i = 0; i < inn; i++) s += w.data[o * inn + i] * row[i];
      y[o] = s;
    }
    return y;
  });
}

function layerNorm(x: number[][], w: Weights[string], b: Weights[string], eps: number): number[][] {
  return x.map((row) => {
    const C = row.length;
    const mean = row.reduce((a, v) => a + v, 0) / C;
    const v = row.reduce((a, t) => a + (t - mean) ** 2, 0) / C;
    return row.map((t, c) => ((t - mean) / Math.sqrt(v + eps)) * w.data[c] + b.data[c]);
  });
}

/** Conv kernel = stride = k, no padding, on a map given as tokens `[H*W][C]`; returns `[h*w][out]`, h, w. */
function convStrided(x: number[][], H: number, W: number, k: number, w: Weights[string], b: Weights[string]) {
  const [out, inn] = w.shape;
  const h = Math.floor(H / k);
  const wd = Math.floor(W / k);
  const y: number[][] = [];
  for (let i = 0; i < h; i++) {
    for (let j = 0; j < wd; j++) {
      const v = new Array<number>(out).fill(0);
      for (let o = 0; o < out; o++) {
        let s = b.data[o];
        for (let c = 0; c < inn; c++)
          for (let di = 0; di < k; di++)
            for (let dj = 0; dj < k; dj++)
              s += w.data[((o * inn + c) * k + di) * k + dj] * x[(i * k + di) * W + (j * k + dj)][c];
        v[o] = s;
      }
      y.push(v);
    }
  }
  return { y, h, w: wd };
}

/** Depthwise 3x3, padding 1, weight `[C, 1, 3, 3]`, on tokens `[H*W][C]`. */
function depthwise3(x: number[][], H: number, W: number, w: Weights[string], b: Weights[string]): number[][] {
  const C = x[0].length;
  const y: number[][] = [];
  for (let i = 0; i < H; i++) {
    for (let j = 0; j < W; j++) {
      const v = new Array<number>(C).fill(0);
      for (let c = 0; c < C; c++) {
        let s = b.data[c];
        for (let di = -1; di <= 1; di++)
          for (let dj = -1; dj <= 1; dj++) {
            const ii = i + di;
            const jj = j + dj;
            if (ii < 0 || jj < 0 || ii >= H || jj >= W) continue;
            s += w.data[c * 9 + (di + 1) * 3 + (dj + 1)] * x[ii * W + jj][c];
          }
        v[c] = s;
      }
      y.push(v);
    }
  }
  return y;
}

/** Heads `[h0, h0 + nh)` of attention of `q` (tokens x C, head channels `[head][hd]`) over `k`, `v`. */
function attention(
  q: number[][],
  k: number[][],
  v: number[][],
  headOffset: number,
  nh: number,
  hd: number,
  scale: number,
): number[][] {
  const N = q.length;
  const M = k.length;
  const out = Array.from({ length: N }, () => new Array<number>(nh * hd).fill(0));
  for (let h = 0; h < nh; h++) {
    for (let n = 0; n < N; n++) {
      const logits = new Array<number>(M);
      let mx = -Infinity;
      for (let m = 0; m < M; m++) {
        let s = 0;
        for (let d = 0; d < hd; d++) s += q[n][(headOffset + h) * hd + d] * k[m][h * hd + d];
        logits[m] = s * scale;
        mx = Math.max(mx, logits[m]);
      }
      let z = 0;
      for (let m = 0; m < M; m++) {
        logits[m] = Math.exp(logits[m] - mx);
        z += logits[m];
      }
      for (let m = 0; m < M; m++) {
        const p = logits[m] / z;
        for (let d = 0; d < hd; d++) out[n][h * hd + d] += p * v[m][h * hd + d];
      }
    }
  }
  return out;
}

/**
 * The official `Attention.forward(x, H, W)` for one image: tokens `[H*W][C]` -> `[H*W][C]`, weights under
 * the official keys (`q.weight`, `kv1.weight`, `sr1.weight`, ...).
 */
export function referenceAttention(
  x: number[][],
  H: number,
  W: number,
  p: Weights,
  numHeads: number,
  srRatio: number,
): number[][] {
  const C = x[0].length;
  const hd = C / numHeads;
  const scale = hd ** -0.5;
  const q = linear(x, p['q.weight'], p['q.bias']);
  let o: number[][];
  if (srRatio > 1) {
    const half = C / 2;
    const parts: number[][][] = [];
    const ks = [srRatio, srRatio / 2];
    for (let b = 0; b < 2; b++) {
      const r = convStrided(x, H, W, ks[b], p[`sr${b + 1}.weight`], p[`sr${b + 1}.bias`]);
      const n = layerNorm(r.y, p[`norm${b + 1}.weight`], p[`norm${b + 1}.bias`], 1e-5).map((row) =>
        row.map(gelu),
      );
      const kv = linear(n, p[`kv${b + 1}.weight`], p[`kv${b + 1}.bias`]);
      const k = kv.map((row) => row.slice(0, half));
      const v0 = kv.map((row) => row.slice(half));
      const lc = depthwise3(v0, r.h, r.w, p[`local_conv${b + 1}.weight`], p[`local_conv${b + 1}.bias`]);
      const v = v0.map((row, i) => row.map((t, c) => t + lc[i][c]));
      parts.push(attention(q, k, v, (b * numHeads) / 2, numHeads / 2, hd, scale));
    }
    o = parts[0].map((row, i) => [...row, ...parts[1][i]]);
  } else {
    const kv = linear(x, p['kv.weight'], p['kv.bias']);
    const k = kv.map((row) => row.slice(0, C));
    const v = kv.map((row) => row.slice(C));
    const a = attention(q, k, v, 0, numHeads, hd, scale);
    const lc = depthwise3(v, H, W, p['local_conv.weight'], p['local_conv.bias']);
    o = a.map((row, i) => row.map((t, c) => t + lc[i][c]));
  }
  return linear(o, p['proj.weight'], p['proj.bias']);
}
