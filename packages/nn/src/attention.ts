import * as tf from '@tensorflow/tfjs-core';
import { type SmallGemmAttrs, type SmallGemmKind, SWIN_SMALL_GEMM } from './kernels.js';
import { SwinInputError } from './validate.js';

/**
 * Scaled-dot-product attention for MANY SMALL problems (Swin window attention: 64 windows x 3 heads of
 * 49 tokens with head dim 32), differentiable on every backend.
 *
 * Why a kernel: tfjs-wasm 4.22's `BatchMatMul` hands a product to XNNPACK only when both batch sizes are
 * 1 and neither operand is transposed; everything else (every batched or transposed product, so every
 * attention product and every matMul gradient) runs a scalar blocked triple loop (~1-2 GFLOP/s). So the
 * three products of attention go through the {@link SWIN_SMALL_GEMM} kernel (scale, bias, mask and
 * softmax fused into the epilogue of `Q K^T`, transposes read strided) whenever one is registered for the
 * active backend: `registerWasmKernels()` of `@swin/wasm` registers a WebAssembly SIMD one for 'wasm' and
 * 'cpu'. Otherwise (and on backends with a fused {@link SWIN_WINDOW_ATTENTION}, e.g. `@swin/webgpu`) the
 * same maths runs as plain tfjs ops. Every path has an explicit gradient (`tf.customGrad`) that uses no
 * transposed matMul.
 *
 * Groups: `G` independent problems. Swin orders them `(b, w, h)` (batch, window, head; head innermost),
 * which is what `[B*nW, N, nH, d] -> transpose -> [B*nW*nH, N, d]` gives.
 */

// ============================================================================================
// Public API
// ============================================================================================

/**
 * Name of an optional backend kernel for {@link attentionCore}: when the active backend has a kernel
 * registered under this name (e.g. `registerSwinWebGPUKernels()` of `@swin/webgpu` for 'webgpu'),
 * `attentionCore` with impl `'auto'` runs it for the forward pass (its backward recomputes the
 * probabilities with tfjs ops). Contract: inputs `q`, `k`, `v` and, when given, `bias`, `mask` exactly as
 * {@link AttentionOptions} describes; attrs `{scale, numHeads, numWindows}` (`numWindows` = mask count);
 * output `[G, N, dv]`.
 */
export const SWIN_WINDOW_ATTENTION = 'SwinWindowAttention';

/** How {@link attentionCore} computes: the registered {@link SWIN_SMALL_GEMM} kernel, plain tfjs ops, or whichever fits. */
export type AttentionImpl = 'auto' | 'kernel' | 'tf';

/** Options of {@link attentionCore} (shapes use `G` groups, `N` queries, `M` keys). */
export interface AttentionOptions {
  /**
   * Additive bias, `[nB, N, M]` or `[N, M]` (= `nB = 1`). Group `g` adds `bias[g % nB]`: for Swin,
   * the relative position bias `[nH, N, N]` repeats over `(b, w)`. `G` must be a multiple of `nB`.
   */
  bias?: tf.Tensor | null;
  /**
   * Additive mask, `[nM, N, M]` or `[N, M]` (= `nM = 1`). Group `g` adds `mask[floor(g / numHeads) % nM]`:
   * for Swin, the shifted-window mask `[nW, N, N]` repeats over `b` and `h`. `G` must be a multiple
   * of `numHeads * nM`. Gradients flow into it too (it is usually a constant).
   */
  mask?: tf.Tensor | null;
  /** Innermost group factor used to index `mask` (default: `bias.shape[0]` for a 3-D bias, else 1). */
  numHeads?: number;
  /** Multiplier of `q k^T` (default `1 / sqrt(d)`). */
  scale?: number;
  /**
   * Implementation (default `'auto'`: a registered {@link SWIN_SMALL_GEMM} kernel (wasm and cpu with
   * `@swin/wasm`), else a registered
   * {@link SWIN_WINDOW_ATTENTION} backend kernel (webgpu), plain ops elsewhere).
   */
  impl?: AttentionImpl;
}

