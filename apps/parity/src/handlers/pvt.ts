import type { Handler } from '../runner.js';

/** Parity handlers for PVT v1/v2 (pvt_sra_attention, pvt_v2_attention, pvt_v1_model, pvt_v2_model). Not built yet. */
export const pvtHandlers: Handler[] = [];
