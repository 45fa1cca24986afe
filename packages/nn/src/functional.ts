import * as tf from '@tensorflow/tfjs-core';
import {
  convSubFilterKernel,
  depthwiseFilterGradKernel,
  erfKernel,
  geluGradKernel,
  geluKernel,
  hasKernel,
  headsToTokensKernel,
  im2colKernel,
  layerNormGradKernel,
  layerNormKernel,
  SWIN_CONV_SUBFILTER,
  SWIN_DEPTHWISE_FILTER_GRAD,
  SWIN_ERF,
  SWIN_GELU,
  SWIN_GELU_GRAD,
  SWIN_HEADS_TO_TOKENS,
  SWIN_IM2COL,
  SWIN_LAYER_NORM,
  SWIN_LAYER_NORM_GRAD,
  SWIN_TOKENS_TO_HEADS,
  tokensToHeadsKernel,
} from './kernels.js';
import { SwinInputError } from './validate.js';

/**
 * Whether the fused GELU / LayerNorm / head kernels run on `backendName` (default: the current backend):
 * true when they are registered for it (`registerWasmKernels()` of `@swin/wasm` does so for 'wasm' and
 * 'cpu').
 */
export function elementwiseKernelsAvailable(backendName: string = tf.getBackend()): boolean {
  return [SWIN_GELU, SWIN_LAYER_NORM, SWIN_TOKENS_TO_HEADS].every((k) => !!tf.getKernel(k, backendName));
}

/**
 * Stateless, differentiable building blocks. Every function works on cpu, wasm, webgl and webgpu,
 * forward AND backward: where tfjs-wasm lacks a gradient kernel (conv2d filter, depthwise conv) the
 * gradient is given explicitly in terms of ops that exist everywhere.
 */

/**
 * `a @ b` for 2-D or batched 3-D operands, same forward as `tf.matMul`, whose gradient uses plain matMuls
 * after explicit transposes. tfjs's own matMul gradient passes transpose flags, which are 10-40x slower on
 * tfjs-wasm; of the two ways to form each gradient the one transposing fewer elements is taken.
 * a `[..., M, K]`, b `[..., K, N]` -> `[..., M, N]`.
 */
export function matMul<T extends tf.Tensor2D | tf.Tensor3D>(a: T, b: T): T {
  const f = tf.customGrad((...args: (tf.Tensor | tf.GradSaveFunc)[]) => {
    const [x, y, save] = args as [T, T, tf.GradSaveFunc];
    const restore = saveForGradient(save, [x, y]);
    return {
      value: tf.matMul(x, y),
      gradFunc: (dy: tf.Tensor | tf.Tensor[], saved: tf.Tensor[]) => {
        const g = dy as T;
        const [xs, ys] = restore(saved) as [T, T];
        return [matMulTransposedB(g, ys), matMulTransposedA(xs, g)];
      },
    };
  });
  return f(a, b) as T;
}

/**
 * Saves `tensors` for a custom gradient, except variables, and returns how to get all of them back in
 * the gradient function. tfjs clones every saved tensor (on tfjs-wasm a full copy: ~113 MB per Swin-T
 * training step for the weights alone), while a variable keeps its value until the optimizer applies
 * the gradients (`minimize`, `variableGrads` compute every gradient first). Assigning a variable
 * between a forward pass and its backward pass is not supported.
 */
function saveForGradient(save: tf.GradSaveFunc, tensors: tf.Tensor[]): (saved: tf.Tensor[]) => tf.Tensor[] {
  const keep = tensors.map((t) => t instanceof tf.Variable);
  save(tensors.filter((_, i) => !keep[i]));
  return (saved) => {
    let j = 0;
    return tensors.map((t, i) => (keep[i] ? t : saved[j++]));
  };
}

/** Column sums of g `[M, N]` -> `[N]` as `ones[1, M] @ g` (tfjs-wasm's Sum over axis 0 is ~18x slower). */
function sumRows(g: tf.Tensor2D): tf.Tensor1D {
  const [M, N] = g.shape;
  return tf.reshape(tf.matMul(tf.ones([1, M]), g), [N]);
}

function swapLast(t: tf.Tensor): tf.Tensor {
  return t.rank === 2 ? tf.transpose(t) : tf.transpose(t, [0, 2, 1]);
}

/** `a @ b^T` with plain matMuls: transposes b, or computes `(b @ a^T)^T`, whichever moves less data. */
function matMulTransposedB(a: tf.Tensor, b: tf.Tensor): tf.Tensor {
  const [M, N] = [a.shape[a.rank - 2], b.shape[b.rank - 2]];
  const [K] = [a.shape[a.rank - 1]];
  if (N * K <= M * K + M * N) return tf.matMul(a as tf.Tensor3D, swapLast(b) as tf.Tensor3D);
  return swapLast(tf.matMul(b as tf.Tensor3D, swapLast(a) as tf.Tensor3D));
}

/** `a^T @ b` with plain matMuls: transposes a, or computes `(b^T @ a)^T`, whichever moves less data. */
function matMulTransposedA(a: tf.Tensor, b: tf.Tensor): tf.Tensor {
  const [K, M] = [a.shape[a.rank - 2], a.shape[a.rank - 1]];
  const N = b.shape[b.rank - 1];
  if (K * M <= K * N + M * N) return tf.matMul(swapLast(a) as tf.Tensor3D, b as tf.Tensor3D);
  return swapLast(tf.matMul(swapLast(b) as tf.Tensor3D, a as tf.Tensor3D));
}