/**
 * `softmax(q k^T * scale + bias + mask) v` for `G` independent groups.
 *
 * q `[G, N, d]`, k `[G, M, d]`, v `[G, M, dv]` (float32) -> `[G, N, dv]`. See {@link AttentionOptions}
 * for the bias / mask broadcast convention. Differentiable with respect to q, k, v, bias and mask on
 * cpu, wasm, webgl and webgpu; the backward pass uses no transposed matMul.
 */
export function attentionCore(
  q: tf.Tensor3D,
  k: tf.Tensor3D,
  v: tf.Tensor3D,
  opts: AttentionOptions = {},
): tf.Tensor3D {
  const p = checkArgs('attentionCore', q, k, v, opts);
  const impl = opts.impl ?? 'auto';
  if (impl !== 'auto' && impl !== 'kernel' && impl !== 'tf') {
    throw new SwinInputError(`attentionCore: impl must be 'auto', 'kernel' or 'tf', got ${String(impl)}`);
  }
  let useKernel = false;
  if (impl !== 'tf') {
    useKernel = attentionKernelAvailable();
    if (impl === 'kernel' && !useKernel) {
      throw new SwinInputError(
        `attentionCore: impl 'kernel' needs a '${SWIN_SMALL_GEMM}' kernel for backend '${tf.getBackend()}' ` +
          `(call registerWasmKernels() of @swin/wasm for 'wasm' and 'cpu')`,
      );
    }
  }
  const native = impl === 'auto' && !useKernel && !!tf.getKernel(SWIN_WINDOW_ATTENTION, tf.getBackend());
  return tf.tidy(() => {
    const inputs: tf.Tensor[] = [q, k, v];
    if (opts.bias) inputs.push(opts.bias);
    if (opts.mask) inputs.push(opts.mask);
    const f = tf.customGrad((...args: (tf.Tensor | tf.GradSaveFunc)[]) => {
      const save = args[args.length - 1] as tf.GradSaveFunc;
      const [qi, ki, vi] = args as tf.Tensor3D[];
      const bias = p.hasBias ? (args[3] as tf.Tensor) : null;
      const mask = p.hasMask ? (args[p.hasBias ? 4 : 3] as tf.Tensor) : null;
      if (native) {
        // fused backend kernel: no probabilities leave it, the backward recomputes them from q, k, bias, mask
        const named: tf.NamedTensorMap = { q: qi, k: ki, v: vi };
        if (bias) named.bias = bias;
        if (mask) named.mask = mask;
        const attrs = { scale: p.scale, numHeads: p.heads, numWindows: p.nMk };
        save(args.slice(0, -1) as tf.Tensor[]);
        return {
          value: tf.engine().runKernel(SWIN_WINDOW_ATTENTION, named, attrs) as tf.Tensor3D,
          gradFunc: (dy: tf.Tensor | tf.Tensor[], saved: tf.Tensor[]) => {
            const [qs, ks, vs] = saved as tf.Tensor3D[];
            const [bs, ms] = [p.hasBias ? saved[3] : null, p.hasMask ? saved[p.hasBias ? 4 : 3] : null];
            const g = tfBackward(dy as tf.Tensor3D, qs, ks, vs, tfProbs(qs, ks, bs, ms, p), p);
            const grads: tf.Tensor[] = [g.dq, g.dk, g.dv];
            if (p.hasBias) grads.push(biasGrad(g.ds, p));
            if (p.hasMask) grads.push(maskGrad(g.ds, p));
            return grads;
          },
        };
      }
      const probs = useKernel ? kernelProbs(qi, ki, bias, mask, p) : tfProbs(qi, ki, bias, mask, p);
      const value = useKernel ? kernelPV(probs, vi, p) : tf.matMul(probs, vi);
      save([qi, ki, vi, probs]);
      return {
        value,
        gradFunc: (dy: tf.Tensor | tf.Tensor[], saved: tf.Tensor[]) => {
          const dO = dy as tf.Tensor3D;
          const [qs, ks, vs, P] = saved as tf.Tensor3D[];
          const g = useKernel ? kernelBackward(dO, qs, ks, vs, P, p) : tfBackward(dO, qs, ks, vs, P, p);
          const grads: tf.Tensor[] = [g.dq, g.dk, g.dv];
          if (p.hasBias) grads.push(g.dbias ?? biasGrad(g.ds, p));
          if (p.hasMask) grads.push(g.dmask ?? maskGrad(g.ds, p));
          return grads;
        },
      };
    });
    return f(...inputs) as tf.Tensor3D;
  });
}

