import { Module } from '@swin/nn';
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
import { maxDiff, randomizeParams, stateArrays } from './test-utils/helpers.js';
import { refWindowAttention } from './test-utils/reference.js';
import { clearWindowAttentionCache, WindowAttention } from './window-attention.js';

describe.each(NODE_BACKENDS)('WindowAttention on %s', (backend) => {
  it.each(['window_attention_w4_nomask', 'window_attention_w4_mask_b2'])(
    'matches fixture %s',
    async (name) => {
      await useBackend(backend);
      const fx = loadFixture(`${name}.safetensors`);
      const k = fx.config.kwargs;
      const m = new WindowAttention(k.dim, k.window_size, k.num_heads);
      expect(m.scale).toBe(fx.config.derived.scale);
      m.loadStateDict(fx.stateDict); // strict: also verifies relative_position_index
      const mask = fx.config.forward.mask ? (fx.inputs.mask as tf.Tensor3D) : null;
      if (mask) {
        // the stored mask is the official attn_mask of the named geometry
        const mf = fx.config.forward.mask_from;
        const mine = shiftedWindowMask(
          mf.input_resolution[0],
          mf.input_resolution[1],
          mf.window_size,
          mf.shift_size,
        );
        expect(compareTensors(mine, mask, { exact: true }).ok).toBe(true);
        mine.dispose();
      }
      const y = m.forward(fx.inputs.input as tf.Tensor3D, mask);
      const c = compareTensors(y, fx.expected.output, toleranceFor(fx.family));
      expect(c.ok, c.message).toBe(true);
      await expectNoLeak(() => m.forward(fx.inputs.input as tf.Tensor3D, mask), 'WindowAttention.forward');
      y.dispose();
      m.dispose();
      fx.dispose();
    },
  );

  it('non-square window, qkScale, no qkv bias and a batch-major mask equal a loop reference', async () => {
    await useBackend(backend);
    const [wh, ww, C, nH, nW, B] = [2, 3, 12, 3, 2, 3];
    const N = wh * ww;
    const m = new WindowAttention(C, [wh, ww], nH, { qkvBias: false, qkScale: 0.7 });
    randomizeParams(m, 0.4, 11);
    const x = tf.randomNormal([B * nW, N, C], 0, 1, 'float32', 5) as tf.Tensor3D;
    // a random 0/-100 mask per window
    const maskData = Float32Array.from({ length: nW * N * N }, (_, i) => ((i * 7919) % 5 === 0 ? -100 : 0));
    const mask = tf.tensor3d(maskData, [nW, N, N]);
    const y = m.forward(x, mask);
    const s = stateArrays(m);
    const ref = refWindowAttention(
      x.dataSync(),
      B * nW,
      wh,
      ww,
      C,
      nH,
      {
        qkvW: s['qkv.weight'],
        qkvB: null,
        table: s.relative_position_bias_table,
        projW: s['proj.weight'],
        projB: s['proj.bias'],
      },
      maskData,
      nW,
      0.7,
    );
    const d = maxDiff(y.dataSync(), ref);
    expect(d.abs).toBeLessThan(1e-4);
    expect(s['qkv.bias']).toBeUndefined();
    tf.dispose([x, mask, y]);
    m.dispose();
  });

  it('keeps the relative position bias between inference passes, and follows new table values', async () => {
    await useBackend(backend);
    clearWindowAttentionCache();
    const m = new WindowAttention(8, [2, 2], 2);
    randomizeParams(m, 0.4, 3);
    const x = tf.randomNormal([3, 4, 8], 0, 1, 'float32', 4) as tf.Tensor3D;
    const y1 = m.forward(x);
    const count = tf.memory().numTensors;
    const y2 = m.forward(x); // cached bias: only y2 is new
    expect(tf.memory().numTensors).toBe(count + 1);
    expect(maxDiff(y1.dataSync(), y2.dataSync()).abs).toBe(0);
    // a new table value (an optimizer step, a checkpoint load) must be picked up
    const table = m.relativePositionBiasTable as tf.Variable;
    table.assign(tf.tidy(() => tf.add(table, tf.randomNormal(table.shape, 0, 1, 'float32', 5))));
    const y3 = m.forward(x);
    const s = stateArrays(m);
    const ref = refWindowAttention(
      x.dataSync(),
      3,
      2,
      2,
      8,
      2,
      {
        qkvW: s['qkv.weight'],
        qkvB: s['qkv.bias'],
        table: s.relative_position_bias_table,
        projW: s['proj.weight'],
        projB: s['proj.bias'],
      },
      null,
      1,
      m.scale,
    );
    expect(maxDiff(y3.dataSync(), ref).abs).toBeLessThan(1e-5);
    expect(maxDiff(y3.dataSync(), y1.dataSync()).abs).toBeGreaterThan(1e-3);
    // gradients still reach the table (no cache while a tape records)
    const g = tf.variableGrads(() => tf.sum(tf.square(m.forward(x))) as tf.Scalar, [table]);
    expect(tf.max(tf.abs(g.grads[table.name])).dataSync()[0]).toBeGreaterThan(0);
    tf.dispose([y1, y2, y3, g.value, ...Object.values(g.grads)]);
    await expectNoLeak(() => m.forward(x), 'WindowAttention.forward (cached bias)');
    expect(clearWindowAttentionCache()).toBe(1);
    m.dispose();
    x.dispose();
  });

  it('relativePositionBias: false drops the table and equals attention with a zero bias', async () => {
    await useBackend(backend);
    const m = new WindowAttention(8, [2, 2], 2, { relativePositionBias: false });
    expect(m.relativePositionBiasTable).toBeNull();
    expect(m.namedParameters().map(([k]) => k)).toEqual([
      'qkv.weight',
      'qkv.bias',
      'proj.weight',
      'proj.bias',
    ]);
    const sd = m.stateDict();
    expect(Object.keys(sd)).not.toContain('relative_position_index');
    tf.dispose(Object.values(sd));
    expect(() => m.relativePositionBias()).toThrow(/relativePositionBias: false/);
    randomizeParams(m, 0.4, 3);
    const x = tf.randomNormal([3, 4, 8], 0, 1, 'float32', 4) as tf.Tensor3D;
    const y = m.forward(x);
    const s = stateArrays(m);
    const ref = refWindowAttention(
      x.dataSync(),
      3,
      2,
      2,
      8,
      2,
      {
        qkvW: s['qkv.weight'],
        qkvB: s['qkv.bias'],
        table: new Float32Array(9 * 2),
        projW: s['proj.weight'],
        projB: s['proj.bias'],
      },
      null,
      1,
      m.scale,
    );
    expect(maxDiff(y.dataSync(), ref).abs).toBeLessThan(1e-5);
    const g = tf.variableGrads(() => tf.sum(tf.square(m.forward(x))) as tf.Scalar, m.trainableVariables());
    expect(Object.keys(g.grads)).toHaveLength(4);
    tf.dispose([y, g.value, ...Object.values(g.grads)]);
    await expectNoLeak(() => m.forward(x), 'WindowAttention.forward (no bias)');
    m.dispose();
    x.dispose();
  });

  it('releases the cached bias on dispose, also inside a container that does not know about it', async () => {
    await useBackend(backend);
    clearWindowAttentionCache();
    const x = tf.randomNormal([2, 4, 8], 0, 1, 'float32', 6) as tf.Tensor3D;
    const warm = new WindowAttention(8, [2, 2], 2); // builds the shared index caches once
    tf.dispose(warm.forward(x));
    warm.dispose();
    expect(clearWindowAttentionCache()).toBe(0);
    const before = tf.memory().numTensors;
    const m = new WindowAttention(8, [2, 2], 2);
    tf.dispose(m.forward(x));
    m.dispose();
    expect(tf.memory().numTensors).toBe(before);
    // a container that knows nothing about the cache releases it too: Module.dispose() reaches every child
    class Holder extends Module {
      readonly attn = this.child('attn', new WindowAttention(8, [2, 2], 2));
    }
    const h = new Holder();
    tf.dispose(h.attn.forward(x));
    h.dispose();
    expect(tf.memory().numTensors).toBe(before);
    const other = new WindowAttention(8, [2, 2], 2);
    tf.dispose(other.forward(x));
    other.dispose();
    expect(tf.memory().numTensors).toBe(before);
    x.dispose();
  });

  it('attention dropout in training mode uses the probabilities (random), eval mode is deterministic', async () => {
    await useBackend(backend);
    const m = new WindowAttention(8, [2, 2], 2, { attnDrop: 0.5 });
    randomizeParams(m, 0.4, 7);
    const x = tf.randomNormal([2, 4, 8], 0, 1, 'float32', 8) as tf.Tensor3D;
    const e1 = m.forward(x);
    const e2 = m.forward(x);
    expect(maxDiff(e1.dataSync(), e2.dataSync()).abs).toBe(0);
    m.train();
    const t1 = m.forward(x);
    const t2 = m.forward(x);
    expect(maxDiff(t1.dataSync(), t2.dataSync()).abs).toBeGreaterThan(0);
    m.eval();
    tf.dispose([x, e1, e2, t1, t2]);
    m.dispose();
  });

  it('rejects bad arguments with clear messages', async () => {
    await useBackend(backend);
    expect(() => new WindowAttention(10, 4, 3)).toThrow(
      /WindowAttention: dim=10 is not divisible by numHeads=3/,
    );
    const m = new WindowAttention(8, [2, 2], 2);
    const x = tf.zeros([4, 4, 8]) as tf.Tensor3D;
    expect(() => m.forward(tf.zeros([4, 5, 8]) as tf.Tensor3D)).toThrow(/expected \[B\*nW, 4, 8\]/);
    expect(() => m.forward(tf.zeros([4, 8]) as unknown as tf.Tensor3D)).toThrow(/3-D/);
    expect(() => m.forward(x, tf.zeros([3, 4, 4]) as tf.Tensor3D)).toThrow(
      /not a multiple of the mask's nW=3/,
    );
    expect(() => m.forward(x, tf.zeros([2, 4, 5]) as tf.Tensor3D)).toThrow(/mask has shape/);
    x.dispose();
    m.dispose();
  });
});