/**
 * `x @ w + b` over the last axis. x `[..., in]`, w `[in, out]` (internal layout), b `[out]` -> `[..., out]`.
 * The bias is fused into the product (`tf.fused.matMul`: on tfjs-wasm XNNPACK adds it while writing the
 * output, saving a broadcast-add pass). Differentiable without transposed matMuls (see {@link matMul}).
 */
export function linear(x: tf.Tensor, w: tf.Tensor, b?: tf.Tensor | null): tf.Tensor {
  const inDim = w.shape[0] as number;
  if (x.shape[x.rank - 1] !== inDim) {
    throw new SwinInputError(
      `linear: input has ${x.shape[x.rank - 1]} features (shape [${x.shape}]), expected ${inDim}`,
    );
  }
  if (w.rank !== 2) throw new SwinInputError(`linear: weight must be 2-D [in, out], got shape [${w.shape}]`);
  const outDim = w.shape[1] as number;
  if (b && (b.rank !== 1 || b.shape[0] !== outDim)) {
    throw new SwinInputError(`linear: bias has shape [${b.shape}], expected [${outDim}]`);
  }
  return tf.tidy(() => {
    const flat = (x.rank === 2 ? x : tf.reshape(x, [-1, inDim])) as tf.Tensor2D;
    const y = b ? affine(flat, w as tf.Tensor2D, b as tf.Tensor1D) : matMul(flat, w as tf.Tensor2D);
    return x.rank === 2 ? y : tf.reshape(y, [...x.shape.slice(0, -1), outDim]);
  });
}

/** `x @ w + b` for x `[M, K]`, w `[K, N]`, b `[N]` in one fused product; transpose-free gradients. */
function affine(x: tf.Tensor2D, w: tf.Tensor2D, b: tf.Tensor1D): tf.Tensor2D {
  const f = tf.customGrad((...args: (tf.Tensor | tf.GradSaveFunc)[]) => {
    const [xi, wi, bi, save] = args as [tf.Tensor2D, tf.Tensor2D, tf.Tensor1D, tf.GradSaveFunc];
    const restore = saveForGradient(save, [xi, wi]);
    return {
      value: tf.fused.matMul({ a: xi, b: wi, bias: bi }),
      gradFunc: (dy: tf.Tensor | tf.Tensor[], saved: tf.Tensor[]) => {
        const g = dy as tf.Tensor2D;
        const [xs, ws] = restore(saved) as [tf.Tensor2D, tf.Tensor2D];
        return [matMulTransposedB(g, ws), matMulTransposedA(xs, g), sumRows(g)];
      },
    };
  });
  return f(x, w, b) as tf.Tensor2D;
}

/**
 * How {@link gelu}, {@link layerNorm}, {@link erf}, {@link splitHeads} and {@link mergeHeads} compute:
 * `'kernel'` = the fused one-pass kernels registered by name for the active backend (see kernels.ts;
 * `@swin/wasm` registers WebAssembly SIMD ones for 'wasm' and 'cpu'), `'tf'` = plain tfjs ops (every
 * backend), `'auto'` (default) = the kernel where one is registered, else tfjs ops. Both are
 * differentiable and agree to float32 rounding.
 */
export type FusedImpl = 'auto' | 'kernel' | 'tf';

function useFusedKernel(
  fn: string,
  impl: FusedImpl | undefined,
  x: tf.Tensor,
  kernels: readonly string[],
  extraOk = true,
): boolean {
  const mode = impl ?? 'auto';
  if (mode !== 'auto' && mode !== 'kernel' && mode !== 'tf') {
    throw new SwinInputError(`${fn}: impl must be 'auto', 'kernel' or 'tf', got ${String(impl)}`);
  }
  if (mode === 'tf') return false;
  const backend = tf.getBackend();
  const registered = kernels.every((k) => !!tf.getKernel(k, backend));
  const ok = extraOk && registered && x.dtype === 'float32' && x.size > 0;
  if (mode === 'kernel' && !ok) {
    throw new SwinInputError(
      `${fn}: impl 'kernel' needs a non-empty float32 input and the kernels ${kernels.join(', ')} registered ` +
        `for backend '${backend}' (registerWasmKernels() of @swin/wasm does so for 'wasm' and 'cpu'; ` +
        `got ${x.dtype} [${x.shape}]${registered ? '' : ', kernels not registered'})`,
    );
  }
  return ok;
}

const HEAD_KERNELS = [SWIN_TOKENS_TO_HEADS, SWIN_HEADS_TO_TOKENS];

/**
 * LayerNorm over the last axis (biased variance, like PyTorch). x `[..., C]`, weight/bias `[C]` or null.
 * With the fused kernels registered (wasm / cpu with `@swin/wasm`) and `C % 4 == 0` it runs one kernel per direction (see {@link FusedImpl}); the
 * tfjs-op form is nine ops (passes over memory).
 */
