/**
 * The registry of block and downsample kinds: for each kind its options, defaults, validation, how it is
 * built from the kind's package, and its MAC / parameter counts from the config alone.
 */
import { type Downsample, type FeatureBlock, SwinConfigError } from '@swin/nn';
import {
  GlobalAttentionBlock,
  OverlapPatchEmbed,
  PVTBlock,
  PatchEmbed as PVTPatchEmbed,
  PVTv2Block,
} from '@swin/pvt';
import {
  ShuntedBlock,
  ShuntedStem,
  STEM_CHANNELS,
  shuntedBlockMacs,
  shuntedBlockParams,
  shuntedStemMacs,
  shuntedStemParams,
  stemOutSize,
} from '@swin/shunted-attention';
import {
  effectiveWindow,
  PatchMerging,
  patchEmbedMacs,
  patchMergingMacs,
  PatchEmbed as SwinPatchEmbed,
  SwinTransformerBlock,
  swinBlockMacs,
} from '@swin/swin-core';
import { clampWindow, SwinMLPBlock, swinMlpBlockMacs } from '@swin/swin-mlp';
import type { BlockConfig, BlockKind, DownsampleConfig, DownsampleKind } from './config.js';
import { StridedConvEmbed } from './strided-conv.js';

/** Where a block is built: everything besides its kind's own options. */
export interface BlockContext {
  /** Stage width. */
  dim: number;
  /** The stage's map size at the construction `imgSize` (Swin window clamping). */
  resolution: [number, number];
  /** Index of the block in its stage (Swin: odd blocks shift). */
  index: number;
  normEps: number;
  drop: number;
  attnDrop: number;
  dropPath: number;
  /** Dotted key prefix, for error messages (`stages.1.blocks.0`). */
  label: string;
}

/** The block options every PVT-family and Shunted block takes from the stage context. */
function commonBlockOptions(ctx: BlockContext) {
  return {
    normEps: ctx.normEps,
    drop: ctx.drop,
    attnDrop: ctx.attnDrop,
    dropPath: ctx.dropPath,
    name: ctx.label,
  };
}

/** What the registry knows about one block kind. */
export interface BlockKindSpec {
  readonly kind: BlockKind;
  /** Option names besides `kind`. */
  readonly options: readonly string[];
  readonly required: readonly string[];
  /** LayerNorm eps of norm1/norm2 in the kind's official factories. */
  readonly defaultNormEps: number;
  /** Fills the defaults (returns a new object). */
  resolve(c: BlockConfig): BlockConfig;
  /** Throws `${where}: ...` when the options cannot work at width `dim`. */
  validate(c: BlockConfig, dim: number, where: string): void;
  /** Throws `${where}: ...` when an `h x w` map cannot go through this block. */
  checkMap(c: BlockConfig, h: number, w: number, where: string): void;
  /** Whether the blocks accept a class token in front of the map's tokens (`headPool: 'cls'`). */
  acceptsClassToken(c: BlockConfig): boolean;
  /**
   * The MACs one extra class token adds to one block on an `h x w` map (its rows of every Linear, one more
   * query and key in both attention products). Only for kinds that accept a class token.
   */
  classTokenMacs?(c: BlockConfig, dim: number, h: number, w: number): number;
  build(c: BlockConfig, ctx: BlockContext): FeatureBlock;
  /** MACs of block `index` of a stage on an `h x w` map (what the built block's `macs(h, w)` returns). */
  macs(
    c: BlockConfig,
    dim: number,
    resolution: [number, number],
    h: number,
    w: number,
    index: number,
  ): number;
  /** Trainable parameters of one block. */
  params(c: BlockConfig, dim: number, resolution: [number, number]): number;
}

/** What the registry knows about one downsample kind. */
export interface DownsampleKindSpec {
  readonly kind: DownsampleKind;
  readonly options: readonly string[];
  readonly required: readonly string[];
  resolve(d: DownsampleConfig): DownsampleConfig;
  /** Throws `${where}: ...` for options that cannot work from `inChannels` to `dim`. */
  validate(d: DownsampleConfig, inChannels: number, dim: number, where: string): void;
  /** Output size for an `H x W` input (may be < 1: the caller reports it). */
  outSize(d: DownsampleConfig, H: number, W: number): [number, number];
  build(d: DownsampleConfig, inChannels: number, dim: number): Downsample;
  macs(d: DownsampleConfig, inChannels: number, dim: number, H: number, W: number): number;
  params(d: DownsampleConfig, inChannels: number, dim: number): number;
}

