/**
 * The small part of tfjs-backend-webgpu's program machinery the kernels need, restated here so that this
 * package imports the backend for its types only (importing its values would register the backend and all
 * its kernels as a side effect).
 *
 * A program follows the backend's `WebGPUProgram` contract: `backend.runWebGPUProgram(program, inputs,
 * dtype, uniforms)` prepends the bindings (`result` = output at binding 0, one `array<T>` per entry of
 * `variableNames`, then `uniforms`), the `Uniforms` struct (`NAN`, `INFINITY`, `<name>Shape`,
 * `<name>ShapeStrides` for every input, `outShape`, `outShapeStrides`, `size` if `program.size`, then
 * `program.uniforms`), helper functions, and a `_start` entry point calling the user code's
 * `fn main(index : i32)` (flat dispatch) — see `webgpu_program.js` of the backend.
 */
import type { WebGPUBackend, WebGPUProgram } from '@tensorflow/tfjs-backend-webgpu';
import type * as tf from '@tensorflow/tfjs-core';

export type { WebGPUBackend, WebGPUProgram };

/** Uniform data appended after the backend's own uniforms, in the order of `program.uniforms`. */
export type ProgramUniform = Array<{ type: 'int32' | 'float32' | 'uint32'; data: number[] }>;

/** `flatDispatchLayout` of the backend: all output dimensions on the x axis. */
export function flatDispatchLayout(shape: number[]): { x: number[] } {
  return { x: shape.map((_, i) => i) };
}

/** Workgroups needed to cover `count` invocations with a 1-D workgroup of `size`. */
export function dispatchFor(count: number, size: number): [number, number, number] {
  return [Math.max(1, Math.ceil(count / size)), 1, 1];
}

/** The WebGPU backend a kernel function was called with (checked: these kernels are webgpu-only). */
export function asWebGPU(kernel: string, backend: unknown): WebGPUBackend {
  const b = backend as Partial<WebGPUBackend> | null;
  if (!b || typeof b.runWebGPUProgram !== 'function') {
    throw new Error(`${kernel}: this kernel runs on the 'webgpu' backend only`);
  }
  return b as WebGPUBackend;
}

/** A view of `t` with another shape of the same size (no copy: same `dataId`). */
export function withShape(t: tf.TensorInfo, shape: number[]): tf.TensorInfo {
  return { dataId: t.dataId, shape, dtype: t.dtype };
}

export function sizeOf(shape: readonly number[]): number {
  return shape.reduce((a, b) => a * b, 1);
}

/** Positive integer check with a message naming the kernel and attribute. */
export function posInt(kernel: string, name: string, v: unknown): number {
  if (typeof v !== 'number' || !Number.isInteger(v) || v < 1) {
    throw new Error(`${kernel}: attr ${name} must be a positive integer, got ${JSON.stringify(v)}`);
  }
  return v;
}

/** Integer check (any sign). */
export function int(kernel: string, name: string, v: unknown): number {
  if (typeof v !== 'number' || !Number.isInteger(v)) {
    throw new Error(`${kernel}: attr ${name} must be an integer, got ${JSON.stringify(v)}`);
  }
  return v;
}

export function mod(a: number, n: number): number {
  return ((a % n) + n) % n;
}
