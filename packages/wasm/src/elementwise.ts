import {
  SWIN_ERF,
  SWIN_GELU,
  SWIN_GELU_GRAD,
  SWIN_HEADS_TO_TOKENS,
  SWIN_LAYER_NORM,
  SWIN_LAYER_NORM_GRAD,
  SWIN_TOKENS_TO_HEADS,
} from '@swin/nn';
import type * as tf from '@tensorflow/tfjs-core';
import type { CpuBackendLike, WasmBackendLike } from './asm.js';
import { BumpHeap, F32, Fn, I32, KernelModule, OP, SIMD, V128, wasmMemoryOf } from './asm.js';
import { elementwiseTasks } from './split.js';
import { poolFor, splitExports, threadedModule } from './threaded.js';

/**
 * One-pass WebAssembly SIMD kernels behind `erf`, `gelu`, `layerNorm`, `splitHeads` and `mergeHeads`
 * of `@swin/nn` (forward and backward) on the wasm and cpu backends.
 *
 * Why: tfjs-wasm runs exact GELU as five ops (its Erf alone costs 4-12 ns per element, and Erf's
 * gradient an exp) and LayerNorm as nine (mean, sub, square, mean, add, rsqrt, mul, mul, add), each a
 * full pass over memory; its Slice copies the whole input before cutting (so splitting a fused qkv
 * projection into heads copied it three times). Here GELU is one streaming pass (4x faster measured on
 * `[3136, 384]`, its gradient 4x), LayerNorm three passes over a row that sits in L1 (its gradient 7x),
 * and a head split reads only its part.
 *
 * The module is generated at run time (no binary blob), imports the tfjs-wasm backend's
 * `WebAssembly.Memory` and works on its heap in place; on the cpu backend it runs on a private memory
 * (inputs copied in, outputs copied out).
 *
 * erf: with `a = |x|`, `erf(a) = a P(a^2)` for `a < 1` (P degree 6) and `erfc(a) = exp(-a^2) R(a)`
 * for `a >= 1` (R a 4/4 rational fit of `erfcx` on [1, 9], `a` clamped to 9); both are computed for all
 * four lanes and selected. GELU uses `a = |x| / sqrt 2` and `Phi(x) = erfc(a) / 2` for `x < 0`,
 * `1 - erfc(a) / 2` otherwise, so the left tail keeps its relative accuracy; `exp` is Cephes' `expf`.
 * Measured max abs error of erf 1.4e-7 (float32 ulp of 1 is 6e-8); GELU's (3.8e-7 over [-14, 14]) is
 * below that of float32 `0.5 x (1 + erf(x / sqrt 2))` with a correctly rounded erf (4.5e-7).
 */

// ============================================================================================
// Coefficients
// ============================================================================================

/** erf(a) / a = P(a^2) on [0, 1], lowest degree first (Lawson minimax fit, max error 1.2e-9). */
const ERF_SMALL = [
  1.1283791659147915, -0.37612627144290306, 0.1128360028343893, -0.026854449581027742, 0.0051895457371908815,
  -0.0008020940391189751, 7.889471565521167e-5,
];
/** erfcx(a) = exp(a^2) erfc(a) = P(a) / Q(a) on [1, 9], lowest degree first (max rel. error 3e-9). */
const ERFCX_P = [
  0.9994992241456768, 1.0982810437967894, 0.5470532101574113, 0.12849459045532344, 4.3469041810517695e-7,
];
const ERFCX_Q = [1, 2.2234591451721584, 2.065705659609972, 0.9691041775092724, 0.22778115154484468];
/** a is clamped here: exp(-81) is still a normal float32 (denormals are ~100x slower on x86). */
const ERF_CLAMP = 9;

// ============================================================================================
// Kernels
// ============================================================================================

/** Temporaries of the erf/Phi code. */
interface PhiLocals {
  x: number;
  a: number;
  t: number;
  e: number;
  n: number;
  r: number;
  phi: number;
}

function phiLocals(f: Fn): PhiLocals {
  return {
    x: f.local(V128),
    a: f.local(V128),
    t: f.local(V128),
    e: f.local(V128),
    n: f.local(V128),
    r: f.local(V128),
    phi: f.local(V128),
  };
}

/**
 * For the v128 local `a` (>= 0): `e = exp(-min(a, 9)^2)`, `n = a P(a^2)` (erf(a), accurate for a < 1)
 * and `r = e R(min(a, 9))` (erfc(a), accurate for a >= 1). See the file comment.
 */