const hiddenOf = (dim: number, ratio: number) => Math.trunc(dim * ratio);
const linearParams = (i: number, o: number, bias = true) => i * o + (bias ? o : 0);
const mlpParams = (dim: number, hidden: number) => linearParams(dim, hidden) + linearParams(hidden, dim);

function fail(where: string, msg: string): never {
  throw new SwinConfigError(`${where}: ${msg}`);
}

function checkPosInt(where: string, name: string, v: unknown): void {
  if (typeof v !== 'number' || !Number.isInteger(v) || v <= 0) {
    fail(where, `${name} must be a positive integer, got ${JSON.stringify(v)}`);
  }
}

function checkHeads(where: string, dim: number, numHeads: number): void {
  checkPosInt(where, 'numHeads', numHeads);
  if (dim % numHeads !== 0) fail(where, `dim ${dim} is not divisible by numHeads ${numHeads}`);
}

function checkRatio(where: string, mlpRatio: number, dim: number): void {
  if (typeof mlpRatio !== 'number' || !(mlpRatio > 0) || hiddenOf(dim, mlpRatio) < 1) {
    fail(where, `mlpRatio must be > 0 with int(dim * mlpRatio) >= 1, got ${mlpRatio} for dim ${dim}`);
  }
}

function checkCommon(
  c: { mlpRatio?: number; qkScale?: number | null; qkvBias?: boolean },
  dim: number,
  where: string,
) {
  checkRatio(where, c.mlpRatio as number, dim);
  if (c.qkScale !== undefined && c.qkScale !== null && !(typeof c.qkScale === 'number' && c.qkScale >= 0)) {
    fail(where, `qkScale must be null or a number >= 0, got ${JSON.stringify(c.qkScale)}`);
  }
  if (c.qkvBias !== undefined && typeof c.qkvBias !== 'boolean') {
    fail(where, `qkvBias must be a boolean, got ${JSON.stringify(c.qkvBias)}`);
  }
}

/** The map must cover a stride-`sr` reduction conv (`floor(h / sr) >= 1`). */
function checkReduction(where: string, h: number, w: number, sr: number, what: string): void {
  if (h < sr || w < sr) {
    fail(
      where,
      `the ${h}x${w} map is smaller than the ${what} ${sr} (its ${sr}x${sr} stride-${sr} reduction conv ` +
        `would give a ${Math.floor(h / sr)}x${Math.floor(w / sr)} map); use a larger input/imgSize or a smaller ratio`,
    );
  }
}

/**
 * What one class token adds to a block with un-reduced global attention on `N = h*w` tokens (PVT v1's last
 * stage, as `pvtMacs` counts it with the matmul convention): q/kv/proj (or qkv/proj) `4 C^2`, the attention
 * products `2 ((N+1)^2 - N^2) C`, the MLP `2 C hidden`.
 */
function classTokenBlockMacs(C: number, mlpRatio: number, h: number, w: number): number {
  const N = h * w;
  return 4 * C * C + 2 * (2 * N + 1) * C + 2 * C * hiddenOf(C, mlpRatio);
}

/** Multiply-accumulates of PVT's SRAttention (`SRAttention.macs` with default options). */
function srAttentionMacs(C: number, h: number, w: number, sr: number, linear: boolean): number {
  const N = h * w;
  let M = N;
  let m = 2 * N * C * C; // q, proj
  if (linear) {
    M = 49;
    m += 49 * C * C; // 1x1 conv on the 7x7 pooled map
  } else if (sr > 1) {
    M = Math.floor(h / sr) * Math.floor(w / sr);
    m += M * C * C * sr * sr;
  }
  return m + M * C * 2 * C + 2 * N * M * C;
}

function srAttentionParams(C: number, sr: number, linear: boolean, qkvBias: boolean): number {
  let p = linearParams(C, C, qkvBias) + linearParams(C, 2 * C, qkvBias) + linearParams(C, C);
  if (linear) p += C * C + C + 2 * C;
  else if (sr > 1) p += C * C * sr * sr + C + 2 * C;
  return p;
}

type Of<K extends BlockKind> = Extract<BlockConfig, { kind: K }>;
type DOf<K extends DownsampleKind> = Extract<DownsampleConfig, { kind: K }>;

