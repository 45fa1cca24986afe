import { hierarchicalPresetConfig } from '@swin/swin-core';
import type { SwinMLPConfig } from './config.js';
import { SwinMLP } from './model.js';

/** One preset: the official architecture, where it comes from and its published size. */
export interface SwinMLPPreset {
  /** Config overrides of `DEFAULT_SWIN_MLP_CONFIG`. */
  config: Partial<SwinMLPConfig>;
  /** Official config / checkpoint name and the published numbers. */
  description: string;
  /** Published parameters (millions) and FLOPs (G multiply-adds) from the official README table. */
  published: { paramsM: number; gflops: number; top1: number };
}

/**
 * The official Swin-MLP variants: every `swin_mlp` config of microsoft/Swin-Transformer
 * (`configs/swinmlp/*.yaml`) and the ImageNet-1K table of its README. "C24" = 24 channels per head.
 * `dropPathRate` is the official training value (it only acts in training mode). All use patch 4,
 * `mlpRatio` 4, LayerNorm eps 1e-5, 1000 classes. The official repository has no Swin-MLP "small"
 * variants and only one "base" (window 7, 224, 32 channels per head).
 */
export const SWIN_MLP_PRESETS = {
  swin_mlp_tiny_c24_patch4_window8_256: {
    config: {
      imgSize: 256,
      embedDim: 96,
      depths: [2, 2, 6, 2],
      numHeads: [4, 8, 16, 32],
      windowSize: 8,
      dropPathRate: 0.2,
    },
    description: 'SwinMLP-T/C24, 256x256, window 8 (README: 20M params, 4.0G FLOPs, 79.4 top-1)',
    published: { paramsM: 20, gflops: 4.0, top1: 79.4 },
  },
  swin_mlp_tiny_c12_patch4_window8_256: {
    config: {
      imgSize: 256,
      embedDim: 96,
      depths: [2, 2, 6, 2],
      numHeads: [8, 16, 32, 64],
      windowSize: 8,
      dropPathRate: 0.2,
    },
    description: 'SwinMLP-T/C12, 256x256, window 8 (README: 21M params, 4.0G FLOPs, 79.6 top-1)',
    published: { paramsM: 21, gflops: 4.0, top1: 79.6 },
  },
  swin_mlp_tiny_c6_patch4_window8_256: {
    config: {
      imgSize: 256,
      embedDim: 96,
      depths: [2, 2, 6, 2],
      numHeads: [16, 32, 64, 128],
      windowSize: 8,
      dropPathRate: 0.2,
    },
    description: 'SwinMLP-T/C6, 256x256, window 8 (README: 23M params, 4.0G FLOPs, 79.7 top-1)',
    published: { paramsM: 23, gflops: 4.0, top1: 79.7 },
  },
  swin_mlp_base_patch4_window7_224: {
    config: {
      imgSize: 224,
      embedDim: 128,
      depths: [2, 2, 18, 2],
      numHeads: [4, 8, 16, 32],
      windowSize: 7,
      dropPathRate: 0.5,
    },
    description: 'SwinMLP-B (C32), 224x224, window 7 (README: 61M params, 10.4G FLOPs, 81.3 top-1)',
    published: { paramsM: 61, gflops: 10.4, top1: 81.3 },
  },
} as const satisfies Record<string, SwinMLPPreset>;

/** Names of the presets. */
export type SwinMLPModelName = keyof typeof SWIN_MLP_PRESETS;

/** Preset names, in table order. */
export function listSwinMlpModels(): SwinMLPModelName[] {
  return Object.keys(SWIN_MLP_PRESETS) as SwinMLPModelName[];
}

/** The config of preset `name` with `overrides` applied (e.g. `{ numClasses: 10, imgSize: 224 }`). */
export function swinMlpPresetConfig(
  name: SwinMLPModelName | string,
  overrides: Partial<SwinMLPConfig> = {},
): Partial<SwinMLPConfig> {
  return hierarchicalPresetConfig(
    'createSwinMLP',
    SWIN_MLP_PRESETS as Record<string, SwinMLPPreset>,
    name,
    overrides,
  );
}

/**
 * Builds preset `name` (randomly initialised like the official code; load weights with
 * `model.loadStateDict`). `overrides` replace any config field, e.g. `{ numClasses: 10 }`.
 */
export function createSwinMLP(
  name: SwinMLPModelName | string,
  overrides: Partial<SwinMLPConfig> = {},
): SwinMLP {
  return new SwinMLP(swinMlpPresetConfig(name, overrides));
}