/**
 * The textbook formulation with plain tfjs ops and tfjs's own gradients (`matMul(q, k, false, true)`,
 * `softmax`, `matMul(p, v)`): the reference for tests and the "before" of the benchmarks. Same shapes and
 * broadcast convention as {@link attentionCore}. On wasm its transposed / batched matMuls are slow.
 */
export function naiveAttention(
  q: tf.Tensor3D,
  k: tf.Tensor3D,
  v: tf.Tensor3D,
  opts: AttentionOptions = {},
): tf.Tensor3D {
  const p = checkArgs('naiveAttention', q, k, v, opts);
  return tf.tidy(() => {
    let s: tf.Tensor = tf.mul(tf.matMul(q, k, false, true), p.scale);
    s = addBroadcast(s, opts.bias ?? null, opts.mask ?? null, p);
    return tf.matMul(tf.softmax(s), v) as tf.Tensor3D;
  });
}

/**
 * Whether {@link attentionCore} (impl `'auto'`) and {@link smallBatchMatMul} use the {@link SWIN_SMALL_GEMM}
 * kernel on `backendName` (default: the current backend): true when one is registered for it (e.g. by
 * `registerWasmKernels()` of `@swin/wasm` for 'wasm' and 'cpu').
 */
export function attentionKernelAvailable(backendName: string = tf.getBackend()): boolean {
  return !!tf.getKernel(SWIN_SMALL_GEMM, backendName);
}

/**
 * Batched product `a @ b` for many small matrices, using a registered {@link SWIN_SMALL_GEMM} kernel (plain tfjs
 * `matMul` elsewhere). a `[G, n, k]` (or `[G, k, n]` with `transposeA`), b `[G, k, m]` (or `[G, m, k]`
 * with `transposeB`) -> `[G, n, m]`; `G` of a or b may be 1 (broadcast). The transposes are free (the
 * kernel reads strided). Differentiable; gradients use the same kernel.
 */