function emitErfParts(f: Fn, L: PhiLocals): void {
  // e = exp(z), z = -min(a, 9)^2 in [-81, 0]: Cephes expf (z = n ln2 + r, |r| <= ln2 / 2)
  f.get(L.a).vConst(ERF_CLAMP).simd(SIMD.f32x4Min).set(L.t); // t = clamped a
  f.get(L.t).get(L.t).simd(SIMD.f32x4Mul).simd(SIMD.f32x4Neg).set(L.e); // e = z for now
  f.get(L.e).vConst(Math.LOG2E).simd(SIMD.f32x4Mul).simd(SIMD.f32x4Nearest).set(L.n);
  f.get(L.e).get(L.n).vConst(0.693359375).simd(SIMD.f32x4Mul).simd(SIMD.f32x4Sub);
  f.get(L.n).vConst(-2.1219444e-4).simd(SIMD.f32x4Mul).simd(SIMD.f32x4Sub).set(L.r);
  // p(r) r^2 + r + 1
  f.poly(
    L.r,
    [5.0000001201e-1, 1.6666665459e-1, 4.1665795894e-2, 8.3334519073e-3, 1.3981999507e-3, 1.98756915e-4],
  );
  f.get(L.r)
    .simd(SIMD.f32x4Mul)
    .get(L.r)
    .simd(SIMD.f32x4Mul)
    .get(L.r)
    .simd(SIMD.f32x4Add)
    .vConst(1)
    .simd(SIMD.f32x4Add);
  f.get(L.n)
    .simd(SIMD.i32x4TruncSatF32x4S)
    .iConst4(127)
    .simd(SIMD.i32x4Add)
    .i32(23)
    .simd(SIMD.i32x4Shl)
    .simd(SIMD.f32x4Mul)
    .set(L.e);
  // large branch: erfc = e * P(t) / Q(t)  -> r
  f.get(L.e).poly(L.t, ERFCX_P).simd(SIMD.f32x4Mul).poly(L.t, ERFCX_Q).simd(SIMD.f32x4Div).set(L.r);
  // small branch: erf = a P(a^2) -> n
  f.get(L.a).get(L.a).simd(SIMD.f32x4Mul).set(L.t);
  f.get(L.a).poly(L.t, ERF_SMALL).simd(SIMD.f32x4Mul).set(L.n);
}

/** From the v128 local `x`: `phi = Phi(x)` (standard normal CDF) and `e = exp(-min(|x| / sqrt 2, 9)^2)`. */
function emitPhi(f: Fn, L: PhiLocals): void {
  f.get(L.x).simd(SIMD.f32x4Abs).vConst(Math.SQRT1_2).simd(SIMD.f32x4Mul).set(L.a);
  emitErfParts(f, L);
  // half = erfc(a) / 2 = (a < 1 ? 1 - n : r) / 2 -> t
  f.vConst(1)
    .get(L.n)
    .simd(SIMD.f32x4Sub)
    .get(L.r)
    .get(L.a)
    .vConst(1)
    .simd(SIMD.f32x4Lt)
    .simd(SIMD.v128Bitselect)
    .vConst(0.5)
    .simd(SIMD.f32x4Mul)
    .set(L.t);
  // phi = x < 0 ? half : 1 - half
  f.get(L.t)
    .vConst(1)
    .get(L.t)
    .simd(SIMD.f32x4Sub)
    .get(L.x)
    .vConst(0)
    .simd(SIMD.f32x4Lt)
    .simd(SIMD.v128Bitselect)
    .set(L.phi);
}

/** erf(x, y, n4): y = erf(x) = sign(x) (|x| < 1 ? n : 1 - r) for n4 blocks of 4 floats. */
function genErf(): Fn {
  const f = new Fn('erf', [I32, I32, I32]);
  const [px, py, n4] = [0, 1, 2];
  const end = f.local(I32);
  const L = phiLocals(f);
  f.get(px).get(n4).i32(16).op(OP.i32Mul).op(OP.i32Add).set(end);
  f.whileLt(px, end, () => {
    f.get(px).vLoad().set(L.x);
    f.get(L.x).simd(SIMD.f32x4Abs).set(L.a);
    emitErfParts(f, L);
    f.get(py);
    // sign bit from x, magnitude from (a < 1 ? n : 1 - r)
    f.get(L.x)
      .get(L.n)
      .vConst(1)
      .get(L.r)
      .simd(SIMD.f32x4Sub)
      .get(L.a)
      .vConst(1)
      .simd(SIMD.f32x4Lt)
      .simd(SIMD.v128Bitselect);
    f.iConst4(-0x80000000).simd(SIMD.v128Bitselect).vStore();
    f.inc(px, 16).inc(py, 16);
  });
  return f;
}

