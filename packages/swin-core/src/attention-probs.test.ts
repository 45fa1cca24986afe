import { shiftedWindowMask } from '@swin/shifted-mask';
import { expectNoLeak, loadFixture, NODE_BACKENDS, tf, useBackend } from '@swin/testing';
import { cyclicShift, windowPartition } from '@swin/window-ops';
import { describe, expect, it } from 'vitest';
import { SwinTransformerBlock } from './block.js';
import { maxDiff, randomizeParams } from './test-utils/helpers.js';
import type { WindowAttention } from './window-attention.js';
import { WindowAttention as WA } from './window-attention.js';

/**
 * `probs @ v`, heads merged, `proj`, with plain tfjs ops (no @swin/nn head split or fused attention; Linear
 * keeps its weight as `[in, out]`):
 * x `[Bn, N, C]`, probs `[Bn, nH, N, N]` -> `[Bn, N, C]`.
 */
function applyProbs(m: WindowAttention, x: tf.Tensor3D, probs: tf.Tensor4D): tf.Tensor3D {
  return tf.tidy(() => {
    const [Bn, N, C] = x.shape;
    const nH = m.numHeads;
    const hd = C / nH;
    let qkv = tf.matMul(tf.reshape(x, [Bn * N, C]), m.qkv.weight); // [Bn*N, 3C]
    if (m.qkv.bias) qkv = tf.add(qkv, m.qkv.bias);
    // channels [3][heads][hd]: v is part 2
    const v = tf.transpose(
      tf.squeeze(tf.slice(tf.reshape(qkv, [Bn, N, 3, nH, hd]), [0, 0, 2, 0, 0], [Bn, N, 1, nH, hd]), [2]),
      [0, 2, 1, 3],
    ); // [Bn, nH, N, hd]
    const o = tf.reshape(tf.transpose(tf.matMul(probs, v), [0, 2, 1, 3]), [Bn * N, C]);
    const out = tf.add(tf.matMul(o, m.proj.weight), m.proj.bias as tf.Tensor);
    return tf.reshape(out, [Bn, N, C]) as tf.Tensor3D;
  });
}

