/**
 * timm constructor kwargs -> this library's family configs. Every keyword argument that timm's
 * `SwinTransformer` and `PyramidVisionTransformerV2` take today is either honoured or refused by name with
 * the reason (only where it changes the architecture beyond what the family packages build). The official
 * repositories' kwargs (Swin `ape` / `patch_norm` / `qk_scale`, Swin-MLP, Shunted, PVT v1) go through the
 * family packages' own converters.
 */
import { SwinConfigError } from '@swin/nn';
import { type PVTConfig, pvtConfigFromKwargs, validatePVTConfig } from '@swin/pvt';
import { resolveShuntedConfig, shuntedConfigFromKwargs } from '@swin/shunted-attention';
import { resolveSwinConfig, type SwinConfig } from '@swin/swin-core';
import { resolveSwinMlpConfig, swinMlpConfigFromKwargs } from '@swin/swin-mlp';
import type { FamilyConfig } from './create.js';
import type { ModelFamily } from './registry.js';

/** Thrown for a kwarg that cannot be honoured; names the kwarg and says why. */
export class KwargError extends SwinConfigError {
  constructor(
    readonly kwarg: string,
    message: string,
  ) {
    super(message);
  }
}

/** Options of {@link configFromTimmKwargs}. */
export interface TimmKwargsOptions {
  /**
   * Called for kwargs that are accepted but have no effect here (training-only dropout before the head,
   * weight initialisation schemes, gradient checkpointing). Default: silent.
   */
  onNote?: (message: string) => void;
}

type Kw = Record<string, unknown>;

function isPosInt(v: unknown): v is number {
  return typeof v === 'number' && Number.isInteger(v) && v > 0;
}

/** A Python int-or-sequence argument as a JS array of `n` entries (timm's `to_ntuple`). */
function ntuple(fn: string, k: string, v: unknown, n: number): unknown[] {
  if (Array.isArray(v)) {
    if (v.length !== n)
      throw new KwargError(k, `${fn}: ${k} has ${v.length} entries, expected ${n} (one per stage)`);
    return [...v];
  }
  return new Array(n).fill(v);
}

/** The one value of a per-stage argument whose entries must all be equal here. */
function uniform(fn: string, k: string, v: unknown, n: number, why: string): unknown {
  const arr = ntuple(fn, k, v, n);
  if (!arr.every((x) => x === arr[0])) {
    throw new KwargError(k, `${fn}: ${k}=${JSON.stringify(v)} differs between stages; ${why}`);
  }
  return arr[0];
}

/** eps of a serialised `norm_layer`: a string (`'layernorm'`), `{eps}`, `{__layer__, eps}`, or a number. */
function normEps(fn: string, v: unknown, defaultEps: number): number {
  if (v === null || v === undefined) return defaultEps;
  if (typeof v === 'number' && v > 0) return v;
  if (typeof v === 'string') {
    if (/^(layer_?norm|nn\.layernorm|torch\.nn\.layernorm)$/i.test(v)) return defaultEps;
    throw new KwargError(
      'norm_layer',
      `${fn}: norm_layer '${v}' is not supported (only LayerNorm; other norms change every block)`,
    );
  }
  if (typeof v === 'object') {
    const o = v as { __layer__?: unknown; eps?: unknown };
    if (o.__layer__ !== undefined && !/layer_?norm/i.test(String(o.__layer__))) {
      throw new KwargError(
        'norm_layer',
        `${fn}: norm_layer ${String(o.__layer__)} is not supported (only LayerNorm)`,
      );
    }
    if (o.eps === undefined) return defaultEps;
    if (typeof o.eps === 'number' && o.eps > 0) return o.eps;
  }
  throw new KwargError('norm_layer', `${fn}: cannot read norm_layer ${JSON.stringify(v)}`);
}

function pair(fn: string, k: string, v: unknown): number {
  if (isPosInt(v)) return v;
  if (Array.isArray(v) && v.length === 2 && isPosInt(v[0]) && v[0] === v[1]) return v[0];
  throw new KwargError(
    k,
    `${fn}: ${k}=${JSON.stringify(v)} must be a positive integer or a square [n, n] pair`,
  );
}

function rate(fn: string, k: string, v: unknown): number {
  if (typeof v === 'number' && v >= 0 && v < 1) return v;
  throw new KwargError(k, `${fn}: ${k} must be a number in [0, 1), got ${JSON.stringify(v)}`);
}

function globalPool(fn: string, v: unknown): void {
  if (v === 'avg') return;
  if (v === '' || v === null) {
    throw new KwargError(
      'global_pool',
      `${fn}: global_pool='' (the head applied per position, no pooling) is not implemented; the models here always average-pool`,
    );
  }
  throw new KwargError('global_pool', `${fn}: global_pool must be 'avg' or '', got ${JSON.stringify(v)}`);
}

