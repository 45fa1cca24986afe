import type { Handler } from '../runner.js';

/** Parity handlers for Shunted Transformer (shunted_attention, shunted_block, shunted_model). Not built yet. */
export const shuntedHandlers: Handler[] = [];
