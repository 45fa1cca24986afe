import { effectiveWindow, swinBlockMacs } from './block.js';
import { resolveSwinConfig, type SwinConfig } from './config.js';
import { hierarchicalMacs, hierarchicalParamCount } from './hierarchical.js';

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
  return hierarchicalMacs('swinMacs', c, H, W, (b, h, w) => {
    const requested = b.block % 2 === 0 ? 0 : Math.floor(c.windowSize / 2);
    const [ws] = effectiveWindow(b.built, c.windowSize, requested);
    return swinBlockMacs(b.dim, b.numHeads, ws, c.mlpRatio, h, w);
  });
}

/**
 * Trainable parameters of a Swin model built from `config`, computed from the config alone (no weights
 * allocated). Swin-T: 28,288,354.
 */
export function swinParamCount(config: Partial<SwinConfig> = {}): number {
  const c = resolveSwinConfig(config);
  return hierarchicalParamCount(c, ({ block, dim, numHeads, built }) => {
    const requested = block % 2 === 0 ? 0 : Math.floor(c.windowSize / 2);
    const [ws] = effectiveWindow(built, c.windowSize, requested);
    return (
      (2 * ws - 1) * (2 * ws - 1) * numHeads + // relative_position_bias_table
      3 * dim * dim +
      (c.qkvBias ? 3 * dim : 0) + // qkv
      dim * dim +
      dim // proj
    );
  });
}