function weightInit(fn: string, v: unknown, note: (m: string) => void): void {
  if (typeof v === 'string' && ['', 'jax', 'jax_nlhb', 'moco', 'skip'].includes(v)) {
    if (v !== '')
      note(`${fn}: weight_init='${v}' only changes the random initialisation (loaded weights replace it)`);
    return;
  }
  throw new KwargError(
    'weight_init',
    `${fn}: weight_init must be '', 'jax', 'jax_nlhb', 'moco' or 'skip', got ${JSON.stringify(v)}`,
  );
}

function headDrop(fn: string, v: unknown, note: (m: string) => void): void {
  const r = rate(fn, 'drop_rate', v);
  if (r > 0)
    note(
      `${fn}: drop_rate=${r} (timm: dropout before the classifier) acts only in training and is not modelled`,
    );
}

const TIMM_SWIN = 'configFromTimmKwargs(swin)';

/**
 * timm `SwinTransformer(**kwargs)` (timm/models/swin_transformer.py) -> a complete {@link SwinConfig}.
 * Honoured: img_size, patch_size, in_chans, num_classes, global_pool ('avg'), embed_dim (int, or the list
 * `embed_dim * 2**i`), depths, num_heads, head_dim (null or `dim / num_heads`), window_size (int, square pair,
 * or one per stage: different windows per stage, as Swin-S3, give `stageWindows` and build a `@swin/backbone`
 * HybridBackbone), always_partition=False, strict_img_size (any input size is
 * accepted either way), mlp_ratio (per stage when all equal), qkv_bias, qk_scale, drop_rate (training-only
 * head dropout), proj_drop_rate, attn_drop_rate, drop_path_rate, embed_layer (PatchEmbed), norm_layer
 * (LayerNorm), weight_init, and the official ape, patch_norm, use_checkpoint, fused_window_process.
 */
