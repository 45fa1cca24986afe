import { type SmallGemmAttrs, type SmallGemmKind, SWIN_SMALL_GEMM, smallGemmOutputShapes } from '@swin/nn';
import * as tf from '@tensorflow/tfjs-core';
import type { CpuBackendLike, WasmBackendLike } from './asm.js';
import { BumpHeap, F32, Fn, I32, KernelModule, OP, SIMD, V128, wasmMemoryOf } from './asm.js';
import { type GemmPointers, gemmChunk, gemmRanges, MIN_TASK_WORK, taskCount } from './split.js';
import { poolFor, runTasks, threadedModule } from './threaded.js';

/**
 * The {@link SWIN_SMALL_GEMM} kernel of `@swin/nn` (attention products, `smallBatchMatMul`): a small
 * WebAssembly SIMD GEMM generated at run time (no binary blob, no build step) with the scale, bias, mask
 * and softmax fused into the epilogue (`attn`), or the softmax backward (`dsm`). On tfjs-wasm it imports the
 * backend's `WebAssembly.Memory` and works on its heap in place (the threaded build's shared memory
 * included); on the cpu backend it runs on a private memory.
 *
 * Why: tfjs-wasm 4.22's `BatchMatMul` hands a product to XNNPACK only when both batch sizes are 1 and
 * neither operand is transposed; everything else runs a scalar blocked triple loop (~1-2 GFLOP/s).
 */

// ============================================================================================
// tfjs kernel glue (wasm: shared heap; cpu: private memory)
// ============================================================================================

interface KernelExports {
  bmm: (...args: number[]) => void;
  attn: (...args: number[]) => void;
  dsm: (...args: number[]) => void;
}

/** The kernel module (`bmm`, `attn`, `dsm`), importing `env.memory`. */
const kernelModule = new KernelModule<KernelExports>(() => [genGemm('bmm'), genGemm('attn'), genGemm('dsm')]);
/** The module in the workers of the kernel pool (threaded build). */
const threadedGemm = threadedModule(kernelModule);

/** Scratch floats a call needs: packed B `[k, mp]`, a 4-row tile `[4, mp]`, a zero row `[m]`. */
function scratchFloats(a: SmallGemmAttrs): number {
  const mp = (a.m + 7) & ~7;
  return a.k * mp + 4 * mp + a.m + 4;
}

function callKernel(ex: KernelExports, a: SmallGemmAttrs, ptr: GemmPointers): void {
  const c = kernelCall(a, ptr);
  ex[c.fn](...c.args);
}

/** @internal The exported function and argument list of one call (also the pool's tasks). */
export function kernelCall(
  a: SmallGemmAttrs,
  ptr: GemmPointers,
): { fn: keyof KernelExports; args: number[] } {
  const mp = (a.m + 7) & ~7;
  const zero = ptr.scratch + (a.k * mp + 4 * mp) * 4;
  const common = [
    ptr.a,
    ptr.b,
    ptr.out[0],
    a.G,
    a.n,
    a.k,
    a.m,
    a.sAg,
    a.sAr,
    a.sAc,
    a.sBg,
    a.sBr,
    a.sBc,
    ptr.scratch,
  ];
  if (a.kind === 'bmm') return { fn: 'bmm', args: [...common, a.alpha] };
  if (a.kind === 'attn') {
    const bias = ptr.bias >= 0 ? [ptr.bias, a.nB, a.sBiasG, a.sBiasR] : [zero, 1, 0, 0];
    const mask = ptr.mask >= 0 ? [ptr.mask, a.nMk, a.heads, a.sMaskG, a.sMaskR] : [zero, 1, 1, 0, 0];
    return { fn: 'attn', args: [...common, a.alpha, ...bias, ...mask] };
  }
  // gradient accumulators [nB|nMk, n, m]; an absent one accumulates into the scratch row (stride 0)
  let o = 1;
  const bias = a.biasGrad ? [ptr.out[o++], a.nB, a.n * a.m, a.m] : [zero, 1, 0, 0];
  const mask = a.maskGrad ? [ptr.out[o++], a.nMk, a.heads, a.n * a.m, a.m] : [zero, 1, 1, 0, 0];
  return { fn: 'dsm', args: [...common, ptr.probs, ...bias, ...mask] };
}

function checkInt32(a: SmallGemmAttrs, bytes: number): void {
  if (bytes > 2 ** 31) {
    throw new Error(`attentionCore: problem too large for the wasm kernel (${bytes} bytes of operands)`);
  }
  for (const v of [a.G, a.n, a.k, a.m]) {
    if (!Number.isInteger(v) || v < 1)
      throw new Error(`attentionCore: kernel got bad sizes ${JSON.stringify(a)}`);
  }
}

