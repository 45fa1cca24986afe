/**
 * Parity handlers for PVT v1 / v2 (`whai362/PVT` branch v2, `classification/pvt.py` and
 * `classification/pvt_v2.py`): `pvt_sra_attention` and `pvt_v2_attention` (`Attention`, `output`),
 * `pvt_v1_model` (`PyramidVisionTransformer`) and `pvt_v2_model` (`PyramidVisionTransformerV2`) with every
 * stored output: `embed.<i>`, `features.<i>` (PVT v1's last one as tokens `[B, 1+H*W, C]`), `pre_logits`, `logits`.
 */
import {
  PyramidVisionTransformer,
  PyramidVisionTransformerV2,
  pvtConfigFromKwargs,
  srAttentionFromKwargs,
} from '@swin/pvt';
import type { Fixture } from '@swin/testing';
import type * as tf from '@tensorflow/tfjs-core';
import type { Handler } from '../runner.js';

const REF = 'whai362/PVT@';

function isPVTReference(fx: Fixture, file: 'pvt.py' | 'pvt_v2.py', cls: string): boolean {
  return (
    fx.reference.startsWith(REF) &&
    fx.reference.endsWith(` classification/${file}:${cls}`) &&
    fx.module === cls
  );
}

function kwargs(fx: Fixture): Record<string, unknown> {
  const kw = fx.config.kwargs;
  if (!kw || typeof kw !== 'object') throw new Error(`${fx.file}: config.kwargs is missing`);
  return kw;
}

function input<T extends tf.Tensor>(fx: Fixture, rank: number): T {
  const t = fx.inputs.input;
  if (!t) throw new Error(`${fx.file}: fixture has no 'input' tensor`);
  if (t.rank !== rank) throw new Error(`${fx.file}: 'input' must be ${rank}-D, got shape [${t.shape}]`);
  return t as T;
}

function runAttention(fx: Fixture): Record<string, tf.Tensor> {
  const { H, W } = fx.config.forward ?? {};
  if (!Number.isInteger(H) || !Number.isInteger(W)) {
    throw new Error(
      `${fx.file}: config.forward must hold integer H and W, got ${JSON.stringify(fx.config.forward)}`,
    );
  }
  const m = srAttentionFromKwargs(kwargs(fx));
  try {
    m.loadStateDict(fx.stateDict);
    return { output: m.forwardTokens(input<tf.Tensor3D>(fx, 3), H, W) };
  } finally {
    m.dispose();
  }
}

function runModel(
  fx: Fixture,
  m: PyramidVisionTransformer | PyramidVisionTransformerV2,
): Record<string, tf.Tensor> {
  try {
    m.loadStateDict(fx.stateDict);
    const out = m.forwardWithIntermediates(input<tf.Tensor4D>(fx, 4));
    const named = { ...out.named };
    // free what is not returned (PVT v1's last NHWC map: the fixture stores the tokens instead)
    const returned = new Set<tf.Tensor>(Object.values(named));
    for (const t of [...out.embeds, ...out.features, out.preLogits, out.logits])
      if (!returned.has(t)) t.dispose();
    return named;
  } finally {
    m.dispose();
  }
}

/** PVT v1 `Attention(dim, num_heads, qkv_bias, qk_scale, sr_ratio)` on tokens `[B, H*W, C]`. */
export const pvtSRAttentionHandler: Handler = {
  name: 'pvt-sra-attention',
  matches: (fx) => isPVTReference(fx, 'pvt.py', 'Attention'),
  run: runAttention,
};

/** PVT v2 `Attention(dim, num_heads, qkv_bias, qk_scale, sr_ratio, linear)` on tokens `[B, H*W, C]`. */
export const pvtV2AttentionHandler: Handler = {
  name: 'pvt-v2-attention',
  matches: (fx) => isPVTReference(fx, 'pvt_v2.py', 'Attention'),
  run: runAttention,
};

/** `PyramidVisionTransformer(**kwargs)`: every stored output. */
export const pvtV1ModelHandler: Handler = {
  name: 'pvt-v1-model',
  matches: (fx) => isPVTReference(fx, 'pvt.py', 'PyramidVisionTransformer'),
  run: (fx) => runModel(fx, new PyramidVisionTransformer(pvtConfigFromKwargs(1, kwargs(fx)))),
};

/** `PyramidVisionTransformerV2(**kwargs)`: every stored output. */
export const pvtV2ModelHandler: Handler = {
  name: 'pvt-v2-model',
  matches: (fx) => isPVTReference(fx, 'pvt_v2.py', 'PyramidVisionTransformerV2'),
  run: (fx) => runModel(fx, new PyramidVisionTransformerV2(pvtConfigFromKwargs(2, kwargs(fx)))),
};

/** Parity handlers for PVT v1/v2 (pvt_sra_attention, pvt_v2_attention, pvt_v1_model, pvt_v2_model). */
export const pvtHandlers: Handler[] = [
  pvtSRAttentionHandler,
  pvtV2AttentionHandler,
  pvtV1ModelHandler,
  pvtV2ModelHandler,
];
