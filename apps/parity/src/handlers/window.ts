/**
 * Parity handlers for the data-movement / buffer fixtures: `window_ops`, `rel_pos_index`, `shifted_mask`
 * (exact comparison).
 */
import { relativePositionIndex } from '@swin/rel-pos-bias';
import { shiftedWindowMask } from '@swin/shifted-mask';
import type { Fixture } from '@swin/testing';
import { cyclicShift, shiftedWindowPartition, windowPartition, windowReverse } from '@swin/window-ops';
import * as tf from '@tensorflow/tfjs-core';
import type { Handler } from '../runner.js';

const SWIN_REF = 'microsoft/Swin-Transformer@';
const SWIN_FILE = ' models/swin_transformer.py:';

function isSwinReference(fx: Fixture): boolean {
  return fx.reference.startsWith(SWIN_REF) && fx.reference.includes(SWIN_FILE);
}

function int(fx: Fixture, where: string, v: unknown): number {
  if (typeof v !== 'number' || !Number.isInteger(v)) {
    throw new Error(`${fx.file}: config ${where} must be an integer, got ${JSON.stringify(v)}`);
  }
  return v;
}

function pair(fx: Fixture, where: string, v: unknown): [number, number] {
  if (typeof v === 'number') return [int(fx, where, v), int(fx, where, v)];
  if (!Array.isArray(v) || v.length !== 2) {
    throw new Error(`${fx.file}: config ${where} must be an integer or a pair, got ${JSON.stringify(v)}`);
  }
  return [int(fx, `${where}[0]`, v[0]), int(fx, `${where}[1]`, v[1])];
}

function input(fx: Fixture, name: string): tf.Tensor4D {
  const t = fx.inputs[name];
  if (!t) throw new Error(`${fx.file}: fixture has no '${name}' tensor`);
  if (t.rank !== 4) throw new Error(`${fx.file}: '${name}' must be 4-D, got shape [${t.shape}]`);
  return t as tf.Tensor4D;
}

/** `window_partition` / `window_reverse` / `torch.roll` (config `{B, H, W, C, window_size, shift_size}`). */
export const windowOpsHandler: Handler = {
  name: 'window-ops',
  matches: (fx) => fx.module === 'window_partition+window_reverse+torch.roll' && isSwinReference(fx),
  run(fx) {
    const ws = int(fx, 'window_size', fx.config.window_size);
    const s = int(fx, 'shift_size', fx.config.shift_size);
    const H = int(fx, 'H', fx.config.H);
    const W = int(fx, 'W', fx.config.W);
    const x = input(fx, 'input');
    const windows = input(fx, 'reverse_input');
    return tf.tidy(() => ({
      partition: windowPartition(x, ws),
      reverse: windowReverse(windows, ws, H, W),
      roll_neg: cyclicShift(x, [-s, -s]),
      roll_pos: cyclicShift(x, [s, s]),
      shifted_partition: shiftedWindowPartition(x, ws, s),
    }));
  },
};

/** `WindowAttention.relative_position_index` (config `{kwargs: {window_size: [Wh, Ww]}}`), int32 `[N, N]`. */
export const relPosIndexHandler: Handler = {
  name: 'rel-pos-index',
  matches: (fx) => fx.module === 'WindowAttention.relative_position_index' && isSwinReference(fx),
  run(fx) {
    const [wh, ww] = pair(fx, 'kwargs.window_size', fx.config.kwargs?.window_size);
    return tf.tidy(() => ({ output: tf.clone(relativePositionIndex(wh, ww)) }));
  },
};

/**
 * `SwinTransformerBlock.attn_mask` for `kwargs.input_resolution` with the effective (clamped)
 * `derived.window_size` / `derived.shift_size`, float32 `[nW, N, N]`.
 */
export const shiftedMaskHandler: Handler = {
  name: 'shifted-mask',
  matches: (fx) => fx.module === 'SwinTransformerBlock.attn_mask' && isSwinReference(fx),
  run(fx) {
    const [H, W] = pair(fx, 'kwargs.input_resolution', fx.config.kwargs?.input_resolution);
    const derived = fx.config.derived ?? {};
    const ws = pair(fx, 'window_size', derived.window_size ?? fx.config.kwargs?.window_size);
    const s = pair(fx, 'shift_size', derived.shift_size ?? fx.config.kwargs?.shift_size);
    // clone inside tidy: whatever handle the package returns (cached or owned) stays untouched
    return tf.tidy(() => ({ output: tf.clone(shiftedWindowMask(H, W, ws, s)) }));
  },
};

/** Handlers of the exact-comparison families. */
export const windowHandlers: Handler[] = [windowOpsHandler, relPosIndexHandler, shiftedMaskHandler];