function wasmKernel(args: { inputs: tf.NamedTensorInfoMap; backend: unknown; attrs?: tf.NamedAttrMap }) {
  const be = args.backend as WasmBackendLike;
  const a = args.attrs as unknown as SmallGemmAttrs;
  const memory = wasmMemoryOf(be);
  if (!memory) throw new Error('attentionCore: the wasm backend exposes no WebAssembly.Memory');
  const ex = kernelModule.forWasm(be, memory);
  const shapes = smallGemmOutputShapes(a);
  checkInt32(
    a,
    shapes.reduce((n, s) => n + s[0] * s[1] * s[2] * 4, 0),
  );
  const outs = shapes.map((s) => be.makeOutput(s, 'float32'));
  const off = (t: tf.TensorInfo | undefined) => (t ? be.dataIdMap.get(t.dataId).memoryOffset : -1);
  const ins = args.inputs;
  const ptr: GemmPointers = {
    a: off(ins.a),
    b: off(ins.b),
    out: outs.map(off),
    scratch: -1,
    bias: off(ins.bias),
    mask: off(ins.mask),
    probs: off(ins.probs),
  };
  // threaded build with a kernel pool: independent group ranges, one scratch block each (split.ts)
  const pool = poolFor(memory);
  const ranges = pool
    ? gemmRanges(a, ptr, taskCount(a.G * a.n * a.k * a.m, MIN_TASK_WORK.gemm, pool.threads))
    : [[0, a.G] as [number, number]];
  const nScratch = scratchFloats(a);
  const scratch = be.makeOutput([nScratch * ranges.length], 'float32');
  const scratchOff = off(scratch);
  // zero row (used in place of an absent bias / mask) and zeroed gradient accumulators
  new Float32Array(memory.buffer, scratchOff, nScratch * ranges.length).fill(0);
  for (let i = 1; i < outs.length; i++) {
    new Float32Array(memory.buffer, off(outs[i]), shapes[i][0] * shapes[i][1] * shapes[i][2]).fill(0);
  }
  if (ranges.length === 1) callKernel(ex, a, { ...ptr, scratch: scratchOff });
  else {
    const tasks = ranges.map(([g0, g1], i) => {
      const c = gemmChunk(a, ptr, g0, g1, scratchOff + i * nScratch * 4);
      return kernelCall(c.attrs, c.ptr);
    });
    runTasks(pool, threadedGemm, ex as unknown as Record<string, (...args: number[]) => void>, tasks);
  }
  be.disposeData(scratch.dataId);
  return outs.length === 1 ? outs[0] : outs;
}

function cpuKernel(args: { inputs: tf.NamedTensorInfoMap; backend: unknown; attrs?: tf.NamedAttrMap }) {
  const be = args.backend as CpuBackendLike;
  const a = args.attrs as unknown as SmallGemmAttrs;
  const { memory, ex } = kernelModule.forCpu();
  const ins = args.inputs;
  const names = ['a', 'b', 'bias', 'mask', 'probs'] as const;
  const values: Record<string, Float32Array> = {};
  const offsets: Record<string, number> = {};
  const bump = new BumpHeap();
  const alloc = (floats: number) => bump.alloc(floats);
  for (const nm of names) {
    const t = ins[nm];
    if (!t) {
      offsets[nm] = -1;
      continue;
    }
    values[nm] = be.readSync(t.dataId) as Float32Array;
    offsets[nm] = alloc(values[nm].length);
  }
  const shapes = smallGemmOutputShapes(a);
  const sizes = shapes.map((sh) => sh[0] * sh[1] * sh[2]);
  const outOffs = sizes.map((n) => alloc(n));
  const nScratch = scratchFloats(a);
  const scratchOff = alloc(nScratch);
  checkInt32(a, bump.top);
  bump.ensure(memory);
  const heap = new Float32Array(memory.buffer);
  for (const nm of names) if (values[nm]) heap.set(values[nm], offsets[nm] / 4);
  heap.fill(0, scratchOff / 4, scratchOff / 4 + nScratch);
  for (let i = 1; i < sizes.length; i++) heap.fill(0, outOffs[i] / 4, outOffs[i] / 4 + sizes[i]);
  callKernel(ex, a, {
    a: offsets.a,
    b: offsets.b,
    out: outOffs,
    scratch: scratchOff,
    bias: offsets.bias,
    mask: offsets.mask,
    probs: offsets.probs,
  });
  const outs = shapes.map((sh, i) =>
    be.makeTensorInfo(sh, 'float32', new Float32Array(memory.buffer, outOffs[i], sizes[i]).slice()),
  );
  return outs.length === 1 ? outs[0] : outs;
}

/**
 * The {@link SWIN_SMALL_GEMM} kernel configs: 'wasm' (in place on the backend's heap, shared or not) and
 * 'cpu' (on a private memory: inputs copied in, outputs copied out).
 */
export const SMALL_GEMM_KERNELS: readonly tf.KernelConfig[] = [
  { kernelName: SWIN_SMALL_GEMM, backendName: 'wasm', kernelFunc: wasmKernel as unknown as tf.KernelFunc },
  { kernelName: SWIN_SMALL_GEMM, backendName: 'cpu', kernelFunc: cpuKernel as unknown as tf.KernelFunc },
];

/** Whether this engine validates the GEMM module (WebAssembly SIMD). */
export function gemmSupported(): boolean {
  return kernelModule.simdSupported();
}

// ============================================================================================
// The SIMD kernels (assembled with wasm-asm.ts)
// ============================================================================================