describe.each(NODE_BACKENDS)('attention probabilities on %s', (backend) => {
  it('WindowAttention.attentionProbs: rows sum to 1, masked pairs ~0, and probs @ v reproduces forward (official fixture)', async () => {
    await useBackend(backend);
    const fx = loadFixture('window_attention_w4_mask_b2.safetensors');
    const k = fx.config.kwargs;
    const m = new WA(k.dim, k.window_size, k.num_heads);
    m.loadStateDict(fx.stateDict);
    const x = fx.inputs.input as tf.Tensor3D;
    const mask = fx.inputs.mask as tf.Tensor3D;
    const [Bn, N] = x.shape;
    const nH = m.numHeads;
    const probs = m.attentionProbs(x, mask);
    expect(probs.shape).toEqual([Bn, nH, N, N]);
    const p = await probs.data();
    const md = await mask.data();
    const nW = mask.shape[0];
    let maskedMax = 0;
    let masked = 0;
    for (let w = 0; w < Bn; w++) {
      for (let h = 0; h < nH; h++) {
        for (let i = 0; i < N; i++) {
          let sum = 0;
          for (let j = 0; j < N; j++) {
            const v = p[((w * nH + h) * N + i) * N + j];
            sum += v;
            if (md[((w % nW) * N + i) * N + j] !== 0) {
              masked++;
              maskedMax = Math.max(maskedMax, v);
            }
          }
          expect(Math.abs(sum - 1)).toBeLessThan(1e-5);
        }
      }
    }
    expect(masked).toBeGreaterThan(0); // the fixture's mask separates regions
    expect(maskedMax).toBeLessThan(1e-30);
    // the weights forward uses: probs @ v (heads merged, proj) is forward's output
    const y = m.forward(x, mask);
    const z = applyProbs(m, x, probs);
    expect(maxDiff(await z.data(), await y.data()).abs).toBeLessThan(1e-5);
    // and the official output
    expect(maxDiff(await z.data(), await fx.expected.output.data()).abs).toBeLessThan(1e-4);
    await expectNoLeak(() => m.attentionProbs(x, mask), 'WindowAttention.attentionProbs');
    tf.dispose([probs, y, z]);
    m.dispose();
    fx.dispose();
  });

  it('WindowAttention.attentionProbs without a mask or a bias, in training mode with attention dropout (not applied)', async () => {
    await useBackend(backend);
    for (const relativePositionBias of [true, false]) {
      const m = new WA(12, [2, 3], 3, { relativePositionBias, attnDrop: 0.5 });
      randomizeParams(m, 0.4, 7);
      const x = tf.randomNormal([4, 6, 12], 0, 1, 'float32', 3) as tf.Tensor3D;
      const probs = m.attentionProbs(x);
      expect(probs.shape).toEqual([4, 3, 6, 6]);
      m.train(true);
      const again = m.attentionProbs(x); // dropout is random: never applied to the returned weights
      expect(maxDiff(await again.data(), await probs.data()).abs).toBe(0);
      m.train(false);
      const y = m.forward(x);
      const z = applyProbs(m, x, probs);
      expect(maxDiff(await z.data(), await y.data()).abs, `bias ${relativePositionBias}`).toBeLessThan(1e-5);
      tf.dispose([x, probs, again, y, z]);
      m.dispose();
    }
  });

  it('WindowAttention.attentionProbs rejects bad shapes, naming itself, without leaking', async () => {
    await useBackend(backend);
    const m = new WA(8, 2, 2);
    const x = tf.zeros([3, 4, 8]) as tf.Tensor3D;
    const mask = tf.zeros([2, 4, 4]) as tf.Tensor3D;
    const before = tf.memory().numTensors;
    expect(() => m.attentionProbs(tf.zeros([3, 5, 8]) as tf.Tensor3D)).toThrow(
      /WindowAttention\.attentionProbs: x has shape \[3,5,8\], expected \[B\*nW, 4, 8\]/,
    );
    expect(() => m.attentionProbs(x, mask)).toThrow(
      /WindowAttention\.attentionProbs: B\*nW=3 windows is not a multiple of the mask's nW=2/,
    );
    // the zeros created inside expect() above are the only new tensors
    expect(tf.memory().numTensors).toBe(before + 1);
    tf.dispose([x, mask]);
    m.dispose();
  });

  it('SwinTransformerBlock.attentionProbs: the shifted windows of norm1(x), and probs @ v rebuilds the block output (official fixture)', async () => {
    await useBackend(backend);
    const fx = loadFixture('swin_block_8x8_w4_s2.safetensors');
    const k = fx.config.kwargs;
    const block = new SwinTransformerBlock(k.dim, k.input_resolution, k.num_heads, {
      windowSize: k.window_size,
      shiftSize: k.shift_size,
    });
    block.loadStateDict(fx.stateDict);
    const [H, W] = k.input_resolution;
    const C = k.dim;
    const ws = block.windowSize;
    const s = block.shiftSize;
    expect(s).toBeGreaterThan(0);
    const x = tf.reshape(fx.inputs.input, [1, H, W, C]) as tf.Tensor4D;
    const probs = block.attentionProbs(x);
    const nW = (H / ws) * (W / ws);
    expect(probs.shape).toEqual([nW, block.numHeads, ws * ws, ws * ws]);
    // the documented windows: norm1(x) rolled by -shift, partitioned, with the official mask
    const tokens = tf.tidy(
      () =>
        tf.reshape(windowPartition(cyclicShift(block.norm1.forward(x), [-s, -s]), ws), [
          nW,
          ws * ws,
          C,
        ]) as tf.Tensor3D,
    );
    const mask = shiftedWindowMask(H, W, ws, s);
    const direct = block.attn.attentionProbs(tokens, mask);
    expect(maxDiff(await probs.data(), await direct.data()).abs).toBe(0);
    // probs @ v -> proj -> un-partition, un-roll -> residual -> MLP = the block's (and the official) output
    const rebuilt = tf.tidy(() => {
      const attended = tf.reshape(applyProbs(block.attn, tokens, probs), [nW, ws, ws, C]);
      const rows = tf.concat(
        Array.from({ length: H / ws }, (_, r) =>
          tf.concat(
            Array.from({ length: W / ws }, (_, c) => tf.slice(attended, [r * (W / ws) + c], [1])),
            2,
          ),
        ),
        1,
      ); // [1, H, W, C] of the rolled map
      const y = tf.add(x, cyclicShift(rows as tf.Tensor4D, [s, s]));
      return tf.add(y, block.mlp.forward(block.norm2.forward(y)));
    });
    const out = block.forward(x);
    expect(maxDiff(await rebuilt.data(), await out.data()).abs).toBeLessThan(1e-4);
    expect(maxDiff(await rebuilt.data(), await fx.expected.output.data()).abs).toBeLessThan(1e-4);
    await expectNoLeak(() => block.attentionProbs(x), 'SwinTransformerBlock.attentionProbs');
    expect(() => block.attentionProbs(tf.zeros([1, H, W, C + 1]) as tf.Tensor4D)).toThrow(
      /SwinTransformerBlock\.attentionProbs/,
    );
    tf.dispose([x, probs, tokens, mask, direct, rebuilt, out]);
    block.dispose();
    fx.dispose();
  });

  it('SwinTransformerBlock.attentionProbs on a padded map: real tokens give the padding ~0 weight', async () => {
    await useBackend(backend);
    const [H, W, C, ws, s] = [6, 5, 8, 4, 2];
    const block = new SwinTransformerBlock(C, null, 2, { windowSize: ws, shiftSize: s });
    randomizeParams(block, 0.5, 9);
    const x = tf.randomNormal([2, H, W, C], 0, 1, 'float32', 2) as tf.Tensor4D;
    const probs = block.attentionProbs(x);
    const [Hp, Wp] = block.paddedSize(H, W);
    expect([Hp, Wp]).toEqual([8, 8]);
    const nW = (Hp / ws) * (Wp / ws);
    const N = ws * ws;
    expect(probs.shape).toEqual([2 * nW, 2, N, N]);
    const p = await probs.data();
    // token i of window (r, c) came from pixel ((r*ws + i/ws + s) mod Hp, (c*ws + i%ws + s) mod Wp)
    const isPad = (w: number, i: number) => {
      const r = Math.floor((w % nW) / (Wp / ws));
      const c = (w % nW) % (Wp / ws);
      const y = (r * ws + Math.floor(i / ws) + s) % Hp;
      const xx = (c * ws + (i % ws) + s) % Wp;
      return y >= H || xx >= W;
    };
    let toPad = 0;
    let pads = 0;
    for (let w = 0; w < 2 * nW; w++)
      for (let h = 0; h < 2; h++)
        for (let i = 0; i < N; i++) {
          if (isPad(w, i)) continue;
          for (let j = 0; j < N; j++)
            if (isPad(w, j)) {
              pads++;
              toPad = Math.max(toPad, p[((w * 2 + h) * N + i) * N + j]);
            }
        }
    expect(pads).toBeGreaterThan(0);
    expect(toPad).toBeLessThan(1e-30);
    tf.dispose([x, probs]);
    block.dispose();
  });
});