/** Requested shift of block `index` (before clamping): odd blocks shift by `windowSize // 2`. */
function swinShift(s: { shift?: boolean; windowSize: number }, index: number): number {
  return s.shift && index % 2 === 1 ? Math.floor(s.windowSize / 2) : 0;
}

const swin: BlockKindSpec = {
  kind: 'swin',
  options: ['numHeads', 'windowSize', 'shift', 'mlpRatio', 'qkvBias', 'qkScale', 'relativePositionBias'],
  required: ['numHeads', 'windowSize'],
  defaultNormEps: 1e-5,
  resolve: (c) => ({
    shift: true,
    mlpRatio: 4,
    qkvBias: true,
    qkScale: null,
    relativePositionBias: true,
    ...(c as Of<'swin'>),
  }),
  validate(c, dim, where) {
    const s = c as Of<'swin'>;
    checkHeads(where, dim, s.numHeads);
    checkPosInt(where, 'windowSize', s.windowSize);
    if (typeof s.shift !== 'boolean') fail(where, `shift must be a boolean, got ${JSON.stringify(s.shift)}`);
    if (typeof s.relativePositionBias !== 'boolean')
      fail(where, `relativePositionBias must be a boolean, got ${JSON.stringify(s.relativePositionBias)}`);
    checkCommon(s, dim, where);
  },
  checkMap() {},
  acceptsClassToken: () => false,
  build(c, ctx) {
    const s = c as Of<'swin'>;
    return new SwinTransformerBlock(ctx.dim, ctx.resolution, s.numHeads, {
      windowSize: s.windowSize,
      shiftSize: swinShift(s, ctx.index),
      mlpRatio: s.mlpRatio,
      qkvBias: s.qkvBias,
      qkScale: s.qkScale,
      relativePositionBias: s.relativePositionBias,
      drop: ctx.drop,
      attnDrop: ctx.attnDrop,
      dropPath: ctx.dropPath,
      eps: ctx.normEps,
    });
  },
  macs(c, dim, res, h, w) {
    const s = c as Of<'swin'>;
    const [ws] = effectiveWindow(res, s.windowSize, 0);
    return swinBlockMacs(dim, s.numHeads, ws, s.mlpRatio as number, h, w);
  },
  params(c, dim, res) {
    const s = c as Of<'swin'>;
    const [ws] = effectiveWindow(res, s.windowSize, 0);
    return (
      4 * dim +
      (s.relativePositionBias ? (2 * ws - 1) * (2 * ws - 1) * s.numHeads : 0) +
      linearParams(dim, 3 * dim, s.qkvBias) +
      linearParams(dim, dim) +
      mlpParams(dim, hiddenOf(dim, s.mlpRatio as number))
    );
  },
};

const swinMlp: BlockKindSpec = {
  kind: 'swin_mlp',
  options: ['numHeads', 'windowSize', 'shift', 'mlpRatio'],
  required: ['numHeads', 'windowSize'],
  defaultNormEps: 1e-5,
  resolve: (c) => ({ shift: true, mlpRatio: 4, ...(c as Of<'swin_mlp'>) }),
  validate(c, dim, where) {
    const s = c as Of<'swin_mlp'>;
    checkHeads(where, dim, s.numHeads);
    checkPosInt(where, 'windowSize', s.windowSize);
    if (typeof s.shift !== 'boolean') fail(where, `shift must be a boolean, got ${JSON.stringify(s.shift)}`);
    checkRatio(where, s.mlpRatio as number, dim);
  },
  checkMap() {},
  acceptsClassToken: () => false,
  build(c, ctx) {
    const s = c as Of<'swin_mlp'>;
    return new SwinMLPBlock({
      dim: ctx.dim,
      numHeads: s.numHeads,
      windowSize: s.windowSize,
      shiftSize: swinShift(s, ctx.index),
      inputResolution: ctx.resolution,
      mlpRatio: s.mlpRatio,
      drop: ctx.drop,
      dropPath: ctx.dropPath,
      normEps: ctx.normEps,
    });
  },
  macs(c, dim, res, h, w, index) {
    const s = c as Of<'swin_mlp'>;
    const { windowSize, shiftSize } = clampWindow(s.windowSize, swinShift(s, index), res);
    return swinMlpBlockMacs(dim, windowSize, shiftSize, s.mlpRatio as number, h, w);
  },
  params(c, dim, res) {
    const s = c as Of<'swin_mlp'>;
    const { windowSize } = clampWindow(s.windowSize, 0, res);
    const N = windowSize * windowSize;
    return 4 * dim + s.numHeads * N * (N + 1) + mlpParams(dim, hiddenOf(dim, s.mlpRatio as number));
  },
};

