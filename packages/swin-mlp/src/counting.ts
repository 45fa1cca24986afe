import { patchEmbedMacs, patchMergingMacs } from '@swin/swin-core';
import { clampWindow, swinMlpBlockMacs } from './block.js';
import { imgSizePair, resolveSwinMlpConfig, type SwinMLPConfig, stageResolutions } from './config.js';

/** Effective `[window, shift]` of block `j` of a stage built for `resolution` (official clamping). */
export function stageBlockWindow(
  windowSize: number,
  blockIndex: number,
  resolution: readonly [number, number],
): [number, number] {
  const requested = blockIndex % 2 === 0 ? 0 : Math.floor(windowSize / 2);
  const e = clampWindow(windowSize, requested, resolution);
  return [e.windowSize, e.shiftSize];
}

/**
 * Multiply-accumulates of one `H x W` image (default: `imgSize`) through a Swin-MLP built from `config`,
 * from the config alone. Reproduces the official `SwinMLP.flops()` term by term: patch-embed conv
 * (+ norm); per block norm1 + `nW * dim * N^2` spatial MLP (`nW = (H/ws+1)(W/ws+1)` for shifted blocks)
 * + channel MLP `2*H*W*dim^2*mlpRatio` + norm2; PatchMerging; the final norm with the official quirk
 * `numFeatures * Hp * Wp // 2**numLayers`; the head. Windows are clamped from `config.imgSize` as at
 * construction; sizes that do not divide are counted as executed (padded).
 */
export function swinMlpMacs(config: Partial<SwinMLPConfig> = {}, H?: number, W?: number): number {
  const c = resolveSwinMlpConfig(config);
  const [H0, W0] = imgSizePair(c);
  const h = H ?? H0;
  const w = W ?? W0;
  if (!Number.isInteger(h) || !Number.isInteger(w) || h <= 0 || w <= 0) {
    throw new Error(`swinMlpMacs: H and W must be positive integers, got ${H}x${W}`);
  }
  const built = stageResolutions(c, H0, W0);
  const run = stageResolutions(c, h, w);
  let m = patchEmbedMacs(h, w, [c.patchSize, c.patchSize], c.inChans, c.embedDim, c.patchNorm);
  const n = c.depths.length;
  for (let i = 0; i < n; i++) {
    const dim = c.embedDim * 2 ** i;
    const [hi, wi] = run[i];
    for (let j = 0; j < c.depths[i]; j++) {
      const [ws, s] = stageBlockWindow(c.windowSize, j, built[i]);
      m += swinMlpBlockMacs(dim, ws, s, c.mlpRatio, hi, wi);
    }
    if (i < n - 1) m += patchMergingMacs(hi, wi, dim);
  }
  const numFeatures = c.embedDim * 2 ** (n - 1);
  m += Math.floor((numFeatures * run[0][0] * run[0][1]) / 2 ** n);
  m += numFeatures * c.numClasses;
  return m;
}

/**
 * Trainable parameters of a Swin-MLP built from `config`, from the config alone (no weights allocated).
 * The `spatial_mlp` size depends on the clamped window of each block, hence on `imgSize`.
 */
export function swinMlpParamCount(config: Partial<SwinMLPConfig> = {}): number {
  const c = resolveSwinMlpConfig(config);
  const [H0, W0] = imgSizePair(c);
  const built = stageResolutions(c, H0, W0);
  const p = c.patchSize;
  const E = c.embedDim;
  let n = c.inChans * E * p * p + E + (c.patchNorm ? 2 * E : 0);
  if (c.ape) n += built[0][0] * built[0][1] * E;
  const L = c.depths.length;
  for (let i = 0; i < L; i++) {
    const dim = E * 2 ** i;
    const hidden = Math.floor(dim * c.mlpRatio);
    const nH = c.numHeads[i];
    for (let j = 0; j < c.depths[i]; j++) {
      const [ws] = stageBlockWindow(c.windowSize, j, built[i]);
      const N = ws * ws;
      n += 4 * dim; // norm1, norm2
      n += nH * N * N + nH * N; // spatial_mlp weight + bias
      n += dim * hidden + hidden + hidden * dim + dim; // mlp
    }
    if (i < L - 1) n += 4 * dim * 2 * dim + 2 * 4 * dim; // PatchMerging reduction + norm
  }
  const F = E * 2 ** (L - 1);
  n += 2 * F;
  if (c.numClasses > 0) n += F * c.numClasses + c.numClasses;
  return n;
}
