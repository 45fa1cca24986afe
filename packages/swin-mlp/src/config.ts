import { resolveHierarchicalConfig } from '@swin/swin-core';
import { normEpsFromKwarg } from './block.js';

/**
 * Constructor arguments of {@link SwinMLP}: the official `SwinMLP(...)` kwargs in camelCase
 * (`norm_layer` becomes `normEps`; `use_checkpoint` has no equivalent).
 */
export interface SwinMLPConfig {
  /** Image size the model is built for: drives the per-block window clamping (and so the `spatial_mlp` shapes) and `absolute_pos_embed`. Default 224. */
  imgSize: number | [number, number];
  /** Patch size of the patch embedding. Default 4. */
  patchSize: number;
  /** Input channels. Default 3. */
  inChans: number;
  /** Classes of the head; 0 = no head (`forward` returns the pooled features). Default 1000. */
  numClasses: number;
  /** Channels of stage 0 (doubled at each PatchMerging). Default 96. */
  embedDim: number;
  /** Blocks per stage. Default `[2, 2, 6, 2]`. */
  depths: number[];
  /** Spatial-MLP heads per stage (each head mixes `C/heads` channels, e.g. "C24" = 24 channels per head). Default `[3, 6, 12, 24]`. */
  numHeads: number[];
  /** Window size (clamped per block like Swin). Default 7. */
  windowSize: number;
  /** Channel-MLP hidden ratio. Default 4. */
  mlpRatio: number;
  /** Dropout rate (after the position embedding and in the MLPs). Default 0. */
  dropRate: number;
  /** Stochastic depth rate, linearly increasing over all blocks. Default 0.1 (official default). */
  dropPathRate: number;
  /** Absolute position embedding after the patch embedding. Default false. */
  ape: boolean;
  /** LayerNorm after the patch embedding. Default true. */
  patchNorm: boolean;
  /** Epsilon of every LayerNorm (official `nn.LayerNorm` default). Default 1e-5. */
  normEps: number;
}

/** Official defaults of `SwinMLP.__init__`. */
export const DEFAULT_SWIN_MLP_CONFIG: Readonly<SwinMLPConfig> = Object.freeze({
  imgSize: 224,
  patchSize: 4,
  inChans: 3,
  numClasses: 1000,
  embedDim: 96,
  depths: [2, 2, 6, 2],
  numHeads: [3, 6, 12, 24],
  windowSize: 7,
  mlpRatio: 4,
  dropRate: 0,
  dropPathRate: 0.1,
  ape: false,
  patchNorm: true,
  normEps: 1e-5,
});

/** Fills defaults and validates; throws a clear error naming the bad field. */
export function resolveSwinMlpConfig(partial: Partial<SwinMLPConfig> = {}): SwinMLPConfig {
  return resolveHierarchicalConfig('SwinMLPConfig', DEFAULT_SWIN_MLP_CONFIG, partial, [
    'dropRate',
    'dropPathRate',
  ]);
}

export { dropPathRates, imgSizePair, stageResolutions } from '@swin/swin-core';

const KEY_MAP: Record<string, keyof SwinMLPConfig> = {
  img_size: 'imgSize',
  patch_size: 'patchSize',
  in_chans: 'inChans',
  num_classes: 'numClasses',
  embed_dim: 'embedDim',
  depths: 'depths',
  num_heads: 'numHeads',
  window_size: 'windowSize',
  mlp_ratio: 'mlpRatio',
  drop_rate: 'dropRate',
  drop_path_rate: 'dropPathRate',
  ape: 'ape',
  patch_norm: 'patchNorm',
};

/**
 * Converts the official `SwinMLP(**kwargs)` keyword arguments (snake_case, as in the parity fixtures'
 * `config.kwargs`) to a {@link SwinMLPConfig}. `norm_layer` may be `{"__layer__": "LayerNorm", "eps": x}`.
 * `use_checkpoint` is accepted and ignored; unknown keys throw.
 */
export function swinMlpConfigFromKwargs(kwargs: Record<string, unknown>): Partial<SwinMLPConfig> {
  const out: Record<string, unknown> = {};
  for (const [k, v] of Object.entries(kwargs)) {
    if (k === 'norm_layer') {
      const eps = normEpsFromKwarg(v);
      if (eps !== undefined) out.normEps = eps;
      continue;
    }
    if (k === 'use_checkpoint') continue;
    const key = KEY_MAP[k];
    if (!key) throw new Error(`swinMlpConfigFromKwargs: unknown official kwarg '${k}'`);
    out[key] = Array.isArray(v) ? [...v] : v;
  }
  return out as Partial<SwinMLPConfig>;
}
