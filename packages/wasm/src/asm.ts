import type * as tf from '@tensorflow/tfjs-core';

/**
 * A tiny run-time WebAssembly assembler (function builder, LEB128 encoders, core and SIMD opcode
 * tables, module assembly) and the glue that instantiates a generated kernel module against the
 * tfjs-wasm backend's `WebAssembly.Memory` (in place on its heap) or a private memory (cpu backend).
 * Shared by the GEMM / attention kernels (gemm.ts) and the fused elementwise kernels (elementwise.ts).
 *
 * @internal
 */

// ============================================================================================
// Encoders
// ============================================================================================

/** value types */
export const I32 = 0x7f;
export const F32 = 0x7d;
export const V128 = 0x7b;

/** Appends the unsigned LEB128 encoding of `value` (as u32) to `out`. */
export function uleb(out: number[], value: number): void {
  let n = value >>> 0;
  do {
    let b = n & 0x7f;
    n >>>= 7;
    if (n !== 0) b |= 0x80;
    out.push(b);
  } while (n !== 0);
}

/** Appends the signed LEB128 encoding of `value` (as i32) to `out`. */
export function sleb(out: number[], value: number): void {
  let n = value | 0;
  for (;;) {
    const b = n & 0x7f;
    n >>= 7;
    if ((n === 0 && (b & 0x40) === 0) || (n === -1 && (b & 0x40) !== 0)) {
      out.push(b);
      return;
    }
    out.push(b | 0x80);
  }
}

/** The unsigned LEB128 encoding of `n`. */
export function ulebBytes(n: number): number[] {
  const out: number[] = [];
  uleb(out, n);
  return out;
}

/** Little-endian bytes of a float32 / int32. */
export const f32Bytes = (x: number): number[] => Array.from(new Uint8Array(new Float32Array([x]).buffer));
export const i32Bytes = (x: number): number[] => Array.from(new Uint8Array(new Int32Array([x]).buffer));

// ============================================================================================
// Opcodes
// ============================================================================================

/** core opcodes */
export const OP = {
  block: 0x02,
  loop: 0x03,
  if: 0x04,
  else: 0x05,
  end: 0x0b,
  br: 0x0c,
  brIf: 0x0d,
  select: 0x1b,
  i32Load: 0x28,
  f32Load: 0x2a,
  f32Store: 0x38,
  i32Eqz: 0x45,
  i32Ne: 0x47,
  i32LtS: 0x48,
  i32GeS: 0x4e,
  i32GeU: 0x4f,
  f32Lt: 0x5d,
  i32Add: 0x6a,
  i32Sub: 0x6b,
  i32Mul: 0x6c,
  i32DivU: 0x6e,
  i32RemU: 0x70,
  i32And: 0x71,
  i32Or: 0x72,
  i32Shl: 0x74,
  f32Sqrt: 0x91,
  f32Add: 0x92,
  f32Sub: 0x93,
  f32Mul: 0x94,
  f32Div: 0x95,
  f32Max: 0x97,
} as const;

/** 0xfd-prefixed SIMD opcodes */
export const SIMD = {
  load: 0x00,
  load32Splat: 0x09,
  store: 0x0b,
  const: 0x0c,
  i8x16Shuffle: 0x0d,
  f32x4Splat: 0x13,
  f32x4ExtractLane: 0x1f,
  f32x4Lt: 0x43,
  v128AndNot: 0x4f,
  v128Bitselect: 0x52,
  f32x4Nearest: 0x6a,
  i32x4Shl: 0xab,
  i32x4Add: 0xae,
  f32x4Abs: 0xe0,
  f32x4Neg: 0xe1,
  f32x4Sqrt: 0xe3,
  f32x4Add: 0xe4,
  f32x4Sub: 0xe5,
  f32x4Mul: 0xe6,
  f32x4Div: 0xe7,
  f32x4Min: 0xe8,
  f32x4Max: 0xe9,
  i32x4TruncSatF32x4S: 0xf8,
} as const;

// ============================================================================================
// Function builder
// ============================================================================================

/** One function body under construction (stack-machine code with a few structured helpers). */
export class Fn {
  readonly code: number[] = [];
  private readonly extra: number[] = [];

