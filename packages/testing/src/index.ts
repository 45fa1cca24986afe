export * from './backend.js';
export * from './fixtures.js';
export * from './hardening.js';
export * from './leaks.js';
export * from './readme.js';
