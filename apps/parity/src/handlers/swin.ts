/**
 * Parity handlers for Swin Transformer (`@swin/swin-core`): `window_attention`, `swin_block`,
 * `patch_merging` (PatchMerging and PatchEmbed, dispatched on `module`), `swin_model` (every stored
 * output: embed, features.i, stage_out.i, pre_logits, logits) and timm-layout `timm_swin_model`.
 */
import {
  PatchEmbed,
  PatchMerging,
  SwinTransformer,
  SwinTransformerBlock,
  swinConfigFromOfficial,
  WindowAttention,
} from '@swin/swin-core';
import type { Fixture } from '@swin/testing';
import * as tf from '@tensorflow/tfjs-core';
import type { Handler } from '../runner.js';

const SWIN_FILE = ' models/swin_transformer.py:';

function isSwinReference(fx: Fixture): boolean {
  return fx.reference.startsWith('microsoft/Swin-Transformer@') && fx.reference.includes(SWIN_FILE);
}

function isTimmSwinReference(fx: Fixture): boolean {
  return (
    fx.reference.startsWith('huggingface/pytorch-image-models@') &&
    fx.reference.includes(' timm/models/swin_transformer.py:')
  );
}

function kwargs(fx: Fixture): Record<string, unknown> {
  const k = fx.config.kwargs;
  if (!k || typeof k !== 'object') throw new Error(`${fx.file}: config has no kwargs`);
  return k;
}

function tensorInput(fx: Fixture, name = 'input'): tf.Tensor {
  const t = fx.inputs[name];
  if (!t) throw new Error(`${fx.file}: fixture has no '${name}' tensor`);
  return t;
}

function normEps(v: unknown): number | undefined {
  return v && typeof v === 'object' && typeof (v as { eps?: unknown }).eps === 'number'
    ? (v as { eps: number }).eps
    : undefined;
}

function pair(v: unknown): [number, number] {
  if (typeof v === 'number') return [v, v];
  if (Array.isArray(v) && v.length === 2) return [v[0], v[1]];
  throw new Error(`expected a number or a pair, got ${JSON.stringify(v)}`);
}

/** Runs `fn` with a module, disposing the module's variables afterwards. */
function withModule<M extends { dispose(): void }, R>(m: M, fn: (m: M) => R): R {
  try {
    return fn(m);
  } finally {
    m.dispose();
  }
}

/** `WindowAttention` on `[B*nW, N, C]` window tokens, with the stored `mask` when `forward.mask`. */
export const windowAttentionHandler: Handler = {
  name: 'swin-window-attention',
  matches: (fx) => fx.module === 'WindowAttention' && isSwinReference(fx),
  run(fx) {
    const k = kwargs(fx);
    const attn = new WindowAttention(k.dim as number, pair(k.window_size), k.num_heads as number, {
      qkvBias: k.qkv_bias as boolean | undefined,
      qkScale: k.qk_scale as number | null | undefined,
    });
    return withModule(attn, (m) => {
      m.loadStateDict(fx.stateDict);
      const useMask = fx.config.forward?.mask === true;
      const mask = useMask ? (tensorInput(fx, 'mask') as tf.Tensor3D) : null;
      return { output: m.forward(tensorInput(fx) as tf.Tensor3D, mask) };
    });
  },
};

/** `SwinTransformerBlock` on tokens `[B, H*W, C]` (run NHWC, returned as tokens). */
export const swinBlockHandler: Handler = {
  name: 'swin-block',
  matches: (fx) => fx.module === 'SwinTransformerBlock' && isSwinReference(fx),
  run(fx) {
    const k = kwargs(fx);
    const [H, W] = pair(k.input_resolution);
    const dim = k.dim as number;
    const block = new SwinTransformerBlock(dim, [H, W], k.num_heads as number, {
      windowSize: k.window_size as number | undefined,
      shiftSize: k.shift_size as number | undefined,
      mlpRatio: k.mlp_ratio as number | undefined,
      qkvBias: k.qkv_bias as boolean | undefined,
      qkScale: k.qk_scale as number | null | undefined,
      eps: normEps(k.norm_layer),
    });
    return withModule(block, (m) => {
      m.loadStateDict(fx.stateDict);
      const derived = fx.config.derived ?? {};
      if (derived.window_size !== undefined && derived.window_size !== m.windowSize) {
        throw new Error(
          `effective window ${m.windowSize} differs from the reference's ${derived.window_size}`,
        );
      }
      if (derived.shift_size !== undefined && derived.shift_size !== m.shiftSize) {
        throw new Error(`effective shift ${m.shiftSize} differs from the reference's ${derived.shift_size}`);
      }
      const x = tensorInput(fx);
      const B = x.shape[0];
      return tf.tidy(() => ({
        output: tf.reshape(m.forward(tf.reshape(x, [B, H, W, dim]) as tf.Tensor4D), [B, H * W, dim]),
      }));
    });
  },
};