  constructor(
    readonly name: string,
    readonly params: number[],
  ) {}

  /** A new local of value type `type`; returns its index. */
  local(type: number): number {
    this.extra.push(type);
    return this.params.length + this.extra.length - 1;
  }
  op(...bytes: number[]): this {
    this.code.push(...bytes);
    return this;
  }
  get(i: number): this {
    this.code.push(0x20);
    uleb(this.code, i);
    return this;
  }
  set(i: number): this {
    this.code.push(0x21);
    uleb(this.code, i);
    return this;
  }
  tee(i: number): this {
    this.code.push(0x22);
    uleb(this.code, i);
    return this;
  }
  i32(v: number): this {
    this.code.push(0x41);
    sleb(this.code, v);
    return this;
  }
  f32(v: number): this {
    this.code.push(0x43, ...f32Bytes(v));
    return this;
  }
  /** a 0xfd-prefixed SIMD instruction with its immediates */
  simd(op: number, ...imm: number[]): this {
    this.code.push(0xfd);
    uleb(this.code, op);
    this.code.push(...imm);
    return this;
  }
  /** memarg: alignment exponent + constant offset */
  private mem(align: number, offset: number): number[] {
    const out = [align];
    uleb(out, offset);
    return out;
  }
  /** f32 / v128 loads and stores with a 4-byte alignment hint and a constant byte offset */
  f32Load(offset = 0): this {
    return this.op(OP.f32Load, ...this.mem(2, offset));
  }
  f32Store(offset = 0): this {
    return this.op(OP.f32Store, ...this.mem(2, offset));
  }
  vLoad(offset = 0): this {
    return this.simd(SIMD.load, ...this.mem(2, offset));
  }
  vStore(offset = 0): this {
    return this.simd(SIMD.store, ...this.mem(2, offset));
  }
  vSplatLoad(offset = 0): this {
    return this.simd(SIMD.load32Splat, ...this.mem(2, offset));
  }
  /** f32x4 constant with four equal lanes */
  vConst(x: number): this {
    const b = f32Bytes(x);
    return this.simd(SIMD.const, ...b, ...b, ...b, ...b);
  }
  /** i32x4 constant with four equal lanes */
  iConst4(x: number): this {
    const b = i32Bytes(x);
    return this.simd(SIMD.const, ...b, ...b, ...b, ...b);
  }
  /** local[i] += c (i32) */
  inc(i: number, c: number | (() => void)): this {
    this.get(i);
    if (typeof c === 'number') this.i32(c);
    else c();
    return this.op(OP.i32Add).set(i);
  }
  /** for (i = start; i < end; i += step) body (signed compare). `end` is a local. */
  forRange(
    i: number,
    start: number | (() => void),
    end: number,
    step: number | (() => void),
    body: () => void,
  ): this {
    if (typeof start === 'number') this.i32(start);
    else start();
    this.set(i);
    this.op(OP.block, 0x40, OP.loop, 0x40);
    this.get(i).get(end).op(OP.i32GeS, OP.brIf, 1);
    body();
    this.inc(i, step);
    return this.op(OP.br, 0, OP.end, OP.end);
  }
  /** for (i = 0; i < end; i++) body (signed compare; `end` a local) */
  forCount(i: number, end: number, body: () => void): this {
    return this.forRange(i, 0, end, 1, body);
  }
  /** while (ptr < end) body (unsigned compare; the body advances ptr) */
  whileLt(ptr: number, end: number, body: () => void): this {
    this.op(OP.block, 0x40, OP.loop, 0x40);
    this.get(ptr).get(end).op(OP.i32GeU, OP.brIf, 1);
    body();
    return this.op(OP.br, 0, OP.end, OP.end);
  }
  /** do { body } while (--counter != 0); counter must start > 0 */
  countDown(counter: number, body: () => void): this {
    this.op(OP.loop, 0x40);
    body();
    return this.get(counter).i32(1).op(OP.i32Sub).tee(counter).op(OP.brIf, 0, OP.end);
  }
  ifThen(cond: () => void, then: () => void, otherwise?: () => void): this {
    cond();
    this.op(OP.if, 0x40);
    then();
    if (otherwise) {
      this.op(OP.else);
      otherwise();
    }
    return this.op(OP.end);
  }
  /** horizontal reduction of a v128 local with a binary f32 op -> f32 on the stack */
  hReduce(v: number, binop: number): this {
    this.get(v).simd(SIMD.f32x4ExtractLane, 0);
    for (let lane = 1; lane < 4; lane++) this.get(v).simd(SIMD.f32x4ExtractLane, lane).op(binop);
    return this;
  }
  /** horizontal sum of a v128 local -> f32 on the stack */
  hsum(v: number): this {
    return this.hReduce(v, OP.f32Add);
  }
  /** Horner: the polynomial sum_i c[i] t^i (c lowest degree first) of the v128 local t, on the stack */
  poly(t: number, c: readonly number[]): this {
    this.vConst(c[c.length - 1]);
    for (let i = c.length - 2; i >= 0; i--) this.get(t).simd(SIMD.f32x4Mul).vConst(c[i]).simd(SIMD.f32x4Add);
    return this;
  }
  /** The encoded function body (size, locals, code, end). */
  body(): number[] {
    const out: number[] = [];
    const groups: [number, number][] = [];
    for (const t of this.extra) {
      const last = groups[groups.length - 1];
      if (last && last[1] === t) last[0]++;
      else groups.push([1, t]);
    }
    uleb(out, groups.length);
    for (const [count, t] of groups) {
      uleb(out, count);
      out.push(t);
    }
    out.push(...this.code, OP.end);
    const sized: number[] = [];
    uleb(sized, out.length);
    return sized.concat(out);
  }
}

