/**
 * Parity handlers for Swin-MLP (microsoft/Swin-Transformer `models/swin_mlp.py`): `swin_mlp_block`
 * (`SwinMLPBlock`, tokens in and out) and `swin_mlp_model` (`SwinMLP`, every stored output: `embed`,
 * `features.<i>`, `stage_out.<i>`, `pre_logits`, `logits`).
 */
import {
  SwinMLP,
  SwinMLPBlock,
  swinMlpBlockOptionsFromKwargs,
  swinMlpConfigFromKwargs,
} from '@swin/swin-mlp';
import type { Fixture } from '@swin/testing';
import * as tf from '@tensorflow/tfjs-core';
import type { Handler } from '../runner.js';

const REF = 'microsoft/Swin-Transformer@';
const FILE = ' models/swin_mlp.py:';

function isSwinMlpReference(fx: Fixture, cls: string): boolean {
  return fx.module === cls && fx.reference.startsWith(REF) && fx.reference.endsWith(`${FILE}${cls}`);
}

function kwargs(fx: Fixture): Record<string, unknown> {
  const kw = fx.config.kwargs;
  if (!kw || typeof kw !== 'object') throw new Error(`${fx.file}: config.kwargs is missing`);
  return kw as Record<string, unknown>;
}

function input(fx: Fixture, rank: number): tf.Tensor {
  const t = fx.inputs.input;
  if (!t) throw new Error(`${fx.file}: fixture has no 'input' tensor`);
  if (t.rank !== rank) throw new Error(`${fx.file}: 'input' must be ${rank}-D, got shape [${t.shape}]`);
  return t;
}

/** The reference's effective window/shift (`config.derived`) must be what the block computed. */
function checkDerivedBlock(fx: Fixture, block: SwinMLPBlock): void {
  const d = fx.config.derived;
  if (d && (d.window_size !== block.windowSize || d.shift_size !== block.shiftSize)) {
    throw new Error(
      `${fx.file}: reference clamped to window ${d.window_size} / shift ${d.shift_size}, ` +
        `this block uses ${block.windowSize} / ${block.shiftSize}`,
    );
  }
}

/** `SwinMLPBlock(dim, input_resolution, num_heads, window_size, shift_size, ...)` on tokens `[B, H*W, C]`. */
export const swinMlpBlockHandler: Handler = {
  name: 'swin-mlp-block',
  matches: (fx) => isSwinMlpReference(fx, 'SwinMLPBlock'),
  run(fx) {
    const opts = swinMlpBlockOptionsFromKwargs(kwargs(fx));
    const res = opts.inputResolution;
    if (!res) throw new Error(`${fx.file}: kwargs.input_resolution is missing`);
    const [H, W] = res;
    const block = new SwinMLPBlock(opts);
    try {
      checkDerivedBlock(fx, block);
      block.loadStateDict(fx.stateDict);
      const x = input(fx, 3);
      const [B, L, C] = x.shape;
      if (L !== H * W) throw new Error(`${fx.file}: input has ${L} tokens, expected H*W = ${H * W}`);
      const output = tf.tidy(() =>
        tf.reshape(block.forward(tf.reshape(x, [B, H, W, C]) as tf.Tensor4D), [B, L, C]),
      );
      return { output };
    } finally {
      block.dispose();
    }
  },
};

/** `SwinMLP(**kwargs)` on an NHWC image: every stored intermediate. */
export const swinMlpModelHandler: Handler = {
  name: 'swin-mlp-model',
  matches: (fx) => isSwinMlpReference(fx, 'SwinMLP'),
  run(fx) {
    const model = new SwinMLP(swinMlpConfigFromKwargs(kwargs(fx)));
    try {
      const blocks = fx.config.derived?.blocks as
        | { stage: number; block: number; window_size: number; shift_size: number }[]
        | undefined;
      const mine = model.blockWindows();
      for (const b of blocks ?? []) {
        const [ws, s] = mine[b.stage][b.block];
        if (ws !== b.window_size || s !== b.shift_size) {
          throw new Error(
            `${fx.file}: layers.${b.stage}.blocks.${b.block}: reference window ${b.window_size} / shift ` +
              `${b.shift_size}, this model ${ws} / ${s}`,
          );
        }
      }
      model.loadStateDict(fx.stateDict);
      const o = model.forwardWithIntermediates(input(fx, 4) as tf.Tensor4D);
      const out: Record<string, tf.Tensor> = { embed: o.embed, pre_logits: o.preLogits, logits: o.logits };
      o.features.forEach((t, i) => {
        out[`features.${i}`] = t;
      });
      o.stageOut.forEach((t, i) => {
        out[`stage_out.${i}`] = t;
      });
      return out;
    } finally {
      model.dispose();
    }
  },
};

/** Parity handlers for Swin-MLP (swin_mlp_block, swin_mlp_model). */
export const swinMlpHandlers: Handler[] = [swinMlpBlockHandler, swinMlpModelHandler];
