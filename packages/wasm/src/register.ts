import * as tf from '@tensorflow/tfjs-core';
import { ADAM_KERNELS, adamSupported } from './adam.js';
import { convGradSupported, DEPTHWISE_GRAD_KERNELS, IM2COL_KERNELS } from './conv-grad.js';
import { ELEMENTWISE_KERNELS, elementwiseSupported } from './elementwise.js';
import { gemmSupported, SMALL_GEMM_KERNELS } from './gemm.js';
import { SHIFTED_WINDOW_GRADIENTS, SHIFTED_WINDOW_KERNELS } from './shifted-window.js';
import { disposeWasmKernelPools } from './threaded.js';

const ALL_KERNELS: readonly tf.KernelConfig[] = [
  ...SMALL_GEMM_KERNELS,
  ...ELEMENTWISE_KERNELS,
  ...DEPTHWISE_GRAD_KERNELS,
  ...SHIFTED_WINDOW_KERNELS,
  ...IM2COL_KERNELS,
  ...ADAM_KERNELS,
];

/** Backends the kernels of this package are registered for. */
export type WasmKernelBackend = 'wasm' | 'cpu';

/** Options of {@link registerWasmKernels}. */
export interface RegisterWasmKernelsOptions {
  /**
   * Backends to register for (default both): 'wasm' runs the kernels in place on tfjs-wasm's heap; 'cpu'
   * runs the same WebAssembly on a private memory (inputs copied in, outputs copied out), which is still
   * several times faster than tfjs's JavaScript cpu kernels.
   */
  backends?: readonly WasmKernelBackend[];
}

function allConfigs(): tf.KernelConfig[] {
  const simd = wasmSimdSupported();
  // the generated modules need WebAssembly SIMD; the shifted-window copies and im2col are plain JavaScript
  return [
    ...(simd
      ? [...SMALL_GEMM_KERNELS, ...ELEMENTWISE_KERNELS, ...DEPTHWISE_GRAD_KERNELS, ...ADAM_KERNELS]
      : []),
    ...SHIFTED_WINDOW_KERNELS,
    ...IM2COL_KERNELS,
  ];
}

/**
 * Registers the WebAssembly kernels under the names `@swin/nn` and `@swin/window-ops` dispatch to:
 * `SwinSmallGemm` (attention products with fused softmax, `smallBatchMatMul`), the fused GELU / erf /
 * LayerNorm kernels and their gradients, the head split / merge copies, the convolution-gradient kernels
 * (depthwise filter gradient, im2col, rotated sub-filters), the fused Adam step (`SwinNnAdam`, behind `adam()` of
 * `@swin/nn`) and the shifted-window partition / reverse (wasm
 * only, with their gradients). Afterwards `attentionCore`, `layerNorm`, `gelu`, ... of
 * `@swin/nn` take the kernel path on those backends; without it they run plain tfjs ops (same results,
 * slower). Call it once at start-up, before or after the backend initialises. Idempotent. On an engine
 * without WebAssembly SIMD only the shifted-window copies and the JavaScript conv-gradient copies are registered.
 *
 * @returns the `kernelName@backend` pairs that were newly registered.
 */
export function registerWasmKernels(opts: RegisterWasmKernelsOptions = {}): string[] {
  const backends = opts.backends ?? ['wasm', 'cpu'];
  for (const b of backends) {
    if (b !== 'wasm' && b !== 'cpu') {
      throw new Error(`registerWasmKernels: backends must be 'wasm' or 'cpu', got ${String(b)}`);
    }
  }
  const added: string[] = [];
  for (const k of allConfigs()) {
    if (!backends.includes(k.backendName as WasmKernelBackend)) continue;
    if (!tf.getKernel(k.kernelName, k.backendName)) {
      tf.registerKernel(k);
      added.push(`${k.kernelName}@${k.backendName}`);
    }
  }
  if (backends.includes('wasm')) {
    for (const g of SHIFTED_WINDOW_GRADIENTS) if (!tf.getGradient(g.kernelName)) tf.registerGradient(g);
  }
  return added;
}

/**
 * Removes the kernels {@link registerWasmKernels} registered (the generic tfjs paths take over again)
 * and terminates the kernel pool's workers (threaded build), if any.
 * Gradients are left registered: other packages (`@swin/webgpu`) register the same window-partition
 * gradients, and a gradient without its kernel is never used.
 */
export function unregisterWasmKernels(): void {
  for (const k of ALL_KERNELS) {
    const cur = tf.getKernel(k.kernelName, k.backendName);
    if (cur && cur.kernelFunc === k.kernelFunc) tf.unregisterKernel(k.kernelName, k.backendName);
  }
  disposeWasmKernelPools();
}

/** Names of every kernel this package can register (each for 'wasm', most also for 'cpu'). */
export const WASM_KERNEL_NAMES: readonly string[] = [...new Set(ALL_KERNELS.map((k) => k.kernelName))];

/** Whether this engine runs the generated SIMD modules (false: only the shifted-window copies register). */
export function wasmSimdSupported(): boolean {
  return gemmSupported() && elementwiseSupported() && convGradSupported() && adamSupported();
}