// ============================================================================================
// Module assembly
// ============================================================================================

function section(id: number, content: number[]): number[] {
  const out = [id];
  uleb(out, content.length);
  return out.concat(content);
}

function vec(items: number[][]): number[] {
  const out: number[] = [];
  uleb(out, items.length);
  for (const it of items) out.push(...it);
  return out;
}

function name(s: string): number[] {
  const bytes = Array.from(new TextEncoder().encode(s));
  const out: number[] = [];
  uleb(out, bytes.length);
  return out.concat(bytes);
}

/**
 * A module importing `env.memory` (shared with max 65536 pages when `sharedMemory`) and exporting
 * each of `fns` (no results) under its name.
 */
export function assemble(fns: Fn[], sharedMemory: boolean): Uint8Array<ArrayBuffer> {
  const types = fns.map((f) => [0x60, ...vec(f.params.map((t) => [t])), 0x00]);
  const limits = sharedMemory ? [0x03, 0x01, ...ulebBytes(65536)] : [0x00, 0x01];
  const imports = vec([[...name('env'), ...name('memory'), 0x02, ...limits]]);
  const funcs = vec(fns.map((_, i) => ulebBytes(i)));
  const exports = vec(fns.map((f, i) => [...name(f.name), 0x00, ...ulebBytes(i)]));
  const code = vec(fns.map((f) => f.body()));
  return new Uint8Array([
    0x00,
    0x61,
    0x73,
    0x6d,
    0x01,
    0x00,
    0x00,
    0x00,
    ...section(1, vec(types)),
    ...section(2, imports),
    ...section(3, funcs),
    ...section(7, exports),
    ...section(10, code),
  ]);
}

// ============================================================================================
// tfjs glue (wasm: shared heap; cpu: private memory)
// ============================================================================================

/** What the kernels use of tfjs-wasm's backend. */
export interface WasmBackendLike {
  wasm: { asm?: { memory?: WebAssembly.Memory }; wasmMemory?: WebAssembly.Memory; HEAPF32?: Float32Array };
  dataIdMap: { get(id: unknown): { memoryOffset: number } };
  makeOutput(shape: number[], dtype: tf.DataType): tf.TensorInfo;
  disposeData(id: unknown): void;
}

/** What the kernels use of tfjs's cpu backend. */
export interface CpuBackendLike {
  readSync(id: unknown): tf.backend_util.BackendValues;
  makeTensorInfo(shape: number[], dtype: tf.DataType, values?: tf.backend_util.BackendValues): tf.TensorInfo;
}