/** gelu(x, y, n4): y = x Phi(x) for n4 blocks of 4 floats (byte offsets). */
function genGelu(): Fn {
  const f = new Fn('gelu', [I32, I32, I32]);
  const [px, py, n4] = [0, 1, 2];
  const end = f.local(I32);
  const L = phiLocals(f);
  f.get(px).get(n4).i32(16).op(OP.i32Mul).op(OP.i32Add).set(end);
  f.whileLt(px, end, () => {
    f.get(px).vLoad().set(L.x);
    emitPhi(f, L);
    f.get(py).get(L.x).get(L.phi).simd(SIMD.f32x4Mul).vStore();
    f.inc(px, 16).inc(py, 16);
  });
  return f;
}

/** geluGrad(x, dy, dx, n4): dx = dy (Phi(x) + x phi(x)), phi the normal pdf. */
function genGeluGrad(): Fn {
  const f = new Fn('geluGrad', [I32, I32, I32, I32]);
  const [px, pdy, pdx, n4] = [0, 1, 2, 3];
  const end = f.local(I32);
  const L = phiLocals(f);
  f.get(px).get(n4).i32(16).op(OP.i32Mul).op(OP.i32Add).set(end);
  f.whileLt(px, end, () => {
    f.get(px).vLoad().set(L.x);
    emitPhi(f, L);
    // pdf = e / sqrt(2 pi) (e = exp(-x^2 / 2), clamped far in the tails where x pdf < 1e-34)
    f.get(pdx).get(pdy).vLoad();
    f.get(L.phi)
      .get(L.x)
      .get(L.e)
      .simd(SIMD.f32x4Mul)
      .vConst(1 / Math.sqrt(2 * Math.PI))
      .simd(SIMD.f32x4Mul)
      .simd(SIMD.f32x4Add);
    f.simd(SIMD.f32x4Mul).vStore();
    f.inc(px, 16).inc(pdy, 16).inc(pdx, 16);
  });
  return f;
}

/**
 * lnFwd(x, g, b, y, mean, rstd, rows, C4, invC, eps): per row of C = 4 C4 floats,
 * mean, rstd = 1 / sqrt(var + eps) (two-pass variance), y = (x - mean) rstd g + b.
 */
function genLayerNorm(): Fn {
  const f = new Fn('lnFwd', [I32, I32, I32, I32, I32, I32, I32, I32, F32, F32]);
  const [px, pg, pb, py, pmean, prstd, rows, C4, invC, eps] = [0, 1, 2, 3, 4, 5, 6, 7, 8, 9];
  const [rowEnd, allEnd, p, q, pgi, pbi] = [0, 0, 0, 0, 0, 0].map(() => f.local(I32));
  const [acc, mv, rv, d] = [0, 0, 0, 0].map(() => f.local(V128));
  const [mean, rstd] = [f.local(F32), f.local(F32)];
  const rowBytes = () => f.get(C4).i32(16).op(OP.i32Mul);
  f.get(rows).get(C4).op(OP.i32Mul).i32(16).op(OP.i32Mul).get(px).op(OP.i32Add).set(allEnd);
  f.whileLt(px, allEnd, () => {
    f.get(px);
    rowBytes();
    f.op(OP.i32Add).set(rowEnd);
    // pass 1: mean
    f.vConst(0).set(acc).get(px).set(p);
    f.whileLt(p, rowEnd, () => {
      f.get(acc).get(p).vLoad().simd(SIMD.f32x4Add).set(acc).inc(p, 16);
    });
    f.hsum(acc).get(invC).op(OP.f32Mul).set(mean);
    f.get(mean).simd(SIMD.f32x4Splat).set(mv);
    // pass 2: variance of the centred row
    f.vConst(0).set(acc).get(px).set(p);
    f.whileLt(p, rowEnd, () => {
      f.get(p).vLoad().get(mv).simd(SIMD.f32x4Sub).set(d);
      f.get(acc).get(d).get(d).simd(SIMD.f32x4Mul).simd(SIMD.f32x4Add).set(acc).inc(p, 16);
    });
    f.f32(1).hsum(acc).get(invC).op(OP.f32Mul).get(eps).op(OP.f32Add).op(OP.f32Sqrt).op(OP.f32Div).set(rstd);
    f.get(rstd).simd(SIMD.f32x4Splat).set(rv);
    f.get(pmean).get(mean).f32Store().inc(pmean, 4);
    f.get(prstd).get(rstd).f32Store().inc(prstd, 4);
    // pass 3: y = (x - mean) rstd g + b
    f.get(px).set(p).get(py).set(q).get(pg).set(pgi).get(pb).set(pbi);
    f.whileLt(p, rowEnd, () => {
      f.get(q)
        .get(p)
        .vLoad()
        .get(mv)
        .simd(SIMD.f32x4Sub)
        .get(rv)
        .simd(SIMD.f32x4Mul)
        .get(pgi)
        .vLoad()
        .simd(SIMD.f32x4Mul);
      f.get(pbi).vLoad().simd(SIMD.f32x4Add).vStore();
      f.inc(p, 16).inc(q, 16).inc(pgi, 16).inc(pbi, 16);
    });
    f.get(rowEnd).set(px);
    f.get(py);
    rowBytes();
    f.op(OP.i32Add).set(py);
  });
  return f;
}

