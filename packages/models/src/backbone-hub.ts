/**
 * Hub folders of `@swin/backbone` models (what the ablation app saves as `<out>/best-model/`): a `config.json`
 * in the timm hub layout with `"architecture": "backbone"`, next to `model.safetensors` (the backbone's state
 * dict under its own keys, as `saveBackbone` writes it):
 *
 * ```json
 * {
 *   "architecture": "backbone",
 *   "num_classes": 10,
 *   "label_names": ["T-shirt/top", "Trouser", ...],
 *   "model_args": { "imgSize": 32, "inChans": 1, "numClasses": 10, "stages": [...] },
 *   "pretrained_cfg": {
 *     "input_size": [1, 32, 32], "crop_pct": 1, "interpolation": "bilinear",
 *     "mean": [0.286], "std": [0.353],
 *     "pad": { "content_size": [28, 28], "padded_size": [32, 32] }
 *   },
 *   "trained": { "by": "@swin/ablation", ... }
 * }
 * ```
 *
 * `model_args` is a `@swin/backbone` `BackboneConfig` (validated by `resolveBackboneConfig`); `pretrained_cfg`
 * is timm's, with `input_size[0]` 1 for grayscale models, one mean/std per channel, and the optional letterbox
 * `pad` (see `transformImage`). `trained` is free-form provenance, kept but not interpreted. The file is
 * untrusted: every field is checked before anything is built, and each problem is one `SwinConfigError` line.
 */
import {
  type BackboneConfig,
  createBackbone,
  type HybridBackbone,
  type ResolvedBackboneConfig,
  resolveBackboneConfig,
  saveBackbone,
} from '@swin/backbone';
import { configError, type FieldSpec, field, SwinConfigError, validateConfig } from '@swin/nn';
import type { Interpolation, PretrainedCfg } from './pretrained.js';

/** The `architecture` of a backbone hub folder's `config.json`. */
export const BACKBONE_ARCHITECTURE = 'backbone';

const WHERE = 'backbone config.json';

/** What a backbone `config.json` describes. */
export interface BackboneHubSpec {
  /** The validated backbone config (defaults filled in). */
  config: ResolvedBackboneConfig;
  /** Evaluation settings (input size and channels, mean/std, interpolation, letterbox) and the class names. */
  pretrainedCfg: PretrainedCfg;
  /** The free-form `trained` object of the file (provenance), if any. */
  trained?: Record<string, unknown>;
  /** Builds the (randomly initialised) backbone the folder's weights belong to. */
  build(): HybridBackbone;
}

type Obj = Record<string, unknown>;

const isObj = (v: unknown): v is Obj => v !== null && typeof v === 'object' && !Array.isArray(v);
const isPosInt = (v: unknown) => typeof v === 'number' && Number.isInteger(v) && v > 0;

/** Largest image side a config may ask for (masks and position embeddings grow with it). */
const MAX_SIDE = 8192;

const pair: FieldSpec = {
  check: (v) => Array.isArray(v) && v.length === 2 && v.every((x) => isPosInt(x) && x <= MAX_SIDE),
  expected: `[H, W] of positive integers <= ${MAX_SIDE}`,
};
const object: FieldSpec = { check: isObj, expected: 'an object' };

const TOP_SCHEMA: Record<string, FieldSpec> = {
  architecture: field.oneOf(BACKBONE_ARCHITECTURE),
  num_classes: field.nonNegativeInt,
  label_names: {
    check: (v) => Array.isArray(v) && v.every((x) => typeof x === 'string'),
    expected: 'a list of strings',
  },
  model_args: object,
  pretrained_cfg: object,
  trained: object,
};