function swinFromTimm(kw: Kw, note: (m: string) => void): { config: SwinConfig; stageWindows?: number[] } {
  const fn = TIMM_SWIN;
  const depths = kw.depths ?? [2, 2, 6, 2];
  if (!Array.isArray(depths) || depths.length === 0) {
    throw new KwargError('depths', `${fn}: depths must be a non-empty list, got ${JSON.stringify(depths)}`);
  }
  const n = depths.length;
  const c: Partial<SwinConfig> = { depths: [...depths] as number[], normEps: 1e-5, dropPathRate: 0.1 };
  let embedList: unknown[] | null = null;
  let headDim: unknown = null;
  let stageWindows: number[] | null = null;
  for (const [k, v] of Object.entries(kw)) {
    switch (k) {
      case 'depths':
        break;
      case 'img_size':
        c.imgSize = Array.isArray(v) ? ([v[0], v[1]] as [number, number]) : (v as number);
        break;
      case 'patch_size':
        c.patchSize = pair(fn, k, v);
        break;
      case 'in_chans':
        c.inChans = v as number;
        break;
      case 'num_classes':
        c.numClasses = v as number;
        break;
      case 'global_pool':
        globalPool(fn, v);
        break;
      case 'embed_dim':
        if (Array.isArray(v)) embedList = v;
        else c.embedDim = v as number;
        break;
      case 'num_heads':
        c.numHeads = ntuple(fn, k, v, n) as number[];
        break;
      case 'head_dim':
        headDim = v;
        break;
      case 'window_size': {
        // timm: an int for every stage, a 2-sequence is one (h, w) window for every stage, else one per stage
        const per = !Array.isArray(v) || v.length === 2 ? new Array(n).fill(v) : ntuple(fn, k, v, n);
        const sizes = per.map((w) => pair(fn, k, w));
        c.windowSize = sizes[0];
        // Swin-S3: one window per stage, built as a @swin/backbone HybridBackbone (see buildFromConfig)
        if (!sizes.every((w) => w === sizes[0])) stageWindows = sizes;
        break;
      }
      case 'always_partition':
        if (v === true) {
          throw new KwargError(
            k,
            `${fn}: always_partition=True (keep the full window and shift on maps smaller than the window) is not implemented; windows are clamped to the map like the official code`,
          );
        }
        break;
      case 'strict_img_size':
        if (typeof v !== 'boolean') throw new KwargError(k, `${fn}: strict_img_size must be a boolean`);
        break;
      case 'mlp_ratio':
        c.mlpRatio = uniform(fn, k, v, n, 'SwinConfig.mlpRatio is one ratio for all stages') as number;
        break;
      case 'qkv_bias':
        c.qkvBias = v as boolean;
        break;
      case 'qk_scale':
        c.qkScale = (v ?? null) as number | null;
        break;
      case 'drop_rate':
        headDrop(fn, v, note);
        break;
      case 'proj_drop_rate':
        c.dropRate = rate(fn, k, v);
        break;
      case 'attn_drop_rate':
        c.attnDropRate = rate(fn, k, v);
        break;
      case 'drop_path_rate':
        c.dropPathRate = rate(fn, k, v);
        break;
      case 'embed_layer':
        if (v !== null && v !== undefined && !/^(timm\.layers\.)?PatchEmbed$/.test(String(v))) {
          throw new KwargError(
            k,
            `${fn}: embed_layer ${JSON.stringify(v)} is not supported (only PatchEmbed)`,
          );
        }
        break;
      case 'norm_layer':
        c.normEps = normEps(fn, v, 1e-5);
        break;
      case 'weight_init':
        weightInit(fn, v, note);
        break;
      case 'ape':
        c.ape = v as boolean;
        break;
      case 'patch_norm':
        c.patchNorm = v as boolean;
        break;
      case 'use_checkpoint':
      case 'fused_window_process':
        note(`${fn}: ${k} only changes how PyTorch computes (no effect here)`);
        break;
      default:
        throw new KwargError(k, `${fn}: unknown kwarg '${k}' (not a timm SwinTransformer argument)`);
    }
  }
  if (embedList) {
    const e0 = embedList[0] as number;
    if (!embedList.every((d, i) => d === e0 * 2 ** i) || embedList.length !== n) {
      throw new KwargError(
        'embed_dim',
        `${fn}: embed_dim=${JSON.stringify(embedList)} is not embed_dim * 2**i per stage; other stage widths change PatchMerging, which the Swin package builds as 2x`,
      );
    }
    c.embedDim = e0;
  }
  const cfg = resolveSwinConfig(c);
  if (stageWindows && cfg.ape) {
    throw new KwargError(
      'window_size',
      `${fn}: per-stage window sizes with ape=True have no backbone equivalent`,
    );
  }
  if (headDim !== null && headDim !== undefined) {
    const hd = ntuple(fn, 'head_dim', headDim, n);
    hd.forEach((h, i) => {
      const dim = cfg.embedDim * 2 ** i;
      if (h !== null && h !== dim / cfg.numHeads[i]) {
        throw new KwargError(
          'head_dim',
          `${fn}: head_dim=${JSON.stringify(headDim)} differs from dim/num_heads (${dim}/${cfg.numHeads[i]} in stage ${i}); a different head width changes the qkv/proj shapes, which the Swin package does not build`,
        );
      }
    });
  }
  return stageWindows ? { config: cfg, stageWindows } : { config: cfg };
}

const TIMM_PVT2 = 'configFromTimmKwargs(pvt-v2)';

/**
 * timm `PyramidVisionTransformerV2(**kwargs)` (timm/models/pvt_v2.py) -> a complete {@link PVTConfig}
 * (version 2), with timm's class defaults (depths (3,4,6,3), embed_dims (64,128,256,512), num_heads
 * (1,2,4,8), sr_ratios (8,4,2,1), mlp_ratios (8,8,4,4), qkv_bias, LayerNorm eps 1e-6). Honoured: in_chans,
 * num_classes, global_pool ('avg'), depths, embed_dims, num_heads / sr_ratios / mlp_ratios (int or per stage),
 * qkv_bias, linear, drop_rate (training-only head dropout), proj_drop_rate, attn_drop_rate, drop_path_rate,
 * norm_layer (LayerNorm); also img_size (unused by v2) and the official qk_scale, num_stages.
 */