export function layerNorm(
  x: tf.Tensor,
  weight: tf.Tensor | null,
  bias: tf.Tensor | null,
  eps: number,
  opts: { impl?: FusedImpl } = {},
): tf.Tensor {
  const C = x.shape[x.rank - 1] as number;
  for (const [name, t] of [
    ['weight', weight],
    ['bias', bias],
  ] as const) {
    if (t && (t.rank !== 1 || t.shape[0] !== C)) {
      throw new SwinInputError(
        `layerNorm: ${name} has shape [${t.shape}], expected [${C}] (input shape [${x.shape}])`,
      );
    }
  }
  const kernelOk = x.rank >= 1 && C % 4 === 0 && [weight, bias].every((t) => !t || t.dtype === 'float32');
  if (!useFusedKernel('layerNorm', opts.impl, x, [SWIN_LAYER_NORM, SWIN_LAYER_NORM_GRAD], kernelOk)) {
    return tf.tidy(() => {
      const mean = tf.mean(x, -1, true);
      const xc = tf.sub(x, mean);
      const variance = tf.mean(tf.square(xc), -1, true);
      let y = tf.mul(xc, tf.rsqrt(tf.add(variance, eps)));
      if (weight) y = tf.mul(y, weight);
      if (bias) y = tf.add(y, bias);
      return y;
    });
  }
  return tf.tidy(() => {
    const f = tf.customGrad((...args: (tf.Tensor | tf.GradSaveFunc)[]) => {
      const [xi, g, b, save] = args as [tf.Tensor, tf.Tensor, tf.Tensor, tf.GradSaveFunc];
      const [y, mean, rstd] = layerNormKernel(xi, g, b, eps);
      const restore = saveForGradient(save, [xi, g, mean, rstd]);
      return {
        value: y,
        gradFunc: (dy: tf.Tensor | tf.Tensor[], saved: tf.Tensor[]) => {
          const [xs, gs, ms, rs] = restore(saved);
          return layerNormGradKernel(xs, dy as tf.Tensor, gs, ms, rs);
        },
      };
    });
    return f(x, weight ?? tf.ones([C]), bias ?? tf.zeros([C]));
  });
}

/**
 * Exact (erf) GELU, PyTorch's `nn.GELU()` default: `0.5 x (1 + erf(x / sqrt 2))`. Any shape.
 * With the fused kernels registered (wasm / cpu with `@swin/wasm`, float32) one kernel per direction with an erf accurate to ~1.5e-7 absolute (see
 * {@link FusedImpl}); elsewhere tfjs ops with `tf.erf`.
 */
export function gelu(x: tf.Tensor, opts: { impl?: FusedImpl } = {}): tf.Tensor {
  if (!useFusedKernel('gelu', opts.impl, x, [SWIN_GELU, SWIN_GELU_GRAD])) {
    return tf.tidy(() => tf.mul(tf.mul(x, 0.5), tf.add(tf.erf(tf.mul(x, Math.SQRT1_2)), 1)));
  }
  return tf.tidy(() => {
    const f = tf.customGrad((...args: (tf.Tensor | tf.GradSaveFunc)[]) => {
      const [xi, save] = args as [tf.Tensor, tf.GradSaveFunc];
      save([xi]);
      return {
        value: geluKernel(xi),
        gradFunc: (dy: tf.Tensor | tf.Tensor[], saved: tf.Tensor[]) =>
          geluGradKernel(saved[0], dy as tf.Tensor),
      };
    });
    return f(x);
  });
}

/**
 * The error function, any shape. With the kernel registered (wasm / cpu with `@swin/wasm`, float32) a one-pass kernel accurate to ~1.5e-7 absolute
 * (tfjs-wasm's Erf is several times slower); elsewhere `tf.erf`. Differentiable:
 * `d erf(x) / dx = 2 / sqrt(pi) exp(-x^2)`.
 */
export function erf(x: tf.Tensor, opts: { impl?: FusedImpl } = {}): tf.Tensor {
  if (!useFusedKernel('erf', opts.impl, x, [SWIN_ERF])) return tf.erf(x);
  return tf.tidy(() => {
    const f = tf.customGrad((...args: (tf.Tensor | tf.GradSaveFunc)[]) => {
      const [xi, save] = args as [tf.Tensor, tf.GradSaveFunc];
      save([xi]);
      return {
        value: erfKernel(xi),
        gradFunc: (dy: tf.Tensor | tf.Tensor[], saved: tf.Tensor[]) =>
          tf.mul(dy as tf.Tensor, tf.mul(tf.exp(tf.neg(tf.square(saved[0]))), 2 / Math.sqrt(Math.PI))),
      };
    });
    return f(x);
  });
}

/**
 * Splits token features into attention heads: x `[B, N, P*H*D]` with channels ordered `[P][H][D]` (e.g.
 * a fused qkv projection, P = 3) -> P tensors `[B*H, N, D]` (groups batch-major, head-minor), i.e.
 * `x.reshape(B, N, P, H, D).permute(2, 0, 3, 1, 4)` split along the first axis.
 *
 * With the head kernels registered (wasm / cpu with `@swin/wasm`) and `D % 4 == 0` each part is one data-movement kernel that reads only its columns
 * (tfjs-wasm's Slice copies its whole input first, and a 5-D transpose is ~100x slower than 4-D);
 * elsewhere slice + 4-D transpose. Differentiable (the gradient of a part writes it back in place).
 */
export function splitHeads(
  x: tf.Tensor3D,
  parts: number,
  heads: number,
  opts: { impl?: FusedImpl } = {},
): tf.Tensor3D[] {
  if (x?.rank !== 3) throw new SwinInputError(`splitHeads: x must be [B, N, P*H*D], got shape [${x?.shape}]`);
  const [B, N, S] = x.shape;
  for (const [k, v] of Object.entries({ parts, heads })) {
    if (!Number.isInteger(v) || v < 1)
      throw new SwinInputError(`splitHeads: ${k} must be a positive integer, got ${v}`);
  }
  if (S % (parts * heads) !== 0) {
    throw new SwinInputError(
      `splitHeads: ${S} channels are not divisible by parts * heads = ${parts} * ${heads}`,
    );
  }
  const D = S / (parts * heads);
  const H = heads;
  const range = Array.from({ length: parts }, (_, p) => p);
  if (!useFusedKernel('splitHeads', opts.impl, x, HEAD_KERNELS, D % 4 === 0)) {
    return tf.tidy(() => {
      const flat = tf.reshape(x, [B * N, S]);
      return range.map((p) => {
        const cols = parts === 1 ? flat : tf.slice(flat, [0, p * H * D], [B * N, H * D]);
        return tf.reshape(tf.transpose(tf.reshape(cols, [B, N, H, D]), [0, 2, 1, 3]), [B * H, N, D]);
      }) as tf.Tensor3D[];
    });
  }
  return tf.tidy(() =>
    range.map((p) => {
      const f = tf.customGrad((...args: (tf.Tensor | tf.GradSaveFunc)[]) => ({
        value: tokensToHeadsKernel(args[0] as tf.Tensor, H, D, p * H * D),
        gradFunc: (dy: tf.Tensor | tf.Tensor[]) => headsToTokensKernel(dy as tf.Tensor, H, S, p * H * D),
      }));
      return f(x) as tf.Tensor3D;
    }),
  );
}