const CFG_SCHEMA: Record<string, FieldSpec> = {
  input_size: {
    check: (v) =>
      Array.isArray(v) &&
      v.length === 3 &&
      (v[0] === 1 || v[0] === 3) &&
      v.every(isPosInt) &&
      v[1] <= MAX_SIDE &&
      v[2] <= MAX_SIDE,
    expected: `[channels (1 or 3), H, W] with H, W <= ${MAX_SIDE}`,
  },
  crop_pct: { check: (v) => typeof v === 'number' && v > 0 && v <= 1, expected: 'a number in (0, 1]' },
  interpolation: field.oneOf('bicubic', 'bilinear', 'nearest'),
  mean: {
    check: (v) =>
      Array.isArray(v) && v.length > 0 && v.every((x) => typeof x === 'number' && Number.isFinite(x)),
    expected: 'a list of finite numbers (one per channel)',
  },
  std: field.positiveNumberArray,
  pad: object,
  num_classes: field.nonNegativeInt,
  tag: { check: (v) => typeof v === 'string', expected: 'a string' },
};

const PAD_SCHEMA: Record<string, FieldSpec> = { content_size: pair, padded_size: pair };

/** True when `json` (a parsed hub `config.json`) is a backbone folder's. */
export function isBackboneHubConfig(json: unknown): boolean {
  return isObj(json) && json.architecture === BACKBONE_ARCHITECTURE;
}

function sizeOf(img: number | [number, number]): [number, number] {
  return typeof img === 'number' ? [img, img] : [img[0], img[1]];
}

/**
 * Reads a backbone hub `config.json` (parsed JSON) and checks it against itself: `model_args` is a valid
 * backbone config, `input_size` matches its `inChans` and `imgSize`, `num_classes` and `label_names` match its
 * head, mean/std have one entry per channel, the letterbox's padded size holds its content.
 *
 * @throws SwinConfigError `'backbone config.json: ...'`, one line naming the field and what was expected.
 */
export function backboneHubSpec(json: unknown): BackboneHubSpec {
  validateConfig(WHERE, json, TOP_SCHEMA);
  const j = json as Obj;
  if (j.architecture !== BACKBONE_ARCHITECTURE)
    configError(WHERE, `architecture must be '${BACKBONE_ARCHITECTURE}'`);
  if (j.model_args === undefined) configError(WHERE, "no 'model_args' (the @swin/backbone config)");
  if (j.pretrained_cfg === undefined) configError(WHERE, "no 'pretrained_cfg' (input size, mean/std, ...)");
  let config: ResolvedBackboneConfig;
  try {
    config = resolveBackboneConfig(j.model_args as unknown as BackboneConfig);
  } catch (e) {
    if (e instanceof SwinConfigError) configError(WHERE, `model_args: ${e.message}`);
    throw e;
  }
  const pc = j.pretrained_cfg as Obj;
  validateConfig(`${WHERE} pretrained_cfg`, pc, CFG_SCHEMA);
  for (const k of ['input_size', 'mean', 'std'] as const) {
    if (pc[k] === undefined) configError(WHERE, `pretrained_cfg.${k} is required`);
  }
  const [C, H, W] = pc.input_size as [1 | 3, number, number];
  const [iH, iW] = sizeOf(config.imgSize);
  if (C !== config.inChans) {
    configError(
      WHERE,
      `pretrained_cfg.input_size has ${C} channel(s) but model_args.inChans is ${config.inChans}`,
    );
  }
  if (H !== iH || W !== iW) {
    configError(
      WHERE,
      `pretrained_cfg.input_size [${C}, ${H}, ${W}] differs from model_args.imgSize [${iH}, ${iW}]`,
    );
  }
  const mean = pc.mean as number[];
  const std = pc.std as number[];
  if (mean.length !== C || std.length !== C) {
    configError(
      WHERE,
      `pretrained_cfg.mean and std need ${C} entries (one per channel), got ${mean.length} and ${std.length}`,
    );
  }
  const numClasses = config.numClasses;
  for (const [k, v] of [
    ['num_classes', j.num_classes],
    ['pretrained_cfg.num_classes', pc.num_classes],
  ] as const) {
    if (v !== undefined && v !== numClasses) {
      configError(WHERE, `${k} ${v} differs from model_args.numClasses ${numClasses}`);
    }
  }
  const labels = j.label_names as string[] | undefined;
  if (labels !== undefined && labels.length !== numClasses) {
    configError(WHERE, `${labels.length} label_names for ${numClasses} classes`);
  }
  const cfg: PretrainedCfg = {
    inputSize: [C, H, W],
    cropPct: (pc.crop_pct as number | undefined) ?? 1,
    interpolation: (pc.interpolation as Interpolation | undefined) ?? 'bilinear',
    mean: [...mean],
    std: [...std],
    numClasses,
    labelSet: numClasses === 1000 && !labels ? 'imagenet-1k' : 'custom',
    fixedInputSize: true,
  };
  if (typeof pc.tag === 'string') cfg.tag = pc.tag;
  if (labels) cfg.labelNames = [...labels];
  if (pc.pad !== undefined) {
    validateConfig(`${WHERE} pretrained_cfg.pad`, pc.pad, PAD_SCHEMA);
    const p = pc.pad as Obj;
    if (p.content_size === undefined || p.padded_size === undefined) {
      configError(WHERE, 'pretrained_cfg.pad needs content_size and padded_size');
    }
    const [ch, cw] = p.content_size as [number, number];
    const [ph, pw] = p.padded_size as [number, number];
    if (ph < ch || pw < cw) {
      configError(
        WHERE,
        `pretrained_cfg.pad.padded_size [${ph}, ${pw}] is smaller than content_size [${ch}, ${cw}]`,
      );
    }
    cfg.pad = { contentSize: [ch, cw], paddedSize: [ph, pw] };
  }
  const resolved = config;
  return {
    config: resolved,
    pretrainedCfg: cfg,
    ...(j.trained !== undefined ? { trained: { ...(j.trained as Obj) } } : {}),
    build: () => createBackbone(resolved),
  };
}

