import type { SwinConfig } from './config.js';
import { hierarchicalPresetConfig } from './hierarchical.js';
import { SwinTransformer } from './model.js';

/** One preset: the official architecture and where it comes from. */
export interface SwinPreset {
  /** Config overrides of {@link DEFAULT_SWIN_CONFIG}. */
  config: Partial<SwinConfig>;
  /** Official config file / checkpoint name. */
  description: string;
}

/**
 * The official Swin Transformer variants (microsoft/Swin-Transformer `configs/swin/*.yaml`, timm model
 * names). `dropPathRate` is the value of the official training/fine-tuning config (it only acts in
 * training mode). All use patch 4, `mlpRatio` 4, `qkvBias`, LayerNorm eps 1e-5, 1000 classes.
 */
export const SWIN_PRESETS = {
  swin_tiny_patch4_window7_224: {
    config: {
      imgSize: 224,
      embedDim: 96,
      depths: [2, 2, 6, 2],
      numHeads: [3, 6, 12, 24],
      windowSize: 7,
      dropPathRate: 0.2,
    },
    description: 'Swin-T, 224x224, window 7 (paper: 28M params, 4.5G FLOPs)',
  },
  swin_small_patch4_window7_224: {
    config: {
      imgSize: 224,
      embedDim: 96,
      depths: [2, 2, 18, 2],
      numHeads: [3, 6, 12, 24],
      windowSize: 7,
      dropPathRate: 0.3,
    },
    description: 'Swin-S, 224x224, window 7 (paper: 50M params, 8.7G FLOPs)',
  },
  swin_base_patch4_window7_224: {
    config: {
      imgSize: 224,
      embedDim: 128,
      depths: [2, 2, 18, 2],
      numHeads: [4, 8, 16, 32],
      windowSize: 7,
      dropPathRate: 0.5,
    },
    description: 'Swin-B, 224x224, window 7 (paper: 88M params, 15.4G FLOPs)',
  },
  swin_large_patch4_window7_224: {
    config: {
      imgSize: 224,
      embedDim: 192,
      depths: [2, 2, 18, 2],
      numHeads: [6, 12, 24, 48],
      windowSize: 7,
      dropPathRate: 0.2,
    },
    description: 'Swin-L, 224x224, window 7, ImageNet-22K pre-trained (paper: 197M params, 34.5G FLOPs)',
  },
  swin_base_patch4_window12_384: {
    config: {
      imgSize: 384,
      embedDim: 128,
      depths: [2, 2, 18, 2],
      numHeads: [4, 8, 16, 32],
      windowSize: 12,
      dropPathRate: 0.5,
    },
    description: 'Swin-B, 384x384, window 12 (paper: 88M params, 47.0G FLOPs)',
  },
  swin_large_patch4_window12_384: {
    config: {
      imgSize: 384,
      embedDim: 192,
      depths: [2, 2, 18, 2],
      numHeads: [6, 12, 24, 48],
      windowSize: 12,
      dropPathRate: 0.2,
    },
    description: 'Swin-L, 384x384, window 12, ImageNet-22K pre-trained (paper: 197M params, 103.9G FLOPs)',
  },
} as const satisfies Record<string, SwinPreset>;

/** Names of the presets. */
export type SwinModelName = keyof typeof SWIN_PRESETS;

/** Preset names, in table order. */
export function listSwinModels(): SwinModelName[] {
  return Object.keys(SWIN_PRESETS) as SwinModelName[];
}

/** The config of preset `name` with `overrides` applied (e.g. `{ numClasses: 10, imgSize: 256 }`). */
export function swinPresetConfig(
  name: SwinModelName | string,
  overrides: Partial<SwinConfig> = {},
): Partial<SwinConfig> {
  return hierarchicalPresetConfig('createSwin', SWIN_PRESETS as Record<string, SwinPreset>, name, overrides);
}

/**
 * Builds preset `name` (randomly initialised like the official code; load weights with
 * `loadSwinCheckpoint`). `overrides` replace any config field, e.g. `{ numClasses: 10, imgSize: 256 }`.
 */
export function createSwin(
  name: SwinModelName | string,
  overrides: Partial<SwinConfig> = {},
): SwinTransformer {
  return new SwinTransformer(swinPresetConfig(name, overrides));
}
