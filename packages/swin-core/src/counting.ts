import { effectiveWindow, swinBlockMacs } from './block.js';
import { imgSizePair, resolveSwinConfig, type SwinConfig, stageResolutions } from './config.js';
import { patchEmbedMacs } from './patch-embed.js';
import { patchMergingMacs } from './patch-merging.js';

/**
 * Multiply-accumulates of one `H x W` image (default: `imgSize`) through a Swin model built from
 * `config`, computed from the config alone. Reproduces the official `SwinTransformer.flops()` term by
 * term: patch-embed conv (+ norm), per block norm1 + `nW * attn.flops(N)` + MLP `2*H*W*C*C*mlpRatio`
 * + norm2, PatchMerging, the final norm (official quirk: `numFeatures * Hp * Wp // 2**numLayers`) and
 * the head. Block windows are clamped from `config.imgSize` as at construction; sizes that do not divide
 * are counted as executed (padded), so the result equals the official `flops()` whenever the official
 * model can run that size. Swin-T at 224: 4.49 G.
 */
export function swinMacs(config: Partial<SwinConfig> = {}, H?: number, W?: number): number {
  const c = resolveSwinConfig(config);
  const [H0, W0] = imgSizePair(c);
  const h = H ?? H0;
  const w = W ?? W0;
  if (!Number.isInteger(h) || !Number.isInteger(w) || h <= 0 || w <= 0) {
    throw new Error(`swinMacs: H and W must be positive integers, got ${H}x${W}`);
  }
  const built = stageResolutions(c, H0, W0);
  const run = stageResolutions(c, h, w);
  let m = patchEmbedMacs(h, w, [c.patchSize, c.patchSize], c.inChans, c.embedDim, c.patchNorm);
  const n = c.depths.length;
  for (let i = 0; i < n; i++) {
    const dim = c.embedDim * 2 ** i;
    const [hi, wi] = run[i];
    for (let j = 0; j < c.depths[i]; j++) {
      const requested = j % 2 === 0 ? 0 : Math.floor(c.windowSize / 2);
      const [ws] = effectiveWindow(built[i], c.windowSize, requested);
      m += swinBlockMacs(dim, c.numHeads[i], ws, c.mlpRatio, hi, wi);
    }
    if (i < n - 1) m += patchMergingMacs(hi, wi, dim);
  }
  const numFeatures = c.embedDim * 2 ** (n - 1);
  m += Math.floor((numFeatures * run[0][0] * run[0][1]) / 2 ** n);
  m += numFeatures * c.numClasses;
  return m;
}

/**
 * Trainable parameters of a Swin model built from `config`, computed from the config alone (no weights
 * allocated). Swin-T: 28,288,354.
 */
export function swinParamCount(config: Partial<SwinConfig> = {}): number {
  const c = resolveSwinConfig(config);
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
    for (let j = 0; j < c.depths[i]; j++) {
      const requested = j % 2 === 0 ? 0 : Math.floor(c.windowSize / 2);
      const [ws] = effectiveWindow(built[i], c.windowSize, requested);
      n += 4 * dim; // norm1, norm2
      n += (2 * ws - 1) * (2 * ws - 1) * c.numHeads[i]; // relative_position_bias_table
      n += 3 * dim * dim + (c.qkvBias ? 3 * dim : 0) + dim * dim + dim; // qkv, proj
      n += dim * hidden + hidden + hidden * dim + dim; // mlp
    }
    if (i < L - 1) n += 4 * dim * 2 * dim + 2 * 4 * dim; // PatchMerging reduction + norm
  }
  const F = E * 2 ** (L - 1);
  n += 2 * F;
  if (c.numClasses > 0) n += F * c.numClasses + c.numClasses;
  return n;
}
