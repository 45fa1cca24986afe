/**
 * Parity handlers for Shunted Transformer (`OliverRensu/Shunted-Transformer` `SSA.py`): `shunted_attention`
 * (`Attention`), `shunted_block` (`Block`), `shunted_model` (`ShuntedTransformer`, every stored output:
 * `embed.<i>`, `features.<i>`, `pre_logits`, `logits`).
 */
import {
  attentionArgsFromKwargs,
  blockArgsFromKwargs,
  ShuntedAttention,
  ShuntedBlock,
  ShuntedTransformer,
  shuntedConfigFromKwargs,
} from '@swin/shunted-attention';
import type { Fixture } from '@swin/testing';
import type * as tf from '@tensorflow/tfjs-core';
import type { Handler } from '../runner.js';

const REF = 'OliverRensu/Shunted-Transformer@';
const FILE = ' SSA.py:';

function isShuntedReference(fx: Fixture, cls: string): boolean {
  return fx.reference.startsWith(REF) && fx.reference.endsWith(`${FILE}${cls}`) && fx.module === cls;
}

function kwargs(fx: Fixture) {
  const kw = fx.config.kwargs;
  if (!kw || typeof kw !== 'object') throw new Error(`${fx.file}: config.kwargs is missing`);
  return kw;
}

function hw(fx: Fixture): [number, number] {
  const { H, W } = fx.config.forward ?? {};
  if (!Number.isInteger(H) || !Number.isInteger(W))
    throw new Error(
      `${fx.file}: config.forward must hold integer H and W, got ${JSON.stringify(fx.config.forward)}`,
    );
  return [H, W];
}

function input<T extends tf.Tensor>(fx: Fixture, rank: number): T {
  const t = fx.inputs.input;
  if (!t) throw new Error(`${fx.file}: fixture has no 'input' tensor`);
  if (t.rank !== rank) throw new Error(`${fx.file}: 'input' must be ${rank}-D, got shape [${t.shape}]`);
  return t as T;
}

/** `Attention(dim, num_heads, qkv_bias, qk_scale, sr_ratio)` on tokens `[B, H*W, C]`. */
export const shuntedAttentionHandler: Handler = {
  name: 'shunted-attention',
  matches: (fx) => isShuntedReference(fx, 'Attention'),
  run(fx) {
    const [dim, opts] = attentionArgsFromKwargs(kwargs(fx));
    const [H, W] = hw(fx);
    const m = new ShuntedAttention(dim, opts);
    try {
      m.loadStateDict(fx.stateDict);
      return { output: m.forwardTokens(input<tf.Tensor3D>(fx, 3), H, W) };
    } finally {
      m.dispose();
    }
  },
};

/** `Block(dim, num_heads, mlp_ratio, qkv_bias, qk_scale, norm_layer, sr_ratio)` on tokens `[B, H*W, C]`. */
export const shuntedBlockHandler: Handler = {
  name: 'shunted-block',
  matches: (fx) => isShuntedReference(fx, 'Block'),
  run(fx) {
    const [dim, heads, opts] = blockArgsFromKwargs(kwargs(fx));
    const [H, W] = hw(fx);
    const m = new ShuntedBlock(dim, heads, opts);
    try {
      m.loadStateDict(fx.stateDict);
      return { output: m.forwardTokens(input<tf.Tensor3D>(fx, 3), H, W) };
    } finally {
      m.dispose();
    }
  },
};

/** `ShuntedTransformer(**kwargs)` on an NHWC image: logits, pre_logits, embed.<i>, features.<i>. */
export const shuntedModelHandler: Handler = {
  name: 'shunted-model',
  matches: (fx) => isShuntedReference(fx, 'ShuntedTransformer'),
  run(fx) {
    const m = new ShuntedTransformer(shuntedConfigFromKwargs(kwargs(fx)));
    try {
      m.loadStateDict(fx.stateDict);
      const o = m.forwardWithIntermediates(input<tf.Tensor4D>(fx, 4));
      const out: Record<string, tf.Tensor> = { logits: o.logits, pre_logits: o.preLogits };
      o.embeds.forEach((t, i) => {
        out[`embed.${i}`] = t;
      });
      o.features.forEach((t, i) => {
        out[`features.${i}`] = t;
      });
      return out;
    } finally {
      m.dispose();
    }
  },
};

/** Parity handlers for Shunted Transformer (shunted_attention, shunted_block, shunted_model). */
export const shuntedHandlers: Handler[] = [shuntedAttentionHandler, shuntedBlockHandler, shuntedModelHandler];
