/**
 * The model registry: every timm model name of the implemented families and the official repositories'
 * names, each with its pretrained configurations (timm's `default_cfgs`). A name is the whole recipe:
 * `swin_tiny_patch4_window7_224.ms_in1k` = architecture + the evaluation settings of those weights.
 *
 * Facts come from timm's `swin_transformer.py` / `pvt_v2.py` (`default_cfgs`, whose first tag per
 * architecture is the default one), from microsoft/Swin-Transformer (`configs/swinmlp/*.yaml`, eval resize
 * `int(256 / 224 * IMG_SIZE)` = crop 0.875, bicubic), whai362/PVT and OliverRensu/Shunted-Transformer (both
 * DeiT-style evaluation: resize `int(256 / 224 * 224)`, bicubic, centre crop 224 = crop 0.875).
 */
import { SwinConfigError } from '@swin/nn';
import {
  copyPretrainedCfg,
  IMAGENET_DEFAULT_MEAN,
  IMAGENET_DEFAULT_STD,
  type Interpolation,
  type PretrainedCfg,
} from './pretrained.js';

/** The implemented families (the package that builds the model). */
export type ModelFamily = 'swin' | 'swin-mlp' | 'shunted' | 'pvt-v1' | 'pvt-v2';

/** One architecture of the registry. */
export interface ArchEntry {
  family: ModelFamily;
  /**
   * The preset of the family package that builds it (`@swin/backbone` `createModel(preset)`); `null` for
   * architectures built from `timmArgs` alone (Swin-S3's per-stage windows: a `HybridBackbone`).
   */
  preset: string | null;
  /** Why the architecture cannot be built, when it cannot. */
  unsupported?: string;
  /**
   * timm only: the kwargs its `@register_model` function passes to the constructor (`model_args`); a hub
   * `config.json`'s `model_args` are merged over them.
   */
  timmArgs?: Readonly<Record<string, unknown>>;
  /** Where the name comes from. */
  source: 'timm' | 'official';
  /** One line: what it is. */
  description: string;
}

const T = [2, 2, 6, 2];
const S = [2, 2, 18, 2];
const H3 = [3, 6, 12, 24];
const H4 = [4, 8, 16, 32];
const H6 = [6, 12, 24, 48];

/** timm `swin_*` entrypoints: `dict(patch_size=4, window_size, embed_dim, depths, num_heads)`. */
function swin(
  preset: string,
  description: string,
  window: number,
  embed: number,
  depths: number[],
  heads: number[],
): ArchEntry {
  const timmArgs = { patch_size: 4, window_size: window, embed_dim: embed, depths, num_heads: heads };
  return { family: 'swin', preset, source: 'timm', description, timmArgs };
}
function s3(description: string, window: number[], depths: number[]): ArchEntry {
  const timmArgs = { patch_size: 4, window_size: window, embed_dim: 96, depths, num_heads: H3 };
  // no family preset: built from timm's kwargs as a HybridBackbone of Swin stages with per-stage windows
  return { family: 'swin', preset: null, source: 'timm', description, timmArgs };
}
/** timm `pvt_v2_*` entrypoints: `dict(depths, embed_dims, num_heads=(1, 2, 5, 8), ...)`. */
function pvt2(
  preset: string,
  description: string,
  depths: number[],
  extra: Record<string, unknown> = {},
): ArchEntry {
  const timmArgs = { depths, embed_dims: [64, 128, 320, 512], num_heads: [1, 2, 5, 8], ...extra };
  return { family: 'pvt-v2', preset, source: 'timm', description, timmArgs };
}

