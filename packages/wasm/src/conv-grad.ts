import { SWIN_CONV_SUBFILTER, SWIN_DEPTHWISE_FILTER_GRAD, SWIN_IM2COL } from '@swin/nn';
import type * as tf from '@tensorflow/tfjs-core';
import type { CpuBackendLike, WasmBackendLike } from './asm.js';
import { BumpHeap, Fn, I32, KernelModule, OP, SIMD, V128, wasmMemoryOf } from './asm.js';

/**
 * Convolution-gradient kernels of `@swin/nn`'s `conv2d` / `depthwiseConv2d` (training on tfjs-wasm, which
 * has no Conv2DBackpropFilter / depthwise backprop kernels, and whose Slice copies its whole input):
 *
 * - {@link SWIN_DEPTHWISE_FILTER_GRAD}: `dw[i, j, c] = sum_{b,h,w} x[b, h + i, w + j, c] dy[b, h, w, c]` as a
 *   generated WebAssembly SIMD loop (16 channels per pass, accumulators in registers).
 * - {@link SWIN_IM2COL}: the patch matrix `[B*Ho*Wo, kh*kw*C]` of a strided 'valid' window (row copies in
 *   JavaScript on the heap), so that the conv filter gradient is one XNNPACK matMul.
 * - {@link SWIN_CONV_SUBFILTER}: the rotated, in/out-swapped sub-filters of the strided input gradient
 *   (tfjs-wasm's StridedSlice / Reverse / Gather are scalar loops).
 */

// ============================================================================================
// Depthwise filter gradient (generated SIMD)
// ============================================================================================

/**
 * `dwfg<V>(x, dy, dw, B, Hp, Wp, C, Ho, Wo, kh, kw, c0, c1)` (byte offsets, then sizes): adds to
 * `dw[(i kw + j) C + c]` the sums over `b, h, w` of `x[b, h + i, w + j, c] * dy[b, h, w, c]` for the channels
 * `c0 <= c < c1` in steps of `4 V` (c1 - c0 a multiple of 4 V).
 */
function genDepthwiseFilterGrad(V: number): Fn {
  const f = new Fn(`dwfg${V}`, new Array(13).fill(I32));
  const [x, dy, dw, B, Hp, Wp, C, Ho, Wo, kh, kw, c0, c1] = Array.from({ length: 13 }, (_, i) => i);
  const [pix, rowX, rowDy, b, i, j, c, h, xb, dyb, xr, px, pd, endD, pw] = Array.from({ length: 15 }, () =>
    f.local(I32),
  );
  const acc = Array.from({ length: V }, () => f.local(V128));
  f.get(C).i32(4).op(OP.i32Mul).set(pix);
  f.get(Wp).get(pix).op(OP.i32Mul).set(rowX);
  f.get(Wo).get(pix).op(OP.i32Mul).set(rowDy);
  f.forCount(b, B, () => {
    f.get(x).get(b).get(Hp).op(OP.i32Mul).get(rowX).op(OP.i32Mul, OP.i32Add).set(xb);
    f.get(dy).get(b).get(Ho).op(OP.i32Mul).get(rowDy).op(OP.i32Mul, OP.i32Add).set(dyb);
    f.forCount(i, kh, () => {
      f.forCount(j, kw, () => {
        f.forRange(
          c,
          () => f.get(c0),
          c1,
          4 * V,
          () => {
            for (const a of acc) f.vConst(0).set(a);
            // xr = xb + i rowX + j pix + 4c ; pd = dyb + 4c
            f.get(xb).get(i).get(rowX).op(OP.i32Mul, OP.i32Add).get(j).get(pix).op(OP.i32Mul, OP.i32Add);
            f.get(c).i32(4).op(OP.i32Mul, OP.i32Add).set(xr);
            f.get(dyb).get(c).i32(4).op(OP.i32Mul, OP.i32Add).set(pd);
            f.forCount(h, Ho, () => {
              f.get(xr).set(px);
              f.get(pd).get(rowDy).op(OP.i32Add).set(endD);
              f.whileLt(pd, endD, () => {
                for (let v = 0; v < V; v++) {
                  f.get(acc[v])
                    .get(px)
                    .vLoad(16 * v)
                    .get(pd)
                    .vLoad(16 * v)
                    .simd(SIMD.f32x4Mul);
                  f.simd(SIMD.f32x4Add).set(acc[v]);
                }
                f.inc(px, () => f.get(pix));
                f.inc(pd, () => f.get(pix));
              });
              f.inc(xr, () => f.get(rowX));
            });
            // pw = dw + 4 ((i kw + j) C + c)
            f.get(dw).get(i).get(kw).op(OP.i32Mul).get(j).op(OP.i32Add).get(C).op(OP.i32Mul);
            f.get(c).op(OP.i32Add).i32(4).op(OP.i32Mul, OP.i32Add).set(pw);
            for (let v = 0; v < V; v++) {
              f.get(pw)
                .get(pw)
                .vLoad(16 * v)
                .get(acc[v])
                .simd(SIMD.f32x4Add)
                .vStore(16 * v);
            }
          },
        );
      });
    });
  });
  return f;
}

