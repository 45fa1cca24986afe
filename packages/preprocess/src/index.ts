export * from './array.js';
export { evalTransform } from './tensor.js';
