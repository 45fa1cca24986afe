import { readSafetensors, tensorsToSafetensors, toTensors } from '@swin/io';
import { SwinLoadError } from '@swin/nn';
import * as tf from '@tensorflow/tfjs-core';
import { createBackbone, type HybridBackbone } from './model.js';

/** Metadata key holding the JSON of the (resolved) backbone config. */
export const CONFIG_METADATA_KEY = 'backbone_config';

/**
 * Serialises a backbone into ONE safetensors file: every parameter (PyTorch layout, F32, under its
 * backbone key, including non-trainable BatchNorm statistics) and the resolved config as JSON in the
 * metadata (`backbone_config`). Recomputed buffers (Swin `relative_position_index`, `attn_mask`) are not
 * stored. {@link loadBackbone} rebuilds an identical model.
 */
export async function saveBackbone(model: HybridBackbone): Promise<Uint8Array> {
  const sd = model.stateDict({ includeBuffers: false });
  try {
    return await tensorsToSafetensors(sd, {
      metadata: { [CONFIG_METADATA_KEY]: JSON.stringify(model.config), format: 'swin-backbone' },
    });
  } finally {
    tf.dispose(Object.values(sd));
  }
}

/**
 * Rebuilds a backbone saved by {@link saveBackbone}: parses the config from the metadata, builds the model
 * and loads the weights strictly (a missing, extra or mis-shaped tensor is an error naming it).
 * The model is built on the current backend.
 */
export function loadBackbone(bytes: Uint8Array | ArrayBuffer): HybridBackbone {
  const file = readSafetensors(bytes);
  const json = file.metadata[CONFIG_METADATA_KEY];
  if (json === undefined) {
    throw new SwinLoadError(
      `loadBackbone: the file has no '${CONFIG_METADATA_KEY}' metadata (not written by saveBackbone); ` +
        `metadata keys: [${Object.keys(file.metadata).join(', ')}]`,
    );
  }
  let config: unknown;
  try {
    config = JSON.parse(json);
  } catch (e) {
    throw new SwinLoadError(
      `loadBackbone: '${CONFIG_METADATA_KEY}' metadata is not valid JSON: ${(e as Error).message}`,
    );
  }
  const model = createBackbone(config as Parameters<typeof createBackbone>[0]);
  const tensors = toTensors(file);
  try {
    model.loadStateDict(tensors);
  } catch (e) {
    model.dispose();
    throw e;
  } finally {
    tf.dispose(Object.values(tensors));
  }
  return model;
}