export function smallBatchMatMul(
  a: tf.Tensor3D,
  b: tf.Tensor3D,
  transposeA = false,
  transposeB = false,
): tf.Tensor3D {
  const fn = 'smallBatchMatMul';
  for (const [name, t] of [
    ['a', a],
    ['b', b],
  ] as const) {
    if (!(t instanceof tf.Tensor) || t.rank !== 3 || t.dtype !== 'float32') {
      throw new SwinInputError(`${fn}: ${name} must be a float32 rank-3 tensor, got ${describeTensor(t)}`);
    }
  }
  const [Ga, a1, a2] = a.shape;
  const [Gb, b1, b2] = b.shape;
  const n = transposeA ? a2 : a1;
  const ka = transposeA ? a1 : a2;
  const kb = transposeB ? b2 : b1;
  const m = transposeB ? b1 : b2;
  if (ka !== kb) {
    throw new SwinInputError(
      `${fn}: inner dimensions differ: a [${a.shape}] (transposeA=${transposeA}) has ${ka}, ` +
        `b [${b.shape}] (transposeB=${transposeB}) has ${kb}`,
    );
  }
  if (Ga !== Gb && Ga !== 1 && Gb !== 1) {
    throw new SwinInputError(`${fn}: batch sizes ${Ga} and ${Gb} differ (one of them may be 1)`);
  }
  const G = Math.max(Ga, Gb);
  const useKernel = attentionKernelAvailable() && n > 0 && m > 0 && ka > 0;
  const view = (t: tf.Tensor3D, trans: boolean, Gt: number): GemmView => {
    const [, r, c] = t.shape;
    const sg = Gt === 1 ? 0 : r * c;
    return trans ? { t, trans, sg, sr: 1, sc: c } : { t, trans, sg, sr: c, sc: 1 };
  };
  const prod = (x: tf.Tensor3D, tx: boolean, y: tf.Tensor3D, ty: boolean): tf.Tensor3D => {
    if (useKernel) return gemm('bmm', view(x, tx, x.shape[0]), view(y, ty, y.shape[0]), G, 1);
    const xx = tx ? tf.transpose(x, [0, 2, 1]) : x;
    const yy = ty ? tf.transpose(y, [0, 2, 1]) : y;
    return tf.matMul(xx, yy) as tf.Tensor3D;
  };
  return tf.tidy(() => {
    const f = tf.customGrad((...args: (tf.Tensor | tf.GradSaveFunc)[]) => {
      const [x, y, save] = args as [tf.Tensor3D, tf.Tensor3D, tf.GradSaveFunc];
      save([x, y]);
      return {
        value: prod(x, transposeA, y, transposeB),
        gradFunc: (dy: tf.Tensor | tf.Tensor[], saved: tf.Tensor[]) => {
          const d = dy as tf.Tensor3D;
          const [xs, ys] = saved as tf.Tensor3D[];
          // C = op(A) op(B): d op(A) = dC op(B)^T, d op(B) = op(A)^T dC.
          let da = transposeA ? prod(ys, transposeB, d, true) : prod(d, false, ys, !transposeB);
          let db = transposeB ? prod(d, true, xs, transposeA) : prod(xs, !transposeA, d, false);
          if (Ga === 1 && G > 1) da = tf.sum(da, 0, true);
          if (Gb === 1 && G > 1) db = tf.sum(db, 0, true);
          return [da, db];
        },
      };
    });
    return f(a, b) as tf.Tensor3D;
  });
}

// ============================================================================================
// Argument checks and the tfjs-op formulation
// ============================================================================================

interface Params {
  G: number;
  N: number;
  M: number;
  D: number;
  Dv: number;
  scale: number;
  hasBias: boolean;
  hasMask: boolean;
  /** bias groups (`bias[g % nB]`) */
  nB: number;
  biasRank: number;
  /** mask groups (`mask[floor(g / heads) % nMk]`) */
  nMk: number;
  maskRank: number;
  heads: number;
}

function describeTensor(t: unknown): string {
  if (t instanceof tf.Tensor) return `${t.dtype} tensor of shape [${t.shape}]`;
  return t === null ? 'null' : typeof t;
}

