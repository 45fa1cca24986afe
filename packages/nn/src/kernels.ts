import * as tf from '@tensorflow/tfjs-core';

/**
 * Backend kernels that `@swin/nn` dispatches to BY NAME, the way tfjs itself works: the functions of this
 * package (`attentionCore`, `smallBatchMatMul`, `layerNorm`, `gelu`, `erf`, `splitHeads`, `mergeHeads`)
 * look up a kernel under one of these names for the active backend (`tf.getKernel(name, backend)`) and
 * run it when present; otherwise they run their generic tfjs-op formulation, which works on every backend.
 *
 * Nothing here registers a kernel. `@swin/wasm` (`registerWasmKernels()`) registers WebAssembly SIMD
 * implementations for the 'wasm' and 'cpu' backends; `@swin/webgpu` registers {@link SWIN_WINDOW_ATTENTION}
 * for 'webgpu'. Anyone can register their own implementation for another backend under the same name and
 * contract (inputs, attrs and outputs below).
 */

/**
 * Batched small GEMM with fused epilogues (the products of attention and `smallBatchMatMul`).
 *
 * Inputs (float32): `a`, `b`, and for `kind` `'attn'` optionally `bias` and `mask`, for `'dsm'` `probs`.
 * A and B are strided views (element strides in {@link SmallGemmAttrs}): for `g < G`,
 * `A[g] (n x k)` at `a[g*sAg + r*sAr + c*sAc]`, `B[g] (k x m)` at `b[g*sBg + r*sBr + c*sBc]`.
 * Outputs (contiguous float32): `[G, n, m]`, then for `'dsm'` the requested gradient accumulators
 * (`[nB, n, m]` if `biasGrad`, `[nMk, n, m]` if `maskGrad`):
 * - `'bmm'`:  `C = alpha A B`
 * - `'attn'`: `C = softmax_rows(alpha A B + bias[g % nB] + mask[floor(g / heads) % nMk])`
 * - `'dsm'`:  `C = P * (A B - rowsum(P * A B))` with `P = probs` (the softmax backward), plus the sums of
 *   C over the groups sharing a bias / mask matrix.
 */
export const SWIN_SMALL_GEMM = 'SwinSmallGemm';

/** Kinds of {@link SWIN_SMALL_GEMM}. */
export type SmallGemmKind = 'bmm' | 'attn' | 'dsm';

/** Attributes of {@link SWIN_SMALL_GEMM} (strides in elements). */
export interface SmallGemmAttrs {
  kind: SmallGemmKind;
  G: number;
  n: number;
  k: number;
  m: number;
  sAg: number;
  sAr: number;
  sAc: number;
  sBg: number;
  sBr: number;
  sBc: number;
  /** bmm: output scale; attn: scale of `A B` before the softmax; dsm: unused */
  alpha: number;
  nB: number;
  sBiasG: number;
  sBiasR: number;
  nMk: number;
  heads: number;
  sMaskG: number;
  sMaskR: number;
  biasGrad: boolean;
  maskGrad: boolean;
}

/** Output shapes of a {@link SWIN_SMALL_GEMM} call: `[G, n, m]`, then for dsm the requested accumulators. */
export function smallGemmOutputShapes(a: SmallGemmAttrs): number[][] {
  const shapes = [[a.G, a.n, a.m]];
  if (a.kind === 'dsm') {
    if (a.biasGrad) shapes.push([a.nB, a.n, a.m]);
    if (a.maskGrad) shapes.push([a.nMk, a.n, a.m]);
  }
  return shapes;
}

/** Exact GELU `y = x Phi(x)`: input `x` (float32, any shape) -> `y` (same shape). */
export const SWIN_GELU = 'SwinNnGelu';
/** GELU backward: inputs `x`, `dy` -> `dx = dy (Phi(x) + x phi(x))`. */
export const SWIN_GELU_GRAD = 'SwinNnGeluGrad';
/** Error function: input `x` -> `erf(x)`. */
export const SWIN_ERF = 'SwinNnErf';
/**
 * LayerNorm over the last axis: inputs `x [..., C]`, `gamma [C]`, `beta [C]`; attrs `{C, eps}` (C a
 * multiple of 4) -> `[y (shape of x), mean [rows], rstd [rows]]` (biased variance).
 */
export const SWIN_LAYER_NORM = 'SwinNnLayerNorm';
/**
 * LayerNorm backward: inputs `x`, `dy`, `gamma`, `mean`, `rstd`; attrs `{C}` -> `[dx, dgamma [C], dbeta [C]]`.
 */
export const SWIN_LAYER_NORM_GRAD = 'SwinNnLayerNormGrad';
/**
 * Token layout -> head layout: input `x [B, N, S]`; attrs `{B, N, H, D, S, off}` (D % 4 == 0) -> `[B*H, N, D]`
 * with `out[(b H + h) N + n, d] = x[b, n, off + h D + d]`.
 */