/** Architecture name -> how to build it. */
export const ARCHITECTURES: Readonly<Record<string, Readonly<ArchEntry>>> = Object.freeze({
  swin_tiny_patch4_window7_224: swin('swin_tiny_patch4_window7_224', 'Swin-T @ 224x224', 7, 96, T, H3),
  swin_small_patch4_window7_224: swin('swin_small_patch4_window7_224', 'Swin-S @ 224x224', 7, 96, S, H3),
  swin_base_patch4_window7_224: swin('swin_base_patch4_window7_224', 'Swin-B @ 224x224', 7, 128, S, H4),
  swin_base_patch4_window12_384: swin('swin_base_patch4_window12_384', 'Swin-B @ 384x384', 12, 128, S, H4),
  swin_large_patch4_window7_224: swin('swin_large_patch4_window7_224', 'Swin-L @ 224x224', 7, 192, S, H6),
  swin_large_patch4_window12_384: swin('swin_large_patch4_window12_384', 'Swin-L @ 384x384', 12, 192, S, H6),
  swin_s3_tiny_224: s3('Swin-S3-T @ 224x224 (AutoFormerV2)', [7, 7, 14, 7], T),
  swin_s3_small_224: s3('Swin-S3-S @ 224x224 (AutoFormerV2)', [14, 14, 14, 7], S),
  swin_s3_base_224: s3('Swin-S3-B @ 224x224 (AutoFormerV2)', [7, 7, 14, 7], [2, 2, 30, 2]),
  pvt_v2_b0: pvt2('pvt_v2_b0', 'PVT v2 B0', [2, 2, 2, 2], { embed_dims: [32, 64, 160, 256] }),
  pvt_v2_b1: pvt2('pvt_v2_b1', 'PVT v2 B1', [2, 2, 2, 2]),
  pvt_v2_b2: pvt2('pvt_v2_b2', 'PVT v2 B2', [3, 4, 6, 3]),
  pvt_v2_b3: pvt2('pvt_v2_b3', 'PVT v2 B3', [3, 4, 18, 3]),
  pvt_v2_b4: pvt2('pvt_v2_b4', 'PVT v2 B4', [3, 8, 27, 3]),
  pvt_v2_b5: pvt2('pvt_v2_b5', 'PVT v2 B5', [3, 6, 40, 3], { mlp_ratios: [4, 4, 4, 4] }),
  pvt_v2_b2_li: pvt2('pvt_v2_b2_li', 'PVT v2 B2 with linear SRA', [3, 4, 6, 3], { linear: true }),
  // official repositories (no timm name)
  pvt_tiny: official('pvt-v1', 'pvt_tiny', 'PVT v1 Tiny (whai362/PVT)'),
  pvt_small: official('pvt-v1', 'pvt_small', 'PVT v1 Small (whai362/PVT)'),
  pvt_medium: official('pvt-v1', 'pvt_medium', 'PVT v1 Medium (whai362/PVT)'),
  pvt_large: official('pvt-v1', 'pvt_large', 'PVT v1 Large (whai362/PVT)'),
  shunted_t: official('shunted', 'shunted_t', 'Shunted-T (OliverRensu/Shunted-Transformer)'),
  shunted_s: official('shunted', 'shunted_s', 'Shunted-S (OliverRensu/Shunted-Transformer)'),
  shunted_b: official('shunted', 'shunted_b', 'Shunted-B (OliverRensu/Shunted-Transformer)'),
  swin_mlp_tiny_c24_patch4_window8_256: official(
    'swin-mlp',
    'swin_mlp_tiny_c24_patch4_window8_256',
    'SwinMLP-T/C24 @ 256x256 (microsoft/Swin-Transformer)',
  ),
  swin_mlp_tiny_c12_patch4_window8_256: official(
    'swin-mlp',
    'swin_mlp_tiny_c12_patch4_window8_256',
    'SwinMLP-T/C12 @ 256x256 (microsoft/Swin-Transformer)',
  ),
  swin_mlp_tiny_c6_patch4_window8_256: official(
    'swin-mlp',
    'swin_mlp_tiny_c6_patch4_window8_256',
    'SwinMLP-T/C6 @ 256x256 (microsoft/Swin-Transformer)',
  ),
  swin_mlp_base_patch4_window7_224: official(
    'swin-mlp',
    'swin_mlp_base_patch4_window7_224',
    'SwinMLP-B @ 224x224 (microsoft/Swin-Transformer)',
  ),
});