/**
 * lnBwd(x, dy, g, mean, rstd, dx, dg, db, rows, C4, invC): with xh = (x - mean) rstd and
 * gy = dy g: dx = rstd (gy - mean(gy) - xh mean(gy xh)); dg += dy xh, db += dy (accumulated over rows:
 * dg, db must start zeroed).
 */
function genLayerNormGrad(): Fn {
  const f = new Fn('lnBwd', [I32, I32, I32, I32, I32, I32, I32, I32, I32, I32, F32]);
  const [px, pdy, pg, pmean, prstd, pdx, pdg, pdb, rows, C4, invC] = [0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10];
  const [rowEnd, allEnd, p, q, gi, dgi, dbi, o] = [0, 0, 0, 0, 0, 0, 0, 0].map(() => f.local(I32));
  const [s1, s2, mv, rv, xh, dy, gy, c1, c2] = [0, 0, 0, 0, 0, 0, 0, 0, 0].map(() => f.local(V128));
  const rowBytes = () => f.get(C4).i32(16).op(OP.i32Mul);
  f.get(rows).get(C4).op(OP.i32Mul).i32(16).op(OP.i32Mul).get(px).op(OP.i32Add).set(allEnd);
  f.whileLt(px, allEnd, () => {
    f.get(px);
    rowBytes();
    f.op(OP.i32Add).set(rowEnd);
    f.get(pmean).simd(0x09, 2, 0).set(mv); // v128.load32_splat
    f.get(prstd).simd(0x09, 2, 0).set(rv);
    // pass 1: sums, dg and db
    f.vConst(0).set(s1).vConst(0).set(s2);
    f.get(px).set(p).get(pdy).set(q).get(pg).set(gi).get(pdg).set(dgi).get(pdb).set(dbi);
    f.whileLt(p, rowEnd, () => {
      f.get(p).vLoad().get(mv).simd(SIMD.f32x4Sub).get(rv).simd(SIMD.f32x4Mul).set(xh);
      f.get(q).vLoad().set(dy);
      f.get(dy).get(gi).vLoad().simd(SIMD.f32x4Mul).set(gy);
      f.get(s1).get(gy).simd(SIMD.f32x4Add).set(s1);
      f.get(s2).get(gy).get(xh).simd(SIMD.f32x4Mul).simd(SIMD.f32x4Add).set(s2);
      f.get(dgi).get(dgi).vLoad().get(dy).get(xh).simd(SIMD.f32x4Mul).simd(SIMD.f32x4Add).vStore();
      f.get(dbi).get(dbi).vLoad().get(dy).simd(SIMD.f32x4Add).vStore();
      f.inc(p, 16).inc(q, 16).inc(gi, 16).inc(dgi, 16).inc(dbi, 16);
    });
    f.hsum(s1).get(invC).op(OP.f32Mul).simd(SIMD.f32x4Splat).set(c1);
    f.hsum(s2).get(invC).op(OP.f32Mul).simd(SIMD.f32x4Splat).set(c2);
    // pass 2: dx
    f.get(px).set(p).get(pdy).set(q).get(pg).set(gi).get(pdx).set(o);
    f.whileLt(p, rowEnd, () => {
      f.get(p).vLoad().get(mv).simd(SIMD.f32x4Sub).get(rv).simd(SIMD.f32x4Mul).set(xh);
      f.get(o);
      f.get(q)
        .vLoad()
        .get(gi)
        .vLoad()
        .simd(SIMD.f32x4Mul)
        .get(c1)
        .simd(SIMD.f32x4Sub)
        .get(xh)
        .get(c2)
        .simd(SIMD.f32x4Mul)
        .simd(SIMD.f32x4Sub);
      f.get(rv).simd(SIMD.f32x4Mul).vStore();
      f.inc(p, 16).inc(q, 16).inc(gi, 16).inc(o, 16);
    });
    f.get(rowEnd).set(px);
    for (const ptr of [pdy, pdx]) {
      f.get(ptr);
      rowBytes();
      f.op(OP.i32Add).set(ptr);
    }
    f.inc(pmean, 4).inc(prstd, 4);
  });
  return f;
}

