import type { Handler } from '../runner.js';

/** Parity handlers for Swin-MLP (swin_mlp_block, swin_mlp_model). Not built yet. */
export const swinMlpHandlers: Handler[] = [];
