import type { BenchOptions } from './args.js';
import type { ModelInfo } from './models.js';
import type { Mode } from './records.js';

/** One model benchmark case. */
export interface ModelCase {
  model: string;
  backend: string;
  size: number;
  batch: number;
  mode: Mode;
}

/**
 * Why a case is slow on this 2-core class of machine (null if it is not). Each rule names the
 * dimension that makes it slow; a rule is waived when the user gave that dimension explicitly.
 */
export function slowReason(c: ModelCase, explicit: BenchOptions['explicit']): string | null {
  const fastBackend = c.backend === 'wasm';
  if (c.mode === 'train' && c.batch > 1 && !explicit.modes && !explicit.batches)
    return 'train with batch > 1';
  if (c.size > 448 && !explicit.sizes) return `size ${c.size} > 448`;
  if (c.size > 224 && c.batch > 1 && !explicit.sizes && !explicit.batches) return 'size > 224 with batch > 1';
  if (c.size > 224 && c.mode === 'train' && !explicit.sizes && !explicit.modes) return 'train at size > 224';
  if (!fastBackend) {
    if (c.backend === 'cpu' && c.model !== 'swin_t' && !explicit.models) return 'cpu: only swin_t by default';
    if (c.batch > 1 && !explicit.batches) return `${c.backend} with batch > 1`;
    if (c.mode === 'train' && !explicit.modes) return `${c.backend} in train mode`;
    if (c.size > 224 && !explicit.sizes) return `${c.backend} at size > 224`;
  }
  return null;
}

/**
 * The model cases to run, grouped backend -> model -> size -> batch -> mode (one model build per
 * backend, model and size). Slow cases are returned separately unless `opts.slow`.
 */
export function planModelCases(
  opts: BenchOptions,
  catalog: readonly ModelInfo[],
): { cases: ModelCase[]; skipped: { c: ModelCase; reason: string }[] } {
  const cases: ModelCase[] = [];
  const skipped: { c: ModelCase; reason: string }[] = [];
  for (const backend of opts.backends) {
    for (const model of opts.models) {
      const info = catalog.find((m) => m.id === model);
      if (!info) throw new Error(`planModelCases: unknown model '${model}'`);
      for (const size of opts.sizes ?? info.defaultSizes) {
        for (const batch of opts.batches) {
          for (const mode of opts.modes) {
            const c = { model, backend, size, batch, mode };
            const why = opts.slow ? null : slowReason(c, opts.explicit);
            if (why) skipped.push({ c, reason: why });
            else cases.push(c);
          }
        }
      }
    }
  }
  return { cases, skipped };
}

/** Swin-T window-attention problem of stage `s` (1..4) at a 224 input: windows, heads, tokens, head dim. */
export interface AttentionShape {
  stage: number;
  nW: number;
  nH: number;
  N: number;
  d: number;
  /** Stages 1-3 alternate shifted blocks (mask); stage 4 (one 7x7 window) has no shift. */
  masked: boolean;
}

export function swinTAttentionShapes(size = 224): AttentionShape[] {
  const heads = [3, 6, 12, 24];
  return heads.map((nH, i) => {
    const res = size / 4 / 2 ** i;
    const nW = (res / 7) ** 2;
    return { stage: i + 1, nW, nH, N: 49, d: 32, masked: res > 7 };
  });
}

/** MACs of the two products (q k^T and p v) of window attention over `groups` groups. */
export function attentionMacs(groups: number, N: number, M: number, d: number, dv: number): number {
  return groups * N * M * (d + dv);
}
