import {
  assertStateDictObject,
  isTensor,
  type LoadReport,
  StateDictError,
  SwinLoadError,
  stateDictValueProblem,
} from '@swin/nn';
import { resizeBiasTable } from '@swin/rel-pos-bias';
import * as tf from '@tensorflow/tfjs-core';
import type { SwinTransformer } from './model.js';

/** Key layout of a Swin checkpoint. */
export type SwinCheckpointLayout = 'microsoft' | 'timm';

const BUFFER_RE = /(^|\.)(relative_position_index|attn_mask)$/;
const DOWNSAMPLE_RE = /^layers\.(\d+)\.downsample\./;
const WRAPPER_PREFIXES = ['state_dict.', 'model.', 'module.'];

/**
 * Strips wrapper prefixes (`state_dict.`, `model.`, `module.`, repeatedly) when every key carries them.
 * Returns the new mapping (same tensor objects) and the removed prefix ('' if none).
 */
export function stripWrapperPrefix(tensors: Record<string, tf.Tensor>): {
  tensors: Record<string, tf.Tensor>;
  prefix: string;
} {
  let keys = Object.keys(tensors);
  let prefix = '';
  for (;;) {
    const p = WRAPPER_PREFIXES.find((w) => keys.length > 0 && keys.every((k) => k.startsWith(w)));
    if (!p) break;
    prefix += p;
    keys = keys.map((k) => k.slice(p.length));
  }
  if (!prefix) return { tensors, prefix };
  const out: Record<string, tf.Tensor> = {};
  for (const [k, v] of Object.entries(tensors)) out[k.slice(prefix.length)] = v;
  return { tensors: out, prefix };
}

/**
 * Detects the key layout from the keys: timm has `head.fc.*` and its PatchMerging at the START of stages
 * (`layers.<i>.downsample` with i >= 1, none in `layers.0`); Microsoft has `head.*` and PatchMerging at
 * the END of stages (`layers.0.downsample`, none in the last stage). Defaults to 'microsoft'.
 */
export function detectSwinLayout(keys: Iterable<string>): SwinCheckpointLayout {
  let hasHeadFc = false;
  let hasHead = false;
  let hasBuffers = false;
  let minDown = Number.POSITIVE_INFINITY;
  let maxDown = -1;
  let maxLayer = -1;
  for (const k of keys) {
    if (k.startsWith('head.fc.')) hasHeadFc = true;
    else if (k.startsWith('head.')) hasHead = true;
    if (BUFFER_RE.test(k)) hasBuffers = true;
    const d = DOWNSAMPLE_RE.exec(k);
    if (d) {
      minDown = Math.min(minDown, Number(d[1]));
      maxDown = Math.max(maxDown, Number(d[1]));
    }
    const l = /^layers\.(\d+)\./.exec(k);
    if (l) maxLayer = Math.max(maxLayer, Number(l[1]));
  }
  if (hasHeadFc) return 'timm';
  if (hasHead) return 'microsoft';
  if (minDown === 0) return 'microsoft';
  if (maxDown >= 0 && maxDown === maxLayer && !hasBuffers) return 'timm';
  return 'microsoft';
}

/**
 * Pure key mapping timm -> Microsoft: `layers.<i>.downsample.*` -> `layers.<i-1>.downsample.*`,
 * `head.fc.*` -> `head.*`. Tensors are shared, not copied.
 */
export function timmToMicrosoftLayout(stateDict: Record<string, tf.Tensor>): Record<string, tf.Tensor> {
  const out: Record<string, tf.Tensor> = {};
  for (const [k, v] of Object.entries(stateDict)) {
    let key = k.replace(DOWNSAMPLE_RE, (_, i) => {
      const n = Number(i);
      if (n === 0)
        throw new SwinLoadError(
          `timmToMicrosoftLayout: '${k}' has no preceding stage (layers.0 has no downsample in timm)`,
        );
      return `layers.${n - 1}.downsample.`;
    });
    if (key.startsWith('head.fc.')) key = `head.${key.slice('head.fc.'.length)}`;
    out[key] = v;
  }
  return out;
}