/**
 * tokToHeads / headsToTok(src, dst, B, N, H, D4, S, off): moves D = 4 D4 floats per (b, h, n) between
 * the token layout `tok[(b N + n) S + off + h D + d]` and the head layout `head[((b H + h) N + n) D + d]`
 * (src is tok for tokToHeads, head for headsToTok). S and off in floats.
 */
function genHeads(toHeads: boolean): Fn {
  const f = new Fn(toHeads ? 'tokToHeads' : 'headsToTok', [I32, I32, I32, I32, I32, I32, I32, I32]);
  const [src, dst, B, N, H, D4, S, off] = [0, 1, 2, 3, 4, 5, 6, 7];
  const [b, h, n, j, tok, head] = [0, 0, 0, 0, 0, 0].map(() => f.local(I32));
  const [tokBase, headBase] = toHeads ? [src, dst] : [dst, src];
  f.forCount(b, B, () => {
    f.forCount(h, H, () => {
      // tok = tokBase + 4 (b N S + off + h D); head = headBase + 16 ((b H + h) N D4)
      f.get(b).get(N).op(OP.i32Mul).get(S).op(OP.i32Mul).get(off).op(OP.i32Add);
      f.get(h).get(D4).op(OP.i32Mul).i32(4).op(OP.i32Mul).op(OP.i32Add).i32(4).op(OP.i32Mul);
      f.get(tokBase).op(OP.i32Add).set(tok);
      f.get(b).get(H).op(OP.i32Mul).get(h).op(OP.i32Add).get(N).op(OP.i32Mul).get(D4).op(OP.i32Mul);
      f.i32(16).op(OP.i32Mul).get(headBase).op(OP.i32Add).set(head);
      f.forCount(n, N, () => {
        f.forCount(j, D4, () => {
          const [from, to] = toHeads ? [tok, head] : [head, tok];
          f.get(to).get(j).i32(16).op(OP.i32Mul).op(OP.i32Add);
          f.get(from).get(j).i32(16).op(OP.i32Mul).op(OP.i32Add).vLoad().vStore();
        });
        f.inc(tok, () => f.get(S).i32(4).op(OP.i32Mul));
        f.inc(head, () => f.get(D4).i32(16).op(OP.i32Mul));
      });
    });
  });
  return f;
}

/** @internal The generated module (for tests). */
export function elementwiseModuleBytes(sharedMemory = false): Uint8Array<ArrayBuffer> {
  return kernelModule.moduleBytes(sharedMemory);
}

interface Exports {
  gelu(x: number, y: number, n4: number): void;
  geluGrad(x: number, dy: number, dx: number, n4: number): void;
  erf(x: number, y: number, n4: number): void;
  lnFwd(...args: number[]): void;
  lnBwd(...args: number[]): void;
  tokToHeads(...args: number[]): void;
  headsToTok(...args: number[]): void;
}

const kernelModule = new KernelModule<Exports>(() => [
  genGelu(),
  genGeluGrad(),
  genErf(),
  genLayerNorm(),
  genLayerNormGrad(),
  genHeads(true),
  genHeads(false),
]);

/** The module in the workers of the kernel pool (threaded build). */
const threadedElementwise = threadedModule(kernelModule);

// ============================================================================================
// tfjs glue
// ============================================================================================

