import { resolveHierarchicalConfig } from './hierarchical.js';

/**
 * Constructor arguments of {@link SwinTransformer}: the official `SwinTransformer(...)` kwargs in
 * camelCase (`norm_layer` becomes `normEps`; `use_checkpoint`/`fused_window_process` have no equivalent).
 */
export interface SwinConfig {
  /** Image size the model is built for (drives window clamping, `attn_mask` buffers, `absolute_pos_embed`). Default 224. */
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
  /** Attention heads per stage. Default `[3, 6, 12, 24]`. */
  numHeads: number[];
  /** Window size (clamped per block, see `SwinTransformerBlock`). Default 7. */
  windowSize: number;
  /** MLP hidden ratio. Default 4. */
  mlpRatio: number;
  /** Bias of the qkv projections. Default true. */
  qkvBias: boolean;
  /** Attention scale override (default `headDim ** -0.5`). Default null. */
  qkScale: number | null;
  /** Dropout rate (after the position embedding, attention proj, MLP). Default 0. */
  dropRate: number;
  /** Attention-weight dropout rate. Default 0. */
  attnDropRate: number;
  /** Stochastic depth rate, linearly increasing over all blocks. Default 0.1 (official default). */
  dropPathRate: number;
  /** Absolute position embedding after the patch embedding. Default false. */
  ape: boolean;
  /** LayerNorm after the patch embedding. Default true. */
  patchNorm: boolean;
  /** Epsilon of every LayerNorm (official `nn.LayerNorm` default). Default 1e-5. */
  normEps: number;
}

/** Official defaults of `SwinTransformer.__init__` (Swin-T shape). */
export const DEFAULT_SWIN_CONFIG: Readonly<SwinConfig> = Object.freeze({
  imgSize: 224,
  patchSize: 4,
  inChans: 3,
  numClasses: 1000,
  embedDim: 96,
  depths: [2, 2, 6, 2],
  numHeads: [3, 6, 12, 24],
  windowSize: 7,
  mlpRatio: 4,
  qkvBias: true,
  qkScale: null,
  dropRate: 0,
  attnDropRate: 0,
  dropPathRate: 0.1,
  ape: false,
  patchNorm: true,
  normEps: 1e-5,
});

/** Fills defaults and validates; throws a clear error naming the bad field. */
export function resolveSwinConfig(partial: Partial<SwinConfig> = {}): SwinConfig {
  return resolveHierarchicalConfig('SwinConfig', DEFAULT_SWIN_CONFIG, partial, [
    'dropRate',
    'attnDropRate',
    'dropPathRate',
  ]);
}

export { dropPathRates, imgSizePair, stageResolutions } from './hierarchical.js';
