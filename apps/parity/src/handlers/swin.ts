import type { Handler } from '../runner.js';

/** Parity handlers for Swin Transformer (window_attention, swin_block, patch_merging incl. PatchEmbed, swin_model, timm_swin_model). Not built yet. */
export const swinHandlers: Handler[] = [];