/** What a kernel call needs: input names, output sizes, and the call on byte offsets. */
interface Plan {
  inputs: string[];
  /** outputs: shape and whether it must start zeroed */
  outputs: { shape: number[]; zero?: boolean }[];
  /** floats of zeroed scratch */
  scratch: number;
  run(ex: Exports, ins: number[], outs: number[], scratch: number, heap: () => Float32Array): void;
}

type Attrs = Record<string, number>;

const GELU = SWIN_GELU;
const GELU_GRAD = SWIN_GELU_GRAD;
const ERF = SWIN_ERF;
const LAYER_NORM = SWIN_LAYER_NORM;
const TO_HEADS = SWIN_TOKENS_TO_HEADS;
const TO_TOKENS = SWIN_HEADS_TO_TOKENS;

/** Runs `call(off)` on whole blocks of 4, and the last `n % 4` floats through a zero-padded scratch. */
function blocksWithTail(
  n: number,
  nIn: number,
  ins: number[],
  out: number,
  scratch: number,
  heap: () => Float32Array,
  call: (ins: number[], out: number, n4: number) => void,
): void {
  const n4 = n >> 2;
  if (n4 > 0) call(ins, out, n4);
  const tail = n - 4 * n4;
  if (tail === 0) return;
  const h = heap();
  const sIn = Array.from({ length: nIn }, (_, i) => scratch + 16 * i);
  const sOut = scratch + 16 * nIn;
  for (let i = 0; i < nIn; i++) h.set(h.subarray((ins[i] >> 2) + 4 * n4, (ins[i] >> 2) + n), sIn[i] >> 2);
  call(sIn, sOut, 1);
  const h2 = heap();
  h2.copyWithin((out >> 2) + 4 * n4, sOut >> 2, (sOut >> 2) + tail);
}

function plan(name: string, shapes: number[][], attrs: Attrs): Plan {
  const size = shapes[0].reduce((a, b) => a * b, 1);
  if (name === ERF) {
    return {
      inputs: ['x'],
      outputs: [{ shape: shapes[0] }],
      scratch: 16,
      run: (ex, ins, outs, scratch, heap) =>
        blocksWithTail(size, 1, ins, outs[0], scratch, heap, (i, o, n4) => ex.erf(i[0], o, n4)),
    };
  }
  if (name === GELU || name === GELU_GRAD) {
    const grad = name === GELU_GRAD;
    return {
      inputs: grad ? ['x', 'dy'] : ['x'],
      outputs: [{ shape: shapes[0] }],
      scratch: 16,
      run: (ex, ins, outs, scratch, heap) =>
        blocksWithTail(size, ins.length, ins, outs[0], scratch, heap, (i, o, n4) =>
          grad ? ex.geluGrad(i[0], i[1], o, n4) : ex.gelu(i[0], o, n4),
        ),
    };
  }
  if (name === TO_HEADS || name === TO_TOKENS) {
    const { B, N, H, D, S, off } = attrs;
    const toHeads = name === TO_HEADS;
    return {
      inputs: ['x'],
      outputs: [{ shape: toHeads ? [B * H, N, D] : [B, N, S], zero: !toHeads && S !== H * D }],
      scratch: 0,
      run: (ex, [x], [y]) => (toHeads ? ex.tokToHeads : ex.headsToTok)(x, y, B, N, H, D / 4, S, off),
    };
  }
  const C = attrs.C;
  const rows = size / C;
  if (name === LAYER_NORM) {
    return {
      inputs: ['x', 'gamma', 'beta'],
      outputs: [{ shape: shapes[0] }, { shape: [rows] }, { shape: [rows] }],
      scratch: 0,
      run: (ex, [x, g, b], [y, mean, rstd]) =>
        ex.lnFwd(x, g, b, y, mean, rstd, rows, C / 4, 1 / C, attrs.eps),
    };
  }
  return {
    inputs: ['x', 'dy', 'gamma', 'mean', 'rstd'],
    outputs: [{ shape: shapes[0] }, { shape: [C], zero: true }, { shape: [C], zero: true }],
    scratch: 0,
    run: (ex, [x, dy, g, mean, rstd], [dx, dg, db]) =>
      ex.lnBwd(x, dy, g, mean, rstd, dx, dg, db, rows, C / 4, 1 / C),
  };
}

const sizeOf = (shape: number[]) => shape.reduce((a, b) => a * b, 1);

type KernelArgs = { inputs: tf.NamedTensorInfoMap; backend: unknown; attrs?: tf.NamedAttrMap };

