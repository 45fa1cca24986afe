import type { SwinConfig } from './config.js';
import { configFromKwargs, HIERARCHICAL_KWARGS } from './hierarchical.js';

/** A `norm_layer` argument as the fixtures/official configs write it (`{"__layer__": "LayerNorm", "eps": 1e-6}`). */
function normEps(v: unknown): number | undefined {
  if (v && typeof v === 'object' && typeof (v as { eps?: unknown }).eps === 'number') {
    return (v as { eps: number }).eps;
  }
  return undefined;
}

const KEY_MAP: Record<string, keyof SwinConfig> = {
  ...HIERARCHICAL_KWARGS,
  qkv_bias: 'qkvBias',
  qk_scale: 'qkScale',
  attn_drop_rate: 'attnDropRate',
};

/** Official kwargs that have no effect on the computation here and are accepted silently. */
const IGNORED = ['use_checkpoint', 'fused_window_process'];

/**
 * Converts the official `SwinTransformer(**kwargs)` keyword arguments (snake_case, as in the official
 * configs and the parity fixtures' `config.kwargs`) to a {@link SwinConfig}. `norm_layer` may be
 * `{"eps": x}` (a `functools.partial(nn.LayerNorm, eps=x)`). Unknown keys throw.
 */
export function swinConfigFromOfficial(kwargs: Record<string, unknown>): Partial<SwinConfig> {
  return configFromKwargs<SwinConfig>('swinConfigFromOfficial', kwargs, KEY_MAP, normEps, IGNORED);
}