function official(family: ModelFamily, preset: string, description: string): ArchEntry {
  return { family, preset, source: 'official', description };
}

/** timm's `_cfg(...)` of a family: the defaults every tag starts from. */
function cfg(
  over: Partial<PretrainedCfg> & { crop?: number; size?: number; classes?: number },
): PretrainedCfg {
  const { crop, size, classes, ...rest } = over;
  const s = size ?? 224;
  const numClasses = classes ?? 1000;
  return {
    inputSize: [3, s, s],
    cropPct: crop ?? 0.9,
    interpolation: 'bicubic' as Interpolation,
    mean: [...IMAGENET_DEFAULT_MEAN] as [number, number, number],
    std: [...IMAGENET_DEFAULT_STD] as [number, number, number],
    numClasses,
    labelSet: numClasses === 21841 ? 'imagenet-22k' : 'imagenet-1k',
    ...rest,
  };
}

const SWIN_URL = 'https://github.com/SwinTransformer/storage/releases/download';
const IN22K = 21841;

/** timm Swin `_cfg`: 224, crop 0.9, bicubic, fixed input size, hub `timm/<name>.<tag>`. */
function swinCfg(name: string, url: string, over: { size?: number; crop?: number; classes?: number } = {}) {
  const [arch, tag] = name.split('.');
  return cfg({ url: `${SWIN_URL}/${url}`, hfHubId: `timm/${arch}.${tag}`, fixedInputSize: true, ...over });
}
const AT_384 = { size: 384, crop: 1.0 } as const;

function pvtV2Cfg(name: string): PretrainedCfg {
  const arch = name.split('.')[0];
  return cfg({
    hfHubId: `timm/${name}`,
    url: `https://github.com/whai362/PVT/releases/download/v2/${arch}.pth`,
    fixedInputSize: false,
  });
}

/** DeiT-style evaluation of the official repositories: resize `int(256/224 * S)`, bicubic, centre crop S. */
function officialCfg(size = 224): PretrainedCfg {
  return cfg({ size, crop: 0.875 });
}

/**
 * Every pretrained configuration, keyed `<architecture>.<tag>` like timm's `default_cfgs`. For each
 * architecture the FIRST tag listed is its default (a name without a tag resolves to it), as in timm.
 */
