import { SWIN_ADAM } from '@swin/nn';
import type * as tf from '@tensorflow/tfjs-core';
import type { CpuBackendLike, WasmBackendLike } from './asm.js';
import { BumpHeap, F32, Fn, I32, KernelModule, OP, SIMD, V128, wasmMemoryOf } from './asm.js';

/**
 * The fused Adam step behind `adam()` / `Adam` of `@swin/nn` ({@link SWIN_ADAM}) on the wasm and cpu backends.
 *
 * Why: tfjs's Adam update is ~14 elementwise kernels per variable (each a pass over memory and a dispatch);
 * here it is one streaming pass that reads param, grad, m, v and writes param', m', v' (4 floats a lane).
 *
 * Exactness: the same float32 operations as tfjs-core 4.22's `AdamOptimizer` in the same order, with the
 * same float32 constants (`fl(beta1)`, `fl(1 - beta1)`, `fl(-lr)`, ...); WebAssembly's f32x4 add, mul, div
 * and sqrt are correctly rounded IEEE operations, so the results equal tfjs's where its kernels are also
 * correctly rounded (cpu: exactly, tested). The last `n % 4` floats run the same formula in JavaScript with
 * `Math.fround` after every operation (exact float32 emulation).
 *
 * The module is generated at run time, imports the tfjs-wasm backend's `WebAssembly.Memory` and works on its
 * heap in place (outputs are new tensors; inputs are only read); on the cpu backend it runs on a private memory.
 * It runs on one thread (the update is memory-bound and small next to the backward pass).
 */

/** f32 constants of one step, in the order the generated function takes them. */
interface AdamConsts {
  b1: number;
  k1: number;
  b2: number;
  k2: number;
  c1: number;
  c2: number;
  eps: number;
  nlr: number;
}

/**
 * adam(p, g, m, v, p2, m2, v2, n4, b1, k1, b2, k2, c1, c2, eps, nlr) on n4 blocks of 4 floats (byte offsets):
 * m2 = m b1 + g k1; v2 = v b2 + (g g) k2; p2 = ((m2 / c1) / (sqrt(v2 / c2) + eps)) nlr + p.
 */
function genAdam(): Fn {
  const f = new Fn('adam', [I32, I32, I32, I32, I32, I32, I32, I32, F32, F32, F32, F32, F32, F32, F32, F32]);
  const [pp, pg, pm, pv, op, om, ov, n4] = [0, 1, 2, 3, 4, 5, 6, 7];
  const scalars = [8, 9, 10, 11, 12, 13, 14, 15];
  const end = f.local(I32);
  const [B1, K1, B2, K2, C1, C2, EPS, NLR] = scalars.map(() => f.local(V128));
  const [g, m2, v2] = [0, 0, 0].map(() => f.local(V128));
  scalars.forEach((s, i) => {
    f.get(s).simd(SIMD.f32x4Splat).set([B1, K1, B2, K2, C1, C2, EPS, NLR][i]);
  });
  f.get(pp).get(n4).i32(16).op(OP.i32Mul).op(OP.i32Add).set(end);
  f.whileLt(pp, end, () => {
    f.get(pg).vLoad().set(g);
    // m2 = m b1 + g k1
    f.get(pm)
      .vLoad()
      .get(B1)
      .simd(SIMD.f32x4Mul)
      .get(g)
      .get(K1)
      .simd(SIMD.f32x4Mul)
      .simd(SIMD.f32x4Add)
      .set(m2);
    // v2 = v b2 + (g g) k2
    f.get(pv).vLoad().get(B2).simd(SIMD.f32x4Mul);
    f.get(g).get(g).simd(SIMD.f32x4Mul).get(K2).simd(SIMD.f32x4Mul).simd(SIMD.f32x4Add).set(v2);
    f.get(om).get(m2).vStore();
    f.get(ov).get(v2).vStore();
    // p2 = ((m2 / c1) / (sqrt(v2 / c2) + eps)) nlr + p
    f.get(op);
    f.get(m2).get(C1).simd(SIMD.f32x4Div);
    f.get(v2).get(C2).simd(SIMD.f32x4Div).simd(SIMD.f32x4Sqrt).get(EPS).simd(SIMD.f32x4Add);
    f.simd(SIMD.f32x4Div).get(NLR).simd(SIMD.f32x4Mul).get(pp).vLoad().simd(SIMD.f32x4Add).vStore();
    f.inc(pp, 16).inc(pg, 16).inc(pm, 16).inc(pv, 16).inc(op, 16).inc(om, 16).inc(ov, 16);
  });
  return f;
}

interface Exports {
  adam(...args: number[]): void;
}

const kernelModule = new KernelModule<Exports>(() => [genAdam()]);

/** @internal The generated module (for tests). */
export function adamModuleBytes(sharedMemory = false): Uint8Array<ArrayBuffer> {
  return kernelModule.moduleBytes(sharedMemory);
}