/**
 * Merges attention heads back into token features: o `[B*H, N, D]` -> `[B, N, H*D]` (channels `[H][D]`),
 * the inverse of {@link splitHeads} with one part. One registered kernel (wasm / cpu with `@swin/wasm`, `D % 4 == 0`), a 4-D
 * transpose elsewhere. Differentiable.
 */
export function mergeHeads(o: tf.Tensor3D, heads: number, opts: { impl?: FusedImpl } = {}): tf.Tensor3D {
  if (o?.rank !== 3) throw new SwinInputError(`mergeHeads: o must be [B*H, N, D], got shape [${o?.shape}]`);
  const [BH, N, D] = o.shape;
  if (!Number.isInteger(heads) || heads < 1 || BH % heads !== 0) {
    throw new SwinInputError(
      `mergeHeads: heads must be a positive integer dividing ${BH} groups, got ${heads}`,
    );
  }
  const H = heads;
  const B = BH / H;
  if (!useFusedKernel('mergeHeads', opts.impl, o, HEAD_KERNELS, D % 4 === 0)) {
    return tf.tidy(
      () => tf.reshape(tf.transpose(tf.reshape(o, [B, H, N, D]), [0, 2, 1, 3]), [B, N, H * D]) as tf.Tensor3D,
    );
  }
  return tf.tidy(() => {
    const f = tf.customGrad((...args: (tf.Tensor | tf.GradSaveFunc)[]) => ({
      value: headsToTokensKernel(args[0] as tf.Tensor, H, H * D, 0),
      gradFunc: (dy: tf.Tensor | tf.Tensor[]) => tokensToHeadsKernel(dy as tf.Tensor, H, D, 0),
    }));
    return f(o) as tf.Tensor3D;
  });
}

/** Inverted dropout; identity unless `training` and `p > 0`. */
export function dropout(x: tf.Tensor, p: number, training: boolean): tf.Tensor {
  if (!training || p <= 0) return x;
  return tf.tidy(() => tf.div(tf.mul(x, tf.step(tf.sub(tf.randomUniform(x.shape), p))), 1 - p));
}

/** Stochastic depth per sample (batch axis 0); identity unless `training` and `p > 0`. */
export function dropPath(x: tf.Tensor, p: number, training: boolean): tf.Tensor {
  if (!training || p <= 0) return x;
  return tf.tidy(() => {
    const shape = [x.shape[0], ...new Array(x.rank - 1).fill(1)];
    const keep = tf.floor(tf.add(tf.randomUniform(shape), 1 - p));
    return tf.mul(tf.div(x, 1 - p), keep);
  });
}

/**
 * `y + bias` over the channel (last) axis of `y [B, H, W, C]`; the bias gradient is a ones-row matMul
 * ({@link sumRows}) instead of tfjs's broadcast-add gradient (a Sum over leading axes, slow on tfjs-wasm).
 */
function addChannelBias(y: tf.Tensor4D, bias: tf.Tensor1D): tf.Tensor4D {
  const C = y.shape[3];
  const f = tf.customGrad((...args: (tf.Tensor | tf.GradSaveFunc)[]) => {
    const [yi, bi] = args as [tf.Tensor4D, tf.Tensor1D];
    return {
      value: tf.add(yi, bi),
      gradFunc: (dy: tf.Tensor | tf.Tensor[]) => {
        const g = dy as tf.Tensor4D;
        // (a reshape shares dy's data: no copy, and the tape never sees dy itself returned)
        return [tf.reshape(g, g.shape), sumRows(tf.reshape(g, [-1, C]) as tf.Tensor2D)];
      },
    };
  });
  return f(y, bias) as tf.Tensor4D;
}

/** Symmetric zero padding of H and W of an NHWC tensor by `p` (PyTorch's conv `padding=p`). */
export function padHW(x: tf.Tensor4D, p: number | [number, number]): tf.Tensor4D {
  const [ph, pw] = typeof p === 'number' ? [p, p] : p;
  if (ph === 0 && pw === 0) return x;
  return tf.pad(x, [
    [0, 0],
    [ph, ph],
    [pw, pw],
    [0, 0],
  ]);
}

function checkNHWC(name: string, x: tf.Tensor, c: number): void {
  if (x.rank !== 4) throw new SwinInputError(`${name}: expected a 4-D NHWC tensor, got shape [${x.shape}]`);
  if (x.shape[3] !== c)
    throw new SwinInputError(`${name}: input has ${x.shape[3]} channels (shape [${x.shape}]), expected ${c}`);
}

/**
 * Calls `visit` with every kernel tap `(i, j)` of a strided 'valid' window over x `[B, H, W, C]`: the
 * `[B, Ho, Wo, C]` map of `x[b, i + s*o, j + s*o', c]`, in (i, j) row-major order. Only rank-4 slices are
 * used (tfjs-wasm runs Slice above rank 4 through a slow generic path): rows first, then columns.
 */