interface Exports {
  dwfg4(...args: number[]): void;
  dwfg1(...args: number[]): void;
}

const kernelModule = new KernelModule<Exports>(() => [genDepthwiseFilterGrad(4), genDepthwiseFilterGrad(1)]);

/** The depthwise filter-gradient module's bytes (plain or shared memory). */
export function convGradModuleBytes(sharedMemory = false): Uint8Array<ArrayBuffer> {
  return kernelModule.moduleBytes(sharedMemory);
}

/** Whether this engine validates the module (WebAssembly SIMD). */
export function convGradSupported(): boolean {
  return kernelModule.simdSupported();
}

/** Runs the depthwise filter gradient on byte offsets (dw zeroed by the caller). */
function runDepthwiseFilterGrad(
  ex: Exports,
  [x, dy, dw]: number[],
  [B, Hp, Wp, C]: number[],
  [Ho, Wo]: number[],
  kh: number,
  kw: number,
): void {
  const c16 = C - (C % 16);
  if (c16 > 0) ex.dwfg4(x, dy, dw, B, Hp, Wp, C, Ho, Wo, kh, kw, 0, c16);
  if (c16 < C) ex.dwfg1(x, dy, dw, B, Hp, Wp, C, Ho, Wo, kh, kw, c16, C);
}

// ============================================================================================
// im2col (row copies in JavaScript)
// ============================================================================================

/** Attributes of {@link SWIN_IM2COL}. */
interface Im2ColAttrs {
  kh: number;
  kw: number;
  sh: number;
  sw: number;
  Ho: number;
  Wo: number;
}

/**
 * `dst[(b Ho + o) Wo + o', (i kw + j) C + c] = src[b, o sh + i, o' sw + j, c]`: for stride 1 in width one
 * copy per (output row, tap) of `Wo` pixels is not possible (the taps interleave), so one copy of `C` floats
 * per (pixel, tap), or an element loop for small C.
 */
function im2col(src: Float32Array, dst: Float32Array, [B, H, W, C]: number[], a: Im2ColAttrs): void {
  const { kh, kw, sh, sw, Ho, Wo } = a;
  const K = kh * kw * C;
  let o = 0;
  for (let b = 0; b < B; b++)
    for (let y = 0; y < Ho; y++)
      for (let xo = 0; xo < Wo; xo++) {
        for (let i = 0; i < kh; i++) {
          const row = (b * H + y * sh + i) * W + xo * sw;
          const s = row * C;
          const n = kw * C; // the kw taps of one kernel row are contiguous in the source
          if (n >= 32) dst.set(src.subarray(s, s + n), o);
          else for (let t = 0; t < n; t++) dst[o + t] = src[s + t];
          o += n;
        }
      }
  if (o !== B * Ho * Wo * K) throw new Error(`${SWIN_IM2COL}: internal size mismatch`);
}

// ============================================================================================
// Rotated sub-filters (JavaScript block transposes)
// ============================================================================================

interface SubFilterAttrs {
  r: number;
  c: number;
  sh: number;
  sw: number;
}

function subFilterShape([kh, kw, cin, cout]: number[], a: SubFilterAttrs): number[] {
  return [Math.ceil((kh - a.r) / a.sh), Math.ceil((kw - a.c) / a.sw), cout, cin];
}

