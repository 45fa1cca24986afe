/**
 * Hugging Face hub folders as timm writes them (`timm.models.push_to_hf_hub`): a `config.json` naming the
 * `architecture`, `num_classes`, the `pretrained_cfg` (evaluation settings), optional `model_args` (constructor
 * kwargs merged over the architecture's) and `label_names`, next to the weights: `model.safetensors`,
 * `pytorch_model.bin`, or shards listed by `model.safetensors.index.json` / `pytorch_model.bin.index.json`
 * (`weight_map`: tensor name -> shard file).
 */
import { buildFromConfig, createResolved, type FamilyConfig, type RegistryModel } from './create.js';
import { configFromTimmKwargs } from './kwargs.js';
import type { Interpolation, PretrainedCfg } from './pretrained.js';
import { type ResolvedModel, resolveModel } from './registry.js';

/** Weight files of a hub folder, in the order they are looked for. */
export const HUB_WEIGHT_FILES = [
  'model.safetensors',
  'model.safetensors.index.json',
  'pytorch_model.bin',
  'pytorch_model.bin.index.json',
] as const;

/** What a hub `config.json` describes. */
export interface HubModelSpec {
  /** The registry entry of `architecture` (with `pretrained_cfg.tag` when the registry knows it). */
  resolved: ResolvedModel;
  /** The tag written in the folder (may be a custom one the registry does not list). */
  tag?: string;
  /** Evaluation settings: the registry's, overlaid with the folder's `pretrained_cfg` and `label_names`. */
  pretrainedCfg: PretrainedCfg;
  /** Builds the (randomly initialised) model the folder's weights belong to. */
  build(): RegistryModel;
  /** The family config when `model_args` / `num_classes` changed the registry architecture (else null). */
  familyConfig: FamilyConfig | null;
}

type Obj = Record<string, unknown>;

function isObj(v: unknown): v is Obj {
  return v !== null && typeof v === 'object' && !Array.isArray(v);
}

function triple(v: unknown, what: string): [number, number, number] {
  if (Array.isArray(v) && v.length === 3 && v.every((x) => typeof x === 'number' && Number.isFinite(x))) {
    return [v[0], v[1], v[2]];
  }
  throw new Error(`hub config.json: pretrained_cfg.${what} must be 3 numbers, got ${JSON.stringify(v)}`);
}

/**
 * Reads a timm hub `config.json` (parsed JSON); `onNote` receives the `model_args` that only act in training.
 * Unknown architectures fail with did-you-mean suggestions; a
 * transformers config (`model_type`, no `architecture`) is refused by name.
 */