export const PRETRAINED_CFGS: Readonly<Record<string, Readonly<PretrainedCfg>>> = Object.freeze({
  // timm swin_transformer.py default_cfgs, in timm's order
  'swin_small_patch4_window7_224.ms_in22k_ft_in1k': swinCfg(
    'swin_small_patch4_window7_224.ms_in22k_ft_in1k',
    'v1.0.8/swin_small_patch4_window7_224_22kto1k_finetune.pth',
  ),
  'swin_base_patch4_window7_224.ms_in22k_ft_in1k': swinCfg(
    'swin_base_patch4_window7_224.ms_in22k_ft_in1k',
    'v1.0.0/swin_base_patch4_window7_224_22kto1k.pth',
  ),
  'swin_base_patch4_window12_384.ms_in22k_ft_in1k': swinCfg(
    'swin_base_patch4_window12_384.ms_in22k_ft_in1k',
    'v1.0.0/swin_base_patch4_window12_384_22kto1k.pth',
    AT_384,
  ),
  'swin_large_patch4_window7_224.ms_in22k_ft_in1k': swinCfg(
    'swin_large_patch4_window7_224.ms_in22k_ft_in1k',
    'v1.0.0/swin_large_patch4_window7_224_22kto1k.pth',
  ),
  'swin_large_patch4_window12_384.ms_in22k_ft_in1k': swinCfg(
    'swin_large_patch4_window12_384.ms_in22k_ft_in1k',
    'v1.0.0/swin_large_patch4_window12_384_22kto1k.pth',
    AT_384,
  ),
  'swin_tiny_patch4_window7_224.ms_in1k': swinCfg(
    'swin_tiny_patch4_window7_224.ms_in1k',
    'v1.0.0/swin_tiny_patch4_window7_224.pth',
  ),
  'swin_small_patch4_window7_224.ms_in1k': swinCfg(
    'swin_small_patch4_window7_224.ms_in1k',
    'v1.0.0/swin_small_patch4_window7_224.pth',
  ),
  'swin_base_patch4_window7_224.ms_in1k': swinCfg(
    'swin_base_patch4_window7_224.ms_in1k',
    'v1.0.0/swin_base_patch4_window7_224.pth',
  ),
  'swin_base_patch4_window12_384.ms_in1k': swinCfg(
    'swin_base_patch4_window12_384.ms_in1k',
    'v1.0.0/swin_base_patch4_window12_384.pth',
    AT_384,
  ),
  // timm: "tiny 22k pretrain is worse than 1k, so moved after (untagged priority is based on order)"
  'swin_tiny_patch4_window7_224.ms_in22k_ft_in1k': swinCfg(
    'swin_tiny_patch4_window7_224.ms_in22k_ft_in1k',
    'v1.0.8/swin_tiny_patch4_window7_224_22kto1k_finetune.pth',
  ),
  'swin_tiny_patch4_window7_224.ms_in22k': swinCfg(
    'swin_tiny_patch4_window7_224.ms_in22k',
    'v1.0.8/swin_tiny_patch4_window7_224_22k.pth',
    { classes: IN22K },
  ),
  'swin_small_patch4_window7_224.ms_in22k': swinCfg(
    'swin_small_patch4_window7_224.ms_in22k',
    'v1.0.8/swin_small_patch4_window7_224_22k.pth',
    { classes: IN22K },
  ),
  'swin_base_patch4_window7_224.ms_in22k': swinCfg(
    'swin_base_patch4_window7_224.ms_in22k',
    'v1.0.0/swin_base_patch4_window7_224_22k.pth',
    { classes: IN22K },
  ),
  'swin_base_patch4_window12_384.ms_in22k': swinCfg(
    'swin_base_patch4_window12_384.ms_in22k',
    'v1.0.0/swin_base_patch4_window12_384_22k.pth',
    { ...AT_384, classes: IN22K },
  ),
  'swin_large_patch4_window7_224.ms_in22k': swinCfg(
    'swin_large_patch4_window7_224.ms_in22k',
    'v1.0.0/swin_large_patch4_window7_224_22k.pth',
    { classes: IN22K },
  ),
  'swin_large_patch4_window12_384.ms_in22k': swinCfg(
    'swin_large_patch4_window12_384.ms_in22k',
    'v1.0.0/swin_large_patch4_window12_384_22k.pth',
    { ...AT_384, classes: IN22K },
  ),
  'swin_s3_tiny_224.ms_in1k': cfg({ hfHubId: 'timm/swin_s3_tiny_224.ms_in1k', fixedInputSize: true }),
  'swin_s3_small_224.ms_in1k': cfg({ hfHubId: 'timm/swin_s3_small_224.ms_in1k', fixedInputSize: true }),
  'swin_s3_base_224.ms_in1k': cfg({ hfHubId: 'timm/swin_s3_base_224.ms_in1k', fixedInputSize: true }),
  // timm pvt_v2.py default_cfgs
  'pvt_v2_b0.in1k': pvtV2Cfg('pvt_v2_b0.in1k'),
  'pvt_v2_b1.in1k': pvtV2Cfg('pvt_v2_b1.in1k'),
  'pvt_v2_b2.in1k': pvtV2Cfg('pvt_v2_b2.in1k'),
  'pvt_v2_b3.in1k': pvtV2Cfg('pvt_v2_b3.in1k'),
  'pvt_v2_b4.in1k': pvtV2Cfg('pvt_v2_b4.in1k'),
  'pvt_v2_b5.in1k': pvtV2Cfg('pvt_v2_b5.in1k'),
  'pvt_v2_b2_li.in1k': pvtV2Cfg('pvt_v2_b2_li.in1k'),
  // official repositories' evaluation settings (ImageNet-1k weights)
  'pvt_tiny.in1k': officialCfg(),
  'pvt_small.in1k': officialCfg(),
  'pvt_medium.in1k': officialCfg(),
  'pvt_large.in1k': officialCfg(),
  'shunted_t.in1k': officialCfg(),
  'shunted_s.in1k': officialCfg(),
  'shunted_b.in1k': officialCfg(),
  'swin_mlp_tiny_c24_patch4_window8_256.in1k': officialCfg(256),
  'swin_mlp_tiny_c12_patch4_window8_256.in1k': officialCfg(256),
  'swin_mlp_tiny_c6_patch4_window8_256.in1k': officialCfg(256),
  'swin_mlp_base_patch4_window7_224.in1k': officialCfg(224),
});