function checkArgs(fn: string, q: tf.Tensor, k: tf.Tensor, v: tf.Tensor, opts: AttentionOptions): Params {
  for (const [name, t, layout] of [
    ['q', q, '[G, N, d]'],
    ['k', k, '[G, M, d]'],
    ['v', v, '[G, M, dv]'],
  ] as const) {
    if (!(t instanceof tf.Tensor) || t.rank !== 3) {
      throw new SwinInputError(`${fn}: ${name} must be a rank-3 tensor ${layout}, got ${describeTensor(t)}`);
    }
    if (t.dtype !== 'float32') throw new SwinInputError(`${fn}: ${name} must be float32, got ${t.dtype}`);
  }
  const [G, N, D] = q.shape;
  const [Gk, M, Dk] = k.shape;
  const [Gv, Mv, Dv] = v.shape;
  if (Gk !== G || Gv !== G) {
    throw new SwinInputError(
      `${fn}: q, k, v must have the same number of groups, got [${q.shape}], [${k.shape}], [${v.shape}]`,
    );
  }
  if (Dk !== D) throw new SwinInputError(`${fn}: k [${k.shape}] must have head dim ${D} like q [${q.shape}]`);
  if (Mv !== M) throw new SwinInputError(`${fn}: v [${v.shape}] must have ${M} keys like k [${k.shape}]`);
  if (G === 0 || N === 0 || M === 0 || D === 0 || Dv === 0) {
    throw new SwinInputError(`${fn}: empty input: q [${q.shape}], k [${k.shape}], v [${v.shape}]`);
  }
  const scale = opts.scale ?? 1 / Math.sqrt(D);
  if (typeof scale !== 'number' || !Number.isFinite(scale)) {
    throw new SwinInputError(`${fn}: scale must be a finite number, got ${String(opts.scale)}`);
  }
  const extra = (name: string, t: tf.Tensor | null | undefined): [number, number] => {
    if (t === null || t === undefined) return [0, 0];
    if (!(t instanceof tf.Tensor) || (t.rank !== 2 && t.rank !== 3) || t.dtype !== 'float32') {
      throw new SwinInputError(
        `${fn}: ${name} must be a float32 tensor [n, ${N}, ${M}] or [${N}, ${M}], got ${describeTensor(t)}`,
      );
    }
    const [r, c] = t.shape.slice(-2);
    if (r !== N || c !== M) {
      throw new SwinInputError(`${fn}: ${name} [${t.shape}] must end in [${N}, ${M}] (queries, keys)`);
    }
    const n = t.rank === 3 ? t.shape[0] : 1;
    if (n === 0) throw new SwinInputError(`${fn}: ${name} [${t.shape}] is empty`);
    return [n, t.rank];
  };
  const [nB, biasRank] = extra('bias', opts.bias);
  const [nMk, maskRank] = extra('mask', opts.mask);
  if (nB > 0 && G % nB !== 0) {
    throw new SwinInputError(
      `${fn}: ${G} groups are not a multiple of the ${nB} bias matrices (bias [${opts.bias!.shape}])`,
    );
  }
  const heads = opts.numHeads ?? (nB > 0 && biasRank === 3 ? nB : 1);
  if (!Number.isInteger(heads) || heads < 1) {
    throw new SwinInputError(`${fn}: numHeads must be a positive integer, got ${String(opts.numHeads)}`);
  }
  if (nMk > 0 && G % (heads * nMk) !== 0) {
    throw new SwinInputError(
      `${fn}: ${G} groups are not a multiple of numHeads * masks = ${heads} * ${nMk} (mask [${opts.mask!.shape}])`,
    );
  }
  return {
    G,
    N,
    M,
    D,
    Dv,
    scale,
    hasBias: nB > 0,
    hasMask: nMk > 0,
    nB: Math.max(nB, 1),
    biasRank,
    nMk: Math.max(nMk, 1),
    maskRank,
    heads,
  };
}

/** s `[G, N, M]` + bias (group g -> g % nB) + mask (group g -> floor(g / heads) % nMk). */
function addBroadcast(s: tf.Tensor, bias: tf.Tensor | null, mask: tf.Tensor | null, p: Params): tf.Tensor {
  const { G, N, M } = p;
  let out = s;
  if (bias) {
    out = tf.reshape(tf.add(tf.reshape(out, [G / p.nB, p.nB, N, M]), tf.reshape(bias, [1, p.nB, N, M])), [
      G,
      N,
      M,
    ]);
  }
  if (mask) {
    const outer = G / (p.heads * p.nMk);
    out = tf.reshape(
      tf.add(tf.reshape(out, [outer, p.nMk, p.heads, N, M]), tf.reshape(mask, [1, p.nMk, 1, N, M])),
      [G, N, M],
    );
  }
  return out;
}

function tfProbs(q: tf.Tensor3D, k: tf.Tensor3D, bias: tf.Tensor | null, mask: tf.Tensor | null, p: Params) {
  const s = tf.mul(tf.matMul(q, tf.transpose(k, [0, 2, 1])), p.scale);
  return tf.softmax(addBroadcast(s, bias, mask, p)) as tf.Tensor3D;
}