/** `dst[a, b, o, i] = src[r + (ka - 1 - a) sh, c + (kb - 1 - b) sw, i, o]` */
function subFilter(src: Float32Array, dst: Float32Array, shape: number[], a: SubFilterAttrs): void {
  const [, kw, cin, cout] = shape;
  const [ka, kb] = subFilterShape(shape, a);
  const block = cin * cout;
  let o = 0;
  for (let p = 0; p < ka; p++)
    for (let q = 0; q < kb; q++) {
      const s0 = ((a.r + (ka - 1 - p) * a.sh) * kw + a.c + (kb - 1 - q) * a.sw) * block;
      // [cin, cout] -> [cout, cin]
      for (let co = 0; co < cout; co++) {
        let s = s0 + co;
        for (let ci = 0; ci < cin; ci++, s += cout) dst[o++] = src[s];
      }
    }
}

// ============================================================================================
// tfjs glue
// ============================================================================================

type KernelArgs = { inputs: tf.NamedTensorInfoMap; backend: unknown; attrs?: tf.NamedAttrMap };

function input(args: KernelArgs, kernel: string, n: string): tf.TensorInfo {
  const t = args.inputs[n];
  if (!t) throw new Error(`${kernel}: missing input '${n}'`);
  if (t.dtype !== 'float32') throw new Error(`${kernel}: input '${n}' must be float32, got ${t.dtype}`);
  return t;
}

function dwShapes(args: KernelArgs) {
  const x = input(args, SWIN_DEPTHWISE_FILTER_GRAD, 'x');
  const dy = input(args, SWIN_DEPTHWISE_FILTER_GRAD, 'dy');
  const { kh, kw } = (args.attrs ?? {}) as unknown as { kh: number; kw: number };
  const [B, Hp, Wp, C] = x.shape;
  const [B2, Ho, Wo, C2] = dy.shape;
  if (B2 !== B || C2 !== C || Ho !== Hp - kh + 1 || Wo !== Wp - kw + 1 || C % 4 !== 0) {
    throw new Error(
      `${SWIN_DEPTHWISE_FILTER_GRAD}: x [${x.shape}] and dy [${dy.shape}] do not fit a ${kh}x${kw} filter (C % 4 == 0)`,
    );
  }
  return { x, dy, kh, kw, xs: [B, Hp, Wp, C], ys: [Ho, Wo], out: [kh, kw, C, 1] };
}

function im2colShapes(args: KernelArgs) {
  const x = input(args, SWIN_IM2COL, 'x');
  const a = (args.attrs ?? {}) as unknown as Im2ColAttrs;
  const [B, H, W, C] = x.shape;
  if ((a.Ho - 1) * a.sh + a.kh > H || (a.Wo - 1) * a.sw + a.kw > W) {
    throw new Error(
      `${SWIN_IM2COL}: a ${a.kh}x${a.kw} window does not fit x [${x.shape}] for ${a.Ho}x${a.Wo}`,
    );
  }
  return { src: x, a, out: [B * a.Ho * a.Wo, a.kh * a.kw * C] };
}

const sizeOf = (shape: number[]) => shape.reduce((p, q) => p * q, 1);

interface WasmHeapBackend extends WasmBackendLike {
  typedArrayFromHeap(t: tf.TensorInfo): tf.TypedArray;
}

function wasmDepthwise(args: KernelArgs): tf.TensorInfo {
  const be = args.backend as WasmBackendLike;
  const memory = wasmMemoryOf(be);
  if (!memory)
    throw new Error(`${SWIN_DEPTHWISE_FILTER_GRAD}: the wasm backend exposes no WebAssembly.Memory`);
  const s = dwShapes(args);
  const ex = kernelModule.forWasm(be, memory);
  const out = be.makeOutput(s.out, 'float32');
  const off = (t: tf.TensorInfo) => be.dataIdMap.get(t.dataId).memoryOffset;
  new Float32Array(memory.buffer, off(out), sizeOf(s.out)).fill(0);
  runDepthwiseFilterGrad(ex, [off(s.x), off(s.dy), off(out)], s.xs, s.ys, s.kh, s.kw);
  return out;
}