function input(args: KernelArgs, kernel: string, n: string): tf.TensorInfo {
  const t = args.inputs[n];
  if (!t) throw new Error(`${kernel}: missing input '${n}'`);
  return t;
}

function wasmKernel(name: string) {
  return (args: KernelArgs) => {
    const be = args.backend as WasmBackendLike;
    const memory = wasmMemoryOf(be);
    if (!memory) throw new Error(`${name}: the wasm backend exposes no WebAssembly.Memory`);
    // threaded build with a kernel pool: row / block ranges on several threads (split.ts)
    const pool = poolFor(memory);
    const local = kernelModule.forWasm(be, memory);
    const ex = pool ? splitExports(pool, threadedElementwise, local, elementwiseTasks) : local;
    const p = plan(name, [input(args, name, 'x').shape], (args.attrs ?? {}) as Attrs);
    const outs = p.outputs.map((o) => be.makeOutput(o.shape, 'float32'));
    const scratch = p.scratch > 0 ? be.makeOutput([p.scratch], 'float32') : null;
    const off = (t: tf.TensorInfo) => be.dataIdMap.get(t.dataId).memoryOffset;
    p.outputs.forEach((o, i) => {
      if (o.zero) new Float32Array(memory.buffer, off(outs[i]), sizeOf(o.shape)).fill(0);
    });
    if (scratch) new Float32Array(memory.buffer, off(scratch), p.scratch).fill(0);
    const heap = () => new Float32Array(memory.buffer);
    p.run(
      ex,
      p.inputs.map((n) => off(input(args, name, n))),
      outs.map(off),
      scratch ? off(scratch) : 0,
      heap,
    );
    if (scratch) be.disposeData(scratch.dataId);
    return outs.length === 1 ? outs[0] : outs;
  };
}

function cpuKernel(name: string) {
  return (args: KernelArgs) => {
    const be = args.backend as CpuBackendLike;
    const { memory, ex } = kernelModule.forCpu();
    const p = plan(name, [input(args, name, 'x').shape], (args.attrs ?? {}) as Attrs);
    const values = p.inputs.map((n) => be.readSync(input(args, name, n).dataId) as Float32Array);
    const bump = new BumpHeap();
    const alloc = (floats: number) => bump.alloc(floats);
    const inOffs = values.map((v) => alloc(v.length));
    const sizes = p.outputs.map((o) => o.shape.reduce((a, b) => a * b, 1));
    const outOffs = sizes.map(alloc);
    const scratch = alloc(p.scratch);
    bump.ensure(memory);
    const heap = new Float32Array(memory.buffer);
    for (const [i, v] of values.entries()) heap.set(v, inOffs[i] >> 2);
    p.outputs.forEach((o, i) => {
      if (o.zero) heap.fill(0, outOffs[i] >> 2, (outOffs[i] >> 2) + sizes[i]);
    });
    heap.fill(0, scratch >> 2, (scratch >> 2) + p.scratch);
    p.run(ex, inOffs, outOffs, scratch, () => new Float32Array(memory.buffer));
    const outs = p.outputs.map((o, i) =>
      be.makeTensorInfo(o.shape, 'float32', new Float32Array(memory.buffer, outOffs[i], sizes[i]).slice()),
    );
    return outs.length === 1 ? outs[0] : outs;
  };
}

/**
 * The fused elementwise / layout kernel configs of `@swin/nn`'s names ({@link SWIN_GELU} and the others) for
 * 'wasm' (in place on the backend's heap) and 'cpu' (private memory).
 */
export const ELEMENTWISE_KERNELS: readonly tf.KernelConfig[] = [
  SWIN_GELU,
  SWIN_GELU_GRAD,
  SWIN_ERF,
  SWIN_LAYER_NORM,
  SWIN_LAYER_NORM_GRAD,
  SWIN_TOKENS_TO_HEADS,
  SWIN_HEADS_TO_TOKENS,
].flatMap((name) => [
  { kernelName: name, backendName: 'wasm', kernelFunc: wasmKernel(name) as unknown as tf.KernelFunc },
  { kernelName: name, backendName: 'cpu', kernelFunc: cpuKernel(name) as unknown as tf.KernelFunc },
]);

/** Whether this engine validates the elementwise module (WebAssembly SIMD). */
export function elementwiseSupported(): boolean {
  return kernelModule.simdSupported();
}
