export { adamModuleBytes } from './adam.js';
export { elementwiseModuleBytes } from './elementwise.js';
export { attentionKernelModuleBytes, useFastWasmBatchMatMul } from './gemm.js';
export {
  type RegisterWasmKernelsOptions,
  registerWasmKernels,
  unregisterWasmKernels,
  WASM_KERNEL_NAMES,
  type WasmKernelBackend,
  wasmSimdSupported,
} from './register.js';
export {
  disposeWasmKernelPools,
  getWasmKernelThreads,
  type KernelThreads,
  setWasmKernelThreads,
  wasmKernelPoolReady,
  wasmKernelThreads,
} from './threaded.js';
export {
  CROSS_ORIGIN_ISOLATION_HELP,
  type InitWasmBackendOptions,
  initWasmBackend,
  MAX_WASM_THREADS,
  setWasmThreads,
  type WasmBackendInfo,
  type WasmThreadsRequest,
} from './threads.js';
