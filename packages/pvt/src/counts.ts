import { SwinInputError } from '@swin/nn';
import { type PVTConfig, v1PosEmbedGrids, validatePVTConfig } from './config.js';

/**
 * How multiply-accumulates are counted.
 * - `official` (default): what whai362/PVT `classification/get_flops.py` reports (the papers' "FLOPs"):
 *   mmcv's `get_model_complexity_info` hooks - Conv (kernel MACs + 1 per output element for the bias),
 *   Linear (in x out per token, no bias), LayerNorm (2 per element), ReLU (1 per element),
 *   AdaptiveAvgPool (1 per input element); GELU, softmax and additions are not counted - plus the
 *   attention products added by `sra_flops` / `li_sra_flops`: `2 * h*w * h_kv*w_kv * dim` per block, with
 *   `h*w` the stage's grid (PVT v1's class token is not included there, although mmcv counts its Linear rows).
 * - `matmul`: only the products - every Conv and Linear (no bias) and both attention matmuls, with the
 *   exact token counts (PVT v1's last stage: `1 + H*W` tokens).
 *
 * Both give the published PVT v2 numbers at 224x224 to one decimal for b0/b1/b2/b3/b4/b2_li
 * (0.6/2.1/4.0/6.9/10.1/3.9 G); only `official` also gives b5's 11.8 G (`matmul`: 11.72) and reproduces
 * get_flops.py's printed "4.04 GFLOPs" for pvt_v2_b2.
 */
export type MacsConvention = 'official' | 'matmul';

export interface PVTMacsOptions {
  convention?: MacsConvention;
}

/** Spatial size of every stage's token grid for an `H x W` input. */
export function pvtStageSizes(cfg: PVTConfig, H: number, W: number): [number, number][] {
  const out: [number, number][] = [];
  let h = H;
  let w = W;
  for (let i = 0; i < cfg.embedDims.length; i++) {
    if (cfg.version === 1) {
      const p = i === 0 ? cfg.patchSize : 2;
      h = Math.floor(h / p);
      w = Math.floor(w / p);
    } else {
      const [k, s] = i === 0 ? [7, 4] : [3, 2];
      const pad = Math.floor(k / 2);
      h = Math.floor((h + 2 * pad - k) / s) + 1;
      w = Math.floor((w + 2 * pad - k) / s) + 1;
    }
    out.push([h, w]);
  }
  return out;
}

/**
 * Throws a `SwinInputError` `'<where>: ...'` naming the stage when an `H x W` image cannot run through `cfg`
 * (a stage map that would be empty, or smaller than its sr_ratio reduction conv), and for PVT v1 when a stage
 * grid has `patch_embed1.num_patches` tokens but another shape (the reference adds the stored pos_embed
 * unresized there and fails). Runs no op: models call it before any tensor is created. Returns the stage sizes.
 */
export function checkPVTInputSize(cfg: PVTConfig, H: number, W: number, where: string): [number, number][] {
  const sizes = pvtStageSizes(cfg, H, W);
  const grids = cfg.version === 1 ? v1PosEmbedGrids(cfg) : null;
  const tooSmall = (msg: string): never => {
    throw new SwinInputError(`${where}: input ${H}x${W} is too small: ${msg}`);
  };
  for (let i = 0; i < sizes.length; i++) {
    const [h, w] = sizes[i];
    if (h < 1 || w < 1) {
      const k = cfg.version === 1 ? (i === 0 ? cfg.patchSize : 2) : i === 0 ? 7 : 3;
      tooSmall(`stage ${i + 1} (patch_embed${i + 1}, ${k}x${k} patches) would get an empty ${h}x${w} map`);
    }
    const r = cfg.srRatios[i];
    if (cfg.depths[i] > 0 && !cfg.linear && r > 1 && (h < r || w < r)) {
      tooSmall(
        `stage ${i + 1} (block${i + 1}) has a ${h}x${w} map, smaller than its sr_ratio ${r} ` +
          `(the ${r}x${r} stride-${r} reduction conv needs H, W >= ${r})`,
      );
    }
    if (grids) {
      const [gh, gw] = grids[i];
      const [g0h, g0w] = grids[0];
      if (h * w === g0h * g0w && gh * gw !== h * w) {
        throw new SwinInputError(
          `${where}: stage ${i + 1} has a ${h}x${w} token grid, whose size equals patch_embed1.num_patches (${g0h * g0w}), so the reference adds pos_embed${i + 1} (${gh}x${gw} = ${gh * gw} rows) without resizing and fails; use an input size whose stage-${i + 1} grid differs from ${g0h * g0w} tokens`,
        );
      }
    }
  }
  return sizes;
}

/**
 * Multiply-accumulates of one `H x W` image for a PVT v1/v2 config, from the config alone (no weights).
 * See `MacsConvention` for what is counted. `model.macs(H, W)` delegates here.
 */
