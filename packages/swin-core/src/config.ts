import { field } from '@swin/nn';
import { type HierarchicalConfig, resolveHierarchicalConfig } from './hierarchical.js';

/**
 * Constructor arguments of {@link SwinTransformer}: the official `SwinTransformer(...)` kwargs in
 * camelCase (`norm_layer` becomes `normEps`; `use_checkpoint`/`fused_window_process` have no equivalent).
 * The shared fields (and their defaults) are those of {@link HierarchicalConfig}.
 */
export interface SwinConfig extends HierarchicalConfig {
  /** Bias of the qkv projections. Default true. */
  qkvBias: boolean;
  /** Attention scale override (default `headDim ** -0.5`). Default null. */
  qkScale: number | null;
  /** Attention-weight dropout rate. Default 0. */
  attnDropRate: number;
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
  return resolveHierarchicalConfig(
    'SwinConfig',
    DEFAULT_SWIN_CONFIG,
    partial,
    ['dropRate', 'attnDropRate', 'dropPathRate'],
    { qkvBias: field.boolean, qkScale: field.numberOrNull, attnDropRate: field.rate },
  );
}

export { dropPathRates, imgSizePair, stageResolutions } from './hierarchical.js';
