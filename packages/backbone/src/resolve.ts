/**
 * Validation of a {@link BackboneConfig} with clear errors, defaults, and the stage geometry (map size of
 * every stage for an input size) computed from the config alone.
 */
import { didYouMean, quoteName, SwinConfigError } from '@swin/nn';
import type { BackboneConfig, BlockConfig, DownsampleConfig, StageConfig } from './config.js';
import { BLOCK_KINDS, DOWNSAMPLE_KINDS } from './kinds.js';

/** A stage with every default filled in. */
export interface ResolvedStageConfig extends StageConfig {
  blockNormEps: number;
  norm: false | { eps: number };
  posEmbed: boolean;
}

/**
 * A config with every default filled in (what a built model keeps as `model.config`, and what
 * `saveBackbone` stores). Resolving it again gives the same object.
 */
export interface ResolvedBackboneConfig extends BackboneConfig {
  name: string;
  imgSize: [number, number];
  inChans: number;
  numClasses: number;
  stages: ResolvedStageConfig[];
  finalNorm: false | { eps: number };
  headPool: 'avg' | 'cls';
  dropPathRate: number;
  dropRate: number;
  attnDropRate: number;
}

const TOP_KEYS = [
  'name',
  'imgSize',
  'inChans',
  'numClasses',
  'stages',
  'finalNorm',
  'headPool',
  'dropPathRate',
  'dropRate',
  'attnDropRate',
];
const STAGE_KEYS = ['dim', 'depth', 'downsample', 'block', 'blockNormEps', 'norm', 'posEmbed'];

const FN = 'createBackbone';

function fail(msg: string): never {
  throw new SwinConfigError(`${FN}: ${msg}`);
}

function isObject(v: unknown): v is Record<string, unknown> {
  return typeof v === 'object' && v !== null && !Array.isArray(v);
}

function checkKeys(where: string, obj: Record<string, unknown>, known: readonly string[]): void {
  for (const k of Object.keys(obj)) {
    if (!known.includes(k)) {
      const guess = didYouMean(k, known);
      fail(
        `${where}: unknown option ${quoteName(k)}${guess ? ` (did you mean '${guess}'?)` : ''} (known: ${known.join(', ')})`,
      );
    }
  }
}

function posInt(v: unknown): v is number {
  return typeof v === 'number' && Number.isInteger(v) && v > 0;
}

function rate(where: string, name: string, v: unknown): number {
  if (v === undefined) return 0;
  if (typeof v !== 'number' || !(v >= 0 && v < 1))
    fail(`${where}${name} must be in [0, 1), got ${JSON.stringify(v)}`);
  return v;
}

function normOpt(where: string, v: unknown, defEps: number): false | { eps: number } {
  if (v === undefined || v === false) return false;
  if (v === true) return { eps: defEps };
  if (isObject(v) && typeof v.eps === 'number' && v.eps > 0 && Object.keys(v).length === 1)
    return { eps: v.eps };
  return fail(`${where} must be true, false or { eps: number > 0 }, got ${JSON.stringify(v)}`);
}

const blockKinds = () => Object.keys(BLOCK_KINDS).join(', ');
const downsampleKinds = () => Object.keys(DOWNSAMPLE_KINDS).join(', ');

function resolveDownsample(where: string, d: unknown): DownsampleConfig {
  if (!isObject(d)) fail(`${where}: expected an object { kind, ... }, got ${JSON.stringify(d)}`);
  const spec = DOWNSAMPLE_KINDS[d.kind as keyof typeof DOWNSAMPLE_KINDS];
  if (!spec || !Object.hasOwn(DOWNSAMPLE_KINDS, d.kind as string)) {
    fail(`${where}: unknown downsample kind ${JSON.stringify(d.kind)} (known kinds: ${downsampleKinds()})`);
  }
  checkKeys(`${where} (${spec.kind})`, d, ['kind', ...spec.options]);
  for (const r of spec.required) {
    if (d[r] === undefined) fail(`${where} (${spec.kind}): missing required option '${r}'`);
  }
  return spec.resolve(d as DownsampleConfig);
}