function forEachTap(
  x: tf.Tensor4D,
  [kh, kw]: [number, number],
  [sh, sw]: [number, number],
  Ho: number,
  Wo: number,
  visit: (tap: tf.Tensor4D, i: number, j: number) => void,
): void {
  const [B, H, W, C] = x.shape;
  const Hq = Math.ceil(Math.max(H, (Ho - 1) * sh + kh) / sh);
  const Wq = Math.ceil(Math.max(W, (Wo - 1) * sw + kw) / sw);
  const xp = tf.pad(x, [
    [0, 0],
    [0, Hq * sh - H],
    [0, Wq * sw - W],
    [0, 0],
  ]);
  const rowsView = tf.reshape(xp, [B * Hq, sh, Wq * sw * C, 1]);
  for (let i = 0; i < kh; i++) {
    const [qi, ri] = [Math.floor(i / sh), i % sh];
    const phase = tf.reshape(tf.slice(rowsView, [0, ri, 0, 0], [B * Hq, 1, Wq * sw * C, 1]), [
      B,
      Hq,
      Wq * sw,
      C,
    ]);
    const colsView = tf.reshape(tf.slice(phase, [0, qi, 0, 0], [B, Ho, Wq * sw, C]), [B * Ho, Wq, sw, C]);
    for (let j = 0; j < kw; j++) {
      const [qj, rj] = [Math.floor(j / sw), j % sw];
      visit(tf.reshape(tf.slice(colsView, [0, qj, rj, 0], [B * Ho, Wo, 1, C]), [B, Ho, Wo, C]), i, j);
    }
  }
}

/**
 * Patches of an NHWC tensor for a `k x k` kernel with stride `s` (no padding: pad first):
 * `[B, Ho, Wo, kh*kw*C]` with the kernel taps ordered (kh, kw, C) like an HWIO filter's first three axes.
 * Uses only reshape/slice/concat, so it is differentiable on every backend.
 */
export function extractPatches(
  x: tf.Tensor4D,
  kernel: [number, number],
  stride: [number, number],
): tf.Tensor4D {
  return tf.tidy(() => {
    const [B, H, W, C] = x.shape;
    const [kh, kw] = kernel;
    const [sh, sw] = stride;
    const Ho = Math.floor((H - kh) / sh) + 1;
    const Wo = Math.floor((W - kw) / sw) + 1;
    if (Ho <= 0 || Wo <= 0)
      throw new SwinInputError(`extractPatches: kernel ${kh}x${kw} larger than the ${H}x${W} input`);
    if (kh === sh && kw === sw) {
      // Non-overlapping: a pure reshape/transpose.
      const cropped = tf.slice(x, [0, 0, 0, 0], [B, Ho * kh, Wo * kw, C]);
      const r = tf.reshape(cropped, [B, Ho, kh, Wo, kw, C]);
      return tf.reshape(tf.transpose(r, [0, 1, 3, 2, 4, 5]), [B, Ho, Wo, kh * kw * C]);
    }
    const taps: tf.Tensor[] = [];
    forEachTap(x, kernel, stride, Ho, Wo, (t) => taps.push(t));
    return tf.concat(taps, 3) as tf.Tensor4D;
  });
}

/**
 * The sub-filter `W[r + a sh, c + b sw]` (`a < ceil((kh - r) / sh)`, `b < ceil((kw - c) / sw)`) of an HWIO
 * filter, rotated by 180 degrees and with in/out swapped: `[ka, kb, cout, cin]` (the whole filter for
 * stride 1): one kernel when registered, else ONE gather of the `[kh*kw, cin*cout]` rows and a transpose
 * (tfjs-wasm's StridedSlice and Reverse are scalar loops, ~50-100 ms on a 3x3x320x512 filter).
 */
function rotatedSubFilter(w: tf.Tensor4D, r: number, c: number, [sh, sw]: [number, number]): tf.Tensor4D {
  if (hasKernel(SWIN_CONV_SUBFILTER)) return convSubFilterKernel(w, r, c, sh, sw);
  const [kh, kw, cin, cout] = w.shape;
  const ka = Math.ceil((kh - r) / sh);
  const kb = Math.ceil((kw - c) / sw);
  const rows: number[] = [];
  for (let a = ka - 1; a >= 0; a--)
    for (let b = kb - 1; b >= 0; b--) rows.push((r + a * sh) * kw + c + b * sw);
  const picked = tf.gather(tf.reshape(w, [kh * kw, cin * cout]), tf.tensor1d(rows, 'int32'));
  return tf.transpose(tf.reshape(picked, [ka, kb, cin, cout]), [0, 1, 3, 2]) as tf.Tensor4D;
}

/**
 * Gradient of a 'valid' conv2d with respect to its input `[B, H, W, Cin]` (H, W exactly covered).
 * tfjs-wasm's Conv2DBackpropInput is a scalar loop, many times slower than its forward Conv2D (XNNPACK),
 * so: kernel = stride is a matMul + reshape; stride 1 is a forward conv of the padded dy with the rotated
 * filter; other strides are split into their `sh * sw` phases (see {@link stridedConvInputGrad}).
 */
