/**
 * `loadPretrained`: a model name (or none) plus weights from anywhere -> a model with those weights and the
 * evaluation settings that go with them. Checkpoints are read by `@swin/io` (safetensors, torch zip and legacy
 * pickles, restricted unpickler: nothing in the file is ever executed). Without a name, the architecture comes
 * from the weights: the yacs config of an official Swin training checkpoint, or a hub folder's `config.json`.
 */
import { backboneParamCount, type HybridBackbone } from '@swin/backbone';
import {
  type Checkpoint,
  type CheckpointSource,
  checkpointToTensors,
  loadBytes,
  readCheckpoint,
} from '@swin/io';
import { stripWrapperPrefix } from '@swin/swin-core';
import type * as tf from '@tensorflow/tfjs-core';
import { backboneHubSpec, isBackboneHubConfig } from './backbone-hub.js';
import {
  buildFromConfig,
  createResolved,
  type FamilyConfig,
  type ModelOverrides,
  type RegistryModel,
} from './create.js';
import { HUB_WEIGHT_FILES, hubModelSpec, parseShardIndex } from './hub.js';
import { attachPretrainedCfg, type PretrainedCfg } from './pretrained.js';
import { type ModelFamily, resolveModel } from './registry.js';
import { loadWeights, type WeightsReport } from './weights.js';
import { configFromYacs, isSwinYacsConfig } from './yacs.js';

/** Options of {@link loadPretrained}. */
export interface LoadPretrainedOptions {
  /**
   * The weights: a checkpoint (Node path, http(s) URL, `URL`, bytes, `Blob`/`File`) or a hub folder (a directory
   * path in Node, a base URL ending in `/`, a URL of its `config.json`, or `hf-hub:<org>/<name>`). Default (with
   * a name): the published weights of the name's tag ({@link defaultWeights}: its timm hub repository, else its
   * release URL), downloaded (browsers keep them in Cache Storage).
   */
  weights?: CheckpointSource;
  /** Top-level key of the state dict in a wrapped checkpoint (`'model'`, `'state_dict'`, `'model_ema'`, ...). */
  wrapper?: string;
  /** Fail on missing, unexpected or shape-mismatched keys (default true); otherwise the report lists them. */
  strict?: boolean;
  /** Refuse (throw) instead of reporting pickle globals outside the allow-list (default false). */
  strictPickle?: boolean;
  /** Download / read progress, per file: bytes so far and the total when known. */
  onProgress?: (loaded: number, total?: number, file?: string) => void;
  /** Config fields replacing the architecture's (e.g. `{ numClasses: 10 }` for a fine-tuned head). */
  overrides?: ModelOverrides;
  /** Receives warnings (e.g. relative-position tables resized). Default `console.warn`. */
  warn?: (message: string) => void;
}

/** What {@link loadPretrained} returns. The caller owns (and disposes) `model`. */
export interface LoadedModel {
  model: RegistryModel;
  /** Registry name of the architecture, or `MODEL.NAME` of a yacs config, or null. */
  name: string | null;
  /** The model family; `'backbone'` for a `@swin/backbone` hub folder (`"architecture": "backbone"`). */
  family: ModelFamily | 'backbone';
  /** Evaluation settings of the weights (registry tag, hub `pretrained_cfg`, or the yacs `DATA`/`TEST` fields). */
  pretrainedCfg: PretrainedCfg;
  /** Keys loaded, missing, unexpected, mismatched; layout and stripped prefix. */
  report: WeightsReport & { format: string; wrapper: string; files: string[] };
  /** Pickle globals that were not called (e.g. `yacs.config.CfgNode`), deduplicated. */
  refusedGlobals: string[];
  /** Where the architecture came from. */
  architectureFrom: 'name' | 'yacs' | 'hub';
}

type HubLocation = { kind: 'dir'; path: string } | { kind: 'url'; base: string };

function isHttp(s: string): boolean {
  return /^https?:\/\//i.test(s);
}

function join(base: string, file: string): string {
  return `${base.replace(/[\\/]+$/, '')}/${file}`;
}

async function nodeFs(): Promise<typeof import('node:fs/promises') | null> {
  if (typeof process === 'undefined' || !process.versions?.node) return null;
  return import(/* @vite-ignore */ 'node:fs/promises');
}

/** The base URL of a Hugging Face hub repository id (`org/name`), e.g. `hf-hub:timm/pvt_v2_b0.in1k`. */
export function hfHubBaseUrl(id: string): string {
  const repo = id.startsWith('hf-hub:') ? id.slice('hf-hub:'.length) : id;
  if (!/^[\w.-]+\/[\w.-]+$/.test(repo) || repo.includes('..')) {
    throw new Error(`loadPretrained: bad hub id '${repo}' (expected <org>/<name>)`);
  }
  return `https://huggingface.co/${repo}/resolve/main`;
}

