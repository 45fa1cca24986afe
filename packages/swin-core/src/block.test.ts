import { shiftedWindowMask } from '@swin/shifted-mask';
import {
  compareTensors,
  expectNoLeak,
  loadFixture,
  NODE_BACKENDS,
  tf,
  toleranceFor,
  useBackend,
} from '@swin/testing';
import { describe, expect, it } from 'vitest';
import { SwinTransformerBlock } from './block.js';
import { blockArgs, blockWeights, maxDiff, randomizeParams } from './test-utils/helpers.js';
import { refSwinBlock } from './test-utils/reference.js';

const FIXTURES = ['swin_block_8x8_w4_s0', 'swin_block_8x8_w4_s2', 'swin_block_4x4_w7_s3_clamped'];

function runRef(block: SwinTransformerBlock, x: tf.Tensor4D): Float64Array {
  const [B, H, W] = x.shape;
  return refSwinBlock(x.dataSync(), blockWeights(block), blockArgs(block, B, H, W));
}

describe.each(NODE_BACKENDS)('SwinTransformerBlock on %s', (backend) => {
  it.each(FIXTURES)('matches fixture %s (effective window/shift and attn_mask buffer)', async (name) => {
    await useBackend(backend);
    const fx = loadFixture(`${name}.safetensors`);
    const k = fx.config.kwargs;
    const block = new SwinTransformerBlock(k.dim, k.input_resolution, k.num_heads, {
      windowSize: k.window_size,
      shiftSize: k.shift_size,
    });
    expect(block.windowSize).toBe(fx.config.derived.window_size);
    expect(block.shiftSize).toBe(fx.config.derived.shift_size);
    // the attn_mask buffer exists exactly when the reference has one
    const keys = Object.keys(block.stateDict());
    expect(keys.includes('attn_mask')).toBe(fx.config.derived.attn_mask_buffer);
    expect(Object.keys(fx.stateDict).sort()).toEqual(keys.sort());
    block.loadStateDict(fx.stateDict); // strict, verifies relative_position_index and attn_mask
    const [H, W] = k.input_resolution;
    const x = tf.reshape(fx.inputs.input, [1, H, W, k.dim]) as tf.Tensor4D;
    const y = block.forward(x);
    const c = compareTensors(
      tf.reshape(y, fx.expected.output.shape),
      fx.expected.output,
      toleranceFor(fx.family),
    );
    expect(c.ok, c.message).toBe(true);
    // the loop reference agrees with the fixture too (validates the oracle used below)
    const r = maxDiff(runRef(block, x), fx.expected.output.dataSync());
    expect(r.abs).toBeLessThan(1e-5);
    await expectNoLeak(() => block.forward(x), 'SwinTransformerBlock.forward');
    tf.dispose([x, y]);
    block.dispose();
    fx.dispose();
  });

  it.each([
    // [B, H, W, window, shift, inputResolution]
    [2, 6, 6, 3, 1, [6, 6]], // divisible, shifted: the official path
    [2, 5, 7, 3, 1, null], // padded to 6x9, shifted
    [1, 5, 7, 3, 0, null], // padded, unshifted: the padding is still masked
    [1, 3, 2, 4, 2, null], // map smaller than the window: one padded window
    [1, 9, 4, 4, 2, null], // padded rows only
  ] as const)('B=%i %ix%i window %i shift %i equals the loop reference', async (B, H, W, ws, s, res) => {
    await useBackend(backend);
    const block = new SwinTransformerBlock(8, res, 2, { windowSize: ws, shiftSize: s, mlpRatio: 2 });
    expect(block.windowSize).toBe(ws);
    expect(block.shiftSize).toBe(s);
    randomizeParams(block, 0.3, 3);
    const x = tf.randomNormal([B, H, W, 8], 0, 1, 'float32', 7) as tf.Tensor4D;
    const y = block.forward(x);
    expect(y.shape).toEqual([B, H, W, 8]);
    const d = maxDiff(y.dataSync(), runRef(block, x));
    expect(d.abs, `max abs diff ${d.abs}`).toBeLessThan(1e-4);
    await expectNoLeak(() => block.forward(x), 'padded block forward');
    tf.dispose([x, y]);
    block.dispose();
  });

  it('runs the fused kernels it relies on (attention, GELU, LayerNorm, heads; shifted windows on wasm)', async () => {
    await useBackend(backend);
    const block = new SwinTransformerBlock(8, [8, 8], 2, { windowSize: 4, shiftSize: 2 });
    const x = tf.randomNormal([1, 8, 8, 8], 0, 1, 'float32', 9) as tf.Tensor4D;
    const seen = new Set<string>();
    const engine = tf.engine() as unknown as { runKernel: (...a: unknown[]) => unknown };
    const original = engine.runKernel.bind(engine);
    engine.runKernel = (...a: unknown[]) => {
      seen.add(a[0] as string);
      return original(...a);
    };
    try {
      tf.dispose(block.forward(x));
    } finally {
      engine.runKernel = original;
    }
    for (const k of [
      'SwinSmallGemm',
      'SwinNnGelu',
      'SwinNnLayerNorm',
      'SwinNnTokensToHeads',
      '_FusedMatMul',
    ]) {
      expect(seen.has(k), k).toBe(true);
    }
    expect(seen.has('SwinShiftedWindowPartition')).toBe(backend === 'wasm');
    expect(seen.has('SwinShiftedWindowReverse')).toBe(backend === 'wasm');
    if (backend === 'wasm') expect(seen.has('Slice')).toBe(false);
    x.dispose();
    block.dispose();
  });

  it('at divisible sizes the padding path is inert: masks equal the official ones', async () => {
    await useBackend(backend);
    const shifted = new SwinTransformerBlock(8, [8, 12], 2, { windowSize: 4, shiftSize: 2 });
    const plain = new SwinTransformerBlock(8, [8, 12], 2, { windowSize: 4, shiftSize: 0 });
    expect(plain.maskFor(8, 12)).toBeNull();
    const mine = shifted.maskFor(8, 12) as tf.Tensor3D;
    const official = shiftedWindowMask(8, 12, 4, 2);
    expect(compareTensors(mine, official, { exact: true }).ok).toBe(true);
    // the attn_mask buffer (what a checkpoint stores) is the same tensor
    const sd = shifted.stateDict();
    expect(compareTensors(sd.attn_mask, official, { exact: true }).ok).toBe(true);
    // a padded map does get a mask, also without shift
    const padded = plain.maskFor(7, 12) as tf.Tensor3D;
    expect(padded.shape).toEqual([6, 16, 16]);
    expect(tf.min(padded).dataSync()[0]).toBe(-100);
    tf.dispose([mine, official, padded, ...Object.values(sd)]);
    shifted.dispose();
    plain.dispose();
  });

  it('clamps like the official code and exposes macs', async () => {
    await useBackend(backend);
    const b = new SwinTransformerBlock(8, [7, 9], 2, { windowSize: 7, shiftSize: 3 });
    expect([b.windowSize, b.shiftSize]).toEqual([7, 0]);
    const c = new SwinTransformerBlock(8, [14, 14], 2, { windowSize: 7, shiftSize: 3 });
    expect([c.windowSize, c.shiftSize]).toEqual([7, 3]);
    // official flops(), transcribed: norm1 + nW * attn.flops(N) + mlp + norm2 (C=8, nH=2, 14x14, window 7)
    const [C, nH, H, W, N, r] = [8, 2, 14, 14, 49, 4];
    const attnFlops = N * C * 3 * C + nH * N * (C / nH) * N + nH * N * N * (C / nH) + N * C * C;
    const official = C * H * W + ((H * W) / 7 / 7) * attnFlops + 2 * H * W * C * C * r + C * H * W;
    expect(c.macs(14, 14)).toBe(official);
    b.dispose();
    c.dispose();
  });

  it('rejects bad input with clear messages', async () => {
    await useBackend(backend);
    expect(() => new SwinTransformerBlock(10, [8, 8], 3)).toThrow(/dim=10 is not divisible by numHeads=3/);
    expect(() => new SwinTransformerBlock(8, [16, 16], 2, { windowSize: 4, shiftSize: 4 })).toThrow(
      /shiftSize/,
    );
    const b = new SwinTransformerBlock(8, [8, 8], 2, { windowSize: 4 });
    expect(() => b.forward(tf.zeros([1, 8, 8, 6]) as tf.Tensor4D)).toThrow(
      /SwinTransformerBlock.forward.*6 channels.*expected 8/,
    );
    expect(() => b.forward(tf.zeros([64, 8]) as unknown as tf.Tensor4D)).toThrow(/4-D NHWC/);
    b.dispose();
  });
});
