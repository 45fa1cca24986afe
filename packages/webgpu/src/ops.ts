import * as tf from '@tensorflow/tfjs-core';
import { SWIN_WINDOW_ATTENTION, type WindowAttentionAttrs } from './names.js';

/** Options of {@link fusedWindowAttention} (the {@link SWIN_WINDOW_ATTENTION} broadcast convention). */
export interface FusedWindowAttentionOptions {
  /** `[nB, N, M]` or `[N, M]`; group `g` adds `bias[g % nB]` (Swin: relative position bias `[nH, N, N]`). */
  bias?: tf.Tensor | null;
  /** `[nW, N, M]` or `[N, M]`; group `g` adds `mask[floor(g / numHeads) % nW]` (Swin: shifted-window mask). */
  mask?: tf.Tensor | null;
  /** Innermost group factor for the mask (default: `bias.shape[0]` for a 3-D bias, else 1). */
  numHeads?: number;
  /** Multiplier of `q kᵀ` (default `1 / sqrt(d)`). */
  scale?: number;
}

/**
 * `softmax(q kᵀ · scale + bias + mask) v` for `G` groups, differentiable. q `[G, N, d]`, k `[G, M, d]`,
 * v `[G, M, dv]` -> `[G, N, dv]`.
 *
 * Forward: the fused {@link SWIN_WINDOW_ATTENTION} kernel when one is registered for the active backend
 * (see `registerSwinWebGPUKernels`), else plain tfjs ops. Backward (`tf.customGrad`): recomputes the
 * probabilities with tfjs ops (like flash attention, nothing `[G, N, M]`-sized is kept from the forward)
 * and returns gradients for q, k, v, bias and mask.
 */
export function fusedWindowAttention(
  q: tf.Tensor3D,
  k: tf.Tensor3D,
  v: tf.Tensor3D,
  opts: FusedWindowAttentionOptions = {},
): tf.Tensor3D {
  const fn = 'fusedWindowAttention';
  for (const [name, t] of [
    ['q', q],
    ['k', k],
    ['v', v],
  ] as const) {
    if (!(t instanceof tf.Tensor) || t.rank !== 3 || t.dtype !== 'float32') {
      throw new Error(
        `${fn}: ${name} must be a float32 rank-3 tensor, got ${t instanceof tf.Tensor ? `[${t.shape}] ${t.dtype}` : typeof t}`,
      );
    }
  }
  const [G, N, D] = q.shape;
  const M = k.shape[1];
  const bias = opts.bias ?? null;
  const mask = opts.mask ?? null;
  const nB = bias ? (bias.rank === 3 ? bias.shape[0] : 1) : 1;
  const nM = mask ? (mask.rank === 3 ? mask.shape[0] : 1) : 1;
  const heads = opts.numHeads ?? (bias && bias.rank === 3 ? nB : 1);
  const scale = opts.scale ?? 1 / Math.sqrt(D);
  const attrs: WindowAttentionAttrs = { scale, numHeads: heads, numWindows: nM };
  const fused = !!tf.getKernel(SWIN_WINDOW_ATTENTION, tf.getBackend());
  if (!fused) {
    // validate like the kernel would, so both paths reject the same inputs
    for (const [name, t, n] of [
      ['bias', bias, nB],
      ['mask', mask, nM],
    ] as const) {
      if (!t) continue;
      if ((t.rank !== 2 && t.rank !== 3) || t.shape[t.rank - 2] !== N || t.shape[t.rank - 1] !== M) {
        throw new Error(`${fn}: ${name} must be [n, ${N}, ${M}] or [${N}, ${M}], got [${t.shape}]`);
      }
      if (G % (name === 'mask' ? n * heads : n) !== 0) {
        throw new Error(
          `${fn}: ${G} groups do not divide evenly over ${name} [${t.shape}] (numHeads ${heads})`,
        );
      }
    }
  }

  const probs = (qs: tf.Tensor3D, ks: tf.Tensor3D, b: tf.Tensor | null, m: tf.Tensor | null): tf.Tensor3D => {
    let s: tf.Tensor = tf.mul(tf.matMul(qs, tf.transpose(ks, [0, 2, 1])), scale);
    if (b) s = tf.reshape(tf.add(tf.reshape(s, [G / nB, nB, N, M]), tf.reshape(b, [1, nB, N, M])), [G, N, M]);
    if (m) {
      const outer = G / (heads * nM);
      s = tf.reshape(tf.add(tf.reshape(s, [outer, nM, heads, N, M]), tf.reshape(m, [1, nM, 1, N, M])), [
        G,
        N,
        M,
      ]);
    }
    return tf.softmax(s) as tf.Tensor3D;
  };

  return tf.tidy(() => {
    const inputs: tf.Tensor[] = [q, k, v];
    if (bias) inputs.push(bias);
    if (mask) inputs.push(mask);
    const f = tf.customGrad((...args: (tf.Tensor | tf.GradSaveFunc)[]) => {
      const save = args[args.length - 1] as tf.GradSaveFunc;
      const tensors = args.slice(0, -1) as tf.Tensor[];
      const [qi, ki, vi] = tensors as tf.Tensor3D[];
      const bi = bias ? tensors[3] : null;
      const mi = mask ? tensors[bias ? 4 : 3] : null;
      const named: tf.NamedTensorMap = { q: qi, k: ki, v: vi };
      if (bi) named.bias = bi;
      if (mi) named.mask = mi;
      const value = fused
        ? (tf
            .engine()
            .runKernel(SWIN_WINDOW_ATTENTION, named, attrs as unknown as tf.NamedAttrMap) as tf.Tensor3D)
        : (tf.matMul(probs(qi, ki, bi, mi), vi) as tf.Tensor3D);
      save(tensors);
      return {
        value,
        gradFunc: (dy: tf.Tensor | tf.Tensor[], saved: tf.Tensor[]) => {
          const dO = dy as tf.Tensor3D;
          const [qs, ks, vs] = saved as tf.Tensor3D[];
          const bs = bias ? saved[3] : null;
          const ms = mask ? saved[bias ? 4 : 3] : null;
          const P = probs(qs, ks, bs, ms);
          const dv = tf.matMul(tf.transpose(P, [0, 2, 1]), dO);
          const dP = tf.matMul(dO, tf.transpose(vs, [0, 2, 1]));
          const ds = tf.mul(P, tf.sub(dP, tf.sum(tf.mul(dP, P), -1, true)));
          const grads: tf.Tensor[] = [
            tf.mul(tf.matMul(ds, ks), scale),
            tf.mul(tf.matMul(tf.transpose(ds, [0, 2, 1]), qs), scale),
            dv,
          ];
          if (bs) grads.push(tf.reshape(tf.sum(tf.reshape(ds, [G / nB, nB, N, M]), 0), bs.shape));
          if (ms) {
            const outer = G / (heads * nM);
            grads.push(tf.reshape(tf.sum(tf.reshape(ds, [outer, nM, heads, N, M]), [0, 2]), ms.shape));
          }
          return grads;
        },
      };
    });
    return f(...inputs) as tf.Tensor3D;
  });
}