/** Below this the kernel's exp is 0 (keeps every value normal: denormals are ~100x slower on x86). */
const EXP_FLUSH = -87;
/** Smallest normal float32: smaller probabilities are flushed to 0. */
const FLT_MIN = 1.1754943508222875e-38;

/**
 * Emits `exp(x)` for the v128 local `x` (lanes <= 0 expected), leaving the result on the stack; lanes
 * below {@link EXP_FLUSH} give 0 (NaN stays NaN). Cephes `expf`: x = n ln2 + r, |r| <= ln2/2, a degree-5
 * polynomial, 2^n through the exponent bits (about 1 ulp).
 */
function emitExp(f: Fn, x: number, fx: number, r: number, pp: number): void {
  const xc = r; // reuse: the clamped x lives in r until r is computed
  f.get(x).vConst(EXP_FLUSH).simd(SIMD.f32x4Max).set(xc);
  f.get(xc).vConst(Math.LOG2E).simd(SIMD.f32x4Mul).simd(SIMD.f32x4Nearest).set(fx);
  f.get(xc).get(fx).vConst(0.693359375).simd(SIMD.f32x4Mul).simd(SIMD.f32x4Sub);
  f.get(fx).vConst(-2.1219444e-4).simd(SIMD.f32x4Mul).simd(SIMD.f32x4Sub).set(r);
  const coef = [
    1.98756915e-4, 1.3981999507e-3, 8.3334519073e-3, 4.1665795894e-2, 1.6666665459e-1, 5.0000001201e-1,
  ];
  f.vConst(coef[0]).set(pp);
  for (let i = 1; i < coef.length; i++) {
    f.get(pp).get(r).simd(SIMD.f32x4Mul).vConst(coef[i]).simd(SIMD.f32x4Add).set(pp);
  }
  // y = p r^2 + r + 1
  f.get(pp).get(r).simd(SIMD.f32x4Mul).get(r).simd(SIMD.f32x4Mul).get(r).simd(SIMD.f32x4Add);
  f.vConst(1).simd(SIMD.f32x4Add);
  // * 2^n
  f.get(fx).simd(SIMD.i32x4TruncSatF32x4S).iConst4(127).simd(SIMD.i32x4Add).i32(23).simd(SIMD.i32x4Shl);
  f.simd(SIMD.f32x4Mul);
  // flush lanes with x < EXP_FLUSH to 0
  f.get(x).vConst(EXP_FLUSH).simd(SIMD.f32x4Lt).simd(SIMD.v128AndNot);
}

/**
 * One exported kernel. Common parameters (i32 unless said): a, b, out (byte offsets), G, n, k, m,
 * sAg, sAr, sAc, sBg, sBr, sBc (element strides), scratch (byte offset). Then
 * - bmm:  alpha f32                                   out = alpha * A B
 * - attn: scale f32, bias, nB, sBiasG, sBiasR, mask, nMk, heads, sMaskG, sMaskR
 *         out = softmax_rows(scale * A B + bias[g % nB] + mask[(g / heads) % nMk])
 * - dsm:  probs                                       out = P * (A B - rowsum(P * A B))
 * For each group: B is packed into scratch `[k, mp]` (mp = m rounded up to 8, zero padded), then rows
 * of A are processed 4 at a time with a 4x8 register tile (8 f32x4 accumulators) into a `[4, mp]`
 * scratch tile, and the epilogue writes the valid rows / columns of the output.
 */