const SHUNTED_SR = [1, 2, 4, 8];

const shunted: BlockKindSpec = {
  kind: 'shunted',
  options: ['numHeads', 'srRatio', 'mlpRatio', 'qkvBias', 'qkScale'],
  required: ['numHeads', 'srRatio'],
  defaultNormEps: 1e-6,
  resolve: (c) => ({ mlpRatio: 4, qkvBias: true, qkScale: null, ...(c as Of<'shunted'>) }),
  validate(c, dim, where) {
    const s = c as Of<'shunted'>;
    checkHeads(where, dim, s.numHeads);
    if (!SHUNTED_SR.includes(s.srRatio)) {
      fail(
        where,
        `srRatio ${JSON.stringify(s.srRatio)} is not supported by shunted attention (known: 8, 4, 2 = two ` +
          `reduction branches, 1 = none)`,
      );
    }
    if (s.srRatio > 1 && s.numHeads % 2 !== 0) {
      fail(
        where,
        `numHeads must be even when srRatio > 1 (the heads split into two groups, one per reduction ` +
          `branch), got numHeads ${s.numHeads} with srRatio ${s.srRatio}`,
      );
    }
    checkCommon(s, dim, where);
  },
  checkMap(c, h, w, where) {
    const s = c as Of<'shunted'>;
    if (s.srRatio > 1) checkReduction(where, h, w, s.srRatio, 'shunted srRatio');
  },
  acceptsClassToken: () => false,
  build(c, ctx) {
    const s = c as Of<'shunted'>;
    return new ShuntedBlock(ctx.dim, s.numHeads, {
      mlpRatio: s.mlpRatio,
      qkvBias: s.qkvBias,
      qkScale: s.qkScale,
      srRatio: s.srRatio,
      ...commonBlockOptions(ctx),
      label: ctx.label,
    });
  },
  macs: (c, dim, _r, h, w) =>
    shuntedBlockMacs(dim, (c as Of<'shunted'>).srRatio, (c as Of<'shunted'>).mlpRatio as number, h, w),
  params: (c, dim) => {
    const s = c as Of<'shunted'>;
    return shuntedBlockParams(dim, s.srRatio, s.mlpRatio as number, s.qkvBias as boolean);
  },
};

const pvtSra: BlockKindSpec = {
  kind: 'pvt_sra',
  options: ['numHeads', 'srRatio', 'mlpRatio', 'qkvBias', 'qkScale'],
  required: ['numHeads', 'srRatio'],
  defaultNormEps: 1e-6,
  resolve: (c) => ({ mlpRatio: 4, qkvBias: true, qkScale: null, ...(c as Of<'pvt_sra'>) }),
  validate(c, dim, where) {
    const s = c as Of<'pvt_sra'>;
    checkHeads(where, dim, s.numHeads);
    checkPosInt(where, 'srRatio', s.srRatio);
    checkCommon(s, dim, where);
  },
  checkMap(c, h, w, where) {
    const s = c as Of<'pvt_sra'>;
    if (s.srRatio > 1) checkReduction(where, h, w, s.srRatio, 'pvt_sra srRatio');
  },
  acceptsClassToken: (c) => (c as Of<'pvt_sra'>).srRatio === 1,
  classTokenMacs: (c, dim, h, w) => classTokenBlockMacs(dim, (c as Of<'pvt_sra'>).mlpRatio as number, h, w),
  build(c, ctx) {
    const s = c as Of<'pvt_sra'>;
    return new PVTBlock(ctx.dim, s.numHeads, {
      mlpRatio: s.mlpRatio,
      srRatio: s.srRatio,
      qkvBias: s.qkvBias,
      qkScale: s.qkScale,
      ...commonBlockOptions(ctx),
    });
  },
  macs(c, dim, _r, h, w) {
    const s = c as Of<'pvt_sra'>;
    return (
      srAttentionMacs(dim, h, w, s.srRatio, false) + 2 * h * w * dim * hiddenOf(dim, s.mlpRatio as number)
    );
  },
  params(c, dim) {
    const s = c as Of<'pvt_sra'>;
    return (
      4 * dim +
      srAttentionParams(dim, s.srRatio, false, s.qkvBias as boolean) +
      mlpParams(dim, hiddenOf(dim, s.mlpRatio as number))
    );
  },
};