interface AttentionGrads {
  dq: tf.Tensor;
  dk: tf.Tensor;
  dv: tf.Tensor;
  /** gradient of the pre-softmax scores (before scale), `[G, N, M]` */
  ds: tf.Tensor;
  /** bias / mask gradients when the kernel computed them */
  dbias?: tf.Tensor;
  dmask?: tf.Tensor;
}

function tfBackward(
  dO: tf.Tensor3D,
  q: tf.Tensor3D,
  k: tf.Tensor3D,
  v: tf.Tensor3D,
  P: tf.Tensor3D,
  p: Params,
): AttentionGrads {
  const dv = tf.matMul(tf.transpose(P, [0, 2, 1]), dO);
  const dP = tf.matMul(dO, tf.transpose(v, [0, 2, 1]));
  const ds = tf.mul(P, tf.sub(dP, tf.sum(tf.mul(dP, P), -1, true)));
  const dq = tf.mul(tf.matMul(ds, k), p.scale);
  const dk = tf.mul(tf.matMul(tf.transpose(ds, [0, 2, 1]), q), p.scale);
  return { dq, dk, dv, ds };
}

function biasGrad(ds: tf.Tensor, p: Params): tf.Tensor {
  const { G, N, M, nB } = p;
  const g = tf.sum(tf.reshape(ds, [G / nB, nB, N, M]), 0);
  return p.biasRank === 2 ? tf.reshape(g, [N, M]) : g;
}

function maskGrad(ds: tf.Tensor, p: Params): tf.Tensor {
  const { G, N, M, nMk, heads } = p;
  const g = tf.sum(tf.reshape(ds, [G / (heads * nMk), nMk, heads, N, M]), [0, 2]);
  return p.maskRank === 2 ? tf.reshape(g, [N, M]) : g;
}

// ============================================================================================
// Kernel formulation (forward and backward through the registered SWIN_SMALL_GEMM kernel)
// ============================================================================================

/** A strided view of a tensor as `G` matrices: element (g, r, c) at `g*sg + r*sr + c*sc` (elements). */
interface GemmView {
  t: tf.Tensor;
  /** the matrix is the transpose of the tensor's last two axes */
  trans: boolean;
  sg: number;
  sr: number;
  sc: number;
}

const rowMajor = (t: tf.Tensor3D): GemmView => ({
  t,
  trans: false,
  sg: t.shape[1] * t.shape[2],
  sr: t.shape[2],
  sc: 1,
});
const transposed = (t: tf.Tensor3D): GemmView => ({
  t,
  trans: true,
  sg: t.shape[1] * t.shape[2],
  sr: 1,
  sc: t.shape[2],
});

function kernelProbs(
  q: tf.Tensor3D,
  k: tf.Tensor3D,
  bias: tf.Tensor | null,
  mask: tf.Tensor | null,
  p: Params,
) {
  return gemm('attn', rowMajor(q), transposed(k), p.G, p.scale, {
    bias: bias ? { t: bias, trans: false, sg: bias.rank === 3 ? p.N * p.M : 0, sr: p.M, sc: 1 } : null,
    nB: p.nB,
    mask: mask ? { t: mask, trans: false, sg: mask.rank === 3 ? p.N * p.M : 0, sr: p.M, sc: 1 } : null,
    nMk: p.nMk,
    heads: p.heads,
  });
}

function kernelPV(P: tf.Tensor3D, v: tf.Tensor3D, p: Params): tf.Tensor3D {
  return gemm('bmm', rowMajor(P), rowMajor(v), p.G, 1);
}