/**
 * Where the published weights of registry name `name` (tag included or default) are: `hf-hub:<hfHubId>` when
 * timm publishes them on the Hugging Face hub (config.json + model.safetensors), else the release URL.
 *
 * @throws Error for names without published weights here (the official PVT v1, Shunted and Swin-MLP releases
 *   are on cloud drives without stable direct links: download them and pass the file).
 */
export function defaultWeights(name: string): string {
  const r = resolveModel(name);
  const cfg = r.pretrainedCfg;
  if (cfg.hfHubId) return `hf-hub:${cfg.hfHubId}`;
  if (cfg.url) return cfg.url;
  throw new Error(
    `loadPretrained: no download location is known for ${r.name}.${r.tag}; download the official weights and pass them as opts.weights`,
  );
}

/** Whether `weights` names a hub folder (and where). */
async function hubLocation(weights: CheckpointSource): Promise<HubLocation | null> {
  let s = typeof weights === 'string' ? weights : weights instanceof URL ? weights.href : null;
  if (s === null) return null;
  if (s.startsWith('hf-hub:')) return { kind: 'url', base: hfHubBaseUrl(s) };
  const fs = await nodeFs();
  // in a browser, a relative string is a URL relative to the page
  if (!fs && !isHttp(s) && typeof location !== 'undefined') s = new URL(s, location.href).href;
  if (isHttp(s)) {
    const u = new URL(s);
    if (u.pathname.endsWith('/')) return { kind: 'url', base: s.replace(/\/+$/, '') };
    if (u.pathname.endsWith('/config.json'))
      return { kind: 'url', base: s.slice(0, s.lastIndexOf('/config.json')) };
    return null;
  }
  if (!fs) return null;
  const st = await fs.stat(s).catch(() => null);
  if (st?.isDirectory()) return { kind: 'dir', path: s };
  if (st?.isFile() && /(^|[\\/])config\.json$/.test(s)) {
    return { kind: 'dir', path: s.replace(/[\\/]?config\.json$/, '') || '.' };
  }
  return null;
}

/** The weight file a hub folder holds (first of {@link HUB_WEIGHT_FILES} that exists). */
async function hubWeightFile(loc: HubLocation): Promise<string> {
  if (loc.kind === 'dir') {
    const fs = await nodeFs();
    const names = new Set(fs ? await fs.readdir(loc.path) : []);
    const f = HUB_WEIGHT_FILES.find((n) => names.has(n));
    if (!f)
      throw new Error(`loadPretrained: hub folder ${loc.path} has none of ${HUB_WEIGHT_FILES.join(', ')}`);
    return f;
  }
  for (const f of HUB_WEIGHT_FILES) {
    if (await urlExists(join(loc.base, f))) return f;
  }
  throw new Error(`loadPretrained: hub folder ${loc.base}/ has none of ${HUB_WEIGHT_FILES.join(', ')}`);
}

/** Whether `url` answers: HEAD, or (servers that refuse HEAD) a one-byte ranged GET whose body is dropped. */
async function urlExists(url: string): Promise<boolean> {
  const head = await fetch(url, { method: 'HEAD' }).catch(() => null);
  if (head?.ok) return true;
  if (!head || (head.status !== 405 && head.status !== 501)) return false;
  const get = await fetch(url, { headers: { Range: 'bytes=0-0' } }).catch(() => null);
  await get?.body?.cancel().catch(() => {});
  return !!get?.ok;
}

function where(loc: HubLocation, file: string): string {
  return loc.kind === 'dir' ? join(loc.path, file) : join(loc.base, file);
}

async function readJson(src: string, what: string): Promise<unknown> {
  const bytes = await loadBytes(src);
  try {
    return JSON.parse(new TextDecoder('utf-8', { fatal: true }).decode(bytes));
  } catch (e) {
    throw new Error(`loadPretrained: ${what} is not valid JSON (${(e as Error).message})`);
  }
}

interface ReadWeights {
  tensors: Record<string, tf.Tensor>;
  ckpts: Checkpoint[];
  files: string[];
}

function disposeAll(t: Record<string, tf.Tensor>): void {
  for (const x of Object.values(t)) x.dispose();
}