/** `PatchMerging` on tokens `[B, H*W, C]` -> `[B, H*W/4, 2C]`. */
export const patchMergingHandler: Handler = {
  name: 'swin-patch-merging',
  matches: (fx) => fx.module === 'PatchMerging' && isSwinReference(fx),
  run(fx) {
    const k = kwargs(fx);
    const [H, W] = pair(k.input_resolution);
    const dim = k.dim as number;
    return withModule(new PatchMerging(dim, { eps: normEps(k.norm_layer) }), (m) => {
      m.loadStateDict(fx.stateDict);
      const x = tensorInput(fx);
      const B = x.shape[0];
      return tf.tidy(() => {
        const y = m.forward(tf.reshape(x, [B, H, W, dim]) as tf.Tensor4D);
        return { output: tf.reshape(y, [B, -1, y.shape[3]]) };
      });
    });
  },
};

/** `PatchEmbed` on an NHWC image -> tokens `[B, Hp*Wp, embedDim]`. */
export const patchEmbedHandler: Handler = {
  name: 'swin-patch-embed',
  matches: (fx) => fx.module === 'PatchEmbed' && isSwinReference(fx),
  run(fx) {
    const k = kwargs(fx);
    const pe = new PatchEmbed({
      patchSize: pair(k.patch_size ?? 4),
      inChans: (k.in_chans as number | undefined) ?? 3,
      embedDim: (k.embed_dim as number | undefined) ?? 96,
      norm: k.norm_layer != null,
      eps: normEps(k.norm_layer),
    });
    return withModule(pe, (m) => {
      m.loadStateDict(fx.stateDict);
      return tf.tidy(() => {
        const y = m.forward(tensorInput(fx) as tf.Tensor4D);
        const [B, h, w, C] = y.shape;
        return { output: tf.reshape(y, [B, h * w, C]) };
      });
    });
  },
};

function modelOutputs(model: SwinTransformer, x: tf.Tensor4D, stageOut: boolean): Record<string, tf.Tensor> {
  const o = model.forwardWithIntermediates(x);
  const out: Record<string, tf.Tensor> = { embed: o.embed, pre_logits: o.preLogits, logits: o.logits };
  o.features.forEach((t, i) => {
    out[`features.${i}`] = t;
  });
  o.stageOut.forEach((t, i) => {
    if (stageOut) out[`stage_out.${i}`] = t;
    else t.dispose();
  });
  return out;
}

function checkDerived(fx: Fixture, model: SwinTransformer): void {
  const blocks = fx.config.derived?.blocks;
  if (!Array.isArray(blocks)) return;
  const windows = model.blockWindows();
  for (const b of blocks) {
    const [ws, s] = windows[b.stage][b.block];
    if (ws !== b.window_size || s !== b.shift_size) {
      throw new Error(
        `layers.${b.stage}.blocks.${b.block}: effective window/shift ${ws}/${s}, reference ${b.window_size}/${b.shift_size}`,
      );
    }
  }
}

/** `SwinTransformer` (Microsoft layout): every stored output. */
export const swinModelHandler: Handler = {
  name: 'swin-model',
  matches: (fx) => fx.module === 'SwinTransformer' && isSwinReference(fx),
  run(fx) {
    return withModule(new SwinTransformer(swinConfigFromOfficial(kwargs(fx))), (m) => {
      m.loadCheckpoint(fx.stateDict);
      checkDerived(fx, m);
      return modelOutputs(m, tensorInput(fx) as tf.Tensor4D, true);
    });
  },
};

/** timm `SwinTransformer` checkpoint (timm key layout, no buffers) loaded into the same model. */
export const timmSwinModelHandler: Handler = {
  name: 'swin-model-timm',
  matches: (fx) => fx.module === 'SwinTransformer' && isTimmSwinReference(fx),
  run(fx) {
    const k = { ...kwargs(fx) };
    // timm-only kwargs without an effect on these checkpoints
    for (const key of ['global_pool', 'head_dim', 'weight_init', 'strict_img_size', 'always_partition'])
      delete k[key];
    return withModule(new SwinTransformer(swinConfigFromOfficial(k)), (m) => {
      const report = m.loadCheckpoint(fx.stateDict);
      if (report.layout !== 'timm')
        throw new Error(`expected a timm-layout checkpoint, detected ${report.layout}`);
      return modelOutputs(m, tensorInput(fx) as tf.Tensor4D, false);
    });
  },
};

/** Handlers of the Swin Transformer families. */
export const swinHandlers: Handler[] = [
  windowAttentionHandler,
  swinBlockHandler,
  patchMergingHandler,
  patchEmbedHandler,
  swinModelHandler,
  timmSwinModelHandler,
];