function constsOf(attrs: Record<string, number>): AdamConsts {
  for (const k of ['lr', 'beta1', 'beta2', 'eps', 'c1', 'c2']) {
    if (typeof attrs[k] !== 'number') throw new Error(`${SWIN_ADAM}: missing number attr '${k}'`);
  }
  const fr = Math.fround;
  // the scalars tfjs makes of `beta1`, `1 - beta1`, ... (doubles rounded to float32)
  return {
    b1: fr(attrs.beta1),
    k1: fr(1 - attrs.beta1),
    b2: fr(attrs.beta2),
    k2: fr(1 - attrs.beta2),
    c1: fr(attrs.c1),
    c2: fr(attrs.c2),
    eps: fr(attrs.eps),
    nlr: fr(-attrs.lr),
  };
}

/** The same step on floats `from..to` of the heap views, in JavaScript (float32 after every operation). */
function adamTail(
  k: AdamConsts,
  [p, g, m, v]: Float32Array[],
  [p2, m2, v2]: Float32Array[],
  from: number,
  to: number,
): void {
  const fr = Math.fround;
  for (let i = from; i < to; i++) {
    const gi = g[i];
    const mi = fr(fr(m[i] * k.b1) + fr(gi * k.k1));
    const vi = fr(fr(v[i] * k.b2) + fr(fr(gi * gi) * k.k2));
    m2[i] = mi;
    v2[i] = vi;
    p2[i] = fr(fr(fr(fr(mi / k.c1) / fr(fr(Math.sqrt(fr(vi / k.c2))) + k.eps)) * k.nlr) + p[i]);
  }
}

const INPUTS = ['param', 'grad', 'm', 'v'] as const;

type KernelArgs = { inputs: tf.NamedTensorInfoMap; backend: unknown; attrs?: tf.NamedAttrMap };

function inputsOf(args: KernelArgs): tf.TensorInfo[] {
  const ins = INPUTS.map((n) => {
    const t = args.inputs[n];
    if (!t) throw new Error(`${SWIN_ADAM}: missing input '${n}'`);
    if (t.dtype !== 'float32') throw new Error(`${SWIN_ADAM}: input '${n}' must be float32, got ${t.dtype}`);
    return t;
  });
  const shape = ins[0].shape;
  for (const [i, t] of ins.entries()) {
    if (t.shape.length !== shape.length || t.shape.some((d, j) => d !== shape[j])) {
      throw new Error(`${SWIN_ADAM}: input '${INPUTS[i]}' has shape [${t.shape}], param [${shape}]`);
    }
  }
  return ins;
}

const sizeOf = (shape: number[]) => shape.reduce((a, b) => a * b, 1);

function run(ex: Exports, k: AdamConsts, ins: number[], outs: number[], n: number, heap: () => Float32Array) {
  const n4 = n >> 2;
  if (n4 > 0) ex.adam(...ins, ...outs, n4, k.b1, k.k1, k.b2, k.k2, k.c1, k.c2, k.eps, k.nlr);
  if (n > 4 * n4) {
    const h = heap();
    const view = (off: number) => h.subarray(off >> 2, (off >> 2) + n);
    adamTail(k, ins.map(view), outs.map(view), 4 * n4, n);
  }
}

function wasmKernel(args: KernelArgs): tf.TensorInfo[] {
  const be = args.backend as WasmBackendLike;
  const memory = wasmMemoryOf(be);
  if (!memory) throw new Error(`${SWIN_ADAM}: the wasm backend exposes no WebAssembly.Memory`);
  const ins = inputsOf(args);
  const k = constsOf((args.attrs ?? {}) as Record<string, number>);
  const ex = kernelModule.forWasm(be, memory);
  const outs = [0, 1, 2].map(() => be.makeOutput(ins[0].shape, 'float32'));
  const off = (t: tf.TensorInfo) => be.dataIdMap.get(t.dataId).memoryOffset;
  run(ex, k, ins.map(off), outs.map(off), sizeOf(ins[0].shape), () => new Float32Array(memory.buffer));
  return outs;
}

function cpuKernel(args: KernelArgs): tf.TensorInfo[] {
  const be = args.backend as CpuBackendLike;
  const ins = inputsOf(args);
  const k = constsOf((args.attrs ?? {}) as Record<string, number>);
  const { memory, ex } = kernelModule.forCpu();
  const n = sizeOf(ins[0].shape);
  const values = ins.map((t) => be.readSync(t.dataId) as Float32Array);
  const bump = new BumpHeap();
  const inOffs = values.map(() => bump.alloc(n));
  const outOffs = [0, 1, 2].map(() => bump.alloc(n));
  bump.ensure(memory);
  const heap = new Float32Array(memory.buffer);
  values.forEach((v, i) => {
    heap.set(v, inOffs[i] >> 2);
  });
  run(ex, k, inOffs, outOffs, n, () => new Float32Array(memory.buffer));
  return outOffs.map((o) =>
    be.makeTensorInfo(ins[0].shape, 'float32', new Float32Array(memory.buffer, o, n).slice()),
  );
}

/** {@link SWIN_ADAM} for 'wasm' (in place on the backend's heap) and 'cpu' (private memory). */
export const ADAM_KERNELS: readonly tf.KernelConfig[] = [
  { kernelName: SWIN_ADAM, backendName: 'wasm', kernelFunc: wasmKernel as unknown as tf.KernelFunc },
  { kernelName: SWIN_ADAM, backendName: 'cpu', kernelFunc: cpuKernel as unknown as tf.KernelFunc },
];

/** Whether this engine validates the Adam module (WebAssembly SIMD). */
export function adamSupported(): boolean {
  return kernelModule.simdSupported();
}