function genGemm(kind: SmallGemmKind): Fn {
  const common = new Array(14).fill(I32);
  const params =
    kind === 'bmm'
      ? [...common, F32]
      : kind === 'attn'
        ? [...common, F32, I32, I32, I32, I32, I32, I32, I32, I32, I32]
        : [...common, I32, I32, I32, I32, I32, I32, I32, I32, I32, I32];
  const f = new Fn(kind, params);
  const [pa, pb, pout, G, n, k, m, sAg, sAr, sAc, sBg, sBr, sBc, scratch] = common.map((_, i) => i);
  const alpha = 14;
  // attn: bias / mask inputs; dsm: dBias / dMask accumulators (same geometry)
  const [biasP, nB, sBiasG, sBiasR, maskP, nMk, heads, sMaskG, sMaskR] = [15, 16, 17, 18, 19, 20, 21, 22, 23];
  const probsP = 14;

  const L = () => f.local(I32);
  const mp = L();
  const Bp = L();
  const T = L();
  const g = L();
  const c = L();
  const j = L();
  const dst = L();
  const src = L();
  const step = L();
  const baseA = L();
  const i0 = L();
  const j0 = L();
  const nm1 = L();
  const rows = L();
  const q = L();
  const cnt = L();
  const kpack = L();
  const m4 = L();
  const m4up = L();
  const mpBytes = L();
  const tq = L();
  const orow = L();
  const aStep = L();
  const pr = [L(), L(), L(), L()];
  const rp = [L(), L(), L(), L()];
  const pbk = L();
  const brow = L();
  const mrow = L();
  const prow = L();
  const acc = Array.from({ length: 8 }, () => f.local(V128));
  const vb0 = f.local(V128);
  const vb1 = f.local(V128);
  const va = f.local(V128);
  const vx = f.local(V128);
  const vacc = f.local(V128);
  const vfx = f.local(V128);
  const vr = f.local(V128);
  const vp = f.local(V128);
  const vs = f.local(V128);
  const sx = f.local(F32);
  const sacc = f.local(F32);
  const stot = f.local(F32);

  // mp = (m + 7) & ~7; Bp = scratch; T = scratch + k*mp*4
  f.get(m).i32(7).op(OP.i32Add).i32(-8).op(OP.i32And).set(mp);
  f.get(mp).i32(4).op(OP.i32Mul).set(mpBytes);
  f.get(scratch).set(Bp);
  f.get(scratch).get(k).get(mpBytes).op(OP.i32Mul).op(OP.i32Add).set(T);
  f.get(m).i32(-4).op(OP.i32And).set(m4);
  f.get(m).i32(3).op(OP.i32Add).i32(-4).op(OP.i32And).set(m4up);
  f.get(n).i32(1).op(OP.i32Sub).set(nm1);
  f.get(sAc).i32(4).op(OP.i32Mul).set(aStep);

  f.forRange(g, 0, G, 1, () => {
    // ---- pack B[g] into Bp [k, mp] (once if B is broadcast over groups) ----
    f.ifThen(
      () => f.get(g).op(OP.i32Eqz).get(sBg).i32(0).op(OP.i32Ne).op(OP.i32Or),
      () =>
        emitPackB(f, {
          pb,
          g,
          sBg,
          sBr,
          sBc,
          k,
          m,
          mp,
          mpBytes,
          Bp,
          src,
          dst,
          step,
          c,
          j,
          kpack,
          vb0,
          vb1,
          va,
          vx,
        }),
    );
    f.get(pa).get(g).get(sAg).op(OP.i32Mul).i32(4).op(OP.i32Mul).op(OP.i32Add).set(baseA);

    f.forRange(i0, 0, n, 4, () => {
      // row pointers of the 4 rows (clamped to the last row: duplicates are computed, not stored)
      for (let r = 0; r < 4; r++) {
        f.get(i0).i32(r).op(OP.i32Add).tee(c);
        f.get(nm1).get(c).get(nm1).op(OP.i32LtS).op(OP.select);
        f.get(sAr).op(OP.i32Mul).i32(4).op(OP.i32Mul).get(baseA).op(OP.i32Add).set(rp[r]);
      }
      f.forRange(j0, 0, mp, 8, () => {
        for (const a of acc) f.vConst(0).set(a);
        for (let r = 0; r < 4; r++) f.get(rp[r]).set(pr[r]);
        f.get(Bp).get(j0).i32(4).op(OP.i32Mul).op(OP.i32Add).set(pbk);
        f.get(k).set(cnt);
        f.countDown(cnt, () => {
          f.get(pbk).vLoad(0).set(vb0);
          f.get(pbk).vLoad(16).set(vb1);
          for (let r = 0; r < 4; r++) {
            f.get(pr[r]).vSplatLoad().set(va);
            f.get(acc[2 * r])
              .get(va)
              .get(vb0)
              .simd(SIMD.f32x4Mul)
              .simd(SIMD.f32x4Add)
              .set(acc[2 * r]);
            f.get(acc[2 * r + 1])
              .get(va)
              .get(vb1)
              .simd(SIMD.f32x4Mul)
              .simd(SIMD.f32x4Add)
              .set(acc[2 * r + 1]);
            f.inc(pr[r], () => f.get(aStep));
          }
          f.inc(pbk, () => f.get(mpBytes));
        });
        // store the tile into T rows
        f.get(T).get(j0).i32(4).op(OP.i32Mul).op(OP.i32Add).set(tq);
        for (let r = 0; r < 4; r++) {
          f.get(tq)
            .get(acc[2 * r])
            .vStore(0);
          f.get(tq)
            .get(acc[2 * r + 1])
            .vStore(16);
          f.inc(tq, () => f.get(mpBytes));
        }
      });

      // ---- epilogue over the valid rows of the tile ----
      f.get(n).get(i0).op(OP.i32Sub).tee(rows);
      f.i32(4).get(rows).i32(4).op(OP.i32LtS).op(OP.select).set(rows);
      f.forRange(q, 0, rows, 1, () => {
        f.get(T).get(q).get(mpBytes).op(OP.i32Mul).op(OP.i32Add).set(tq);
        // orow = out + ((g*n + i0 + q) * m) * 4
        f.get(g).get(n).op(OP.i32Mul).get(i0).op(OP.i32Add).get(q).op(OP.i32Add).get(m).op(OP.i32Mul);
        f.i32(4).op(OP.i32Mul).tee(prow).get(pout).op(OP.i32Add).set(orow);
        if (kind === 'bmm') emitScaleCopy(f, tq, orow, m4, m, j, alpha);
        else {
          // brow = bias + ((g % nB) * sBiasG + i * sBiasR) * 4, mrow likewise with (g / heads) % nMk
          f.get(g).get(nB).op(OP.i32RemU).get(sBiasG).op(OP.i32Mul);
          f.get(i0).get(q).op(OP.i32Add).get(sBiasR).op(OP.i32Mul).op(OP.i32Add);
          f.i32(4).op(OP.i32Mul).get(biasP).op(OP.i32Add).set(brow);
          f.get(g).get(heads).op(OP.i32DivU).get(nMk).op(OP.i32RemU).get(sMaskG).op(OP.i32Mul);
          f.get(i0).get(q).op(OP.i32Add).get(sMaskR).op(OP.i32Mul).op(OP.i32Add);
          f.i32(4).op(OP.i32Mul).get(maskP).op(OP.i32Add).set(mrow);
          if (kind === 'attn') {
            emitSoftmaxRow(f, {
              ...{ tq, orow, brow, mrow, m, m4, m4up, j, alpha, src },
              ...{ vx, vacc, vfx, vr, vp, vs, sx, sacc, sx2: stot },
              ...{ pt: pr[0], pb: pr[1], pm: pr[2], po: pr[3], pend: cnt, vscale: vb0 },
            });
          } else {
            f.get(prow).get(probsP).op(OP.i32Add).set(prow);
            emitSoftmaxBackwardRow(f, {
              tq,
              orow,
              prow,
              brow,
              mrow,
              m,
              m4,
              j,
              src,
              vx,
              vacc,
              vs,
              sx,
              sacc,
              stot,
            });
          }
        }
      });
    });
  });
  return f;
}

