/**
 * MAC and parameter counts of a hybrid backbone from its config alone (no weights allocated).
 *
 * MACs are the sum of the parts' counters, each in its own package's convention (the papers' "FLOPs" =
 * multiply-adds): every downsample's `macs` (Swin PatchEmbed / PatchMerging include their LayerNorm like
 * the official `flops()`; the PVT / Shunted embeddings count the conv only), every block's `macs` (Swin
 * blocks include norm1/norm2 like the official `flops()`; Shunted, PVT and global blocks count convs,
 * linears and both attention products), and the head `numFeatures * numClasses`. Stage norms and the final
 * norm are not counted (the official Swin `flops()` adds a final-norm term, `numFeatures * H*W / 2^stages`).
 * With `headPool: 'cls'` the class token's share of the last stage's blocks is added (its Linear rows and
 * attention products), which makes PVT v1 presets equal `pvtMacs(..., { convention: 'matmul' })`.
 */
import type { BackboneConfig } from './config.js';
import { BLOCK_KINDS, DOWNSAMPLE_KINDS } from './kinds.js';
import { type ResolvedBackboneConfig, resolveBackboneConfig, stageSizes } from './resolve.js';

/** One stage's share of {@link backboneMacs}. */
export interface StageMacs {
  /** Output map `[h, w]`. */
  size: [number, number];
  downsample: number;
  /** All blocks of the stage. */
  blocks: number;
}

function resolved(config: BackboneConfig | ResolvedBackboneConfig): ResolvedBackboneConfig {
  return resolveBackboneConfig(config);
}

/** Per-stage MACs of one `H x W` image (see the module comment for the convention). */
export function backboneMacsByStage(config: BackboneConfig, H: number, W: number): StageMacs[] {
  const c = resolved(config);
  const built = stageSizes(c, c.imgSize[0], c.imgSize[1], 'imgSize');
  const sizes = stageSizes(c, H, W);
  let inC = c.inChans;
  let h = H;
  let w = W;
  return c.stages.map((s, i) => {
    const ds = DOWNSAMPLE_KINDS[s.downsample.kind].macs(s.downsample, inC, s.dim, h, w);
    [h, w] = sizes[i];
    const spec = BLOCK_KINDS[s.block.kind];
    const cls = c.headPool === 'cls' && i === c.stages.length - 1;
    let blocks = 0;
    for (let j = 0; j < s.depth; j++) {
      blocks += spec.macs(s.block, s.dim, built[i], h, w, j);
      if (cls && spec.classTokenMacs) blocks += spec.classTokenMacs(s.block, s.dim, h, w);
    }
    inC = s.dim;
    return { size: [h, w], downsample: ds, blocks };
  });
}

/** Multiply-accumulates of one `H x W` image (default: `imgSize`) through a backbone built from `config`. */
export function backboneMacs(config: BackboneConfig, H?: number, W?: number): number {
  const c = resolved(config);
  const parts = backboneMacsByStage(c, H ?? c.imgSize[0], W ?? c.imgSize[1]);
  const last = c.stages[c.stages.length - 1].dim;
  return parts.reduce((m, p) => m + p.downsample + p.blocks, 0) + last * c.numClasses;
}

/** Trainable parameters of a backbone built from `config` (equals `createBackbone(config).numParams()`). */
export function backboneParamCount(config: BackboneConfig): number {
  const c = resolved(config);
  const built = stageSizes(c, c.imgSize[0], c.imgSize[1], 'imgSize');
  let inC = c.inChans;
  let n = 0;
  const S = c.stages.length;
  c.stages.forEach((s, i) => {
    n += DOWNSAMPLE_KINDS[s.downsample.kind].params(s.downsample, inC, s.dim);
    if (s.posEmbed) n += (built[i][0] * built[i][1] + (c.headPool === 'cls' && i === S - 1 ? 1 : 0)) * s.dim;
    if (s.depth > 0) n += s.depth * BLOCK_KINDS[s.block.kind].params(s.block, s.dim, built[i]);
    if (s.norm) n += 2 * s.dim;
    inC = s.dim;
  });
  if (c.headPool === 'cls') n += inC;
  if (c.finalNorm) n += 2 * inC;
  if (c.numClasses > 0) n += inC * c.numClasses + c.numClasses;
  return n;
}
