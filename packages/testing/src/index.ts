export * from './backend.js';
export * from './fixtures.js';
export * from './leaks.js';