/** 4x4 transpose of the v128 locals r[0..3] (rows) into w[0..3] (columns), by i8x16.shuffle. */
function emitTranspose4(f: Fn, r: number[], w: number[], t: number[]) {
  const lanes = (idx: number[]) => idx.flatMap((l) => [4 * l, 4 * l + 1, 4 * l + 2, 4 * l + 3]);
  const lo = lanes([0, 4, 1, 5]);
  const hi = lanes([2, 6, 3, 7]);
  const lo2 = lanes([0, 1, 4, 5]);
  const hi2 = lanes([2, 3, 6, 7]);
  f.get(r[0])
    .get(r[1])
    .simd(SIMD.i8x16Shuffle, ...lo)
    .set(t[0]);
  f.get(r[0])
    .get(r[1])
    .simd(SIMD.i8x16Shuffle, ...hi)
    .set(t[1]);
  f.get(r[2])
    .get(r[3])
    .simd(SIMD.i8x16Shuffle, ...lo)
    .set(t[2]);
  f.get(r[2])
    .get(r[3])
    .simd(SIMD.i8x16Shuffle, ...hi)
    .set(t[3]);
  f.get(t[0])
    .get(t[2])
    .simd(SIMD.i8x16Shuffle, ...lo2)
    .set(w[0]);
  f.get(t[0])
    .get(t[2])
    .simd(SIMD.i8x16Shuffle, ...hi2)
    .set(w[1]);
  f.get(t[1])
    .get(t[3])
    .simd(SIMD.i8x16Shuffle, ...lo2)
    .set(w[2]);
  f.get(t[1])
    .get(t[3])
    .simd(SIMD.i8x16Shuffle, ...hi2)
    .set(w[3]);
}

/**
 * Bp[c, j] = B(g, c, j) for c < k, j < m; 0 for m <= j < mp. Row copies when B rows are contiguous
 * (sBc = 1), 4x4 SIMD transposes when B columns are (sBr = 1, a transposed operand), scalar otherwise.
 */
