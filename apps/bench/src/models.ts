/**
 * The benchmarked models. Factories are resolved lazily (dynamic import by package name), so the bench
 * runs with whatever model packages exist and reports the others as unavailable.
 */
import type * as tf from '@tensorflow/tfjs-core';

/** What the bench needs of a model (every `VisionModel` of `@swin/nn` has it). */
export interface BenchModel {
  forward(x: tf.Tensor4D): tf.Tensor2D;
  macs(H: number, W: number): number;
  trainableVariables(): tf.Variable[];
  train(): unknown;
  eval(): unknown;
  dispose(): void;
  readonly numClasses: number;
}

/** Catalog entry (pure data: used by the planner and the tests). */
export interface ModelInfo {
  id: string;
  /** Human-readable name and the factory call it stands for. */
  label: string;
  /** Sizes run when `--sizes` is not given. */
  defaultSizes: number[];
}

export const MODEL_CATALOG: readonly ModelInfo[] = [
  {
    id: 'swin_t',
    label: "Swin-T: createSwin('swin_tiny_patch4_window7_224')",
    defaultSizes: [224, 448, 896],
  },
  {
    id: 'swin_mlp_t',
    label: "Swin-MLP-T: createSwinMLP('swin_mlp_tiny_c24_patch4_window8_256', { imgSize })",
    defaultSizes: [224],
  },
  { id: 'shunted_t', label: "Shunted-T: createShunted('shunted_t')", defaultSizes: [224] },
  { id: 'pvt_v2_b1', label: "PVTv2-b1: createPVT('pvt_v2_b1')", defaultSizes: [224] },
  {
    id: 'hybrid_shunted_swin',
    label: 'Hybrid: Shunted-T stages 1-2 + Swin-T stages 3-4 (createBackbone)',
    defaultSizes: [224],
  },
];

export const MODEL_IDS: readonly string[] = MODEL_CATALOG.map((m) => m.id);

/**
 * The hybrid: Shunted-T's conv-free stem and its first two stages (two-scale attention, sr 8 / 4) under
 * Swin-T's stages 3-4 (W-MSA / SW-MSA, window 7), 1000 classes.
 */
export function hybridConfig(imgSize: number) {
  return {
    name: 'hybrid_shunted_swin',
    imgSize,
    numClasses: 1000,
    stages: [
      {
        dim: 64,
        depth: 1,
        downsample: { kind: 'shunted_stem' as const, numConv: 0 },
        block: { kind: 'shunted' as const, numHeads: 2, srRatio: 8, mlpRatio: 8 },
        norm: true,
      },
      {
        dim: 128,
        depth: 2,
        downsample: { kind: 'overlap_patch_embed' as const, patchSize: 3, stride: 2 },
        block: { kind: 'shunted' as const, numHeads: 4, srRatio: 4, mlpRatio: 8 },
        norm: true,
      },
      {
        dim: 384,
        depth: 6,
        downsample: { kind: 'patch_merging' as const },
        block: { kind: 'swin' as const, numHeads: 12, windowSize: 7 },
      },
      {
        dim: 768,
        depth: 2,
        downsample: { kind: 'patch_merging' as const },
        block: { kind: 'swin' as const, numHeads: 24, windowSize: 7 },
      },
    ],
    finalNorm: true,
  };
}

// Dynamic imports through a variable-free `import()` of each package name, so bundlers (vite) can
// resolve them and a missing package only fails when that model is requested.
const FACTORIES: Record<string, (size: number) => Promise<BenchModel>> = {
  swin_t: async (size) => {
    const m = await import('@swin/swin-core');
    return m.createSwin('swin_tiny_patch4_window7_224', { imgSize: size }) as unknown as BenchModel;
  },
  swin_mlp_t: async (size) => {
    const m = await import('@swin/swin-mlp');
    return m.createSwinMLP('swin_mlp_tiny_c24_patch4_window8_256', {
      imgSize: size,
    }) as unknown as BenchModel;
  },
  shunted_t: async (size) => {
    const m = await import('@swin/shunted-attention');
    return m.createShunted('shunted_t', { imgSize: size } as never) as unknown as BenchModel;
  },
  pvt_v2_b1: async (size) => {
    const m = await import('@swin/pvt');
    return m.createPVT('pvt_v2_b1', { imgSize: size } as never) as unknown as BenchModel;
  },
  hybrid_shunted_swin: async (size) => {
    const m = await import('@swin/backbone');
    return m.createBackbone(hybridConfig(size) as never) as unknown as BenchModel;
  },
};

/** Builds model `id` for `size`x`size` inputs (weights randomly initialised on the current backend). */
export async function createModel(id: string, size: number): Promise<BenchModel> {
  const f = FACTORIES[id];
  if (!f) throw new Error(`createModel: unknown model '${id}' (known: ${MODEL_IDS.join(', ')})`);
  return f(size);
}
