import { attentionKernelAvailable, SwinConfigError, SwinInputError, smallBatchMatMul } from '@swin/nn';
import * as tf from '@tensorflow/tfjs-core';

/**
 * The grouped spatial MLP of Swin-MLP (`nn.Conv1d(nH*N, nH*N, kernel_size=1, groups=nH)` on
 * `[B*nW, nH*N, C/nH]`) as per-head matrix products `W_h @ X_h`.
 *
 * Why not simply `tf.matMul` on `[nH, N, N] @ [nH, N, M]`: tfjs-wasm runs every batched (and every
 * transposed) matMul in a scalar loop, 10-40x slower than its 2-D (XNNPACK) matMul, and tfjs's own matMul
 * gradient uses transposed matMuls. So on cpu and wasm (where `@swin/nn`'s SIMD GEMM kernel is available)
 * the products run in `smallBatchMatMul`, whose gradient reads the transposes strided (measured on wasm,
 * 2-core machine, Swin-MLP-T shapes: 3-9x faster forward and 3-8x faster forward+backward than the
 * per-head 2-D matMuls of the former default, 5-13x faster than one batched matMul). Elsewhere (webgl,
 * webgpu) one batched matMul runs, with a custom gradient of explicit transposes and plain matMuls; the
 * per-head 2-D matMul modes remain selectable for comparison.
 *
 * Layout: the PyTorch weight `[nH*N, N, 1]` reshaped to `[nH, N, N]` is `W[h, i, j]` = weight of input
 * token `j` in output token `i` of head `h`; as the LEFT operand of `W_h @ X_h` it needs no transpose at
 * all, so the parameter is stored in the PyTorch layout and reshaped (free) on the fly.
 */

/** Raises a descriptive error. */
function fail(fn: string, message: string): never {
  throw new SwinInputError(`${fn}: ${message}`);
}

/**
 * How the per-head products run: `auto` (default) = `kernel` where `@swin/nn`'s SIMD kernel is available
 * (cpu, wasm), else `batched`. `kernel` forces `smallBatchMatMul` (its own gradient; falls back to plain
 * tfjs ops on backends without the kernel), `batched` one batched `tf.matMul`, `unstack` / `gather` `nH`
 * 2-D matMuls with the heads split by `tf.unstack` / `tf.gather` (tfjs-wasm's slice copies the WHOLE
 * input once per slice, so `unstack` costs `nH` full copies). All give the same numbers (up to float32
 * summation order).
 */
export type HeadMatMulMode = 'auto' | 'batched' | 'unstack' | 'gather' | 'kernel';
let headMatMulMode: HeadMatMulMode = 'auto';

/** Sets the {@link HeadMatMulMode} (process-wide; for benchmarks and tests). Returns the previous mode. */
export function setHeadMatMulMode(mode: HeadMatMulMode): HeadMatMulMode {
  if (!['auto', 'batched', 'unstack', 'gather', 'kernel'].includes(mode)) {
    throw new SwinConfigError(
      `setHeadMatMulMode: unknown mode '${mode}' (expected auto, batched, unstack, gather or kernel)`,
    );
  }
  const prev = headMatMulMode;
  headMatMulMode = mode;
  return prev;
}

function resolveMode(): Exclude<HeadMatMulMode, 'auto'> {
  if (headMatMulMode !== 'auto') return headMatMulMode;
  return attentionKernelAvailable() ? 'kernel' : 'batched';
}

/**
 * `[nH, P, K] @ [nH, K, Q] -> [nH, P, Q]` with plain (untransposed) matMuls only, in the current
 * {@link HeadMatMulMode}. Forward-only building block: called inside the custom gradient below.
 */
function headMatMul(a: tf.Tensor3D, b: tf.Tensor3D): tf.Tensor3D {
  const nH = a.shape[0];
  const mode = resolveMode();
  if (mode === 'batched') return tf.matMul(a, b);
  if (mode === 'kernel') return smallBatchMatMul(a, b);
  return tf.tidy(() => {
    const heads = (t: tf.Tensor3D): tf.Tensor2D[] =>
      mode === 'unstack'
        ? (tf.unstack(t) as tf.Tensor2D[])
        : Array.from({ length: nH }, (_, h) => tf.gather(t, h) as unknown as tf.Tensor2D);
    const as = heads(a);
    const bs = heads(b);
    return tf.stack(as.map((ah, h) => tf.matMul(ah, bs[h]))) as tf.Tensor3D;
  });
}

/**
 * `W @ X` per head (`[nH, N, N] @ [nH, N, M]`) whose gradient is written with explicit transposes and
 * plain matMuls (tfjs's own matMul gradient uses transpose flags: 10-40x slower on tfjs-wasm).
 */
