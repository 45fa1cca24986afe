import {
  configFromKwargs,
  HIERARCHICAL_KWARGS,
  type HierarchicalConfig,
  resolveHierarchicalConfig,
} from '@swin/swin-core';
import { normEpsFromKwarg } from './block.js';

/**
 * Constructor arguments of {@link SwinMLP}: the official `SwinMLP(...)` kwargs in camelCase
 * (`norm_layer` becomes `normEps`; `use_checkpoint` has no equivalent). Every field (and its default) is
 * the shared {@link HierarchicalConfig} of `@swin/swin-core`; `numHeads` are spatial-MLP heads, each
 * mixing `C/heads` channels (e.g. "C24" = 24 channels per head).
 */
export interface SwinMLPConfig extends HierarchicalConfig {}

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

/**
 * Converts the official `SwinMLP(**kwargs)` keyword arguments (snake_case, as in the parity fixtures'
 * `config.kwargs`) to a {@link SwinMLPConfig}. `norm_layer` may be `{"__layer__": "LayerNorm", "eps": x}`.
 * `use_checkpoint` is accepted and ignored; unknown keys throw.
 */
export function swinMlpConfigFromKwargs(kwargs: Record<string, unknown>): Partial<SwinMLPConfig> {
  return configFromKwargs<SwinMLPConfig>(
    'swinMlpConfigFromKwargs',
    kwargs,
    HIERARCHICAL_KWARGS,
    normEpsFromKwarg,
    ['use_checkpoint'],
  );
}