function cpuDepthwise(args: KernelArgs): tf.TensorInfo {
  const be = args.backend as CpuBackendLike;
  const s = dwShapes(args);
  const { memory, ex } = kernelModule.forCpu();
  const xv = be.readSync(s.x.dataId) as Float32Array;
  const dyv = be.readSync(s.dy.dataId) as Float32Array;
  const bump = new BumpHeap();
  const [px, pd, pw] = [bump.alloc(xv.length), bump.alloc(dyv.length), bump.alloc(sizeOf(s.out))];
  bump.ensure(memory);
  const heap = new Float32Array(memory.buffer);
  heap.set(xv, px >> 2);
  heap.set(dyv, pd >> 2);
  heap.fill(0, pw >> 2, (pw >> 2) + sizeOf(s.out));
  runDepthwiseFilterGrad(ex, [px, pd, pw], s.xs, s.ys, s.kh, s.kw);
  const values = new Float32Array(memory.buffer, pw, sizeOf(s.out)).slice();
  return be.makeTensorInfo(s.out, 'float32', values);
}

/**
 * The two plain-JavaScript copy kernels for 'wasm' (in place on the heap) and 'cpu': `parse` checks the input
 * and gives the output shape, `copy(src, dst, shape, attrs)` fills the output.
 */
function copyKernels<A>(
  kernelName: string,
  parse: (args: KernelArgs) => { src: tf.TensorInfo; a: A; out: number[] },
  copy: (src: Float32Array, dst: Float32Array, shape: number[], a: A) => void,
): tf.KernelConfig[] {
  const onWasm = (args: KernelArgs): tf.TensorInfo => {
    const be = args.backend as WasmHeapBackend;
    const s = parse(args);
    const out = be.makeOutput(s.out, 'float32');
    // views after the allocation (it may grow the memory)
    copy(
      be.typedArrayFromHeap(s.src) as Float32Array,
      be.typedArrayFromHeap(out) as Float32Array,
      s.src.shape,
      s.a,
    );
    return out;
  };
  const onCpu = (args: KernelArgs): tf.TensorInfo => {
    const be = args.backend as CpuBackendLike;
    const s = parse(args);
    const dst = new Float32Array(sizeOf(s.out));
    copy(be.readSync(s.src.dataId) as Float32Array, dst, s.src.shape, s.a);
    return be.makeTensorInfo(s.out, 'float32', dst);
  };
  return [
    { kernelName, backendName: 'wasm', kernelFunc: onWasm as unknown as tf.KernelFunc },
    { kernelName, backendName: 'cpu', kernelFunc: onCpu as unknown as tf.KernelFunc },
  ];
}

function subFilterArgs(args: KernelArgs) {
  const w = input(args, SWIN_CONV_SUBFILTER, 'w');
  const a = (args.attrs ?? {}) as unknown as SubFilterAttrs;
  const ok =
    [a.r, a.c, a.sh, a.sw].every(Number.isInteger) && a.r >= 0 && a.c >= 0 && a.r < a.sh && a.c < a.sw;
  if (w.shape.length !== 4 || !ok || a.r >= w.shape[0] || a.c >= w.shape[1]) {
    throw new Error(`${SWIN_CONV_SUBFILTER}: bad attrs ${JSON.stringify(a)} for w [${w.shape}]`);
  }
  return { src: w, a, out: subFilterShape(w.shape, a) };
}

/** {@link SWIN_DEPTHWISE_FILTER_GRAD} (SIMD) for 'wasm' and 'cpu'. */
export const DEPTHWISE_GRAD_KERNELS: readonly tf.KernelConfig[] = [
  {
    kernelName: SWIN_DEPTHWISE_FILTER_GRAD,
    backendName: 'wasm',
    kernelFunc: wasmDepthwise as unknown as tf.KernelFunc,
  },
  {
    kernelName: SWIN_DEPTHWISE_FILTER_GRAD,
    backendName: 'cpu',
    kernelFunc: cpuDepthwise as unknown as tf.KernelFunc,
  },
];

/** {@link SWIN_IM2COL} and {@link SWIN_CONV_SUBFILTER} (plain JavaScript) for 'wasm' and 'cpu'. */
export const IM2COL_KERNELS: readonly tf.KernelConfig[] = [
  ...copyKernels(SWIN_CONV_SUBFILTER, subFilterArgs, subFilter),
  ...copyKernels(SWIN_IM2COL, im2colShapes, im2col),
];