/**
 * The tfjs-wasm backend's `WebAssembly.Memory`, or null. The single-threaded builds export it
 * (`asm.memory`); the threaded build imports a shared memory that Emscripten keeps as `wasmMemory`.
 */
export function wasmMemoryOf(be: unknown): WebAssembly.Memory | null {
  const wasm = (be as WasmBackendLike | null)?.wasm;
  const mem = wasm?.asm?.memory ?? wasm?.wasmMemory;
  return mem instanceof WebAssembly.Memory ? mem : null;
}

/** Whether `memory` is a shared (threaded-build) memory. */
export function isSharedMemory(memory: WebAssembly.Memory): boolean {
  return typeof SharedArrayBuffer !== 'undefined' && memory.buffer instanceof SharedArrayBuffer;
}

/**
 * A generated kernel module: its bytes (cached per memory kind), whether this engine validates it
 * (SIMD support), one instance per tfjs-wasm backend (on its memory) and one on a private memory
 * for the cpu backend.
 */
export class KernelModule<E> {
  private readonly bytes = new Map<boolean, Uint8Array<ArrayBuffer>>();
  private readonly modules = new Map<boolean, WebAssembly.Module>();
  private readonly wasmInstances = new WeakMap<object, E>();
  private cpuState: { memory: WebAssembly.Memory; ex: E } | null = null;
  private simdOk: boolean | null = null;

  /** `build` returns the module's functions (called at most once per memory kind). */
  constructor(private readonly build: () => Fn[]) {}

  /** The module's bytes, importing a shared or unshared `env.memory`. */
  moduleBytes(sharedMemory: boolean): Uint8Array<ArrayBuffer> {
    let bytes = this.bytes.get(sharedMemory);
    if (!bytes) {
      bytes = assemble(this.build(), sharedMemory);
      this.bytes.set(sharedMemory, bytes);
    }
    return bytes;
  }

  /** Whether this WebAssembly engine validates the module (i.e. has SIMD). */
  simdSupported(): boolean {
    if (this.simdOk === null) {
      try {
        this.simdOk = typeof WebAssembly === 'object' && WebAssembly.validate(this.moduleBytes(false));
      } catch {
        this.simdOk = false;
      }
    }
    return this.simdOk;
  }

  /**
   * The compiled module for a shared or unshared memory (compiled once: every instance, the kernel pool's
   * workers included, then shares the engine's optimised code instead of starting again from baseline).
   */
  compiled(sharedMemory: boolean): WebAssembly.Module {
    let module = this.modules.get(sharedMemory);
    if (!module) {
      module = new WebAssembly.Module(this.moduleBytes(sharedMemory));
      this.modules.set(sharedMemory, module);
    }
    return module;
  }

  /** A new instance on `memory`. */
  instantiate(memory: WebAssembly.Memory): E {
    const module = this.compiled(isSharedMemory(memory));
    const inst = new WebAssembly.Instance(module, { env: { memory } });
    return inst.exports as unknown as E;
  }

  /** The instance on the tfjs-wasm backend `be`'s memory (created once per backend). */
  forWasm(be: object, memory: WebAssembly.Memory): E {
    let ex = this.wasmInstances.get(be);
    if (!ex) {
      ex = this.instantiate(memory);
      this.wasmInstances.set(be, ex);
    }
    return ex;
  }

  /** The instance on a private memory (for the cpu backend; created once). */
  forCpu(): { memory: WebAssembly.Memory; ex: E } {
    if (!this.cpuState) {
      const memory = new WebAssembly.Memory({ initial: 16 });
      this.cpuState = { memory, ex: this.instantiate(memory) };
    }
    return this.cpuState;
  }
}

/**
 * A bump allocator of byte offsets in a private memory: blocks start 64-byte aligned with a 64-byte
 * gap, from offset 64. `ensure(memory)` grows the memory to hold everything allocated.
 */
export class BumpHeap {
  top = 64;
  alloc(floats: number): number {
    const o = this.top;
    this.top += Math.ceil((floats * 4) / 64) * 64 + 64;
    return o;
  }
  ensure(memory: WebAssembly.Memory): void {
    if (this.top > memory.buffer.byteLength)
      memory.grow(Math.ceil((this.top - memory.buffer.byteLength) / 65536));
  }
}
