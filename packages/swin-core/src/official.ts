import type { SwinConfig } from './config.js';

/** A `norm_layer` argument as the fixtures/official configs write it (`{"__layer__": "LayerNorm", "eps": 1e-6}`). */
function normEps(v: unknown): number | undefined {
  if (v && typeof v === 'object' && typeof (v as { eps?: unknown }).eps === 'number') {
    return (v as { eps: number }).eps;
  }
  return undefined;
}

const KEY_MAP: Record<string, keyof SwinConfig> = {
  img_size: 'imgSize',
  patch_size: 'patchSize',
  in_chans: 'inChans',
  num_classes: 'numClasses',
  embed_dim: 'embedDim',
  depths: 'depths',
  num_heads: 'numHeads',
  window_size: 'windowSize',
  mlp_ratio: 'mlpRatio',
  qkv_bias: 'qkvBias',
  qk_scale: 'qkScale',
  drop_rate: 'dropRate',
  attn_drop_rate: 'attnDropRate',
  drop_path_rate: 'dropPathRate',
  ape: 'ape',
  patch_norm: 'patchNorm',
};

/** Official kwargs that have no effect on the computation here and are accepted silently. */
const IGNORED = new Set(['use_checkpoint', 'fused_window_process']);

/**
 * Converts the official `SwinTransformer(**kwargs)` keyword arguments (snake_case, as in the official
 * configs and the parity fixtures' `config.kwargs`) to a {@link SwinConfig}. `norm_layer` may be
 * `{"eps": x}` (a `functools.partial(nn.LayerNorm, eps=x)`). Unknown keys throw.
 */
export function swinConfigFromOfficial(kwargs: Record<string, unknown>): Partial<SwinConfig> {
  const out: Record<string, unknown> = {};
  for (const [k, v] of Object.entries(kwargs)) {
    if (k === 'norm_layer') {
      const eps = normEps(v);
      if (eps !== undefined) out.normEps = eps;
      continue;
    }
    if (IGNORED.has(k)) continue;
    const key = KEY_MAP[k];
    if (!key) throw new Error(`swinConfigFromOfficial: unknown official kwarg '${k}'`);
    out[key] = Array.isArray(v) ? [...v] : v;
  }
  return out as Partial<SwinConfig>;
}