/** Reads one checkpoint (or every shard of a sharded one) into tensors. */
async function readWeights(
  sources: { src: CheckpointSource; label: string }[],
  opts: LoadPretrainedOptions,
  expectKeys?: Record<string, string>,
): Promise<ReadWeights> {
  const tensors: Record<string, tf.Tensor> = Object.create(null); // keys come from the file
  const ckpts: Checkpoint[] = [];
  const files: string[] = [];
  try {
    for (const { src, label } of sources) {
      const ckpt = await readCheckpoint(src, {
        ...(opts.wrapper !== undefined ? { wrapper: opts.wrapper } : {}),
        strict: opts.strictPickle ?? false,
        ...(opts.onProgress ? { onProgress: (l: number, t?: number) => opts.onProgress?.(l, t, label) } : {}),
      });
      ckpts.push(ckpt);
      files.push(label);
      const t = checkpointToTensors(ckpt);
      for (const k of Object.keys(t)) {
        if (Object.hasOwn(tensors, k)) {
          disposeAll(t);
          throw new Error(`loadPretrained: tensor '${k}' appears in two shards (second: ${label})`);
        }
      }
      Object.assign(tensors, t);
    }
    if (expectKeys) {
      const absent = Object.keys(expectKeys).filter((k) => !Object.hasOwn(tensors, k));
      if (absent.length) {
        throw new Error(
          `loadPretrained: ${absent.length} tensor(s) of the shard index are in no shard (first: '${absent[0]}' in ${expectKeys[absent[0]]})`,
        );
      }
    }
    return { tensors, ckpts, files };
  } catch (e) {
    disposeAll(tensors);
    throw e;
  }
}

/**
 * Builds a model and loads weights into it, in one call:
 * - `loadPretrained('swin_tiny_patch4_window7_224', { weights: 'swin_tiny_patch4_window7_224.pth' })`: the named
 *   architecture (any registry name; the tag's head size and evaluation settings), weights from a checkpoint
 *   (official Microsoft or timm layout, `{'model': ...}` wrappers, float16, DDP `module.` prefixes);
 * - `loadPretrained(null, { weights: 'ckpt_epoch_299.pth' })`: the architecture from the official Swin / Swin-MLP
 *   yacs config stored in the training checkpoint (`checkpoint['config']`);
 * - `loadPretrained(null, { weights: 'path/to/hub-folder' })` (or a base URL, or `hf-hub:timm/<name>`): the timm
 *   hub folder's `config.json` names the architecture, and its weights are `model.safetensors`,
 *   `pytorch_model.bin` or shards listed by a `*.index.json`.
 *
 * The report lists missing / unexpected / mismatched keys (strict by default: any of them throws, naming them).
 * Nothing leaks on errors: the model is disposed and so are the read tensors.
 *
 * @throws Error when no architecture can be found (no name, no yacs config, no hub config), for unknown names
 *   (with suggestions), unreadable files (one line from `@swin/io`) and strict key mismatches.
 */
export async function loadPretrained(
  name: string | null,
  options: LoadPretrainedOptions = {},
): Promise<LoadedModel> {
  const named = name ? resolveModel(name) : null;
  let weights = options.weights;
  if (weights === undefined || weights === null) {
    if (!named) {
      throw new Error(
        'loadPretrained: give a model name, weights (a checkpoint file, URL, bytes or a hub folder), or both',
      );
    }
    weights = defaultWeights(`${named.name}.${named.tag}`);
  }
  const opts: LoadPretrainedOptions & { weights: CheckpointSource } = { ...options, weights };
  const hub = await hubLocation(opts.weights);
  let model: RegistryModel;
  let pretrainedCfg: PretrainedCfg;
  let family: ModelFamily | 'backbone';
  let archName: string | null;
  let from: LoadedModel['architectureFrom'];
  let read: ReadWeights;
  const hubJson = hub ? await readJson(where(hub, 'config.json'), 'hub config.json') : null;
  if (hub && isBackboneHubConfig(hubJson)) {
    return loadBackboneHub(hub, hubJson, name, opts);
  }
  if (hub) {
    const spec = hubModelSpec(hubJson, {
      onNote: opts.warn ?? (() => {}),
    });
    if (named && named.name !== spec.resolved.name) {
      throw new Error(
        `loadPretrained: '${name}' differs from the hub folder's architecture '${spec.resolved.name}'`,
      );
    }
    const file = await hubWeightFile(hub);
    if (file.endsWith('.index.json')) {
      const { weightMap, shards } = parseShardIndex(await readJson(where(hub, file), file));
      read = await readWeights(
        shards.map((s) => ({ src: where(hub, s), label: s })),
        opts,
        weightMap,
      );
    } else {
      read = await readWeights([{ src: where(hub, file), label: file }], opts);
    }
    try {
      const fc = spec.familyConfig;
      model = !opts.overrides
        ? spec.build()
        : fc
          ? buildFromConfig({ ...fc, config: { ...fc.config, ...opts.overrides } } as FamilyConfig)
          : createResolved(spec.resolved, { numClasses: spec.pretrainedCfg.numClasses, ...opts.overrides });
    } catch (e) {
      disposeAll(read.tensors);
      throw e;
    }
    pretrainedCfg = spec.pretrainedCfg;
    family = spec.resolved.family;
    archName = spec.resolved.name;
    from = 'hub';
  } else {
    read = await readWeights([{ src: opts.weights, label: describeSource(opts.weights) }], opts);
    try {
      if (named) {
        model = createResolved(named, opts.overrides ?? {});
        pretrainedCfg = named.pretrainedCfg;
        family = named.family;
        archName = named.name;
        from = 'name';
      } else {
        const config = read.ckpts[0].extra?.config;
        if (config === undefined || !isSwinYacsConfig(config)) {
          throw new Error(
            `loadPretrained: ${describeSource(opts.weights)} holds no architecture (no official Swin yacs config in 'config'); pass a model name (listModels() lists them) or use a hub folder with config.json`,
          );
        }
        const y = configFromYacs(config);
        model = buildFromConfig({
          ...y.model,
          config: { ...y.model.config, ...opts.overrides },
        } as FamilyConfig);
        pretrainedCfg = y.pretrainedCfg;
        family = y.model.family;
        archName = y.name ?? null;
        from = 'yacs';
      }
    } catch (e) {
      disposeAll(read.tensors);
      throw e;
    }
  }
  try {
    const n = opts.overrides?.numClasses;
    if (n !== undefined && n !== pretrainedCfg.numClasses) {
      // a new head: the weights' class names no longer apply
      pretrainedCfg.numClasses = n;
      pretrainedCfg.labelSet = n === 1000 ? 'imagenet-1k' : 'custom';
      delete pretrainedCfg.labelNames;
    }
    const r = loadWeights(model, read.tensors, {
      ...(opts.strict !== undefined ? { strict: opts.strict } : {}),
      ...(opts.warn ? { warn: opts.warn } : {}),
    });
    const first = read.ckpts[0];
    attachPretrainedCfg(model, pretrainedCfg);
    return {
      model,
      name: archName,
      family,
      pretrainedCfg,
      report: { ...r, format: first.format, wrapper: first.wrapper, files: read.files },
      refusedGlobals: [...new Set(read.ckpts.flatMap((c) => c.refusedGlobals))],
      architectureFrom: from,
    };
  } catch (e) {
    model.dispose();
    throw e;
  } finally {
    disposeAll(read.tensors);
  }
}