const pvtV2: BlockKindSpec = {
  kind: 'pvt_v2',
  options: ['numHeads', 'srRatio', 'linear', 'mlpRatio', 'qkvBias', 'qkScale'],
  required: ['numHeads', 'srRatio'],
  defaultNormEps: 1e-6,
  resolve: (c) => ({ linear: false, mlpRatio: 4, qkvBias: true, qkScale: null, ...(c as Of<'pvt_v2'>) }),
  validate(c, dim, where) {
    const s = c as Of<'pvt_v2'>;
    checkHeads(where, dim, s.numHeads);
    checkPosInt(where, 'srRatio', s.srRatio);
    if (typeof s.linear !== 'boolean')
      fail(where, `linear must be a boolean, got ${JSON.stringify(s.linear)}`);
    checkCommon(s, dim, where);
  },
  checkMap(c, h, w, where) {
    const s = c as Of<'pvt_v2'>;
    if (!s.linear && s.srRatio > 1) checkReduction(where, h, w, s.srRatio, 'pvt_v2 srRatio');
  },
  acceptsClassToken: () => false,
  build(c, ctx) {
    const s = c as Of<'pvt_v2'>;
    return new PVTv2Block(ctx.dim, s.numHeads, {
      mlpRatio: s.mlpRatio,
      srRatio: s.srRatio,
      linear: s.linear,
      qkvBias: s.qkvBias,
      qkScale: s.qkScale,
      ...commonBlockOptions(ctx),
    });
  },
  macs(c, dim, _r, h, w) {
    const s = c as Of<'pvt_v2'>;
    const hidden = hiddenOf(dim, s.mlpRatio as number);
    const N = h * w;
    return srAttentionMacs(dim, h, w, s.srRatio, s.linear as boolean) + N * dim * hidden * 2 + N * hidden * 9;
  },
  params(c, dim) {
    const s = c as Of<'pvt_v2'>;
    const hidden = hiddenOf(dim, s.mlpRatio as number);
    return (
      4 * dim +
      srAttentionParams(dim, s.srRatio, s.linear as boolean, s.qkvBias as boolean) +
      mlpParams(dim, hidden) +
      10 * hidden
    );
  },
};

const global: BlockKindSpec = {
  kind: 'global',
  options: ['numHeads', 'mlpRatio', 'qkvBias', 'qkScale'],
  required: ['numHeads'],
  defaultNormEps: 1e-6,
  resolve: (c) => ({ mlpRatio: 4, qkvBias: true, qkScale: null, ...(c as Of<'global'>) }),
  validate(c, dim, where) {
    const s = c as Of<'global'>;
    checkHeads(where, dim, s.numHeads);
    checkCommon(s, dim, where);
  },
  checkMap() {},
  acceptsClassToken: () => true,
  classTokenMacs: (c, dim, h, w) => classTokenBlockMacs(dim, (c as Of<'global'>).mlpRatio as number, h, w),
  build(c, ctx) {
    const s = c as Of<'global'>;
    return new GlobalAttentionBlock(ctx.dim, s.numHeads, {
      mlpRatio: s.mlpRatio,
      qkvBias: s.qkvBias,
      qkScale: s.qkScale,
      ...commonBlockOptions(ctx),
    });
  },
  macs(c, dim, _r, h, w) {
    const N = h * w;
    const hidden = hiddenOf(dim, (c as Of<'global'>).mlpRatio as number);
    return N * dim * 3 * dim + N * dim * dim + 2 * N * N * dim + 2 * N * dim * hidden;
  },
  params(c, dim) {
    const s = c as Of<'global'>;
    return (
      4 * dim +
      linearParams(dim, 3 * dim, s.qkvBias) +
      linearParams(dim, dim) +
      mlpParams(dim, hiddenOf(dim, s.mlpRatio as number))
    );
  },
};

/** Every block kind, by name. */
export const BLOCK_KINDS: Record<BlockKind, BlockKindSpec> = {
  swin,
  swin_mlp: swinMlp,
  shunted,
  pvt_sra: pvtSra,
  pvt_v2: pvtV2,
  global,
};

