/**
 * Entry of the repository's `pnpm swin ...` script: pnpm runs scripts in the repository root, so relative paths
 * are resolved from the directory pnpm was started in (`INIT_CWD`), as a user expects. The published `bin` is
 * `bin.ts` (no directory change).
 */
if (process.env.INIT_CWD) process.chdir(process.env.INIT_CWD);
await import('./bin.js');