/**
 * A `@swin/backbone` hub folder (`"architecture": "backbone"`, see `backboneHubSpec`): the backbone from
 * `model_args`, its own keys loaded strictly (unless `strict: false`) from the folder's weights.
 */
async function loadBackboneHub(
  hub: HubLocation,
  json: unknown,
  name: string | null,
  opts: LoadPretrainedOptions,
): Promise<LoadedModel> {
  if (name) {
    throw new Error(
      `loadPretrained: the folder holds a @swin/backbone model (architecture 'backbone'), not the registry model '${name}'; load it without a name`,
    );
  }
  if (opts.overrides)
    throw new Error('loadPretrained: overrides are not supported for @swin/backbone folders');
  const spec = backboneHubSpec(json);
  const file = await hubWeightFile(hub);
  if (file.endsWith('.index.json'))
    throw new Error(`loadPretrained: a @swin/backbone folder has no shards (${file})`);
  const read = await readWeights([{ src: where(hub, file), label: file }], opts);
  let model: HybridBackbone | null = null;
  try {
    // before allocating anything: a config describing far more than the file holds is refused
    const params = backboneParamCount(spec.config);
    const values = Object.values(read.tensors).reduce((n, t) => n + t.size, 0);
    if (params > values) {
      throw new Error(
        `loadPretrained: config.json describes a backbone of ${params} parameters but ${file} holds ${values} values`,
      );
    }
    model = spec.build();
    const { tensors: sd, prefix } = stripWrapperPrefix(read.tensors);
    const r = model.loadStateDict(sd, { strict: opts.strict ?? true });
    attachPretrainedCfg(model, spec.pretrainedCfg);
    const first = read.ckpts[0];
    return {
      model,
      name: spec.config.name ?? null,
      family: 'backbone',
      pretrainedCfg: spec.pretrainedCfg,
      report: {
        ...r,
        layout: 'official',
        strippedPrefix: prefix,
        resizedTables: [],
        format: first.format,
        wrapper: first.wrapper,
        files: read.files,
      },
      refusedGlobals: [...new Set(read.ckpts.flatMap((c) => c.refusedGlobals))],
      architectureFrom: 'hub',
    };
  } catch (e) {
    model?.dispose();
    throw e;
  } finally {
    disposeAll(read.tensors);
  }
}

function describeSource(s: CheckpointSource): string {
  if (typeof s === 'string') return s;
  if (s instanceof URL) return s.href;
  if (typeof Blob !== 'undefined' && s instanceof Blob) return (s as File).name ?? `Blob(${s.size} bytes)`;
  return `bytes(${(s as ArrayBuffer | Uint8Array).byteLength})`;
}
