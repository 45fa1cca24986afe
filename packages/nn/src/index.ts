export * from './attention.js';
export * from './block.js';
export * from './functional.js';
export * from './init.js';
export * from './kernels.js';
export * from './layers.js';
export * from './module.js';
export * from './validate.js';