/**
 * Pure key mapping Microsoft -> timm (what timm's `checkpoint_filter_fn` does): drops the buffers
 * (`relative_position_index`, `attn_mask`), moves `layers.<i>.downsample.*` to `layers.<i+1>.downsample.*`
 * and renames `head.*` to `head.fc.*`. Tensors are shared, not copied.
 */
export function exportTimmLayout(stateDict: Record<string, tf.Tensor>): Record<string, tf.Tensor> {
  const out: Record<string, tf.Tensor> = {};
  for (const [k, v] of Object.entries(stateDict)) {
    if (BUFFER_RE.test(k)) continue;
    let key = k.replace(DOWNSAMPLE_RE, (_, i) => `layers.${Number(i) + 1}.downsample.`);
    if (key.startsWith('head.')) key = `head.fc.${key.slice('head.'.length)}`;
    out[key] = v;
  }
  return out;
}

/** What {@link loadSwinCheckpoint} did. */
export interface SwinLoadReport extends LoadReport {
  /** Detected key layout of the checkpoint. */
  layout: SwinCheckpointLayout;
  /** Wrapper prefix that was stripped ('' if none). */
  strippedPrefix: string;
  /** Relative position bias tables resized (bicubic) to this model's window: `key: [from] -> [to]`. */
  resizedTables: string[];
  /** Checkpoint buffers not verified because they depend on a window/resolution the model does not have. */
  skippedBuffers: string[];
}

/** Options of {@link loadSwinCheckpoint}. */
export interface LoadSwinCheckpointOptions {
  /** Fail on any missing/unexpected/mismatched key or differing buffer (default true). */
  strict?: boolean;
  /** Called instead of `console.warn` for the (single) resize warning. */
  warn?: (message: string) => void;
}

/** Summary of a checkpoint's architecture from its keys, for error messages. */
export function describeSwinCheckpoint(tensors: Record<string, tf.Tensor>): string {
  const depths: number[] = [];
  const get = (k: string) => (Object.hasOwn(tensors, k) && isTensor(tensors[k]) ? tensors[k] : undefined);
  for (const k of Object.keys(tensors)) {
    const m = /^layers\.(\d+)\.blocks\.(\d+)\./.exec(k);
    if (m) depths[Number(m[1])] = Math.max(depths[Number(m[1])] ?? 0, Number(m[2]) + 1);
  }
  const proj = get('patch_embed.proj.weight');
  const table = get('layers.0.blocks.0.attn.relative_position_bias_table');
  const head = get('head.weight') ?? get('head.fc.weight');
  const parts = [
    proj
      ? `embedDim=${proj.shape[0]} inChans=${proj.shape[1]} patch=${proj.shape[2]}`
      : 'no patch_embed.proj.weight',
    `depths=[${Array.from(depths, (d) => d ?? 0).join(',')}]`,
  ];
  if (table) parts.push(`stage-0 heads=${table.shape[1]} window=${(Math.sqrt(table.shape[0]) + 1) / 2}`);
  if (head) parts.push(`numClasses=${head.shape[0]}`);
  return parts.join(' ');
}

function describeModel(model: SwinTransformer): string {
  const c = model.config;
  return (
    `embedDim=${c.embedDim} inChans=${c.inChans} patch=${c.patchSize} depths=[${c.depths}] ` +
    `stage-0 heads=${c.numHeads[0]} window=${model.layers.at(0).blocks.at(0).windowSize} numClasses=${c.numClasses}`
  );
}

/**
 * Loads a Swin checkpoint (PyTorch layout tensors by key, e.g. from `toTensors(readSafetensors(bytes))`)
 * into `model`:
 * - strips a `state_dict.` / `model.` / `module.` wrapper prefix;
 * - detects the Microsoft or timm layout from the keys ({@link detectSwinLayout}) and maps timm keys
 *   (`layers.<i>.downsample` = Microsoft `layers.<i-1>.downsample`, `head.fc.*` = `head.*`; timm has no buffers);
 * - resizes every `relative_position_bias_table` whose shape implies another (square) window with
 *   {@link resizeBiasTable} (bicubic, like the official `load_pretrained`), warning once; the
 *   `relative_position_index`/`attn_mask` buffers of those blocks, and `attn_mask` buffers built for another
 *   resolution, are skipped (listed in `skippedBuffers`); all other buffers are verified;
 * - then `model.loadStateDict` (F16/BF16 upcast by the reader are cast to float32).
 *
 * With `strict` (default) any missing, unexpected or shape-mismatched key throws one `StateDictError`
 * listing keys and shapes and summarising the checkpoint's and the model's architecture. The caller keeps
 * ownership of `tensors`.
 */