function kernelBackward(
  dO: tf.Tensor3D,
  q: tf.Tensor3D,
  k: tf.Tensor3D,
  v: tf.Tensor3D,
  P: tf.Tensor3D,
  p: Params,
): AttentionGrads {
  const dv = gemm('bmm', transposed(P), rowMajor(dO), p.G, 1);
  // dS = P * (dO V^T - rowsum(P * dO V^T)), fused into the epilogue of dO V^T, which also sums dS
  // into the bias and mask gradients
  const [ds, ...rest] = gemmMulti('dsm', rowMajor(dO), transposed(v), p.G, 1, {
    probs: P,
    nB: p.nB,
    nMk: p.nMk,
    heads: p.heads,
    biasGrad: p.hasBias,
    maskGrad: p.hasMask,
  });
  const dbias = p.hasBias ? rest.shift() : undefined;
  const dmask = p.hasMask ? rest.shift() : undefined;
  const dq = gemm('bmm', rowMajor(ds), rowMajor(k), p.G, p.scale);
  const dk = gemm('bmm', transposed(ds), rowMajor(q), p.G, p.scale);
  return {
    dq,
    dk,
    dv,
    ds,
    dbias: dbias && p.biasRank === 2 ? tf.reshape(dbias, [p.N, p.M]) : dbias,
    dmask: dmask && p.maskRank === 2 ? tf.reshape(dmask, [p.N, p.M]) : dmask,
  };
}

interface GemmExtra {
  bias?: GemmView | null;
  nB?: number;
  mask?: GemmView | null;
  nMk?: number;
  heads?: number;
  probs?: tf.Tensor | null;
  /** dsm: also output the bias gradient `[nB, n, m]` (sum of dS over groups g with g % nB = b) */
  biasGrad?: boolean;
  /** dsm: also output the mask gradient `[nMk, n, m]` */
  maskGrad?: boolean;
}

/**
 * C[g] = epilogue(A[g] @ B[g]) for g < G, C `[G, n, m]` contiguous; A view `(n x k)`, B view `(k x m)`.
 * `alpha` scales (bmm) or is the softmax scale (attn).
 */
function gemm(
  kind: SmallGemmKind,
  A: GemmView,
  B: GemmView,
  G: number,
  alpha: number,
  extra: GemmExtra = {},
) {
  return gemmMulti(kind, A, B, G, alpha, extra)[0];
}

/** {@link gemm} returning every output (dsm: dS, then the requested bias / mask gradients). */
function gemmMulti(
  kind: SmallGemmKind,
  A: GemmView,
  B: GemmView,
  G: number,
  alpha: number,
  extra: GemmExtra = {},
): tf.Tensor3D[] {
  const n = A.trans ? A.t.shape[A.t.rank - 1] : A.t.shape[A.t.rank - 2];
  const kk = A.trans ? A.t.shape[A.t.rank - 2] : A.t.shape[A.t.rank - 1];
  const m = B.trans ? B.t.shape[B.t.rank - 2] : B.t.shape[B.t.rank - 1];
  const inputs: tf.NamedTensorMap = { a: A.t, b: B.t };
  if (extra.bias) inputs.bias = extra.bias.t;
  if (extra.mask) inputs.mask = extra.mask.t;
  if (extra.probs) inputs.probs = extra.probs;
  const attrs: SmallGemmAttrs = {
    kind,
    G,
    n,
    k: kk,
    m,
    sAg: A.sg,
    sAr: A.sr,
    sAc: A.sc,
    sBg: B.sg,
    sBr: B.sr,
    sBc: B.sc,
    alpha,
    nB: extra.nB ?? 1,
    sBiasG: extra.bias?.sg ?? 0,
    sBiasR: extra.bias?.sr ?? 0,
    nMk: extra.nMk ?? 1,
    heads: extra.heads ?? 1,
    sMaskG: extra.mask?.sg ?? 0,
    sMaskR: extra.mask?.sr ?? 0,
    biasGrad: extra.biasGrad ?? false,
    maskGrad: extra.maskGrad ?? false,
  };
  const out = tf.engine().runKernel(SWIN_SMALL_GEMM, inputs, attrs as unknown as tf.NamedAttrMap);
  return (Array.isArray(out) ? out : [out]) as tf.Tensor3D[];
}