function emitPackB(
  f: Fn,
  l: Record<
    | 'pb'
    | 'g'
    | 'sBg'
    | 'sBr'
    | 'sBc'
    | 'k'
    | 'm'
    | 'mp'
    | 'mpBytes'
    | 'Bp'
    | 'src'
    | 'dst'
    | 'step'
    | 'c'
    | 'j',
    number
  > &
    Record<'kpack' | 'vb0' | 'vb1' | 'va' | 'vx', number>,
) {
  const { pb, g, sBg, sBr, sBc, k, m, mp, mpBytes, Bp, src, dst, step, c, j, kpack } = l;
  const i32eq = 0x46;
  const srcG = () => f.get(pb).get(g).get(sBg).op(OP.i32Mul).i32(4).op(OP.i32Mul).op(OP.i32Add);
  // zero padding columns m..mp of every row
  f.get(Bp).set(dst);
  f.forRange(kpack, 0, k, 1, () => {
    f.get(dst).get(m).i32(4).op(OP.i32Mul).op(OP.i32Add).i32(0);
    f.get(mp).get(m).op(OP.i32Sub).i32(4).op(OP.i32Mul).op(0xfc, 0x0b, 0x00); // memory.fill
    f.inc(dst, () => f.get(mpBytes));
  });
  f.ifThen(
    () => f.get(sBc).i32(1).op(i32eq),
    () => {
      // contiguous rows: memory.copy per row
      srcG();
      f.set(src);
      f.get(Bp).set(dst);
      f.forRange(kpack, 0, k, 1, () => {
        f.get(dst).get(src).get(m).i32(4).op(OP.i32Mul).op(0xfc, 0x0a, 0x00, 0x00); // memory.copy
        f.inc(dst, () => f.get(mpBytes));
        f.inc(src, () => f.get(sBr).i32(4).op(OP.i32Mul));
      });
    },
    () =>
      f.ifThen(
        () => f.get(sBr).i32(1).op(i32eq),
        () => {
          // transposed operand: element (c, j) at srcG + (c + j*sBc)*4. 4x4 blocks, then the edges.
          const rv = [l.vb0, l.vb1, l.va, l.vx];
          const tv = [f.local(V128), f.local(V128), f.local(V128), f.local(V128)];
          const wv = [f.local(V128), f.local(V128), f.local(V128), f.local(V128)];
          const m4 = f.local(I32);
          const k4 = f.local(I32);
          const rowB = f.local(I32);
          f.get(m).i32(-4).op(OP.i32And).set(m4);
          f.get(k).i32(-4).op(OP.i32And).set(k4);
          f.get(sBc).i32(4).op(OP.i32Mul).set(rowB);
          f.forRange(j, 0, m4, 4, () => {
            f.forRange(kpack, 0, k4, 4, () => {
              // src address of (c=kpack, j)
              f.get(j).get(sBc).op(OP.i32Mul).get(kpack).op(OP.i32Add).i32(4).op(OP.i32Mul);
              srcG();
              f.op(OP.i32Add).set(src);
              for (let r = 0; r < 4; r++) {
                f.get(src).vLoad().set(rv[r]);
                f.inc(src, () => f.get(rowB));
              }
              emitTranspose4(f, rv, wv, tv);
              f.get(kpack).get(mp).op(OP.i32Mul).get(j).op(OP.i32Add).i32(4).op(OP.i32Mul);
              f.get(Bp).op(OP.i32Add).set(dst);
              for (let r = 0; r < 4; r++) {
                f.get(dst).get(wv[r]).vStore();
                f.inc(dst, () => f.get(mpBytes));
              }
            });
          });
          // edges: rows c >= k4 for all j, and columns j >= m4 for all c (scalar)
          const scalarCopy = (cFrom: () => void, jFrom: () => void) => {
            f.forRange(kpack, cFrom, k, 1, () => {
              f.forRange(step, jFrom, m, 1, () => {
                f.get(kpack)
                  .get(mp)
                  .op(OP.i32Mul)
                  .get(step)
                  .op(OP.i32Add)
                  .i32(4)
                  .op(OP.i32Mul)
                  .get(Bp)
                  .op(OP.i32Add);
                f.get(step).get(sBc).op(OP.i32Mul).get(kpack).op(OP.i32Add).i32(4).op(OP.i32Mul);
                srcG();
                f.op(OP.i32Add).f32Load().f32Store();
              });
            });
          };
          scalarCopy(
            () => f.get(k4),
            () => f.i32(0),
          );
          scalarCopy(
            () => f.i32(0),
            () => f.get(m4),
          );
        },
        () => {
          // general strides: scalar
          srcG();
          f.set(src);
          f.get(Bp).set(dst);
          f.get(sBc).i32(4).op(OP.i32Mul).set(step);
          f.forRange(kpack, 0, k, 1, () => {
            f.get(src).set(c);
            f.forRange(j, 0, m, 1, () => {
              f.get(dst).get(j).i32(4).op(OP.i32Mul).op(OP.i32Add);
              f.get(c).f32Load();
              f.f32Store();
              f.inc(c, () => f.get(step));
            });
            f.inc(dst, () => f.get(mpBytes));
            f.inc(src, () => f.get(sBr).i32(4).op(OP.i32Mul));
          });
        },
      ),
  );
}

/** out[j] = alpha * T[j], j < m */
function emitScaleCopy(f: Fn, tq: number, orow: number, m4: number, m: number, j: number, alpha: number) {
  f.forRange(j, 0, m4, 4, () => {
    f.get(orow).get(j).i32(4).op(OP.i32Mul).op(OP.i32Add);
    f.get(tq).get(j).i32(4).op(OP.i32Mul).op(OP.i32Add).vLoad();
    f.get(alpha).simd(SIMD.f32x4Splat).simd(SIMD.f32x4Mul).vStore();
  });
  f.forRange(
    j,
    () => f.get(m4),
    m,
    1,
    () => {
      f.get(orow).get(j).i32(4).op(OP.i32Mul).op(OP.i32Add);
      f.get(tq).get(j).i32(4).op(OP.i32Mul).op(OP.i32Add).f32Load();
      f.get(alpha).op(OP.f32Mul).f32Store();
    },
  );
}

interface SoftmaxLocals {
  tq: number;
  orow: number;
  brow: number;
  mrow: number;
  m: number;
  m4: number;
  m4up: number;
  j: number;
  alpha: number;
  src: number;
  vx: number;
  vacc: number;
  vfx: number;
  vr: number;
  vp: number;
  vs: number;
  sx: number;
  sacc: number;
  sx2: number;
  pt: number;
  pb: number;
  pm: number;
  po: number;
  pend: number;
  vscale: number;
}

