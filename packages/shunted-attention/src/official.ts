/**
 * Conversion of the official PyTorch constructor kwargs (snake_case, as written in checkpoints' configs
 * and in the parity fixtures' `config.kwargs`) into this package's options. Missing kwargs take the
 * reference's own defaults (e.g. `norm_layer` = `nn.LayerNorm`, eps 1e-5), not this package's.
 */
import { SwinConfigError } from '@swin/nn';
import type { ShuntedAttentionOptions } from './attention.js';
import type { ShuntedBlockOptions } from './block.js';
import type { ShuntedConfig } from './config.js';

/** A serialised `norm_layer`: `{"__layer__": "LayerNorm", "eps": 1e-06}` (or absent for `nn.LayerNorm`). */
export interface OfficialNormLayer {
  __layer__?: string;
  eps?: number;
}

/** Keyword arguments of the official `Attention`, `Block` and `ShuntedTransformer` constructors. */
export interface OfficialShuntedKwargs {
  dim?: number;
  num_heads?: number | number[];
  qkv_bias?: boolean;
  qk_scale?: number | null;
  attn_drop?: number;
  proj_drop?: number;
  drop?: number;
  drop_path?: number;
  sr_ratio?: number;
  mlp_ratio?: number;
  norm_layer?: OfficialNormLayer | null;
  img_size?: number;
  patch_size?: number;
  in_chans?: number;
  num_classes?: number;
  embed_dims?: number[];
  mlp_ratios?: number[];
  drop_rate?: number;
  attn_drop_rate?: number;
  drop_path_rate?: number;
  depths?: number[];
  sr_ratios?: number[];
  num_stages?: number;
  num_conv?: number;
}

function normEps(norm: OfficialNormLayer | null | undefined, where: string): number {
  if (!norm) return 1e-5; // nn.LayerNorm default
  if (norm.__layer__ !== undefined && norm.__layer__ !== 'LayerNorm')
    throw new SwinConfigError(`${where}: norm_layer ${norm.__layer__} is not supported (only LayerNorm)`);
  return norm.eps ?? 1e-5;
}

/** `Attention(dim, num_heads=8, qkv_bias=False, qk_scale=None, attn_drop=0., proj_drop=0., sr_ratio=1)`. */
export function attentionArgsFromKwargs(kw: OfficialShuntedKwargs): [number, ShuntedAttentionOptions] {
  if (typeof kw.dim !== 'number')
    throw new SwinConfigError('attentionArgsFromKwargs: kwargs.dim is required');
  if (Array.isArray(kw.num_heads))
    throw new SwinConfigError('attentionArgsFromKwargs: num_heads must be a number');
  return [
    kw.dim,
    {
      numHeads: kw.num_heads ?? 8,
      qkvBias: kw.qkv_bias ?? false,
      qkScale: kw.qk_scale ?? null,
      attnDrop: kw.attn_drop ?? 0,
      projDrop: kw.proj_drop ?? 0,
      srRatio: kw.sr_ratio ?? 1,
    },
  ];
}

/**
 * `Block(dim, num_heads, mlp_ratio=4., qkv_bias=False, qk_scale=None, drop=0., attn_drop=0.,
 * drop_path=0., norm_layer=nn.LayerNorm, sr_ratio=1)` -> `[dim, numHeads, options]`.
 */
export function blockArgsFromKwargs(kw: OfficialShuntedKwargs): [number, number, ShuntedBlockOptions] {
  if (typeof kw.dim !== 'number' || typeof kw.num_heads !== 'number')
    throw new SwinConfigError('blockArgsFromKwargs: kwargs.dim and kwargs.num_heads (numbers) are required');
  return [
    kw.dim,
    kw.num_heads,
    {
      mlpRatio: kw.mlp_ratio ?? 4,
      qkvBias: kw.qkv_bias ?? false,
      qkScale: kw.qk_scale ?? null,
      drop: kw.drop ?? 0,
      attnDrop: kw.attn_drop ?? 0,
      dropPath: kw.drop_path ?? 0,
      srRatio: kw.sr_ratio ?? 1,
      normEps: normEps(kw.norm_layer, 'blockArgsFromKwargs'),
    },
  ];
}

/** `ShuntedTransformer(**kwargs)` -> a complete {@link ShuntedConfig} (reference defaults for missing kwargs). */
export function shuntedConfigFromKwargs(kw: OfficialShuntedKwargs): ShuntedConfig {
  if (typeof kw.num_heads === 'number')
    throw new SwinConfigError('shuntedConfigFromKwargs: num_heads must be a list');
  return {
    imgSize: kw.img_size ?? 224,
    patchSize: kw.patch_size ?? 16,
    inChans: kw.in_chans ?? 3,
    numClasses: kw.num_classes ?? 1000,
    embedDims: kw.embed_dims ?? [64, 128, 256, 512],
    numHeads: kw.num_heads ?? [1, 2, 4, 8],
    mlpRatios: kw.mlp_ratios ?? [4, 4, 4, 4],
    qkvBias: kw.qkv_bias ?? false,
    qkScale: kw.qk_scale ?? null,
    dropRate: kw.drop_rate ?? 0,
    attnDropRate: kw.attn_drop_rate ?? 0,
    dropPathRate: kw.drop_path_rate ?? 0,
    normEps: normEps(kw.norm_layer, 'shuntedConfigFromKwargs'),
    depths: kw.depths ?? [3, 4, 6, 3],
    srRatios: kw.sr_ratios ?? [8, 4, 2, 1],
    numStages: kw.num_stages ?? 4,
    numConv: kw.num_conv ?? 0,
  };
}