// ----------------------------------------------------------------------------------------------------
// downsamples

const convOut = (n: number, k: number, s: number, p: number) => Math.floor((n + 2 * p - k) / s) + 1;

function checkEps(where: string, eps: unknown): void {
  if (eps !== undefined && !(typeof eps === 'number' && eps > 0)) {
    fail(where, `normEps must be a number > 0, got ${JSON.stringify(eps)}`);
  }
}

const patchEmbed: DownsampleKindSpec = {
  kind: 'patch_embed',
  options: ['patchSize', 'norm', 'normEps', 'remainder'],
  required: ['patchSize'],
  resolve: (d) => ({ norm: true, normEps: 1e-5, remainder: 'pad', ...(d as DOf<'patch_embed'>) }),
  validate(d, _in, _dim, where) {
    const p = d as DOf<'patch_embed'>;
    checkPosInt(where, 'patchSize', p.patchSize);
    checkEps(where, p.normEps);
    if (p.remainder !== 'pad' && p.remainder !== 'drop') {
      fail(where, `remainder must be 'pad' or 'drop', got ${JSON.stringify(p.remainder)}`);
    }
    if (typeof p.norm !== 'boolean') fail(where, `norm must be a boolean, got ${JSON.stringify(p.norm)}`);
    if (p.remainder === 'drop' && !p.norm) {
      fail(where, `remainder 'drop' (the PVT v1 PatchEmbed) always has its LayerNorm: norm must be true`);
    }
  },
  outSize(d, H, W) {
    const p = d as DOf<'patch_embed'>;
    const r = p.remainder === 'drop' ? Math.floor : Math.ceil;
    return [r(H / p.patchSize), r(W / p.patchSize)];
  },
  build(d, inC, dim) {
    const p = d as DOf<'patch_embed'>;
    if (p.remainder === 'drop') return new PVTPatchEmbed(inC, dim, p.patchSize, { normEps: p.normEps });
    return new SwinPatchEmbed({
      patchSize: p.patchSize,
      inChans: inC,
      embedDim: dim,
      norm: p.norm,
      eps: p.normEps,
    });
  },
  macs(d, inC, dim, H, W) {
    const p = d as DOf<'patch_embed'>;
    if (p.remainder === 'drop') {
      const k = p.patchSize;
      return Math.floor(H / k) * Math.floor(W / k) * dim * inC * k * k;
    }
    return patchEmbedMacs(H, W, [p.patchSize, p.patchSize], inC, dim, p.norm as boolean);
  },
  params(d, inC, dim) {
    const p = d as DOf<'patch_embed'>;
    return inC * dim * p.patchSize * p.patchSize + dim + (p.norm ? 2 * dim : 0);
  },
};

const overlapPatchEmbed: DownsampleKindSpec = {
  kind: 'overlap_patch_embed',
  options: ['patchSize', 'stride', 'normEps'],
  required: ['patchSize', 'stride'],
  resolve: (d) => ({ normEps: 1e-5, ...(d as DOf<'overlap_patch_embed'>) }),
  validate(d, _in, _dim, where) {
    const p = d as DOf<'overlap_patch_embed'>;
    checkPosInt(where, 'patchSize', p.patchSize);
    checkPosInt(where, 'stride', p.stride);
    checkEps(where, p.normEps);
  },
  outSize(d, H, W) {
    const p = d as DOf<'overlap_patch_embed'>;
    const pad = Math.floor(p.patchSize / 2);
    return [convOut(H, p.patchSize, p.stride, pad), convOut(W, p.patchSize, p.stride, pad)];
  },
  build(d, inC, dim) {
    const p = d as DOf<'overlap_patch_embed'>;
    return new OverlapPatchEmbed(inC, dim, p.patchSize, p.stride, { normEps: p.normEps });
  },
  macs(d, inC, dim, H, W) {
    const p = d as DOf<'overlap_patch_embed'>;
    const [h, w] = overlapPatchEmbed.outSize(d, H, W);
    return h * w * dim * inC * p.patchSize * p.patchSize;
  },
  params(d, inC, dim) {
    const p = d as DOf<'overlap_patch_embed'>;
    return inC * dim * p.patchSize * p.patchSize + 3 * dim;
  },
};

