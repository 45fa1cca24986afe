/**
 * Spatial sizes through the Shunted Transformer, following PyTorch's convolution arithmetic
 * `out = floor((in + 2p - k) / s) + 1` (kernel = stride reductions drop the remainder), with clear errors
 * where the reference would fail (a map too small for a conv).
 */
import { SwinInputError } from '@swin/nn';
import { reductionKernels } from './config.js';

/** Output length of a PyTorch conv along one axis. */
export function convOut(n: number, kernel: number, stride: number, padding: number): number {
  return Math.floor((n + 2 * padding - kernel) / stride) + 1;
}

/** Size after the stem's 7x7 / stride 2 / pad 3 conv (the 3x3 convs keep it). */
export function stemConvSize(H: number, W: number): [number, number] {
  return [convOut(H, 7, 2, 3), convOut(W, 7, 2, 3)];
}

/** Output size of the stem `Head` (7x7/2 pad 3, then 2x2/2); throws if the input is too small. */
export function stemOutSize(H: number, W: number): [number, number] {
  checkSize('ShuntedStem', H, W);
  const [h1, w1] = stemConvSize(H, W);
  const out: [number, number] = [convOut(h1, 2, 2, 0), convOut(w1, 2, 2, 0)];
  if (out[0] < 1 || out[1] < 1) {
    throw new SwinInputError(
      `ShuntedStem: a ${H}x${W} input gives a ${h1}x${w1} map after the 7x7 stride-2 conv, too small ` +
        `for the final 2x2 stride-2 conv (it would give ${out[0]}x${out[1]}); inputs need at least 3x3 pixels`,
    );
  }
  return out;
}

/** Output size of an OverlapPatchEmbed (kernel `k`, stride `s`, padding `k // 2`). */
export function overlapEmbedOutSize(H: number, W: number, k = 3, s = 2): [number, number] {
  checkSize('OverlapPatchEmbed', H, W);
  const p = Math.floor(k / 2);
  const out: [number, number] = [convOut(H, k, s, p), convOut(W, k, s, p)];
  if (out[0] < 1 || out[1] < 1)
    throw new SwinInputError(
      `OverlapPatchEmbed: a ${H}x${W} map is too small for the ${k}x${k} stride-${s} conv`,
    );
  return out;
}

/**
 * Sizes of the two reduced key/value maps of shunted attention on an `H x W` token map (`null` for
 * sr_ratio 1). Throws when a reduction conv would not fit (the reference fails there too), naming
 * `where` (e.g. the stage), the map size and the ratio.
 */
export function reducedSizes(
  H: number,
  W: number,
  srRatio: number,
  where = 'ShuntedAttention',
): [[number, number], [number, number]] | null {
  const ks = reductionKernels(srRatio);
  if (!ks) return null;
  const [k1, k2] = ks;
  if (H < k1 || W < k1) {
    throw new SwinInputError(
      `${where}: the ${H}x${W} token map is smaller than the ${k1}x${k1} reduction conv sr1 of sr_ratio ${srRatio} ` +
        `(its reduced map would be ${Math.floor(H / k1)}x${Math.floor(W / k1)}); maps must be at least ${k1}x${k1} ` +
        `for sr_ratio ${srRatio}`,
    );
  }
  return [
    [Math.floor(H / k1), Math.floor(W / k1)],
    [Math.floor(H / k2), Math.floor(W / k2)],
  ];
}

/** Throws unless H and W are positive integers. */
export function checkSize(where: string, H: number, W: number): void {
  if (!Number.isInteger(H) || !Number.isInteger(W) || H < 1 || W < 1)
    throw new SwinInputError(`${where}: map size must be positive integers, got ${H}x${W}`);
}

/**
 * Token-map size of every stage for an `H x W` input image: `[[H1, W1], ...]` (stride 4, 8, 16, 32 with
 * remainders dropped by the strided convs as in PyTorch). Throws a clear error naming the stage, its map
 * size, its sr_ratio and the input size when the reference would fail.
 */
export function shuntedStageSizes(
  cfg: { numStages: number; srRatios: number[] },
  H: number,
  W: number,
): [number, number][] {
  checkSize('ShuntedTransformer', H, W);
  const sizes: [number, number][] = [];
  let hw: [number, number] = [0, 0];
  for (let i = 0; i < cfg.numStages; i++) {
    try {
      hw = i === 0 ? stemOutSize(H, W) : overlapEmbedOutSize(hw[0], hw[1]);
      reducedSizes(hw[0], hw[1], cfg.srRatios[i], `stage ${i} (block${i + 1})`);
    } catch (e) {
      throw new SwinInputError(`ShuntedTransformer: input ${H}x${W} is too small: ${(e as Error).message}`);
    }
    sizes.push([hw[0], hw[1]]);
  }
  return sizes;
}