/**
 * The `config.json` object of a backbone hub folder for a backbone `config` and its evaluation settings
 * (`backboneHubSpec` reads it back). `trained` is stored as free-form provenance.
 */
export function backboneHubConfig(
  config: BackboneConfig,
  pretrainedCfg: PretrainedCfg,
  trained?: Record<string, unknown>,
): Record<string, unknown> {
  const pc = pretrainedCfg;
  const out: Record<string, unknown> = {
    architecture: BACKBONE_ARCHITECTURE,
    num_classes: pc.numClasses,
    ...(pc.labelNames ? { label_names: [...pc.labelNames] } : {}),
    model_args: config,
    pretrained_cfg: {
      input_size: [...pc.inputSize],
      crop_pct: pc.cropPct,
      interpolation: pc.interpolation,
      mean: [...pc.mean],
      std: [...pc.std],
      ...(pc.pad
        ? { pad: { content_size: [...pc.pad.contentSize], padded_size: [...pc.pad.paddedSize] } }
        : {}),
      ...(pc.tag ? { tag: pc.tag } : {}),
    },
    ...(trained ? { trained } : {}),
  };
  backboneHubSpec(JSON.parse(JSON.stringify(out))); // what is written must read back
  return out;
}

/**
 * The two files of a backbone hub folder for `model`: `config.json` (see {@link backboneHubConfig}) and
 * `model.safetensors` (`saveBackbone`: the state dict, with the config also in its metadata). Write them into
 * one folder; `loadPretrained(null, { weights: folder })` and `swin classify --weights folder` load it.
 */
export async function backboneHubFiles(
  model: HybridBackbone,
  pretrainedCfg: PretrainedCfg,
  trained?: Record<string, unknown>,
): Promise<{ 'config.json': string; 'model.safetensors': Uint8Array }> {
  const config = `${JSON.stringify(backboneHubConfig(model.config, pretrainedCfg, trained), null, 2)}\n`;
  return { 'config.json': config, 'model.safetensors': await saveBackbone(model) };
}