function convInputGrad(
  dy: tf.Tensor4D,
  w: tf.Tensor4D,
  xShape: [number, number, number, number],
  stride: [number, number],
): tf.Tensor4D {
  const [kh, kw, cin, cout] = w.shape;
  const [B, Ho, Wo] = dy.shape;
  if (kh === stride[0] && kw === stride[1]) {
    // Non-overlapping patches: dP = dY W^T, then undo the patch reshape.
    const wT = tf.transpose(tf.reshape(w, [kh * kw * cin, cout]));
    const dP = tf.matMul(tf.reshape(dy, [B * Ho * Wo, cout]), wT);
    const r = tf.transpose(tf.reshape(dP, [B, Ho, Wo, kh, kw, cin]), [0, 1, 3, 2, 4, 5]);
    return tf.reshape(r, xShape);
  }
  if (stride[0] === 1 && stride[1] === 1) {
    const rotated = rotatedSubFilter(w, 0, 0, [1, 1]);
    const padded = tf.pad(dy, [
      [0, 0],
      [kh - 1, kh - 1],
      [kw - 1, kw - 1],
      [0, 0],
    ]);
    return tf.conv2d(padded, rotated, 1, 'valid');
  }
  return stridedConvInputGrad(dy, w, xShape, stride);
}

/**
 * Input gradient of a strided 'valid' conv as `sh * sw` stride-1 forward convolutions (the sub-pixel
 * decomposition of a transposed convolution). Input row `y = q sh + r` receives `dy[q - a] W[a sh + r]^T`
 * for `a < ceil((kh - r) / sh)`: for each phase `(r, c)` that is the full correlation of dy with the
 * rotated sub-filter `W[r::sh, c::sw]` (a `tf.conv2d`, XNNPACK on wasm); the phases are then interleaved
 * (reshape / concat) and cropped to the input size. Equal to `tf.conv2dTranspose(dy, w, xShape, stride)`.
 */
function stridedConvInputGrad(
  dy: tf.Tensor4D,
  w: tf.Tensor4D,
  xShape: [number, number, number, number],
  [sh, sw]: [number, number],
): tf.Tensor4D {
  const [kh, kw, cin] = w.shape;
  const [B, Ho, Wo] = dy.shape;
  const [, Hc, Wc] = xShape;
  const Qh = Math.ceil(Hc / sh);
  const Qw = Math.ceil(Wc / sw);
  const rows: tf.Tensor[] = [];
  for (let r = 0; r < sh; r++) {
    const cols: tf.Tensor[] = [];
    for (let c = 0; c < sw; c++) {
      const ka = Math.ceil((kh - r) / sh);
      const kb = Math.ceil((kw - c) / sw);
      if (ka <= 0 || kb <= 0) {
        cols.push(tf.zeros([B, Qh, Qw, cin]));
        continue;
      }
      const rotated = rotatedSubFilter(w, r, c, [sh, sw]);
      const padded = tf.pad(dy, [
        [0, 0],
        [ka - 1, ka - 1],
        [kb - 1, kb - 1],
        [0, 0],
      ]);
      // [B, Ho + ka - 1, Wo + kb - 1, cin]: rows q of phase r, padded / cropped to Qh x Qw
      let ph = tf.conv2d(padded, rotated, 1, 'valid');
      const [hp, wp] = [Ho + ka - 1, Wo + kb - 1];
      if (hp > Qh || wp > Qw) ph = tf.slice(ph, [0, 0, 0, 0], [B, Math.min(hp, Qh), Math.min(wp, Qw), cin]);
      if (hp < Qh || wp < Qw) {
        ph = tf.pad(ph, [
          [0, 0],
          [0, Math.max(0, Qh - hp)],
          [0, Math.max(0, Qw - wp)],
          [0, 0],
        ]);
      }
      cols.push(ph);
    }
    // interleave the column phases: [B, Qh, Qw, sw, cin] -> [B, Qh, Qw * sw, cin]
    const inter =
      sw === 1
        ? cols[0]
        : tf.concat(
            cols.map((t) => tf.reshape(t, [B * Qh * Qw, 1, cin])),
            1,
          );
    rows.push(tf.reshape(inter, [B * Qh, 1, Qw * sw * cin]));
  }
  // interleave the row phases: [B, Qh, sh, Qw * sw, cin] -> [B, Qh * sh, Qw * sw, cin], then crop
  const full = tf.reshape(sh === 1 ? rows[0] : tf.concat(rows, 1), [B, Qh * sh, Qw * sw, cin]) as tf.Tensor4D;
  return Qh * sh === Hc && Qw * sw === Wc ? full : tf.slice(full, [0, 0, 0, 0], [B, Hc, Wc, cin]);
}

/**
 * Gradient of a 'valid' conv2d with respect to its HWIO filter: `dW[i, j] = tap_ij^T dY`, computed as
 * `(dY^T tap_ij)^T` so that only dY `[N, Cout]` is transposed (once), never the much larger patches,
 * and without concatenating the taps.
 */
function convFilterGrad(
  x: tf.Tensor4D,
  dy: tf.Tensor4D,
  kernel: [number, number],
  stride: [number, number],
): tf.Tensor4D {
  const [kh, kw] = kernel;
  const [B, Ho, Wo, cout] = dy.shape;
  const cin = x.shape[3];
  const N = B * Ho * Wo;
  const dyT = tf.transpose(tf.reshape(dy, [N, cout]));
  if (hasKernel(SWIN_IM2COL)) {
    // one patch matrix [N, kh*kw*cin] (row copies) and one matMul
    const patches = im2colKernel(x, kernel, stride, Ho, Wo);
    return tf.reshape(tf.transpose(tf.matMul(dyT, patches)), [kh, kw, cin, cout]);
  }
  if (kh === stride[0] && kw === stride[1]) {
    const patches = tf.reshape(extractPatches(x, kernel, stride), [N, kh * kw * cin]);
    return tf.reshape(tf.transpose(tf.matMul(dyT, patches)), [kh, kw, cin, cout]);
  }
  const perTap: tf.Tensor[] = [];
  forEachTap(x, kernel, stride, Ho, Wo, (tap) => {
    perTap.push(tf.matMul(dyT, tf.reshape(tap, [N, cin]))); // [Cout, Cin]
  });
  // [kh*kw, Cout, Cin] -> [kh, kw, Cin, Cout]
  return tf.reshape(tf.transpose(tf.stack(perTap), [0, 2, 1]), [kh, kw, cin, cout]);
}