export function loadSwinCheckpoint(
  model: SwinTransformer,
  tensors: Record<string, tf.Tensor>,
  opts: LoadSwinCheckpointOptions = {},
): SwinLoadReport {
  assertStateDictObject('loadSwinCheckpoint', tensors);
  model.assertNotDisposed('loadSwinCheckpoint');
  const { tensors: unwrapped, prefix } = stripWrapperPrefix(tensors);
  const layout = detectSwinLayout(Object.keys(unwrapped));
  const sd = layout === 'timm' ? timmToMicrosoftLayout(unwrapped) : { ...unwrapped };
  const resizedTables: string[] = [];
  const skippedBuffers: string[] = [];
  const created: tf.Tensor[] = [];
  const attn = new Map<string, { window: [number, number]; heads: number; mask: [number, number] | null }>();
  model.layers.items.forEach((layer, i) => {
    layer.blocks.items.forEach((b, j) => {
      const res = b.inputResolution;
      attn.set(`layers.${i}.blocks.${j}.`, {
        window: b.attn.window,
        heads: b.numHeads,
        mask: b.shiftSize > 0 && res ? res : null,
      });
    });
  });
  try {
    for (const [blockPrefix, info] of attn) {
      const tableKey = `${blockPrefix}attn.relative_position_bias_table`;
      const table = sd[tableKey];
      const [wh, ww] = info.window;
      const rows = (2 * wh - 1) * (2 * ww - 1);
      // values that are not loadable tensors are left to loadStateDict, which reports them and loads nothing
      const usable = table !== undefined && stateDictValueProblem(table) === null;
      if (usable && table.rank === 2 && table.shape[0] !== rows && table.shape[1] === info.heads) {
        const w = (Math.sqrt(table.shape[0]) + 1) / 2;
        if (Number.isInteger(w) && w >= 1) {
          const resized = tf.tidy(() => resizeBiasTable(tf.cast(table, 'float32'), [w, w], [wh, ww]));
          created.push(resized);
          sd[tableKey] = resized;
          resizedTables.push(
            `${tableKey}: window ${w}x${w} [${table.shape}] -> ${wh}x${ww} [${resized.shape}]`,
          );
          for (const buf of ['attn.relative_position_index', 'attn_mask']) {
            if (sd[blockPrefix + buf]) {
              skippedBuffers.push(blockPrefix + buf);
              delete sd[blockPrefix + buf];
            }
          }
        }
      }
      const maskKey = `${blockPrefix}attn_mask`;
      const mask = sd[maskKey];
      if (mask !== undefined && stateDictValueProblem(mask) === null) {
        const N = wh * ww;
        const expectShape = info.mask
          ? [Math.ceil(info.mask[0] / wh) * Math.ceil(info.mask[1] / ww), N, N]
          : null;
        if (!expectShape || !tf.util.arraysEqual(mask.shape, expectShape)) {
          skippedBuffers.push(maskKey);
          delete sd[maskKey];
        }
      }
    }
    if (resizedTables.length > 0) {
      const msg =
        `loadSwinCheckpoint: resized ${resizedTables.length} relative_position_bias_table(s) with bicubic ` +
        `interpolation to this model's window (${resizedTables[0]}${resizedTables.length > 1 ? ', ...' : ''}); ` +
        'fine-tune before trusting the accuracy.';
      (opts.warn ?? console.warn)(msg);
    }
    let report: LoadReport;
    try {
      report = model.loadStateDict(sd, { strict: opts.strict ?? true });
    } catch (e) {
      if (e instanceof StateDictError) {
        throw new StateDictError(
          e.report,
          `loadSwinCheckpoint (${layout} layout; checkpoint: ${describeSwinCheckpoint(sd)}; model: ${describeModel(model)})`,
        );
      }
      throw e;
    }
    return { ...report, layout, strippedPrefix: prefix, resizedTables, skippedBuffers };
  } finally {
    for (const t of created) t.dispose();
  }
}
