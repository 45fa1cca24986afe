import type { tf } from '@swin/testing';
import { SRAttention } from '../attention.js';
import { pvtConfigFromKwargs } from '../config.js';
import { disposeIntermediates, PyramidVisionTransformer } from '../pvt-v1.js';
import { PyramidVisionTransformerV2 } from '../pvt-v2.js';
import { type Comparison, compare, entryTensor, expectedKeys, type Fixture, stateDict } from './fixtures.js';

/** Builds the module a PVT fixture describes (not loaded). */
export function buildFromFixture(
  fx: Fixture,
): SRAttention | PyramidVisionTransformer | PyramidVisionTransformerV2 {
  const family = fx.metadata['family'];
  const kw = fx.config.kwargs;
  if (family === 'pvt_sra_attention' || family === 'pvt_v2_attention') {
    const allowed = new Set([
      'dim',
      'num_heads',
      'qkv_bias',
      'qk_scale',
      'sr_ratio',
      'linear',
      'attn_drop',
      'proj_drop',
    ]);
    for (const k of Object.keys(kw))
      if (!allowed.has(k)) throw new Error(`${fx.name}: unexpected kwarg ${k}`);
    return new SRAttention(kw['dim'] as number, (kw['num_heads'] as number) ?? 8, {
      qkvBias: (kw['qkv_bias'] as boolean) ?? false,
      qkScale: kw['qk_scale'] as number | null,
      srRatio: (kw['sr_ratio'] as number) ?? 1,
      linear: (kw['linear'] as boolean) ?? false,
    });
  }
  if (family === 'pvt_v1_model') return new PyramidVisionTransformer(pvtConfigFromKwargs(1, kw));
  if (family === 'pvt_v2_model') return new PyramidVisionTransformerV2(pvtConfigFromKwargs(2, kw));
  throw new Error(`${fx.name}: not a PVT fixture (family ${family})`);
}

/** Loads, runs and compares every stored output of a PVT fixture on the current backend. */
export function runFixture(
  fx: Fixture,
  load: (
    m: { loadStateDict: (t: Record<string, tf.Tensor>) => unknown },
    sd: Record<string, tf.Tensor>,
  ) => void = (m, sd) => m.loadStateDict(sd),
): Comparison[] {
  const m = buildFromFixture(fx);
  const sd = stateDict(fx);
  try {
    load(m, sd);
  } finally {
    for (const t of Object.values(sd)) t.dispose();
  }
  const x = entryTensor(fx, 'input');
  try {
    if (m instanceof SRAttention) {
      const { H, W } = fx.config.forward as { H: number; W: number };
      const y = m.forwardTokens(x as tf.Tensor3D, H, W);
      try {
        return expectedKeys(fx).map((k) => {
          if (k !== 'output') throw new Error(`${fx.name}: unexpected output ${k}`);
          return compare(k, y, fx.file.tensors.get(k)!);
        });
      } finally {
        y.dispose();
      }
    }
    const out = m.forwardWithIntermediates(x as tf.Tensor4D);
    try {
      return expectedKeys(fx).map((k) => {
        const a = out.named[k];
        if (!a) throw new Error(`${fx.name}: the model produced no output '${k}'`);
        return compare(k, a, fx.file.tensors.get(k)!);
      });
    } finally {
      disposeIntermediates(out);
    }
  } finally {
    x.dispose();
    m.dispose();
  }
}