/**
 * 2-D convolution, PyTorch semantics: x NHWC `[B, H, W, Cin]`, filter HWIO `[kh, kw, Cin, Cout]`,
 * optional bias `[Cout]`, symmetric zero `padding`, `stride`. Output `[B, Ho, Wo, Cout]` with
 * `Ho = floor((H + 2p - kh) / s) + 1` (a remainder is dropped, as in PyTorch).
 *
 * Forward runs tfjs's conv2d (XNNPACK on wasm). The filter gradient is computed as patches^T @ dy,
 * because tfjs-wasm has no Conv2DBackpropFilter kernel; the input gradient runs forward convolutions
 * (see convInputGrad), or is skipped with `inputGradient: false` (image stems).
 */
export function conv2d(
  x: tf.Tensor4D,
  filter: tf.Tensor4D,
  bias: tf.Tensor1D | null,
  opts: {
    stride?: number | [number, number];
    padding?: number | [number, number];
    /**
     * false: no gradient flows into `x` (it is treated as a constant, like an image input in PyTorch);
     * the backward pass then computes only the filter gradient. Default true.
     */
    inputGradient?: boolean;
  } = {},
): tf.Tensor4D {
  const [kh, kw, cin, cout] = filter.shape;
  checkNHWC('conv2d', x, cin);
  const inputGradient = opts.inputGradient ?? true;
  const stride: [number, number] =
    typeof opts.stride === 'number' ? [opts.stride, opts.stride] : (opts.stride ?? [1, 1]);
  const [ph, pw] = typeof opts.padding === 'number' ? [opts.padding, opts.padding] : (opts.padding ?? [0, 0]);
  const [B, H, W] = x.shape;
  const [Hp, Wp] = [H + 2 * ph, W + 2 * pw];
  if (Hp < kh || Wp < kw) {
    throw new SwinInputError(
      `conv2d: kernel ${kh}x${kw} larger than the padded ${Hp}x${Wp} input (shape [${x.shape}])`,
    );
  }
  const Ho = Math.floor((Hp - kh) / stride[0]) + 1;
  const Wo = Math.floor((Wp - kw) / stride[1]) + 1;
  // The padded input cropped to what the strided conv reads: [B, Hc, Wc, cin]
  const [Hc, Wc] = [(Ho - 1) * stride[0] + kh, (Wo - 1) * stride[1] + kw];
  // stride 1 with pad < kernel: the input gradient comes out at x's size directly (no crop)
  const direct = stride[0] === 1 && stride[1] === 1 && ph <= kh - 1 && pw <= kw - 1;
  return tf.tidy(() => {
    if (!inputGradient) {
      // x is captured, not an input of the custom op: the tape records no path into it
      const fw = tf.customGrad((...args: (tf.Tensor | tf.GradSaveFunc)[]) => {
        const [w, save] = args as [tf.Tensor4D, tf.GradSaveFunc];
        const xc = padCrop(x, ph, pw, Hc, Wc);
        save([xc]);
        return {
          value: tf.conv2d(xc, w, stride, 'valid'),
          gradFunc: (dy: tf.Tensor | tf.Tensor[], saved: tf.Tensor[]) => [
            tf.reshape(convFilterGrad(saved[0] as tf.Tensor4D, dy as tf.Tensor4D, [kh, kw], stride), [
              kh,
              kw,
              cin,
              cout,
            ]),
          ],
        };
      });
      const y = fw(filter) as tf.Tensor4D;
      return bias ? addChannelBias(y, bias) : y;
    }
    // The padding runs inside the custom op: the tape sees x itself, so no pad gradient (a Slice, a
    // full copy on tfjs-wasm) follows the input gradient.
    const f = tf.customGrad((...args: (tf.Tensor | tf.GradSaveFunc)[]) => {
      const [xin, w, save] = args as [tf.Tensor4D, tf.Tensor4D, tf.GradSaveFunc];
      const xc = padCrop(xin, ph, pw, Hc, Wc);
      // (a variable filter is not cloned: see saveForGradient)
      const restore = saveForGradient(save, [xc, w]);
      const value = tf.conv2d(xc, w, stride, 'valid');
      return {
        value,
        gradFunc: (dy: tf.Tensor | tf.Tensor[], saved: tf.Tensor[]) => {
          const g = dy as tf.Tensor4D;
          const [xs, ws] = restore(saved) as [tf.Tensor4D, tf.Tensor4D];
          const dw = tf.reshape(convFilterGrad(xs, g, [kh, kw], stride), [kh, kw, cin, cout]);
          if (direct) {
            // full correlation of dy with the rotated filter, without the padded borders
            const gp = tf.pad(g, [
              [0, 0],
              [kh - 1 - ph, kh - 1 - ph],
              [kw - 1 - pw, kw - 1 - pw],
              [0, 0],
            ]);
            return [tf.conv2d(gp, rotatedSubFilter(ws, 0, 0, [1, 1]), 1, 'valid'), dw];
          }
          // gradient of the padded, cropped input [B, Hc, Wc, cin] -> back to x's rows / columns
          const dxc = convInputGrad(g, ws, xs.shape, stride);
          const dxp = tf.pad(dxc, [
            [0, 0],
            [0, Math.max(0, ph + H - Hc)],
            [0, Math.max(0, pw + W - Wc)],
            [0, 0],
          ]);
          return [tf.slice(dxp, [0, ph, pw, 0], [B, H, W, cin]), dw];
        },
      };
    });
    const y = f(x, filter) as tf.Tensor4D;
    return bias ? addChannelBias(y, bias) : y;
  });
}

