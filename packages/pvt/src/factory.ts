import { type PVTConfig, type PVTPresetName, pvtConfig } from './config.js';
import { PyramidVisionTransformer } from './pvt-v1.js';
import { PyramidVisionTransformerV2 } from './pvt-v2.js';

/** A PVT model of either version. */
export type PVTModel = PyramidVisionTransformer | PyramidVisionTransformerV2;

/** Model class of a preset: `pvt_*` -> `PyramidVisionTransformer`, `pvt_v2_*` -> `PyramidVisionTransformerV2`. */
export type PVTModelFor<N extends PVTPresetName> = N extends `pvt_v2_${string}`
  ? PyramidVisionTransformerV2
  : PyramidVisionTransformer;

/**
 * Builds a preset (`pvt_tiny` ... `pvt_large`, `pvt_v2_b0` ... `pvt_v2_b5`, `pvt_v2_b2_li`) with `overrides`
 * (e.g. `{ numClasses: 10, imgSize: 64 }`), freshly initialised like the official code.
 */
export function createPVT<N extends PVTPresetName>(
  name: N,
  overrides: Partial<PVTConfig> = {},
): PVTModelFor<N> {
  const cfg = pvtConfig(name, overrides, 'createPVT');
  return (
    cfg.version === 1 ? new PyramidVisionTransformer(cfg) : new PyramidVisionTransformerV2(cfg)
  ) as PVTModelFor<N>;
}