/** timm's deprecated names (`register_model_deprecations`) -> their current `name.tag`. */
export const DEPRECATED_NAMES: Readonly<Record<string, string>> = Object.freeze({
  swin_base_patch4_window7_224_in22k: 'swin_base_patch4_window7_224.ms_in22k',
  swin_base_patch4_window12_384_in22k: 'swin_base_patch4_window12_384.ms_in22k',
  swin_large_patch4_window7_224_in22k: 'swin_large_patch4_window7_224.ms_in22k',
  swin_large_patch4_window12_384_in22k: 'swin_large_patch4_window12_384.ms_in22k',
});

/** What {@link resolveModel} returns. */
export interface ResolvedModel {
  /** Architecture name (no tag). */
  name: string;
  /** Pretrained tag (the default one when the name had none). */
  tag?: string;
  family: ModelFamily;
  /** The evaluation settings of those weights (a fresh copy). */
  pretrainedCfg: PretrainedCfg;
  /** The registry entry of the architecture. */
  arch: Readonly<ArchEntry>;
}

/** Tags of `arch` in registry order (the first is the default). */
export function modelTags(arch: string): string[] {
  const tags: string[] = [];
  for (const key of Object.keys(PRETRAINED_CFGS)) {
    const dot = key.indexOf('.');
    if (key.slice(0, dot) === arch) tags.push(key.slice(dot + 1));
  }
  return tags;
}

/** Levenshtein distance (small strings only). */
function editDistance(a: string, b: string): number {
  let prev = Array.from({ length: b.length + 1 }, (_, j) => j);
  for (let i = 1; i <= a.length; i++) {
    const cur = [i];
    for (let j = 1; j <= b.length; j++) {
      cur[j] = Math.min(prev[j] + 1, cur[j - 1] + 1, prev[j - 1] + (a[i - 1] === b[j - 1] ? 0 : 1));
    }
    prev = cur;
  }
  return prev[b.length];
}

/** Up to `max` names of `candidates` closest to `name` (edit distance, then shared prefix). */
export function suggestNames(name: string, candidates: readonly string[], max = 3): string[] {
  const q = name.toLowerCase();
  const scored = candidates.map((c) => {
    let d = editDistance(q, c);
    if (q.length >= 3 && c.includes(q)) d = Math.min(d, c.length - q.length > 0 ? 2 : 0);
    return { c, d };
  });
  const limit = Math.max(3, Math.floor(q.length / 3));
  return scored
    .filter((s) => s.d <= limit)
    .sort((x, y) => x.d - y.d || x.c.localeCompare(y.c))
    .slice(0, max)
    .map((s) => s.c);
}

/** Thrown for unknown or unbuildable model names; `suggestions` holds the did-you-mean candidates. */
export class UnknownModelError extends SwinConfigError {
  constructor(
    message: string,
    readonly suggestions: string[] = [],
  ) {
    super(message);
  }
}