const perHeadMatMul = tf.customGrad((...args: (tf.Tensor | tf.GradSaveFunc)[]) => {
  const [w, x, save] = args as [tf.Tensor3D, tf.Tensor3D, tf.GradSaveFunc];
  save([w, x]);
  return {
    value: headMatMul(w, x),
    gradFunc: (dy: tf.Tensor | tf.Tensor[], saved: tf.Tensor[]) => {
      const g = dy as tf.Tensor3D;
      const [sw, sx] = saved as [tf.Tensor3D, tf.Tensor3D];
      // dW_h = dY_h @ X_h^T, dX_h = W_h^T @ dY_h.
      const dw = headMatMul(g, tf.transpose(sx, [0, 2, 1]));
      const dx = headMatMul(tf.transpose(sw, [0, 2, 1]), g);
      return [dw, dx];
    },
  };
});

/**
 * Per-head token mixing on heads-first data: `out[h] = W[h] @ x[h] + b[h]`.
 *
 * @param x `[nH, N, M]`: head `h`, token `j` of a window, column `m` (window x channel-within-head).
 * @param weight the PyTorch `spatial_mlp.weight` `[nH*N, N, 1]` (or already `[nH, N, N]`).
 * @param bias the PyTorch `spatial_mlp.bias` `[nH*N]`, or null.
 * @returns `[nH, N, M]`.
 * @throws Error on shapes that do not fit together.
 */
export function headTokenMix(x: tf.Tensor3D, weight: tf.Tensor, bias: tf.Tensor | null): tf.Tensor3D {
  const fn = 'headTokenMix';
  if (x.rank !== 3) fail(fn, `x must be [nH, N, M], got shape [${x.shape}]`);
  const [nH, N] = x.shape;
  const ok3 =
    weight.rank === 3 && weight.shape[0] === nH * N && weight.shape[1] === N && weight.shape[2] === 1;
  const okHeads =
    weight.rank === 3 && weight.shape[0] === nH && weight.shape[1] === N && weight.shape[2] === N;
  if (!ok3 && !okHeads) {
    fail(fn, `weight has shape [${weight.shape}], expected [${nH * N}, ${N}, 1] (nH=${nH}, N=${N})`);
  }
  if (bias && (bias.size !== nH * N || bias.rank !== 1)) {
    fail(fn, `bias has shape [${bias.shape}], expected [${nH * N}]`);
  }
  return tf.tidy(() => {
    const w = tf.reshape(weight, [nH, N, N]);
    const y =
      resolveMode() === 'kernel'
        ? smallBatchMatMul(w as tf.Tensor3D, x) // its gradient reads the transposes strided (no copies)
        : (perHeadMatMul(w, x) as tf.Tensor3D);
    return bias ? tf.add(y, tf.reshape(bias, [nH, N, 1])) : y;
  });
}

/**
 * The official `spatial_mlp` step on window tokens: channels split into heads as `[heads][C/heads]`,
 * then for every window and head `out[:, i, h, c] = sum_j W[h*N + i, j] * in[:, j, h, c] + b[h*N + i]`
 * (a grouped Conv1d over the token axis, kernel 1, `groups = nH`).
 *
 * @param windows `[B*nW, N, C]` tokens of each window (row-major inside the window).
 * @param weight `spatial_mlp.weight` `[nH*N, N, 1]` (PyTorch layout).
 * @param bias `spatial_mlp.bias` `[nH*N]`, or null.
 * @param numHeads `nH`; must divide `C`.
 * @returns `[B*nW, N, C]`.
 * @throws Error on a non-3-D input, `C` not divisible by `numHeads`, or weights of the wrong shape.
 */
export function windowSpatialMlp(
  windows: tf.Tensor3D,
  weight: tf.Tensor,
  bias: tf.Tensor | null,
  numHeads: number,
): tf.Tensor3D {
  const fn = 'windowSpatialMlp';
  if (windows.rank !== 3) fail(fn, `windows must be [B*nW, N, C], got shape [${windows.shape}]`);
  if (!Number.isInteger(numHeads) || numHeads <= 0)
    fail(fn, `numHeads must be a positive integer, got ${numHeads}`);
  const [Bw, N, C] = windows.shape;
  if (C % numHeads !== 0) fail(fn, `C=${C} channels are not divisible by numHeads=${numHeads}`);
  const d = C / numHeads;
  return tf.tidy(() => {
    const heads = tf.reshape(tf.transpose(tf.reshape(windows, [Bw, N, numHeads, d]), [2, 1, 0, 3]), [
      numHeads,
      N,
      Bw * d,
    ]) as tf.Tensor3D;
    const mixed = headTokenMix(heads, weight, bias);
    return tf.reshape(tf.transpose(tf.reshape(mixed, [numHeads, N, Bw, d]), [2, 1, 0, 3]), [
      Bw,
      N,
      C,
    ]) as tf.Tensor3D;
  });
}
