/**
 * `pnpm parity --weights CKPT FIXTURE...`: runs fixtures with the weights of a checkpoint (any format
 * `@swin/io`'s `readCheckpoint` reads: `.pth`/`.bin` pickles, safetensors) instead of the fixture's own
 * `state_dict.*` tensors. The checkpoint is read once; each fixture gets fresh tensors on the current backend.
 *
 * Reduced-precision weights: a checkpoint whose floating-point tensors are stored as F16 or BF16 holds the
 * fixture's weights rounded to that type, so the model's outputs legitimately move away from the float32
 * reference by more than README section 7's 1e-4. The comparison is then relaxed to a bound relative to the
 * largest expected value only ({@link REDUCED_PRECISION_REL}); everything else stays as in section 7.
 */
import { type Checkpoint, type RawTensor, rawToTensor, readCheckpoint } from '@swin/io';
import type { Tolerance } from '@swin/testing';
import type * as tf from '@tensorflow/tfjs-core';

/**
 * Relative bound (against `max |expected|`) for F16 weights: F16 keeps 11 significant bits (unit roundoff
 * 2^-11 = 4.9e-4 per weight); through the blocks of a model the relative output error stays a small multiple
 * of that. 1e-2 leaves a wide margin over the measured error and still catches a wrong or permuted weight.
 * BF16 keeps 8 bits (2^-8 = 3.9e-3): 8x more.
 */
export const REDUCED_PRECISION_REL: Readonly<Record<'F16' | 'BF16', number>> = { F16: 1e-2, BF16: 8e-2 };

/** Weights to run fixtures with, as the runner takes them (see `RunOptions.weights`). */
export interface WeightsOverride {
  /** Shown in report lines: the checkpoint's file name, e.g. `swin_32_f16.pth`. */
  label: string;
  /** One line about the checkpoint, e.g. `torch-zip, wrapper 'model', 72 tensors, F16 weights`. */
  description: string;
  /** Fresh tensors for one fixture (the runner disposes them). */
  stateDict(): Record<string, tf.Tensor>;
  /** Tolerance replacing README section 7's for non-exact families (set for F16/BF16 weights). */
  tolerance?: Tolerance;
}

const FLOAT_DTYPES = new Set(['F64', 'F32', 'F16', 'BF16']);

/** The lowest floating-point precision among the tensors ('F32' when all are F32/F64 or there are none). */
export function floatPrecision(tensors: Record<string, RawTensor>): 'F32' | 'F16' | 'BF16' {
  let p: 'F32' | 'F16' | 'BF16' = 'F32';
  for (const t of Object.values(tensors)) {
    if (!FLOAT_DTYPES.has(t.dtype)) continue;
    if (t.dtype === 'BF16') return 'BF16';
    if (t.dtype === 'F16') p = 'F16';
  }
  return p;
}

/** Builds the override from a read checkpoint. */
export function weightsFromCheckpoint(name: string, ckpt: Checkpoint): WeightsOverride {
  const precision = floatPrecision(ckpt.tensors);
  const where = ckpt.wrapper === '' ? ckpt.format : `${ckpt.format}, wrapper '${ckpt.wrapper}'`;
  const override: WeightsOverride = {
    label: name,
    description: `${where}, ${Object.keys(ckpt.tensors).length} tensors, ${precision} weights`,
    stateDict() {
      const out: Record<string, tf.Tensor> = {};
      try {
        for (const [k, raw] of Object.entries(ckpt.tensors)) out[k] = rawToTensor(raw);
      } catch (e) {
        for (const t of Object.values(out)) t.dispose();
        throw e;
      }
      return out;
    },
  };
  if (precision !== 'F32')
    override.tolerance = { abs: Number.POSITIVE_INFINITY, rel: REDUCED_PRECISION_REL[precision] };
  return override;
}

/** Reads `path` (or an http(s) URL) with `readCheckpoint` and builds the override. */
export async function loadWeights(path: string, opts: { wrapper?: string } = {}): Promise<WeightsOverride> {
  const ckpt = await readCheckpoint(path, { wrapper: opts.wrapper });
  return weightsFromCheckpoint(path.split(/[\\/]/).pop() ?? path, ckpt);
}
