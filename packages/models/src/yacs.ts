/**
 * The official Swin training config (a yacs `CfgNode`, pickled into every training checkpoint of
 * microsoft/Swin-Transformer as `checkpoint['config']`) -> a model config and its evaluation settings.
 * `@swin/io` never calls `yacs.config.CfgNode`: the config arrives as an inert placeholder
 * (`{ __refused__: 'yacs.config.CfgNode', items, state, ... }`) or as nested plain objects; both are read here
 * as data.
 */
import type { FamilyConfig } from './create.js';
import { configFromTimmKwargs } from './kwargs.js';
import { IMAGENET_DEFAULT_MEAN, IMAGENET_DEFAULT_STD, type PretrainedCfg } from './pretrained.js';

/** Nested plain data (objects, arrays, numbers, strings, booleans, null). */
export type PlainValue = null | boolean | number | string | PlainValue[] | { [key: string]: PlainValue };

const MAX_DEPTH = 64;

function mergeEntries(out: Record<string, PlainValue>, src: unknown, depth: number): void {
  if (src === null || src === undefined) return;
  if (src instanceof Map) {
    for (const [k, v] of src) if (typeof k === 'string') out[k] = toPlain(v, depth + 1);
    return;
  }
  if (Array.isArray(src)) {
    for (const pair of src) {
      if (Array.isArray(pair) && pair.length === 2 && typeof pair[0] === 'string') {
        out[pair[0]] = toPlain(pair[1], depth + 1);
      }
    }
    return;
  }
  if (typeof src === 'object') {
    const o = src as Record<string, unknown>;
    if (o.map instanceof Map) {
      mergeEntries(out, o.map, depth); // a PyDict-like wrapper
      return;
    }
    for (const k of Object.keys(o)) {
      if (k.startsWith('__')) continue; // yacs bookkeeping (__immutable__, __deprecated_keys__, ...)
      out[k] = toPlain(o[k], depth + 1);
    }
  }
}

/**
 * Turns an unpickled config (placeholders of refused classes such as yacs' `CfgNode`, dict-like wrappers,
 * Maps, nested objects) into nested plain data: a placeholder's dict items, then its BUILD state's public
 * fields. Keys starting with `__` are dropped. Throws past 64 levels of nesting.
 */
export function toPlain(v: unknown, depth = 0): PlainValue {
  if (depth > MAX_DEPTH) throw new Error(`yacs config: nesting deeper than ${MAX_DEPTH} levels`);
  if (v === null || v === undefined) return null;
  if (typeof v === 'boolean' || typeof v === 'number' || typeof v === 'string') return v;
  if (typeof v === 'bigint') return Number(v);
  if (Array.isArray(v)) return v.map((x) => toPlain(x, depth + 1));
  if (ArrayBuffer.isView(v)) return null;
  if (typeof v === 'object') {
    const o = v as Record<string, unknown>;
    const out: Record<string, PlainValue> = {};
    if ('__refused__' in o) {
      for (const key of ['items', 'dictitems', 'dict']) mergeEntries(out, o[key], depth);
      mergeEntries(out, o.state, depth);
      return out;
    }
    mergeEntries(out, o, depth);
    return out;
  }
  return null;
}

type Node = { [key: string]: PlainValue };

function node(v: PlainValue | undefined): Node | null {
  return v !== null && v !== undefined && typeof v === 'object' && !Array.isArray(v) ? (v as Node) : null;
}

/** True when `v` looks like an official Swin training config (has `MODEL` with `TYPE` or `SWIN`/`SWIN_MLP`). */
export function isSwinYacsConfig(v: unknown): boolean {
  try {
    const model = node(node(toPlain(v))?.MODEL);
    return !!model && (typeof model.TYPE === 'string' || !!node(model.SWIN) || !!node(model.SWIN_MLP));
  } catch {
    return false;
  }
}

/** What {@link configFromYacs} returns. */
export interface YacsModel {
  /** The family config (`buildFromConfig` builds it). */
  model: FamilyConfig;
  /** Evaluation settings from `DATA.IMG_SIZE`, `DATA.INTERPOLATION`, `TEST.CROP`, `MODEL.NUM_CLASSES`. */
  pretrainedCfg: PretrainedCfg;
  /** `MODEL.NAME` when present. */
  name?: string;
}

function req<T>(sec: Node, path: string, key: string, check: (v: unknown) => v is T): T | undefined {
  const v = sec[key];
  if (v === undefined || v === null) return undefined;
  if (!check(v)) throw new Error(`yacs config: ${path}.${key} has an unexpected value ${JSON.stringify(v)}`);
  return v;
}
const isNum = (v: unknown): v is number => typeof v === 'number';
const isBool = (v: unknown): v is boolean => typeof v === 'boolean';
const isNumList = (v: unknown): v is number[] => Array.isArray(v) && v.every((x) => typeof x === 'number');
const isStr = (v: unknown): v is string => typeof v === 'string';