function resolveBlock(where: string, b: unknown): BlockConfig {
  if (!isObject(b)) fail(`${where}: expected an object { kind, ... }, got ${JSON.stringify(b)}`);
  const spec = BLOCK_KINDS[b.kind as keyof typeof BLOCK_KINDS];
  if (!spec || !Object.hasOwn(BLOCK_KINDS, b.kind as string)) {
    fail(`${where}: unknown block kind ${JSON.stringify(b.kind)} (known kinds: ${blockKinds()})`);
  }
  checkKeys(`${where} (${spec.kind})`, b, ['kind', ...spec.options]);
  for (const r of spec.required) {
    if (b[r] === undefined) fail(`${where} (${spec.kind}): missing required option '${r}'`);
  }
  return spec.resolve(b as BlockConfig);
}

/**
 * Fills the defaults of `config` and validates it, including the stage geometry at `imgSize`. Every
 * error names the stage (`stages[i]`), the offending values and what was expected; unknown kinds list the
 * known ones; reductions a stage's map cannot take at `imgSize` name the stage, the map size and the ratio.
 */
export function resolveBackboneConfig(config: BackboneConfig): ResolvedBackboneConfig {
  if (!isObject(config)) fail(`config must be an object, got ${JSON.stringify(config)}`);
  checkKeys('config', config as unknown as Record<string, unknown>, TOP_KEYS);
  const img = config.imgSize ?? 224;
  const imgSize: [number, number] =
    typeof img === 'number' ? [img, img] : Array.isArray(img) ? [img[0], img[1]] : [0, 0];
  if (!(posInt(imgSize[0]) && posInt(imgSize[1])) || (Array.isArray(img) && img.length !== 2)) {
    fail(`imgSize must be a positive integer or [H, W], got ${JSON.stringify(config.imgSize)}`);
  }
  const inChans = config.inChans ?? 3;
  if (!posInt(inChans)) fail(`inChans must be a positive integer, got ${JSON.stringify(config.inChans)}`);
  const numClasses = config.numClasses ?? 1000;
  if (!Number.isInteger(numClasses) || numClasses < 0) {
    fail(`numClasses must be an integer >= 0, got ${JSON.stringify(config.numClasses)}`);
  }
  if (config.name !== undefined && typeof config.name !== 'string') {
    fail(`name must be a string, got ${JSON.stringify(config.name)}`);
  }
  const headPool = config.headPool ?? 'avg';
  if (headPool !== 'avg' && headPool !== 'cls')
    fail(`headPool must be 'avg' or 'cls', got ${JSON.stringify(headPool)}`);
  if (!Array.isArray(config.stages) || config.stages.length === 0) {
    fail(`stages must be a non-empty array, got ${JSON.stringify(config.stages)}`);
  }
  const stages: ResolvedStageConfig[] = config.stages.map((s, i) => {
    const where = `stages[${i}]`;
    if (!isObject(s)) fail(`${where} must be an object, got ${JSON.stringify(s)}`);
    checkKeys(where, s as unknown as Record<string, unknown>, STAGE_KEYS);
    if (!posInt(s.dim)) fail(`${where}: dim must be a positive integer, got ${JSON.stringify(s.dim)}`);
    if (!Number.isInteger(s.depth) || s.depth < 0) {
      fail(`${where}: depth must be an integer >= 0, got ${JSON.stringify(s.depth)}`);
    }
    const downsample = resolveDownsample(`${where}.downsample`, s.downsample);
    const block = resolveBlock(`${where}.block`, s.block);
    const spec = BLOCK_KINDS[block.kind];
    const blockNormEps = s.blockNormEps ?? spec.defaultNormEps;
    if (typeof blockNormEps !== 'number' || !(blockNormEps > 0)) {
      fail(`${where}: blockNormEps must be a number > 0, got ${JSON.stringify(s.blockNormEps)}`);
    }
    if (s.posEmbed !== undefined && typeof s.posEmbed !== 'boolean') {
      fail(`${where}: posEmbed must be a boolean, got ${JSON.stringify(s.posEmbed)}`);
    }
    return {
      dim: s.dim,
      depth: s.depth,
      downsample,
      block,
      blockNormEps,
      norm: normOpt(`${where}.norm`, s.norm, 1e-6),
      posEmbed: s.posEmbed ?? false,
    };
  });
  const resolved: ResolvedBackboneConfig = {
    name: config.name ?? '',
    imgSize,
    inChans,
    numClasses,
    stages,
    finalNorm: normOpt('finalNorm', config.finalNorm, 1e-5),
    headPool,
    dropPathRate: rate('', 'dropPathRate', config.dropPathRate),
    dropRate: rate('', 'dropRate', config.dropRate),
    attnDropRate: rate('', 'attnDropRate', config.attnDropRate),
  };
  // Per-kind option checks, channel flow, then the geometry at imgSize.
  let inC = inChans;
  stages.forEach((s, i) => {
    DOWNSAMPLE_KINDS[s.downsample.kind].validate(
      s.downsample,
      inC,
      s.dim,
      `${FN}: stages[${i}].downsample (${s.downsample.kind})`,
    );
    BLOCK_KINDS[s.block.kind].validate(s.block, s.dim, `${FN}: stages[${i}].block (${s.block.kind})`);
    inC = s.dim;
  });
  if (headPool === 'cls') {
    const last = stages[stages.length - 1];
    if (last.depth > 0 && !BLOCK_KINDS[last.block.kind].acceptsClassToken(last.block)) {
      fail(
        `headPool 'cls' prepends a class token to the last stage's tokens, which its block kind ` +
          `'${last.block.kind}' cannot take (use pvt_sra with srRatio 1, or global, in stages[${stages.length - 1}])`,
      );
    }
  }
  stageSizes(resolved, imgSize[0], imgSize[1], 'imgSize');
  return resolved;
}