export const SWIN_TOKENS_TO_HEADS = 'SwinNnTokensToHeads';
/**
 * Head layout -> token layout: input `x [B*H, N, D]`; attrs `{B, N, H, D, S, off}` -> `[B, N, S]` with the
 * heads at columns `off + h D + d` and zeros elsewhere.
 */
export const SWIN_HEADS_TO_TOKENS = 'SwinNnHeadsToTokens';

/**
 * Depthwise-conv filter gradient (stride 1, 'valid'): inputs `x [B, Hp, Wp, C]` (padded input), `dy [B, Ho,
 * Wo, C]`; attrs `{kh, kw}` with `Ho = Hp - kh + 1`, `Wo = Wp - kw + 1`, C a multiple of 4 ->
 * `dw [kh, kw, C, 1]` with `dw[i, j, c] = sum_{b,h,w} x[b, h + i, w + j, c] dy[b, h, w, c]`.
 */
export const SWIN_DEPTHWISE_FILTER_GRAD = 'SwinNnDepthwiseFilterGrad';
/**
 * Patch matrix (im2col) of a strided 'valid' window: input `x [B, H, W, C]`; attrs `{kh, kw, sh, sw, Ho, Wo}`
 * -> `[B*Ho*Wo, kh*kw*C]` with row `(b Ho + o) Wo + o'`, column `(i kw + j) C + c` equal to
 * `x[b, o sh + i, o' sw + j, c]` (the column order of an HWIO filter's first three axes).
 */
export const SWIN_IM2COL = 'SwinNnIm2Col';
/**
 * Rotated sub-filter of an HWIO conv filter (for the input gradient of a strided conv): input
 * `w [kh, kw, cin, cout]`; attrs `{r, c, sh, sw}` (`0 <= r < sh`, `0 <= c < sw`) -> `[ka, kb, cout, cin]`
 * with `ka = ceil((kh - r) / sh)`, `kb = ceil((kw - c) / sw)` and
 * `out[a, b, o, i] = w[r + (ka - 1 - a) sh, c + (kb - 1 - b) sw, i, o]` (taps reversed, in/out swapped).
 */
export const SWIN_CONV_SUBFILTER = 'SwinNnConvSubFilter';

/**
 * One fused Adam step of one variable (tfjs `AdamOptimizer`'s update, same float32 operations in the same order):
 * inputs `param`, `grad`, `m`, `v` (float32, one shape); attrs {@link AdamAttrs} -> `[param', m', v']` with
 * `m' = m b1 + g (1 - b1)`, `v' = v b2 + g^2 (1 - b2)`,
 * `param' = (m' / c1) / (sqrt(v' / c2) + eps) * (-lr) + param` (`c1 = 1 - b1^t`, `c2 = 1 - b2^t` the bias
 * corrections). Every constant is the float32 value tfjs uses; each operation rounds to float32.
 */
export const SWIN_ADAM = 'SwinNnAdam';

/** Attributes of {@link SWIN_ADAM} (plain numbers; the kernel rounds each to float32). */
export interface AdamAttrs {
  /** learning rate (the update is multiplied by `-lr`) */
  lr: number;
  beta1: number;
  beta2: number;
  /** added to `sqrt(v' / c2)` */
  eps: number;
  /** bias correction of the first moment, `1 - beta1^t` (float32) */
  c1: number;
  /** bias correction of the second moment, `1 - beta2^t` (float32) */
  c2: number;
}

/** Every kernel name of this file (the names {@link SWIN_WINDOW_ATTENTION} excluded). */
export const SWIN_NN_KERNELS: readonly string[] = [
  SWIN_SMALL_GEMM,
  SWIN_GELU,
  SWIN_GELU_GRAD,
  SWIN_ERF,
  SWIN_LAYER_NORM,
  SWIN_LAYER_NORM_GRAD,
  SWIN_TOKENS_TO_HEADS,
  SWIN_HEADS_TO_TOKENS,
  SWIN_DEPTHWISE_FILTER_GRAD,
  SWIN_IM2COL,
  SWIN_CONV_SUBFILTER,
  SWIN_ADAM,
];

/** Whether a kernel named `kernelName` is registered for `backendName` (default: the active backend). */
export function hasKernel(kernelName: string, backendName: string = tf.getBackend()): boolean {
  return !!tf.getKernel(kernelName, backendName);
}

// ============================================================================================
// Thin callers (no gradient; the public functions wrap them in tf.customGrad)
// ============================================================================================