/**
 * Resolves a model name: an architecture (`swin_tiny_patch4_window7_224`, `pvt_v2_b0`, `shunted_t`, ...)
 * with an optional pretrained tag (`.ms_in1k`, `.ms_in22k_ft_in1k`, `.in1k`, ...); without a tag, the
 * architecture's default tag (timm's: the first listed). timm's deprecated names (`..._in22k`) are accepted.
 * Lookups use own properties only (`'constructor'` is an unknown name).
 *
 * @throws UnknownModelError naming the model with did-you-mean suggestions, or listing the known tags.
 */
export function resolveModel(name: string): ResolvedModel {
  if (typeof name !== 'string' || name.length === 0) {
    throw new UnknownModelError(`resolveModel: model name must be a non-empty string, got ${String(name)}`);
  }
  const n = name.trim();
  const full = Object.hasOwn(DEPRECATED_NAMES, n) ? DEPRECATED_NAMES[n] : n;
  const dot = full.indexOf('.');
  const arch = dot < 0 ? full : full.slice(0, dot);
  const tagIn = dot < 0 ? undefined : full.slice(dot + 1);
  if (!Object.hasOwn(ARCHITECTURES, arch)) {
    const all = [...Object.keys(ARCHITECTURES), ...Object.keys(PRETRAINED_CFGS)];
    const s = suggestNames(n, all);
    throw new UnknownModelError(
      `unknown model '${n}'${s.length ? ` (did you mean ${s.map((x) => `'${x}'`).join(', ')}?)` : ''}; ` +
        'listModels() gives every name',
      s,
    );
  }
  const entry = ARCHITECTURES[arch];
  const tags = modelTags(arch);
  const tag = tagIn ?? tags[0];
  const key = `${arch}.${tag}`;
  if (tag === undefined || !Object.hasOwn(PRETRAINED_CFGS, key)) {
    const s = suggestNames(tag ?? '', tags);
    throw new UnknownModelError(
      `unknown pretrained tag '${tag}' for ${arch} (known tags: ${tags.join(', ')})` +
        (s.length ? `; did you mean '${arch}.${s[0]}'?` : ''),
      s.map((t) => `${arch}.${t}`),
    );
  }
  const pretrainedCfg = copyPretrainedCfg(PRETRAINED_CFGS[key] as PretrainedCfg);
  pretrainedCfg.tag = tag;
  return { name: arch, tag, family: entry.family, pretrainedCfg, arch: entry };
}

/** Turns a glob (`*` and `?`) into an anchored regular expression. */
function globToRegExp(glob: string): RegExp {
  const esc = glob
    .replace(/[.+^${}()|[\]\\]/g, '\\$&')
    .replace(/\*/g, '.*')
    .replace(/\?/g, '.');
  return new RegExp(`^${esc}$`);
}

/** Options of {@link listModels}. */
export interface ListModelsOptions {
  /** List `name.tag` for every pretrained config instead of architecture names. */
  pretrained?: boolean;
  /** Include architectures that cannot be built here (none today). Default false. */
  includeUnsupported?: boolean;
}

/**
 * Model names of the registry, in registry order, optionally filtered by a glob like timm's `list_models`
 * (`'swin*'`, `'*pvt_v2*'`); a filter without `*`/`?` matches as a substring.
 */
export function listModels(filter?: string, opts: ListModelsOptions = {}): string[] {
  const names = opts.pretrained ? Object.keys(PRETRAINED_CFGS) : Object.keys(ARCHITECTURES);
  const buildable = (n: string) => opts.includeUnsupported || !ARCHITECTURES[n.split('.')[0]]?.unsupported;
  const out = names.filter(buildable);
  if (!filter) return out;
  if (/[*?]/.test(filter)) {
    const re = globToRegExp(filter);
    return out.filter((n) => re.test(n));
  }
  return out.filter((n) => n.includes(filter));
}
