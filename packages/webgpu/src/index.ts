export {
  type ShiftedWindowAttrs,
  SWIN_SHIFTED_WINDOW_PARTITION,
  SWIN_SHIFTED_WINDOW_REVERSE,
  SWIN_WINDOW_ATTENTION,
  type WindowAttentionAttrs,
} from './names.js';
export { type NodeWebGPUOptions, setupNodeWebGPU } from './node-setup.js';
export { type FusedWindowAttentionOptions, fusedWindowAttention } from './ops.js';
export {
  hasSwinKernel,
  registerSwinWebGPUKernels,
  SWIN_WEBGPU_KERNELS,
  shiftedWindowAttrs,
  unregisterSwinWebGPUKernels,
  WEBGPU_BACKEND,
} from './register.js';
export { shiftedWindowPartitionKernel, shiftedWindowReverseKernel } from './shifted-window.js';
export { attentionTiling, windowAttentionKernel } from './window-attention.js';