function pvtV2FromTimm(kw: Kw, note: (m: string) => void): PVTConfig {
  const fn = TIMM_PVT2;
  const depths = (kw.depths ?? [3, 4, 6, 3]) as number[];
  if (!Array.isArray(depths) || depths.length === 0) {
    throw new KwargError('depths', `${fn}: depths must be a non-empty list, got ${JSON.stringify(depths)}`);
  }
  const n = depths.length;
  const c: PVTConfig = {
    version: 2,
    imgSize: 224,
    patchSize: 4,
    inChans: 3,
    numClasses: 1000,
    embedDims: [64, 128, 256, 512],
    numHeads: [1, 2, 4, 8],
    mlpRatios: [8, 8, 4, 4],
    depths: [...depths],
    srRatios: [8, 4, 2, 1],
    qkvBias: true,
    qkScale: null,
    linear: false,
    normEps: 1e-6,
    dropRate: 0,
    attnDropRate: 0,
    dropPathRate: 0,
  };
  for (const [k, v] of Object.entries(kw)) {
    switch (k) {
      case 'depths':
        break;
      case 'img_size':
        c.imgSize = Array.isArray(v) ? ([v[0], v[1]] as [number, number]) : (v as number);
        break;
      case 'in_chans':
        c.inChans = v as number;
        break;
      case 'num_classes':
        c.numClasses = v as number;
        break;
      case 'global_pool':
        globalPool(fn, v);
        break;
      case 'embed_dims':
        c.embedDims = ntuple(fn, k, v, n) as number[];
        break;
      case 'num_heads':
        c.numHeads = ntuple(fn, k, v, n) as number[];
        break;
      case 'sr_ratios':
        c.srRatios = ntuple(fn, k, v, n) as number[];
        break;
      case 'mlp_ratios':
        c.mlpRatios = ntuple(fn, k, v, n) as number[];
        break;
      case 'qkv_bias':
        c.qkvBias = v as boolean;
        break;
      case 'qk_scale':
        c.qkScale = (v ?? null) as number | null;
        break;
      case 'linear':
        c.linear = v as boolean;
        break;
      case 'drop_rate':
        headDrop(fn, v, note);
        break;
      case 'proj_drop_rate':
        c.dropRate = rate(fn, k, v);
        break;
      case 'attn_drop_rate':
        c.attnDropRate = rate(fn, k, v);
        break;
      case 'drop_path_rate':
        c.dropPathRate = rate(fn, k, v);
        break;
      case 'norm_layer':
        c.normEps = normEps(fn, v, 1e-6);
        break;
      case 'num_stages':
        if (v !== n) throw new KwargError(k, `${fn}: num_stages=${v} differs from the ${n} stages of depths`);
        break;
      default:
        throw new KwargError(
          k,
          `${fn}: unknown kwarg '${k}' (not a timm PyramidVisionTransformerV2 argument)`,
        );
    }
  }
  try {
    validatePVTConfig(c);
  } catch (e) {
    throw new KwargError('', `${fn}: ${(e as Error).message}`);
  }
  return c;
}

/** The official `ShuntedTransformer.__init__` arguments (OliverRensu/Shunted-Transformer `SSA.py`). */
const SHUNTED_KWARGS = [
  'img_size',
  'patch_size',
  'in_chans',
  'num_classes',
  'embed_dims',
  'num_heads',
  'mlp_ratios',
  'qkv_bias',
  'qk_scale',
  'drop_rate',
  'attn_drop_rate',
  'drop_path_rate',
  'norm_layer',
  'depths',
  'sr_ratios',
  'num_stages',
  'num_conv',
];

/**
 * Converts constructor keyword arguments (snake_case JSON, e.g. a hub `config.json`'s `model_args` merged with
 * a registry preset) into a buildable family config:
 * - `'swin'`: timm's `SwinTransformer` kwargs (a superset of the official ones);
 * - `'pvt-v2'`: timm's `PyramidVisionTransformerV2` kwargs;
 * - `'swin-mlp'`, `'shunted'`, `'pvt-v1'`: the official repositories' kwargs (no timm class exists).
 * Returns `{ family, config }` for `buildFromConfig`.
 *
 * @throws KwargError naming the kwarg and why it cannot be honoured (unknown kwargs too).
 */
export function configFromTimmKwargs(
  family: ModelFamily,
  kwargs: Kw,
  opts: TimmKwargsOptions = {},
): FamilyConfig {
  if (kwargs === null || typeof kwargs !== 'object' || Array.isArray(kwargs)) {
    throw new KwargError('', `configFromTimmKwargs: kwargs must be an object, got ${JSON.stringify(kwargs)}`);
  }
  const note = opts.onNote ?? (() => {});
  switch (family) {
    case 'swin':
      return { family, ...swinFromTimm(kwargs, note) };
    case 'pvt-v2':
      return { family, config: pvtV2FromTimm(kwargs, note) };
    case 'pvt-v1':
      return { family, config: pvtConfigFromKwargs(1, kwargs) };
    case 'swin-mlp':
      return { family, config: resolveSwinMlpConfig(swinMlpConfigFromKwargs(kwargs)) };
    case 'shunted': {
      for (const k of Object.keys(kwargs)) {
        if (!SHUNTED_KWARGS.includes(k)) {
          throw new KwargError(
            k,
            `configFromTimmKwargs(shunted): unknown kwarg '${k}' (not a ShuntedTransformer argument)`,
          );
        }
      }
      return { family, config: resolveShuntedConfig(shuntedConfigFromKwargs(kwargs)) };
    }
    default:
      throw new KwargError('', `configFromTimmKwargs: unknown family '${String(family)}'`);
  }
}
