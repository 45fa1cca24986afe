import { type BackboneConfig, type BlockConfig, backboneParamCount, type StageConfig } from '@swin/backbone';

/**
 * The ablation: one hierarchical backbone (patch embed 4x4 -> 3 stages of 2 blocks, PatchMerging between
 * them), identical in everything but the block kind (and, for the size variants, the window or the input
 * size), so that differences come from the attention itself. Fashion-MNIST's 28x28 images are zero-padded
 * to 32x32 (stage maps 8x8, 4x4, 2x2) and resized bilinearly for the resolution variants.
 *
 * Matching: every variant's MLP ratio is chosen (from 1 to 8 in steps of 1/32) so that its parameter count
 * is the closest possible to the reference Swin's (MLP ratio 4); all variants end within 10% (most within 1%)
 * of it. The test `variants.test.ts` checks this for every variant.
 */
export const DIMS = [32, 64, 128];
export const HEADS = [2, 4, 8];
export const DEPTHS = [2, 2, 2];
/** Spatial-reduction ratios per stage of the SRA kinds (stage maps 8, 4, 2). */
const SR = [4, 2, 1];
/** The input side of every variant but the resolution ones. */
export const BASE_SIZE = 32;

export interface Variant {
  name: string;
  /** What the variant changes, in words. */
  description: string;
  /** The group it belongs to in the study (`attention`, `window`, `resolution`). */
  group: 'attention' | 'window' | 'resolution';
  /** Input side in pixels (square). */
  imageSize: number;
  config: BackboneConfig;
}

type BlockFn = (stage: number, mlpRatio: number) => BlockConfig;

function build(name: string, block: BlockFn, mlpRatio: number, imageSize: number): BackboneConfig {
  const stages: StageConfig[] = DIMS.map((dim, i) => ({
    dim,
    depth: DEPTHS[i],
    downsample: i === 0 ? { kind: 'patch_embed', patchSize: 4 } : { kind: 'patch_merging' },
    block: block(i, mlpRatio),
    blockNormEps: 1e-5,
  }));
  return { name, imgSize: imageSize, inChans: 1, numClasses: 10, stages, finalNorm: true, headPool: 'avg' };
}

/** The MLP ratio (1..8, step 1/32) whose parameter count is closest to `target`. */
export function matchMlpRatio(name: string, block: BlockFn, imageSize: number, target: number): number {
  let best = 4;
  let bestDiff = Number.POSITIVE_INFINITY;
  for (let k = 32; k <= 256; k++) {
    const r = k / 32;
    const d = Math.abs(backboneParamCount(build(name, block, r, imageSize)) - target);
    if (d < bestDiff) {
      bestDiff = d;
      best = r;
    }
  }
  return best;
}

const swinBlock =
  (windowSize: number, extra: Partial<Extract<BlockConfig, { kind: 'swin' }>> = {}): BlockFn =>
  (i, mlpRatio) => ({ kind: 'swin', numHeads: HEADS[i], windowSize, mlpRatio, ...extra });

const DEFS: [string, Variant['group'], string, BlockFn, number?][] = [
  ['swin', 'attention', 'Swin W-MSA / SW-MSA, window 4, relative position bias', swinBlock(4)],
  ['swin-noshift', 'attention', 'Swin without the shifted windows', swinBlock(4, { shift: false })],
  [
    'swin-norpb',
    'attention',
    'Swin without the relative position bias',
    swinBlock(4, { relativePositionBias: false }),
  ],
  [
    'swin-mlp',
    'attention',
    'Swin-MLP: per-head spatial MLP in shifted windows',
    (i, mlpRatio) => ({ kind: 'swin_mlp', numHeads: HEADS[i], windowSize: 4, mlpRatio }),
  ],
  [
    'shunted',
    'attention',
    'Shunted self-attention (two key/value scales) + detail-specific FFN',
    (i, mlpRatio) => ({ kind: 'shunted', numHeads: HEADS[i], srRatio: SR[i], mlpRatio }),
  ],
  [
    'pvt-v1-sra',
    'attention',
    'PVT v1 spatial-reduction attention',
    (i, mlpRatio) => ({ kind: 'pvt_sra', numHeads: HEADS[i], srRatio: SR[i], mlpRatio }),
  ],
  [
    'pvt-v2-sra',
    'attention',
    'PVT v2 spatial-reduction attention + conv FFN',
    (i, mlpRatio) => ({ kind: 'pvt_v2', numHeads: HEADS[i], srRatio: SR[i], mlpRatio }),
  ],
  [
    'pvt-v2-linear',
    'attention',
    'PVT v2 linear SRA (pooled keys/values)',
    (i, mlpRatio) => ({ kind: 'pvt_v2', numHeads: HEADS[i], srRatio: 1, linear: true, mlpRatio }),
  ],
  [
    'global',
    'attention',
    'global multi-head self-attention over all tokens',
    (i, mlpRatio) => ({ kind: 'global', numHeads: HEADS[i], mlpRatio }),
  ],
  [
    'hybrid-shunted-swin',
    'attention',
    'hybrid: Shunted stage 1, Swin stages 2-3',
    (i, mlpRatio) =>
      i === 0
        ? { kind: 'shunted', numHeads: HEADS[i], srRatio: 4, mlpRatio }
        : { kind: 'swin', numHeads: HEADS[i], windowSize: 4, mlpRatio },
  ],
  ['swin-w2', 'window', 'Swin, window 2 (16 windows in stage 1)', swinBlock(2)],
  ['swin-w8', 'window', 'Swin, window 8 (= the whole 8x8 stage-1 map, no shift)', swinBlock(8)],
  ['swin-res16', 'resolution', 'Swin at 16x16 input (stage maps 4, 2, 1)', swinBlock(4), 16],
  ['swin-res48', 'resolution', 'Swin at 48x48 input (stage maps 12, 6, 3)', swinBlock(4), 48],
];

function makeVariants(): Record<string, Variant> {
  const reference = backboneParamCount(build('swin', swinBlock(4), 4, BASE_SIZE));
  const out: Record<string, Variant> = {};
  for (const [name, group, description, block, size] of DEFS) {
    const imageSize = size ?? BASE_SIZE;
    const ratio = name === 'swin' ? 4 : matchMlpRatio(name, block, imageSize, reference);
    out[name] = { name, group, description, imageSize, config: build(name, block, ratio, imageSize) };
  }
  return out;
}

/** Every variant of the ablation, by name (parameter-matched to `swin`, see above). */
export const VARIANTS: Record<string, Variant> = makeVariants();

/** The variants of the quick default run (`pnpm demo`): one per attention family. */
export const QUICK_VARIANTS = ['swin', 'swin-mlp', 'shunted', 'pvt-v2-sra', 'global'];

/**
 * The variants of `--full`: every attention kind, one window and one resolution variant (window 8 and
 * 48x48 input stay available with `--variants`; they cost 1.5-2.5x a Swin step and did not fit the
 * study's hour on a loaded 2-core machine).
 */
export const FULL_VARIANTS = Object.keys(VARIANTS).filter((n) => n !== 'swin-w8' && n !== 'swin-res48');
