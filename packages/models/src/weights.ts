/**
 * Weights (PyTorch-layout tensors by key) into a registry model, with the family's own loader: Swin detects the
 * Microsoft or timm layout (and resizes relative-position tables), PVT v2 detects timm's layout, the others load
 * the official keys.
 */
import { convertPresetStateDict, HybridBackbone } from '@swin/backbone';
import { assertStateDictObject, type LoadReport } from '@swin/nn';
import { PyramidVisionTransformerV2 } from '@swin/pvt';
import {
  detectSwinLayout,
  SwinTransformer,
  stripWrapperPrefix,
  timmToMicrosoftLayout,
} from '@swin/swin-core';
import type * as tf from '@tensorflow/tfjs-core';
import type { RegistryModel } from './create.js';

/** What loading weights into a model found. */
export interface WeightsReport extends LoadReport {
  /** Key layout of the weights: `'microsoft'` / `'timm'` (Swin), `'timm'` / `'official'` (PVT v2), else `'official'`. */
  layout: 'microsoft' | 'timm' | 'official';
  /** Wrapper prefix stripped from every key (`'model.'`, `'module.'`, ...; `''` if none). */
  strippedPrefix: string;
  /** Swin only: relative-position tables resized to the model's window. */
  resizedTables: string[];
}

/** Options of {@link loadWeights}. */
export interface LoadWeightsOptions {
  /** Fail on any missing, unexpected or mismatched key (default true). */
  strict?: boolean;
  /** Receives warnings (Swin bias-table resizing). Default `console.warn`. */
  warn?: (message: string) => void;
}

/**
 * Loads `tensors` (PyTorch layout, e.g. from `checkpointToTensors`) into `model`. The caller keeps ownership of
 * `tensors`. With `strict` (default) any missing, unexpected or shape-mismatched key throws one error listing
 * them; otherwise the report lists them.
 */
export function loadWeights(
  model: RegistryModel,
  tensors: Record<string, tf.Tensor>,
  opts: LoadWeightsOptions = {},
): WeightsReport {
  assertStateDictObject('loadWeights', tensors);
  const strict = opts.strict ?? true;
  if (model instanceof SwinTransformer) {
    const r = model.loadCheckpoint(tensors, { strict, ...(opts.warn ? { warn: opts.warn } : {}) });
    return { ...r, layout: r.layout, strippedPrefix: r.strippedPrefix, resizedTables: r.resizedTables };
  }
  const { tensors: sd, prefix } = stripWrapperPrefix(tensors);
  if (model instanceof HybridBackbone) {
    // Swin stages with per-stage windows: Microsoft or timm keys -> backbone keys
    const layout = detectSwinLayout(Object.keys(sd));
    const ms = layout === 'timm' ? timmToMicrosoftLayout(sd) : sd;
    const r = model.loadStateDict(convertPresetStateDict('swin_tiny_patch4_window7_224', ms), { strict });
    return { ...r, layout, strippedPrefix: prefix, resizedTables: [] };
  }
  const timm =
    model instanceof PyramidVisionTransformerV2 && Object.keys(sd).some((k) => k.startsWith('stages.'));
  const r = model.loadStateDict(sd, { strict });
  return { ...r, layout: timm ? 'timm' : 'official', strippedPrefix: prefix, resizedTables: [] };
}