/** One softmax row: T = scale*T + bias + mask (j < m); max; exp; sum; out = e * (1 / sum). */
function emitSoftmaxRow(f: Fn, l: SoftmaxLocals) {
  const { tq, orow, brow, mrow, m, m4, m4up, alpha, vx, vacc, vfx, vr, vp, vs, sx, sacc, sx2 } = l;
  const { pt, pb, pm, po, pend, vscale } = l;
  const bump =
    (...ptrs: number[]) =>
    (step: number) => {
      for (const p of ptrs) f.inc(p, step);
    };
  const endAt = (count: number) => f.get(tq).get(count).i32(4).op(OP.i32Mul).op(OP.i32Add).set(pend);
  f.get(alpha).simd(SIMD.f32x4Splat).set(vscale);
  // pass 1: logits = scale * T + bias + mask (in place) and their running max
  f.vConst(Number.NEGATIVE_INFINITY).set(vacc);
  f.get(tq).set(pt);
  f.get(brow).set(pb);
  f.get(mrow).set(pm);
  endAt(m4);
  f.whileLt(pt, pend, () => {
    f.get(pt);
    f.get(pt).vLoad().get(vscale).simd(SIMD.f32x4Mul);
    f.get(pb).vLoad().simd(SIMD.f32x4Add);
    f.get(pm).vLoad().simd(SIMD.f32x4Add).tee(vx).vStore();
    f.get(vacc).get(vx).simd(SIMD.f32x4Max).set(vacc);
    bump(pt, pb, pm)(16);
  });
  f.f32(Number.NEGATIVE_INFINITY).set(sacc);
  endAt(m);
  f.whileLt(pt, pend, () => {
    f.get(pt);
    f.get(pt).f32Load().get(alpha).op(OP.f32Mul);
    f.get(pb).f32Load().op(OP.f32Add);
    f.get(pm).f32Load().op(OP.f32Add).tee(sx).f32Store();
    f.get(sacc).get(sx).op(OP.f32Max).set(sacc);
    bump(pt, pb, pm)(4);
  });
  // padding lanes m..m4up: -inf (exp -> 0)
  endAt(m4up);
  f.whileLt(pt, pend, () => {
    f.get(pt).f32(Number.NEGATIVE_INFINITY).f32Store();
    f.inc(pt, 4);
  });
  f.get(sacc);
  f.hReduce(vacc, OP.f32Max);
  f.op(OP.f32Max).simd(SIMD.f32x4Splat).set(vs);
  // pass 2: e = exp(x - max) in place, and their sum
  f.vConst(0).set(vacc);
  f.get(tq).set(pt);
  f.whileLt(pt, pend, () => {
    f.get(pt).vLoad().get(vs).simd(SIMD.f32x4Sub).set(vx);
    f.get(pt);
    emitExp(f, vx, vfx, vr, vp);
    f.tee(vx).vStore();
    f.get(vacc).get(vx).simd(SIMD.f32x4Add).set(vacc);
    f.inc(pt, 16);
  });
  f.hReduce(vacc, OP.f32Add);
  f.set(sx);
  f.f32(1).get(sx).op(OP.f32Div).tee(sx).simd(SIMD.f32x4Splat).set(vs);
  // pass 3: out = e * (1 / sum), results below FLT_MIN flushed to 0
  f.get(tq).set(pt);
  f.get(orow).set(po);
  endAt(m4);
  f.whileLt(pt, pend, () => {
    f.get(po);
    f.get(pt).vLoad().get(vs).simd(SIMD.f32x4Mul).tee(vx);
    f.get(vx).vConst(FLT_MIN).simd(SIMD.f32x4Lt).simd(SIMD.v128AndNot).vStore();
    bump(pt, po)(16);
  });
  endAt(m);
  f.whileLt(pt, pend, () => {
    f.get(po);
    f.get(pt).f32Load().get(sx).op(OP.f32Mul).set(sx2);
    f.f32(0).get(sx2).get(sx2).f32(FLT_MIN).op(OP.f32Lt).op(OP.select).f32Store();
    bump(pt, po)(4);
  });
}

/** One row of the softmax backward: s = sum_j P dP; out = P * (dP - s). T holds dP. */
function emitSoftmaxBackwardRow(
  f: Fn,
  l: {
    tq: number;
    orow: number;
    prow: number;
    brow: number;
    mrow: number;
    m: number;
    m4: number;
    j: number;
    src: number;
    vx: number;
    vacc: number;
    vs: number;
    sx: number;
    sacc: number;
    stot: number;
  },
) {
  const { tq, orow, prow, brow, mrow, m, m4, j, vx, vacc, vs, sx, sacc, stot } = l;
  const addr = (base: number) => f.get(base).get(j).i32(4).op(OP.i32Mul).op(OP.i32Add);
  f.vConst(0).set(vacc);
  f.forRange(j, 0, m4, 4, () => {
    f.get(vacc);
    addr(prow).vLoad();
    addr(tq).vLoad().simd(SIMD.f32x4Mul).simd(SIMD.f32x4Add).set(vacc);
  });
  f.f32(0).set(sacc);
  f.forRange(
    j,
    () => f.get(m4),
    m,
    1,
    () => {
      f.get(sacc);
      addr(prow).f32Load();
      addr(tq).f32Load().op(OP.f32Mul).op(OP.f32Add).set(sacc);
    },
  );
  f.hReduce(vacc, OP.f32Add);
  f.get(sacc).op(OP.f32Add).tee(stot).simd(SIMD.f32x4Splat).set(vs);
  // dS = P (dP - s), also accumulated into the dBias and dMask rows of this group
  f.forRange(j, 0, m4, 4, () => {
    addr(orow);
    addr(prow).vLoad();
    addr(tq).vLoad().get(vs).simd(SIMD.f32x4Sub).simd(SIMD.f32x4Mul).tee(vx).vStore();
    addr(brow).tee(l.src);
    f.get(l.src).vLoad().get(vx).simd(SIMD.f32x4Add).vStore();
    addr(mrow).tee(l.src);
    f.get(l.src).vLoad().get(vx).simd(SIMD.f32x4Add).vStore();
  });
  f.forRange(
    j,
    () => f.get(m4),
    m,
    1,
    () => {
      addr(orow);
      addr(prow).f32Load();
      addr(tq).f32Load().get(stot).op(OP.f32Sub).op(OP.f32Mul).tee(sx).f32Store();
      addr(brow).tee(l.src);
      f.get(l.src).f32Load().get(sx).op(OP.f32Add).f32Store();
      addr(mrow).tee(l.src);
      f.get(l.src).f32Load().get(sx).op(OP.f32Add).f32Store();
    },
  );
}

