export * from './backend.js';
export * from './leaks.js';
export * from './fixtures.js';
