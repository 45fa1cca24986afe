import { hierarchicalMacs, hierarchicalParamCount } from '@swin/swin-core';
import { clampWindow, swinMlpBlockMacs } from './block.js';
import { resolveSwinMlpConfig, type SwinMLPConfig } from './config.js';

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
  return hierarchicalMacs('swinMlpMacs', c, H, W, (b, h, w) => {
    const [ws, s] = stageBlockWindow(c.windowSize, b.block, b.built);
    return swinMlpBlockMacs(b.dim, ws, s, c.mlpRatio, h, w);
  });
}

/**
 * Trainable parameters of a Swin-MLP built from `config`, from the config alone (no weights allocated).
 * The `spatial_mlp` size depends on the clamped window of each block, hence on `imgSize`.
 */
export function swinMlpParamCount(config: Partial<SwinMLPConfig> = {}): number {
  const c = resolveSwinMlpConfig(config);
  return hierarchicalParamCount(c, ({ block, numHeads, built }) => {
    const [ws] = stageBlockWindow(c.windowSize, block, built);
    const N = ws * ws;
    return numHeads * N * N + numHeads * N; // spatial_mlp weight + bias
  });
}