/** @internal The generated kernel module's bytes (for tests and inspection). */
export function attentionKernelModuleBytes(sharedMemory = false): Uint8Array<ArrayBuffer> {
  return kernelModule.moduleBytes(sharedMemory);
}

/**
 * Opt-in, global: replaces tfjs-wasm's `BatchMatMul` kernel so that batched (batch > 1) and transposed
 * float32 products run in this module's SIMD kernel (transposes are read strided, for free), including
 * the ones inside tfjs's own gradients; batch-1 untransposed products keep going to XNNPACK. Broadcasts
 * other than "same batch" or "one side has batch 1" also keep the original kernel. Needs the wasm
 * backend registered and WebAssembly SIMD. Returns a function that restores the original kernel.
 */
export function useFastWasmBatchMatMul(): () => void {
  const orig = tf.getKernel('BatchMatMul', 'wasm');
  if (!orig) throw new Error('useFastWasmBatchMatMul: no BatchMatMul kernel registered for the wasm backend');
  if (!kernelModule.simdSupported())
    throw new Error('useFastWasmBatchMatMul: this WebAssembly engine has no SIMD');
  const kernelFunc: tf.KernelFunc = (args) => {
    const { a, b } = args.inputs as { a: tf.TensorInfo; b: tf.TensorInfo };
    const { transposeA, transposeB } = args.attrs as { transposeA: boolean; transposeB: boolean };
    const ra = a.shape.length;
    const rb = b.shape.length;
    const outerA = a.shape.slice(0, -2);
    const outerB = b.shape.slice(0, -2);
    const Ga = outerA.reduce((x, y) => x * y, 1);
    const Gb = outerB.reduce((x, y) => x * y, 1);
    const sameOuter = outerA.length === outerB.length && outerA.every((d, i) => d === outerB[i]);
    const simple = sameOuter || Ga === 1 || Gb === 1;
    const [a1, a2] = a.shape.slice(-2);
    const [b1, b2] = b.shape.slice(-2);
    const n = transposeA ? a2 : a1;
    const k = transposeA ? a1 : a2;
    const m = transposeB ? b1 : b2;
    const plain = !transposeA && !transposeB && Ga === 1 && Gb === 1;
    if (
      plain ||
      !simple ||
      a.dtype !== 'float32' ||
      b.dtype !== 'float32' ||
      n * k * m === 0 ||
      ra < 2 ||
      rb < 2
    ) {
      return orig.kernelFunc(args);
    }
    const G = Math.max(Ga, Gb);
    const attrs: SmallGemmAttrs = {
      kind: 'bmm',
      G,
      n,
      k,
      m,
      sAg: Ga === 1 ? 0 : a1 * a2,
      sAr: transposeA ? 1 : a2,
      sAc: transposeA ? a2 : 1,
      sBg: Gb === 1 ? 0 : b1 * b2,
      sBr: transposeB ? 1 : b2,
      sBc: transposeB ? b2 : 1,
      alpha: 1,
      nB: 1,
      sBiasG: 0,
      sBiasR: 0,
      nMk: 1,
      heads: 1,
      sMaskG: 0,
      sMaskR: 0,
      biasGrad: false,
      maskGrad: false,
    };
    const out = wasmKernel({
      inputs: { a, b },
      backend: args.backend,
      attrs: attrs as unknown as tf.NamedAttrMap,
    });
    const info = (Array.isArray(out) ? out[0] : out) as { shape: number[] };
    info.shape = [...tf.broadcast_util.assertAndGetBroadcastShape(outerA, outerB), n, m];
    return info as tf.TensorInfo;
  };
  tf.unregisterKernel('BatchMatMul', 'wasm');
  tf.registerKernel({ ...orig, kernelFunc });
  return () => {
    tf.unregisterKernel('BatchMatMul', 'wasm');
    tf.registerKernel(orig);
  };
}
