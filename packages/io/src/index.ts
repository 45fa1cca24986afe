export * from './checkpoint.js';
export * from './dtypes.js';
export { CheckpointError } from './errors.js';
export { type PickleLimits, PyDict, PyGlobal, PySet, Refused } from './pickle.js';
export * from './safetensors.js';
export * from './source.js';
export { TensorRef, TORCH_ALLOWED } from './torch.js';