const patchMerging: DownsampleKindSpec = {
  kind: 'patch_merging',
  options: ['normEps'],
  required: [],
  resolve: (d) => ({ normEps: 1e-5, ...(d as DOf<'patch_merging'>) }),
  validate(d, _in, _dim, where) {
    checkEps(where, (d as DOf<'patch_merging'>).normEps);
  },
  outSize: (_d, H, W) => [Math.ceil(H / 2), Math.ceil(W / 2)],
  build: (d, inC, dim) => new PatchMerging(inC, { outDim: dim, eps: (d as DOf<'patch_merging'>).normEps }),
  macs: (_d, inC, dim, H, W) => patchMergingMacs(H, W, inC, dim),
  params: (_d, inC, dim) => 4 * inC * dim + 8 * inC,
};

const shuntedStem: DownsampleKindSpec = {
  kind: 'shunted_stem',
  options: ['numConv'],
  required: ['numConv'],
  resolve: (d) => ({ ...(d as DOf<'shunted_stem'>) }),
  validate(d, inC, dim, where) {
    const s = d as DOf<'shunted_stem'>;
    if (!Number.isInteger(s.numConv) || s.numConv < 0) {
      fail(where, `numConv must be a non-negative integer, got ${JSON.stringify(s.numConv)}`);
    }
    if (inC !== 3) {
      fail(
        where,
        `shunted_stem takes 3 input channels (hard-coded by the reference Head), but its input has ${inC}; ` +
          `use it only as the first stage of a model with inChans 3`,
      );
    }
    if (dim !== STEM_CHANNELS) {
      fail(
        where,
        `shunted_stem requires the stage dim ${STEM_CHANNELS} (hard-coded by the reference Head), got dim ${dim}`,
      );
    }
  },
  outSize(_d, H, W) {
    const a = convOut(H, 7, 2, 3);
    const b = convOut(W, 7, 2, 3);
    return [convOut(a, 2, 2, 0), convOut(b, 2, 2, 0)];
  },
  build: (d) => new ShuntedStem((d as DOf<'shunted_stem'>).numConv),
  macs: (d, _i, _o, H, W) => {
    stemOutSize(H, W);
    return shuntedStemMacs((d as DOf<'shunted_stem'>).numConv, H, W);
  },
  params: (d) => shuntedStemParams((d as DOf<'shunted_stem'>).numConv),
};

const stridedConv: DownsampleKindSpec = {
  kind: 'strided_conv',
  options: ['kernel', 'stride', 'padding', 'norm', 'normEps'],
  required: ['kernel', 'stride'],
  resolve: (d) => ({ padding: 0, norm: true, normEps: 1e-5, ...(d as DOf<'strided_conv'>) }),
  validate(d, _in, _dim, where) {
    const s = d as DOf<'strided_conv'>;
    checkPosInt(where, 'kernel', s.kernel);
    checkPosInt(where, 'stride', s.stride);
    if (!Number.isInteger(s.padding) || (s.padding as number) < 0) {
      fail(where, `padding must be a non-negative integer, got ${JSON.stringify(s.padding)}`);
    }
    if (typeof s.norm !== 'boolean') fail(where, `norm must be a boolean, got ${JSON.stringify(s.norm)}`);
    checkEps(where, s.normEps);
  },
  outSize(d, H, W) {
    const s = d as DOf<'strided_conv'>;
    return [
      convOut(H, s.kernel, s.stride, s.padding as number),
      convOut(W, s.kernel, s.stride, s.padding as number),
    ];
  },
  build(d, inC, dim) {
    const s = d as DOf<'strided_conv'>;
    return new StridedConvEmbed(inC, dim, s);
  },
  macs(d, inC, dim, H, W) {
    const s = d as DOf<'strided_conv'>;
    const [h, w] = stridedConv.outSize(d, H, W);
    return h * w * dim * inC * s.kernel * s.kernel;
  },
  params(d, inC, dim) {
    const s = d as DOf<'strided_conv'>;
    return inC * dim * s.kernel * s.kernel + dim + (s.norm ? 2 * dim : 0);
  },
};

/** Every downsample kind, by name. */
export const DOWNSAMPLE_KINDS: Record<DownsampleKind, DownsampleKindSpec> = {
  patch_embed: patchEmbed,
  overlap_patch_embed: overlapPatchEmbed,
  patch_merging: patchMerging,
  shunted_stem: shuntedStem,
  strided_conv: stridedConv,
};
