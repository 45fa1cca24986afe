/**
 * Analytic parameter and multiply-accumulate (MAC) counts from the configuration alone (no weights).
 *
 * MACs follow the usual convention of the papers' "FLOPs": every multiply-add of convolutions
 * (including depthwise ones), Linear layers and the two attention products (`q @ k^T`, `attn @ v`) is
 * counted; normalisation, activations, softmax, additions and pooling are not. With it, Shunted-T/S/B at
 * 224x224 give 2.147 / 4.993 / 8.150 GMACs, which the paper reports (truncated) as 2.1 / 4.9 / 8.1 G.
 *
 * Parameters count every trainable scalar, including the conv stem and the 1000-class head; BatchNorm
 * running statistics are buffers and are not counted.
 */
import {
  mlpHidden,
  reductionKernels,
  resolveShuntedConfig,
  type ShuntedConfig,
  STEM_CHANNELS,
} from './config.js';
import { overlapEmbedOutSize, shuntedStageSizes, stemConvSize, stemOutSize } from './sizes.js';

const linearParams = (i: number, o: number, bias = true) => i * o + (bias ? o : 0);
const convParams = (i: number, o: number, k: number, bias = true) => i * o * k * k + (bias ? o : 0);
const dwParams = (c: number) => c * 9 + c;

/** Trainable parameters of {@link ShuntedAttention}. */
export function shuntedAttentionParams(dim: number, srRatio: number, qkvBias: boolean): number {
  let p = linearParams(dim, dim, qkvBias) + linearParams(dim, dim); // q, proj
  const ks = reductionKernels(srRatio);
  if (ks) {
    for (const k of ks) {
      p += convParams(dim, dim, k) + 2 * dim + linearParams(dim, dim, qkvBias) + dwParams(dim / 2);
    }
  } else {
    p += linearParams(dim, 2 * dim, qkvBias) + dwParams(dim);
  }
  return p;
}

/** MACs of {@link ShuntedAttention} on one `H x W` map (remainders of the reductions dropped). */
export function shuntedAttentionMacs(dim: number, srRatio: number, H: number, W: number): number {
  const N = H * W;
  let m = 2 * N * dim * dim; // q, proj
  const ks = reductionKernels(srRatio);
  if (ks) {
    for (const k of ks) {
      const M = Math.floor(H / k) * Math.floor(W / k);
      m += M * dim * dim * k * k; // sr conv
      m += M * dim * dim; // kv
      m += M * (dim / 2) * 9; // local conv on v
      m += 2 * N * M * (dim / 2); // q @ k^T and attn @ v for half of the heads
    }
  } else {
    m += N * dim * 2 * dim + N * dim * 9 + 2 * N * N * dim;
  }
  return m;
}

/** Trainable parameters of {@link ShuntedMlp} (`fc1`, `dwconv`, `fc2`). */
export function shuntedMlpParams(dim: number, hidden: number): number {
  return linearParams(dim, hidden) + dwParams(hidden) + linearParams(hidden, dim);
}

/** MACs of {@link ShuntedMlp} on one `H x W` map. */
export function shuntedMlpMacs(dim: number, hidden: number, H: number, W: number): number {
  const N = H * W;
  return 2 * N * dim * hidden + N * hidden * 9;
}

/** Trainable parameters of {@link ShuntedBlock}. */
export function shuntedBlockParams(dim: number, srRatio: number, mlpRatio: number, qkvBias: boolean): number {
  return (
    4 * dim + shuntedAttentionParams(dim, srRatio, qkvBias) + shuntedMlpParams(dim, mlpHidden(dim, mlpRatio))
  );
}

/** MACs of {@link ShuntedBlock} on one `H x W` map. */
export function shuntedBlockMacs(
  dim: number,
  srRatio: number,
  mlpRatio: number,
  H: number,
  W: number,
): number {
  return shuntedAttentionMacs(dim, srRatio, H, W) + shuntedMlpMacs(dim, mlpHidden(dim, mlpRatio), H, W);
}

/** Trainable parameters of the stem `Head(numConv)` (convs, BatchNorm affine, final conv, LayerNorm). */
export function shuntedStemParams(numConv: number): number {
  const C = STEM_CHANNELS;
  return (
    convParams(3, C, 7, false) +
    2 * C +
    numConv * (convParams(C, C, 3, false) + 2 * C) +
    convParams(C, C, 2) +
    2 * C
  );
}

/** MACs of the stem on one `H x W` image. */
export function shuntedStemMacs(numConv: number, H: number, W: number): number {
  const C = STEM_CHANNELS;
  const [h1, w1] = stemConvSize(H, W);
  const [h2, w2] = stemOutSize(H, W);
  return h1 * w1 * C * (3 * 49 + numConv * C * 9) + h2 * w2 * C * C * 4;
}

/** Trainable parameters of an OverlapPatchEmbed (conv `k x k` with bias + LayerNorm). */
export function overlapPatchEmbedParams(inChans: number, embedDim: number, k = 3): number {
  return convParams(inChans, embedDim, k) + 2 * embedDim;
}

/** MACs of an OverlapPatchEmbed on one `H x W` map. */
export function overlapPatchEmbedMacs(
  inChans: number,
  embedDim: number,
  H: number,
  W: number,
  k = 3,
  s = 2,
): number {
  const [h, w] = overlapEmbedOutSize(H, W, k, s);
  return h * w * inChans * embedDim * k * k;
}

/**
 * Trainable parameters of a Shunted Transformer built from `config` (partial configs are completed with
 * the defaults): stem, patch embeddings, blocks, stage norms and head. Shunted-T/S/B: 11,553,576 /
 * 22,401,256 / 39,614,376, the paper's 11.5 / 22.4 / 39.6 M (its figures are truncated to 0.1 M).
 */
export function shuntedParamCount(config: Partial<ShuntedConfig> = {}): number {
  const cfg = resolveShuntedConfig(config);
  let p = shuntedStemParams(cfg.numConv);
  for (let i = 0; i < cfg.numStages; i++) {
    const dim = cfg.embedDims[i];
    if (i > 0) p += overlapPatchEmbedParams(cfg.embedDims[i - 1], dim);
    p += cfg.depths[i] * shuntedBlockParams(dim, cfg.srRatios[i], cfg.mlpRatios[i], cfg.qkvBias);
    p += 2 * dim; // norm<i>
  }
  if (cfg.numClasses > 0) p += linearParams(cfg.embedDims[cfg.numStages - 1], cfg.numClasses);
  return p;
}

/**
 * MACs of one `H x W` image through a Shunted Transformer built from `config` (see the module comment
 * for the convention). Throws like the model does when the input is too small for some stage.
 */
export function shuntedMacs(config: Partial<ShuntedConfig>, H: number, W: number): number {
  const cfg = resolveShuntedConfig(config);
  const sizes = shuntedStageSizes(cfg, H, W);
  let m = shuntedStemMacs(cfg.numConv, H, W);
  for (let i = 0; i < cfg.numStages; i++) {
    const dim = cfg.embedDims[i];
    const [h, w] = sizes[i];
    if (i > 0) m += overlapPatchEmbedMacs(cfg.embedDims[i - 1], dim, sizes[i - 1][0], sizes[i - 1][1]);
    m += cfg.depths[i] * shuntedBlockMacs(dim, cfg.srRatios[i], cfg.mlpRatios[i], h, w);
  }
  if (cfg.numClasses > 0) m += cfg.embedDims[cfg.numStages - 1] * cfg.numClasses;
  return m;
}