export function hubModelSpec(json: unknown, opts: { onNote?: (message: string) => void } = {}): HubModelSpec {
  if (!isObj(json)) throw new Error('hub config.json: expected a JSON object');
  const arch = json.architecture;
  if (typeof arch !== 'string') {
    if (typeof json.model_type === 'string') {
      throw new Error(
        `hub config.json: a transformers config (model_type '${json.model_type}') is not supported; use a timm hub folder (config.json with 'architecture')`,
      );
    }
    throw new Error("hub config.json: no 'architecture' string");
  }
  const pc = isObj(json.pretrained_cfg) ? json.pretrained_cfg : {};
  const tag = typeof pc.tag === 'string' && pc.tag ? pc.tag : undefined;
  let resolved: ResolvedModel;
  try {
    resolved = resolveModel(tag ? `${arch}.${tag}` : arch);
  } catch (e) {
    if (!tag) throw e;
    resolved = resolveModel(arch); // a custom tag (fine-tuned elsewhere): the architecture's default settings
  }
  const cfg = resolved.pretrainedCfg;
  if (tag) cfg.tag = tag;
  if (pc.input_size !== undefined) {
    const s = triple(pc.input_size, 'input_size');
    cfg.inputSize = [3, s[1], s[2]];
  }
  if (pc.crop_pct !== undefined) {
    if (typeof pc.crop_pct !== 'number' || !(pc.crop_pct > 0 && pc.crop_pct <= 1)) {
      throw new Error(
        `hub config.json: pretrained_cfg.crop_pct must be in (0, 1], got ${JSON.stringify(pc.crop_pct)}`,
      );
    }
    cfg.cropPct = pc.crop_pct;
  }
  if (pc.interpolation !== undefined) {
    if (!['bicubic', 'bilinear', 'nearest'].includes(String(pc.interpolation))) {
      throw new Error(
        `hub config.json: pretrained_cfg.interpolation '${String(pc.interpolation)}' is not supported`,
      );
    }
    cfg.interpolation = pc.interpolation as Interpolation;
  }
  if (pc.mean !== undefined) cfg.mean = triple(pc.mean, 'mean');
  if (pc.std !== undefined) cfg.std = triple(pc.std, 'std');
  if (typeof pc.fixed_input_size === 'boolean') cfg.fixedInputSize = pc.fixed_input_size;
  if (pc.hf_hub_id !== undefined && typeof pc.hf_hub_id === 'string') cfg.hfHubId = pc.hf_hub_id;
  const numClasses = json.num_classes ?? pc.num_classes;
  if (numClasses !== undefined) {
    if (typeof numClasses !== 'number' || !Number.isInteger(numClasses) || numClasses < 0) {
      throw new Error(
        `hub config.json: num_classes must be an integer >= 0, got ${JSON.stringify(numClasses)}`,
      );
    }
    if (numClasses !== cfg.numClasses) {
      cfg.numClasses = numClasses;
      cfg.labelSet = numClasses === 1000 ? 'imagenet-1k' : numClasses === 21841 ? 'imagenet-22k' : 'custom';
    }
  }
  if (json.label_names !== undefined) {
    const names = json.label_names;
    if (!Array.isArray(names) || !names.every((n) => typeof n === 'string')) {
      throw new Error('hub config.json: label_names must be a list of strings');
    }
    if (names.length !== cfg.numClasses) {
      throw new Error(`hub config.json: ${names.length} label_names for num_classes ${cfg.numClasses}`);
    }
    cfg.labelNames = [...names];
    if (cfg.numClasses !== 1000) cfg.labelSet = 'custom';
  }
  const modelArgs = json.model_args;
  if (modelArgs !== undefined && modelArgs !== null && !isObj(modelArgs)) {
    throw new Error('hub config.json: model_args must be an object');
  }
  const extra: Obj = { ...(modelArgs ?? {}) };
  if (json.global_pool !== undefined && json.global_pool !== 'avg') extra.global_pool = json.global_pool;
  let familyConfig: FamilyConfig | null = null;
  const timmArgs = resolved.arch.timmArgs;
  if (Object.keys(extra).length > 0 || resolved.arch.preset === null) {
    if (!timmArgs) {
      throw new Error(`hub config.json: model_args for ${arch} (not a timm architecture) are not supported`);
    }
    const kwargs: Obj = { ...timmArgs };
    // timm's build_model_with_cfg: a fixed-size model is built at the pretrained input size
    if (resolved.family === 'swin') kwargs.img_size = [cfg.inputSize[1], cfg.inputSize[2]];
    Object.assign(kwargs, extra, { num_classes: cfg.numClasses });
    familyConfig = configFromTimmKwargs(resolved.family, kwargs, opts.onNote ? { onNote: opts.onNote } : {});
  }
  const fc = familyConfig;
  return {
    resolved,
    ...(tag ? { tag } : {}),
    pretrainedCfg: cfg,
    familyConfig: fc,
    build: () => {
      if (fc) return buildFromConfig(fc);
      const sameSize = cfg.inputSize[1] === resolved.pretrainedCfg.inputSize[1];
      return createResolved(resolved, {
        numClasses: cfg.numClasses,
        ...(sameSize || resolved.family !== 'swin'
          ? {}
          : { imgSize: [cfg.inputSize[1], cfg.inputSize[2]] as [number, number] }),
      });
    },
  };
}

/**
 * The tensor -> shard map of a sharded checkpoint's `*.index.json` (`{ "weight_map": { name: file } }`), with
 * the shard files in first-use order. Shard names must be plain file names in the same folder.
 */
export function parseShardIndex(json: unknown): { weightMap: Record<string, string>; shards: string[] } {
  if (!isObj(json) || !isObj(json.weight_map)) throw new Error("hub shard index: no 'weight_map' object");
  const weightMap: Record<string, string> = Object.create(null); // keys are untrusted ('__proto__' stays a key)
  const shards: string[] = [];
  for (const [k, f] of Object.entries(json.weight_map)) {
    if (typeof f !== 'string' || !/^[A-Za-z0-9_][A-Za-z0-9_.-]*$/.test(f) || f.includes('..')) {
      throw new Error(
        `hub shard index: shard '${String(f)}' of '${k}' is not a plain file name in the folder`,
      );
    }
    weightMap[k] = f;
    if (!shards.includes(f)) shards.push(f);
  }
  if (shards.length === 0) throw new Error('hub shard index: weight_map is empty');
  return { weightMap, shards };
}