/**
 * The `[h, w]` output map of every stage for an `H x W` input (from the config alone). Throws a clear error
 * naming the stage, its map size and the offending ratio when a stage cannot run at that size.
 *
 * @param what how the size is described in errors (`input` or `imgSize`)
 */
export function stageSizes(
  config: ResolvedBackboneConfig,
  H: number,
  W: number,
  what = 'input',
): [number, number][] {
  if (!posInt(H) || !posInt(W)) fail(`${what} size must be positive integers, got ${H}x${W}`);
  const out: [number, number][] = [];
  let h = H;
  let w = W;
  config.stages.forEach((s, i) => {
    const [h2, w2] = DOWNSAMPLE_KINDS[s.downsample.kind].outSize(s.downsample, h, w);
    if (h2 < 1 || w2 < 1) {
      fail(
        `stages[${i}].downsample (${s.downsample.kind}) turns the ${h}x${w} map into an empty ${h2}x${w2} one ` +
          `at ${what} ${H}x${W}`,
      );
    }
    if (s.depth > 0) {
      BLOCK_KINDS[s.block.kind].checkMap(
        s.block,
        h2,
        w2,
        `${FN}: stages[${i}].block (${s.block.kind}) at ${what} ${H}x${W}`,
      );
    }
    h = h2;
    w = w2;
    out.push([h, w]);
  });
  return out;
}

/** Nominal stride of a downsample (patch size, conv stride, 2 for patch merging, 4 for the shunted stem). */
export function downsampleStride(d: DownsampleConfig): number {
  switch (d.kind) {
    case 'patch_embed':
      return d.patchSize;
    case 'overlap_patch_embed':
    case 'strided_conv':
      return d.stride;
    case 'patch_merging':
      return 2;
    case 'shunted_stem':
      return 4;
  }
}

/** Total nominal stride of every stage relative to the input image. */
export function stageReductions(config: BackboneConfig): number[] {
  let r = 1;
  return config.stages.map((s) => {
    r *= downsampleStride(s.downsample);
    return r;
  });
}

/** Stochastic depth rate of every block, per stage: `linspace(0, rate, total blocks)`. */
export function dropPathSchedule(config: ResolvedBackboneConfig): number[][] {
  const total = config.stages.reduce((n, s) => n + s.depth, 0);
  const all = Array.from({ length: total }, (_, j) =>
    total > 1 ? (config.dropPathRate * j) / (total - 1) : 0,
  );
  let cur = 0;
  return config.stages.map((s) => {
    const r = all.slice(cur, cur + s.depth);
    cur += s.depth;
    return r;
  });
}