export function pvtMacs(cfg: PVTConfig, H: number, W: number, opts: PVTMacsOptions = {}): number {
  validatePVTConfig(cfg);
  if (!Number.isInteger(H) || !Number.isInteger(W) || H < 1 || W < 1) {
    throw new SwinInputError(`pvtMacs: input size must be positive integers, got ${H}x${W}`);
  }
  const official = (opts.convention ?? 'official') === 'official';
  const sizes = pvtStageSizes(cfg, H, W);
  const S = cfg.embedDims.length;
  let total = 0;
  let cin = cfg.inChans;
  for (let i = 0; i < S; i++) {
    const C = cfg.embedDims[i];
    const [h, w] = sizes[i];
    if (h < 1 || w < 1) throw new SwinInputError(`pvtMacs: stage ${i + 1} is empty for a ${H}x${W} input`);
    const HW = h * w;
    const k = cfg.version === 1 ? (i === 0 ? cfg.patchSize : 2) : i === 0 ? 7 : 3;
    // patch embed: conv (+ bias + LayerNorm)
    total += HW * C * cin * k * k + (official ? 3 * HW * C : 0);
    const last = i === S - 1;
    const N = cfg.version === 1 && last ? HW + 1 : HW; // v1 last stage carries the class token
    const Na = official ? HW : N; // tokens of the attention products
    const hidden = Math.trunc(C * cfg.mlpRatios[i]);
    const r = cfg.srRatios[i];
    const linear = cfg.version === 2 && cfg.linear;
    for (let j = 0; j < cfg.depths[i]; j++) {
      let M = N;
      let Ma = Na;
      let b = 2 * N * C * C; // q, proj
      if (linear) {
        M = Ma = 49;
        b += 49 * C * C + (official ? 3 * 49 * C + HW * C : 0); // 1x1 conv (+bias, norm, pooling)
      } else if (r > 1) {
        const hr = Math.floor(h / r);
        const wr = Math.floor(w / r);
        if (hr < 1 || wr < 1) {
          throw new SwinInputError(`pvtMacs: stage ${i + 1} map ${h}x${w} is smaller than sr_ratio ${r}`);
        }
        M = Ma = hr * wr;
        b += M * C * C * r * r + (official ? 3 * M * C : 0);
      }
      b += M * C * 2 * C; // kv
      b += 2 * Na * Ma * C; // q @ k^T, attn @ v
      b += 2 * N * C * hidden; // fc1, fc2
      if (cfg.version === 2) b += HW * hidden * 9 + (official ? HW * hidden + (linear ? HW * hidden : 0) : 0);
      if (official) b += 4 * N * C; // norm1, norm2
      total += b;
    }
    if (cfg.version === 2 && official) total += 2 * HW * C; // stage norm
    if (cfg.version === 1 && last && official) total += 2 * N * C; // final norm (mmcv sees all tokens)
    cin = C;
  }
  total += cfg.numClasses * cin;
  return total;
}

/**
 * Trainable parameters of a PVT v1/v2 config (what `model.numParams()` returns), from the config alone:
 * convs, linears, LayerNorms, v1 position embeddings and class token, and the head.
 */
export function pvtParamCount(cfg: PVTConfig): number {
  validatePVTConfig(cfg);
  const S = cfg.embedDims.length;
  const grids = cfg.version === 1 ? v1PosEmbedGrids(cfg) : [];
  let total = 0;
  let cin = cfg.inChans;
  for (let i = 0; i < S; i++) {
    const C = cfg.embedDims[i];
    const k = cfg.version === 1 ? (i === 0 ? cfg.patchSize : 2) : i === 0 ? 7 : 3;
    total += C * cin * k * k + C + 2 * C; // patch embed conv + norm
    if (cfg.version === 1) total += (grids[i][0] * grids[i][1] + (i === S - 1 ? 1 : 0)) * C; // pos_embed
    const hidden = Math.trunc(C * cfg.mlpRatios[i]);
    const r = cfg.srRatios[i];
    const qkvB = cfg.qkvBias ? 1 : 0;
    let blk = 4 * C; // norm1, norm2
    blk += C * C + qkvB * C + 2 * C * C + qkvB * 2 * C + C * C + C; // q, kv, proj
    if (cfg.version === 2 && cfg.linear) blk += C * C + C + 2 * C;
    else if (r > 1) blk += C * C * r * r + C + 2 * C;
    blk += C * hidden + hidden + hidden * C + C; // fc1, fc2
    if (cfg.version === 2) blk += 9 * hidden + hidden; // depthwise conv
    total += blk * cfg.depths[i];
    if (cfg.version === 2) total += 2 * C; // stage norm
    cin = C;
  }
  if (cfg.version === 1) total += 2 * cin + cin; // final norm + cls_token
  if (cfg.numClasses > 0) total += cin * cfg.numClasses + cfg.numClasses;
  return total;
}
