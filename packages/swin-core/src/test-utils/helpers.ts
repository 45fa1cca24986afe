import { tf } from '@swin/testing';
import type { SwinTransformerBlock } from '../block.js';
import type { RefBlockArgs, RefBlockWeights } from './reference.js';

/** Reads a module's PyTorch-layout state dict into float64 arrays (tensors disposed). */
export function stateArrays(m: {
  stateDict(o?: { includeBuffers?: boolean }): Record<string, tf.Tensor>;
}): Record<string, Float64Array> {
  const sd = m.stateDict({ includeBuffers: false });
  const out: Record<string, Float64Array> = {};
  for (const [k, t] of Object.entries(sd)) {
    out[k] = Float64Array.from(t.dataSync());
    t.dispose();
  }
  return out;
}

/** Weights of a block for {@link refSwinBlock}. */
export function blockWeights(block: SwinTransformerBlock): RefBlockWeights {
  const s = stateArrays(block);
  return {
    norm1w: s['norm1.weight'],
    norm1b: s['norm1.bias'],
    qkvW: s['attn.qkv.weight'],
    qkvB: s['attn.qkv.bias'] ?? null,
    table: s['attn.relative_position_bias_table'],
    projW: s['attn.proj.weight'],
    projB: s['attn.proj.bias'],
    norm2w: s['norm2.weight'],
    norm2b: s['norm2.bias'],
    fc1W: s['mlp.fc1.weight'],
    fc1B: s['mlp.fc1.bias'],
    fc2W: s['mlp.fc2.weight'],
    fc2B: s['mlp.fc2.bias'],
  };
}

/** Reference arguments of a block for a `[B, H, W, C]` input. */
export function blockArgs(block: SwinTransformerBlock, B: number, H: number, W: number): RefBlockArgs {
  return {
    B,
    H,
    W,
    C: block.dim,
    numHeads: block.numHeads,
    window: block.windowSize,
    shift: block.shiftSize,
    eps: block.norm1.eps,
    hidden: block.mlp.fc1.outFeatures,
    scale: block.attn.scale,
  };
}

/** Randomises every parameter of a module (normal, std `std`; LayerNorm-like weights around 1). */
export function randomizeParams(
  m: { namedParameters(): [string, tf.Variable][] },
  std = 0.3,
  seed = 1,
): void {
  let s = seed;
  for (const [k, v] of m.namedParameters()) {
    s += 1;
    tf.tidy(() => {
      const r = tf.randomNormal(v.shape, 0, std, 'float32', s);
      v.assign(/norm\d?\.weight$/.test(k) ? tf.add(r, 1) : r);
    });
  }
}

/** `max |a - b|` and `max |b|`. */
export function maxDiff(a: ArrayLike<number>, b: ArrayLike<number>): { abs: number; ref: number } {
  if (a.length !== b.length) throw new Error(`length ${a.length} vs ${b.length}`);
  let abs = 0;
  let ref = 0;
  for (let i = 0; i < a.length; i++) {
    abs = Math.max(abs, Math.abs(a[i] - b[i]));
    ref = Math.max(ref, Math.abs(b[i]));
  }
  return { abs, ref };
}
