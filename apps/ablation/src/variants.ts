import type { BackboneConfig, BlockConfig, StageConfig } from '@swin/backbone';

/**
 * The ablation: one hierarchical backbone (patch embed 2x2 -> 3 stages with PatchMerging between them),
 * identical in everything but the block kind, so that differences come from the attention itself.
 * 32x32 inputs (Fashion-MNIST padded) give 16x16, 8x8 and 4x4 stage maps.
 */
const DIMS = [32, 64, 128];
const HEADS = [2, 4, 8];
const DEPTHS = [2, 2, 2];

function stages(block: (i: number) => BlockConfig, eps = 1e-5): StageConfig[] {
  return DIMS.map((dim, i) => ({
    dim,
    depth: DEPTHS[i],
    downsample: i === 0 ? { kind: 'patch_embed', patchSize: 2 } : { kind: 'patch_merging' },
    block: block(i),
    blockNormEps: eps,
  }));
}

function backbone(name: string, block: (i: number) => BlockConfig): BackboneConfig {
  return {
    name,
    imgSize: 32,
    inChans: 1,
    numClasses: 10,
    stages: stages(block),
    finalNorm: true,
    headPool: 'avg',
  };
}

const SR = [4, 2, 1];

/** Every variant of the ablation, by name. */
export const VARIANTS: Record<string, BackboneConfig> = {
  swin: backbone('swin', (i) => ({ kind: 'swin', numHeads: HEADS[i], windowSize: 4 })),
  'swin-noshift': backbone('swin-noshift', (i) => ({
    kind: 'swin',
    numHeads: HEADS[i],
    windowSize: 4,
    shift: false,
  })),
  'swin-mlp': backbone('swin-mlp', (i) => ({ kind: 'swin_mlp', numHeads: HEADS[i], windowSize: 4 })),
  shunted: backbone('shunted', (i) => ({ kind: 'shunted', numHeads: HEADS[i], srRatio: SR[i] })),
  'pvt-v1-sra': backbone('pvt-v1-sra', (i) => ({ kind: 'pvt_sra', numHeads: HEADS[i], srRatio: SR[i] })),
  'pvt-v2-sra': backbone('pvt-v2-sra', (i) => ({ kind: 'pvt_v2', numHeads: HEADS[i], srRatio: SR[i] })),
  'pvt-v2-linear': backbone('pvt-v2-linear', (i) => ({
    kind: 'pvt_v2',
    numHeads: HEADS[i],
    srRatio: 1,
    linear: true,
  })),
  global: backbone('global', (i) => ({ kind: 'global', numHeads: HEADS[i] })),
  'hybrid-shunted-swin': backbone('hybrid-shunted-swin', (i) =>
    i === 0
      ? { kind: 'shunted', numHeads: HEADS[i], srRatio: 4 }
      : { kind: 'swin', numHeads: HEADS[i], windowSize: 4 },
  ),
};