function checkFloat(fn: string, t: tf.Tensor): void {
  if (t.dtype !== 'float32') throw new Error(`${fn}: expected a float32 tensor, got ${t.dtype}`);
}

/** @internal y = x Phi(x) through the registered kernel. */
export function geluKernel(x: tf.Tensor): tf.Tensor {
  checkFloat('gelu', x);
  return tf.engine().runKernel(SWIN_GELU, { x }) as tf.Tensor;
}

/** @internal erf(x) through the registered kernel. */
export function erfKernel(x: tf.Tensor): tf.Tensor {
  checkFloat('erf', x);
  return tf.engine().runKernel(SWIN_ERF, { x }) as tf.Tensor;
}

/** @internal dy * GELU'(x) through the registered kernel. */
export function geluGradKernel(x: tf.Tensor, dy: tf.Tensor): tf.Tensor {
  return tf.engine().runKernel(SWIN_GELU_GRAD, { x, dy }) as tf.Tensor;
}

/** @internal LayerNorm over the last axis: `[y, mean [rows], rstd [rows]]`. */
export function layerNormKernel(x: tf.Tensor, gamma: tf.Tensor, beta: tf.Tensor, eps: number): tf.Tensor[] {
  const C = x.shape[x.rank - 1];
  return tf.engine().runKernel(SWIN_LAYER_NORM, { x, gamma, beta }, { C, eps }) as unknown as tf.Tensor[];
}

/** @internal LayerNorm backward: `[dx, dgamma [C], dbeta [C]]`. */
export function layerNormGradKernel(
  x: tf.Tensor,
  dy: tf.Tensor,
  gamma: tf.Tensor,
  mean: tf.Tensor,
  rstd: tf.Tensor,
): tf.Tensor[] {
  const C = x.shape[x.rank - 1];
  return tf
    .engine()
    .runKernel(SWIN_LAYER_NORM_GRAD, { x, dy, gamma, mean, rstd }, { C }) as unknown as tf.Tensor[];
}

/** @internal Token layout `x [B, N, S]` -> head layout `[B*H, N, D]`. */
export function tokensToHeadsKernel(x: tf.Tensor, H: number, D: number, off: number): tf.Tensor3D {
  const [B, N, S] = x.shape;
  return tf.engine().runKernel(SWIN_TOKENS_TO_HEADS, { x }, { B, N, H, D, S, off }) as tf.Tensor3D;
}

/** @internal Head layout `x [B*H, N, D]` -> token layout `[B, N, S]`. */
export function headsToTokensKernel(x: tf.Tensor, H: number, S: number, off: number): tf.Tensor3D {
  const [BH, N, D] = x.shape;
  return tf.engine().runKernel(SWIN_HEADS_TO_TOKENS, { x }, { B: BH / H, N, H, D, S, off }) as tf.Tensor3D;
}

/** @internal Depthwise filter gradient `[kh, kw, C, 1]` of a stride-1 'valid' depthwise conv. */
export function depthwiseFilterGradKernel(
  x: tf.Tensor4D,
  dy: tf.Tensor4D,
  kh: number,
  kw: number,
): tf.Tensor4D {
  return tf.engine().runKernel(SWIN_DEPTHWISE_FILTER_GRAD, { x, dy }, { kh, kw }) as tf.Tensor4D;
}

/** @internal Patch matrix `[B*Ho*Wo, kh*kw*C]` of a strided 'valid' window over `x [B, H, W, C]`. */
export function im2colKernel(
  x: tf.Tensor4D,
  [kh, kw]: [number, number],
  [sh, sw]: [number, number],
  Ho: number,
  Wo: number,
): tf.Tensor2D {
  return tf.engine().runKernel(SWIN_IM2COL, { x }, { kh, kw, sh, sw, Ho, Wo }) as tf.Tensor2D;
}

/** @internal Rotated, in/out-swapped sub-filter `[ka, kb, cout, cin]` of `w [kh, kw, cin, cout]`. */
export function convSubFilterKernel(
  w: tf.Tensor4D,
  r: number,
  c: number,
  sh: number,
  sw: number,
): tf.Tensor4D {
  return tf.engine().runKernel(SWIN_CONV_SUBFILTER, { w }, { r, c, sh, sw }) as tf.Tensor4D;
}

/** @internal One fused Adam step through the registered kernel: `[param', m', v']`. */
export function adamKernel(
  param: tf.Tensor,
  grad: tf.Tensor,
  m: tf.Tensor,
  v: tf.Tensor,
  attrs: AdamAttrs,
): [tf.Tensor, tf.Tensor, tf.Tensor] {
  return tf.engine().runKernel(SWIN_ADAM, { param, grad, m, v }, { ...attrs }) as unknown as [
    tf.Tensor,
    tf.Tensor,
    tf.Tensor,
  ];
}