/**
 * Builds the model config of an official microsoft/Swin-Transformer training config (`config.py` /
 * `models/build.py`): `MODEL.TYPE` `'swin'` reads `MODEL.SWIN.{PATCH_SIZE, IN_CHANS, EMBED_DIM, DEPTHS,
 * NUM_HEADS, WINDOW_SIZE, MLP_RATIO, QKV_BIAS, QK_SCALE, APE, PATCH_NORM}`, `'swin_mlp'` reads `MODEL.SWIN_MLP.*`;
 * both take `MODEL.NUM_CLASSES`, `MODEL.DROP_RATE`, `MODEL.DROP_PATH_RATE` and `DATA.IMG_SIZE` (missing fields take
 * the official defaults). The evaluation settings follow the official `build_transform`: `TEST.CROP` (default
 * true) resizes to `int(256 / 224 * IMG_SIZE)` = crop 0.875, `DATA.INTERPOLATION` (default bicubic). With
 * `TEST.CROP` false the official code warps the image to `IMG_SIZE x IMG_SIZE`; that is given as crop 1.0 (the
 * same for square images).
 *
 * @throws Error naming the field for a type this library does not build (`swinv2`, `swin_moe`, ...) or a value
 *   of the wrong kind.
 */
export function configFromYacs(config: unknown): YacsModel {
  const root = node(toPlain(config));
  const model = node(root?.MODEL);
  if (!root || !model)
    throw new Error('yacs config: no MODEL section (not an official Swin training config)');
  const type = (
    req(model, 'MODEL', 'TYPE', isStr) ?? (node(model.SWIN_MLP) && !node(model.SWIN) ? 'swin_mlp' : 'swin')
  ).toLowerCase();
  if (type !== 'swin' && type !== 'swin_mlp') {
    throw new Error(
      `yacs config: MODEL.TYPE '${type}' is not built by this library (supported: 'swin', 'swin_mlp')`,
    );
  }
  const data = node(root.DATA) ?? {};
  const test = node(root.TEST) ?? {};
  const secName = type === 'swin' ? 'SWIN' : 'SWIN_MLP';
  const sec = node(model[secName]) ?? {};
  const p = `MODEL.${secName}`;
  const imgSize = req(data, 'DATA', 'IMG_SIZE', isNum) ?? 224;
  const numClasses = req(model, 'MODEL', 'NUM_CLASSES', isNum) ?? 1000;
  const kwargs: Record<string, unknown> = {
    img_size: imgSize,
    patch_size: req(sec, p, 'PATCH_SIZE', isNum) ?? 4,
    in_chans: req(sec, p, 'IN_CHANS', isNum) ?? 3,
    num_classes: numClasses,
    embed_dim: req(sec, p, 'EMBED_DIM', isNum) ?? 96,
    depths: req(sec, p, 'DEPTHS', isNumList) ?? [2, 2, 6, 2],
    num_heads: req(sec, p, 'NUM_HEADS', isNumList) ?? [3, 6, 12, 24],
    window_size: req(sec, p, 'WINDOW_SIZE', isNum) ?? 7,
    mlp_ratio: req(sec, p, 'MLP_RATIO', isNum) ?? 4,
    drop_rate: req(model, 'MODEL', 'DROP_RATE', isNum) ?? 0,
    drop_path_rate: req(model, 'MODEL', 'DROP_PATH_RATE', isNum) ?? 0.1,
    ape: req(sec, p, 'APE', isBool) ?? false,
    patch_norm: req(sec, p, 'PATCH_NORM', isBool) ?? true,
  };
  if (type === 'swin') {
    kwargs.qkv_bias = req(sec, p, 'QKV_BIAS', isBool) ?? true;
    kwargs.qk_scale = req(sec, p, 'QK_SCALE', isNum) ?? null;
  }
  // the official kwargs (drop_rate = dropout in the blocks) are the family converters' input
  const fc = type === 'swin' ? officialSwin(kwargs) : configFromTimmKwargs('swin-mlp', kwargs);
  const interp = (req(data, 'DATA', 'INTERPOLATION', isStr) ?? 'bicubic').toLowerCase();
  if (interp !== 'bicubic' && interp !== 'bilinear') {
    throw new Error(`yacs config: DATA.INTERPOLATION '${interp}' is not supported (bicubic, bilinear)`);
  }
  const crop = req(test, 'TEST', 'CROP', isBool) ?? true;
  const name = req(model, 'MODEL', 'NAME', isStr);
  return {
    model: fc,
    pretrainedCfg: {
      inputSize: [3, imgSize, imgSize],
      cropPct: crop ? 224 / 256 : 1,
      interpolation: interp,
      mean: [...IMAGENET_DEFAULT_MEAN] as [number, number, number],
      std: [...IMAGENET_DEFAULT_STD] as [number, number, number],
      numClasses,
      labelSet: numClasses === 1000 ? 'imagenet-1k' : numClasses === 21841 ? 'imagenet-22k' : 'custom',
    },
    ...(name ? { name } : {}),
  };
}

/** The official `SwinTransformer(**kwargs)` (drop_rate = block dropout, as in the Microsoft code). */
function officialSwin(kwargs: Record<string, unknown>): FamilyConfig {
  const { drop_rate, ...rest } = kwargs;
  return configFromTimmKwargs('swin', { ...rest, proj_drop_rate: drop_rate });
}