/**
 * Zero-pads x `[B, H, W, C]` by `ph` / `pw` on top / left and keeps the first `Hc x Wc` rows and columns
 * of the padded map: one pad (bottom / right amounts shortened) when the crop only removes padding,
 * else pad + slice.
 */
function padCrop(x: tf.Tensor4D, ph: number, pw: number, Hc: number, Wc: number): tf.Tensor4D {
  const [B, H, W, C] = x.shape;
  const [bh, bw] = [Hc - H - ph, Wc - W - pw];
  if (bh >= 0 && bw >= 0) {
    if (ph === 0 && pw === 0 && bh === 0 && bw === 0) return x;
    return tf.pad(x, [
      [0, 0],
      [ph, bh],
      [pw, bw],
      [0, 0],
    ]);
  }
  return tf.slice(padHW(x, [ph, pw]), [0, 0, 0, 0], [B, Hc, Wc, C]);
}

/**
 * Depthwise 2-D convolution (PyTorch `groups = C`, one filter per channel), stride 1:
 * x NHWC `[B, H, W, C]`, filter `[kh, kw, C, 1]`, bias `[C]`, symmetric zero `padding`.
 * Output `[B, H + 2p - kh + 1, W + 2p - kw + 1, C]`.
 *
 * Forward runs tfjs's depthwiseConv2d; both gradients are given explicitly (tfjs-wasm lacks the
 * depthwise backprop kernels): dx is the depthwise conv of dy with the flipped filter, dw a sum of
 * shifted products.
 */
export function depthwiseConv2d(
  x: tf.Tensor4D,
  filter: tf.Tensor4D,
  bias: tf.Tensor1D | null,
  opts: { padding?: number } = {},
): tf.Tensor4D {
  const [kh, kw, C, mult] = filter.shape;
  if (mult !== 1)
    throw new SwinInputError(`depthwiseConv2d: channel multiplier ${mult} is not supported (expected 1)`);
  checkNHWC('depthwiseConv2d', x, C);
  const pad = opts.padding ?? 0;
  const [B, H, W] = x.shape;
  const [Hp, Wp] = [H + 2 * pad, W + 2 * pad];
  if (Hp < kh || Wp < kw) {
    throw new SwinInputError(`depthwiseConv2d: kernel ${kh}x${kw} larger than the padded ${Hp}x${Wp} input`);
  }
  const Ho = Hp - kh + 1;
  const Wo = Wp - kw + 1;
  // The padding runs inside the custom op when the input gradient can crop it for free (pad < kernel):
  // dx then comes out at the input's size, with no Slice (tfjs's pad gradient; a full copy on tfjs-wasm).
  const inner = pad <= kh - 1 && pad <= kw - 1;
  const q = inner ? pad : 0;
  return tf.tidy(() => {
    const f = tf.customGrad((...args: (tf.Tensor | tf.GradSaveFunc)[]) => {
      const [xin, w, save] = args as [tf.Tensor4D, tf.Tensor, tf.GradSaveFunc];
      const xpi = inner ? padHW(xin, pad) : xin;
      const restore = saveForGradient(save, [xpi, w]);
      const value = tf.depthwiseConv2d(xpi, w as tf.Tensor4D, 1, 'valid');
      return {
        value,
        gradFunc: (dy: tf.Tensor | tf.Tensor[], saved: tf.Tensor[]) => {
          const g = dy as tf.Tensor4D;
          const [xs, ws] = restore(saved) as [tf.Tensor4D, tf.Tensor4D];
          // dx = full correlation of dy with the 180-degree rotated filter, without the q padded borders
          const gp = tf.pad(g, [
            [0, 0],
            [kh - 1 - q, kh - 1 - q],
            [kw - 1 - q, kw - 1 - q],
            [0, 0],
          ]);
          const wFlip = tf.reverse(ws, [0, 1]) as tf.Tensor4D;
          const dx = tf.depthwiseConv2d(gp, wFlip, 1, 'valid');
          // dw[i, j, c] = sum_{b, h, w} x[b, h + i, w + j, c] * dy[b, h, w, c]: one kernel when registered
          if (C % 4 === 0 && hasKernel(SWIN_DEPTHWISE_FILTER_GRAD)) {
            return [dx, depthwiseFilterGradKernel(xs, g, kh, kw)];
          }
          // Generic: the products of all taps are
          // concatenated on the channel axis and summed over the N = B*Ho*Wo positions by one ones-row matMul:
          // tfjs-wasm's Sum over leading axes is ~40x slower than that product.
          const N = B * Ho * Wo;
          const products: tf.Tensor[] = [];
          for (let i = 0; i < kh; i++) {
            for (let j = 0; j < kw; j++) {
              products.push(tf.mul(tf.slice(xs, [0, i, j, 0], [B, Ho, Wo, C]), g));
            }
          }
          const stacked = tf.reshape(tf.concat(products, 3), [N, kh * kw * C]);
          const dw = tf.reshape(tf.matMul(tf.ones([1, N]), stacked), [kh, kw, C, 1]);
          return [dx, dw];
        },
      };
    });
    const y = f(inner ? x : padHW(x, pad), filter) as tf.Tensor4D;
    return bias ? addChannelBias(y, bias) : y;
  });
}
