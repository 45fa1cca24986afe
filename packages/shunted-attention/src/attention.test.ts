import { expectNoLeak, loadFixture, NODE_BACKENDS, tf, useBackend } from '@swin/testing';
import fc from 'fast-check';
import { beforeAll, describe, expect, it } from 'vitest';
import { attentionArgsFromKwargs, ShuntedAttention } from './index.js';
import { maxAbs, maxAbsDiff, randomize } from './test-utils/helpers.js';
import { referenceAttention, type Weights } from './test-utils/reference.js';

function fixtureWeights(sd: Record<string, tf.Tensor>): Weights {
  const w: Weights = {};
  for (const [k, t] of Object.entries(sd)) w[k] = { shape: [...t.shape], data: t.dataSync() as Float32Array };
  return w;
}

describe('plain-JS reference transcription of SSA.py Attention', () => {
  beforeAll(async () => {
    await useBackend('cpu');
  });
  it.each([
    'shunted_attention_sr1_4x4',
    'shunted_attention_sr2_8x8',
    'shunted_attention_sr4_8x8',
    'shunted_attention_sr8_16x16',
  ])('reproduces %s (validates the reference used for odd sizes)', (name) => {
    const fx = loadFixture(`${name}.safetensors`);
    try {
      const kw = fx.config.kwargs;
      const x = (fx.inputs.input.arraySync() as number[][][])[0];
      const expected = (fx.expected.output.arraySync() as number[][][])[0];
      const y = referenceAttention(
        x,
        fx.config.forward.H,
        fx.config.forward.W,
        fixtureWeights(fx.stateDict),
        kw.num_heads,
        kw.sr_ratio,
      );
      expect(maxAbsDiff(y, expected)).toBeLessThan(1e-5);
    } finally {
      fx.dispose();
    }
  });
});

describe.each(NODE_BACKENDS)('ShuntedAttention on %s', (backend) => {
  beforeAll(async () => {
    await useBackend(backend);
  });

  // Sizes that are not multiples of the reductions: the strided convs drop the remainder (PyTorch).
  const CASES: [number, number, number, number, number][] = [
    // [srRatio, H, W, dim, heads]
    [1, 3, 5, 16, 2],
    [1, 1, 1, 8, 1],
    [2, 5, 7, 16, 2],
    [2, 2, 3, 8, 4],
    [4, 9, 10, 16, 2],
    [4, 4, 7, 16, 4],
    [8, 17, 9, 16, 2],
    [8, 8, 8, 8, 2],
  ];
  it.each(CASES)(
    'sr %i on a %ix%i map (dim %i, %i heads) matches the reference transcription',
    (sr, H, W, dim, heads) => {
      const m = new ShuntedAttention(dim, { numHeads: heads, srRatio: sr, qkvBias: true });
      try {
        const w = randomize(m, 10 * sr + H);
        const x = tf.randomNormal([2, H * W, dim], 0, 1, 'float32', 7) as tf.Tensor3D;
        const y = m.forwardTokens(x, H, W);
        const xs = x.arraySync();
        const ys = y.arraySync();
        for (let b = 0; b < 2; b++) {
          const ref = referenceAttention(xs[b], H, W, w, heads, sr);
          expect(maxAbsDiff(ys[b], ref)).toBeLessThan(Math.min(1e-4, 1e-3 * maxAbs(ref)));
        }
        // NHWC interface = token interface
        const y4 = m.forward(tf.reshape(x, [2, H, W, dim]) as tf.Tensor4D);
        expect(y4.shape).toEqual([2, H, W, dim]);
        expect(
          maxAbsDiff(
            tf.reshape(y4, [2 * H * W, dim]).arraySync() as number[][],
            tf.reshape(y, [2 * H * W, dim]).arraySync() as number[][],
          ),
        ).toBe(0);
        tf.dispose([x, y, y4]);
      } finally {
        m.dispose();
      }
    },
  );

  it('is batch-independent (property: image b of a batch = that image alone)', () => {
    const m = new ShuntedAttention(16, { numHeads: 2, srRatio: 4, qkvBias: true });
    randomize(m, 3);
    try {
      fc.assert(
        fc.property(
          fc.integer({ min: 4, max: 9 }),
          fc.integer({ min: 4, max: 9 }),
          fc.integer({ min: 1, max: 3 }),
          (H, W, B) => {
            tf.tidy(() => {
              const x = tf.randomNormal([B, H * W, 16]) as tf.Tensor3D;
              const all = m.forwardTokens(x, H, W);
              const last = m.forwardTokens(tf.slice(x, [B - 1, 0, 0], [1, H * W, 16]), H, W);
              const d = tf
                .max(tf.abs(tf.sub(tf.slice(all, [B - 1, 0, 0], [1, H * W, 16]), last)))
                .dataSync()[0];
              expect(d).toBeLessThan(1e-5);
            });
          },
        ),
        { numRuns: 8 },
      );
    } finally {
      m.dispose();
    }
  });

  it('registers exactly the official state_dict keys', () => {
    const a = new ShuntedAttention(16, { numHeads: 2, srRatio: 8, qkvBias: true });
    const b = new ShuntedAttention(16, { numHeads: 2, srRatio: 1, qkvBias: false });
    try {
      expect(a.namedParameters().map(([k]) => k)).toEqual([
        'q.weight',
        'q.bias',
        'proj.weight',
        'proj.bias',
        'sr1.weight',
        'sr1.bias',
        'norm1.weight',
        'norm1.bias',
        'sr2.weight',
        'sr2.bias',
        'norm2.weight',
        'norm2.bias',
        'kv1.weight',
        'kv1.bias',
        'kv2.weight',
        'kv2.bias',
        'local_conv1.weight',
        'local_conv1.bias',
        'local_conv2.weight',
        'local_conv2.bias',
      ]);
      const sd = a.stateDict();
      expect(sd['sr1.weight'].shape).toEqual([16, 16, 8, 8]);
      expect(sd['sr2.weight'].shape).toEqual([16, 16, 4, 4]);
      expect(sd['local_conv1.weight'].shape).toEqual([8, 1, 3, 3]);
      tf.dispose(Object.values(sd));
      expect(b.namedParameters().map(([k]) => k)).toEqual([
        'q.weight',
        'proj.weight',
        'proj.bias',
        'kv.weight',
        'local_conv.weight',
        'local_conv.bias',
      ]);
      const s2 = new ShuntedAttention(16, { numHeads: 4, srRatio: 2 });
      expect(s2.sr![1].kernel).toEqual([1, 1]);
      s2.dispose();
    } finally {
      a.dispose();
      b.dispose();
    }
  });

  it('leaks nothing (forward and forwardTokens, every sr)', async () => {
    for (const sr of [1, 2, 4, 8]) {
      const m = new ShuntedAttention(16, { numHeads: 2, srRatio: sr, qkvBias: true });
      const x = tf.randomNormal([1, 9, 10, 16]) as tf.Tensor4D;
      const t = tf.reshape(x, [1, 90, 16]) as tf.Tensor3D;
      await expectNoLeak(() => m.forward(x), `forward sr ${sr}`);
      await expectNoLeak(() => m.forwardTokens(t, 9, 10), `forwardTokens sr ${sr}`);
      await expectNoLeak(() => {
        const { value, grads } = tf.variableGrads(() => tf.sum(m.forward(x)) as tf.Scalar);
        return [value, ...Object.values(grads)];
      }, `gradients sr ${sr}`);
      tf.dispose([x, t]);
      m.dispose();
    }
  });

  it('the attention-dropout path (training, attn_drop > 0) equals the fused path when nothing is dropped', async () => {
    // attn_drop 1e-9 takes the materialised-probabilities path (smallBatchMatMul, softmax, dropout) but
    // drops nothing in practice, so values and gradients must match the fused attentionCore path.
    for (const [sr, heads] of [
      [1, 2],
      [2, 4],
      [8, 2],
    ]) {
      const fused = new ShuntedAttention(16, { numHeads: heads, srRatio: sr, qkvBias: true });
      const dropped = new ShuntedAttention(16, {
        numHeads: heads,
        srRatio: sr,
        qkvBias: true,
        attnDrop: 1e-9,
      });
      try {
        randomize(fused, 5 + sr);
        randomize(dropped, 5 + sr);
        dropped.train();
        const x = tf.randomNormal([2, 9, 10, 16], 0, 1, 'float32', sr) as tf.Tensor4D;
        const r = tf.randomNormal([2, 9, 10, 16], 0, 1, 'float32', 3) as tf.Tensor4D;
        const run = (m: ShuntedAttention) =>
          tf.variableGrads(() => tf.sum(tf.mul(m.forward(x), r)) as tf.Scalar, m.trainableVariables());
        const a = run(fused);
        const b = run(dropped);
        expect(Math.abs(a.value.dataSync()[0] - b.value.dataSync()[0])).toBeLessThan(1e-3);
        const names = fused.namedParameters().map(([k]) => k);
        const av = fused.trainableVariables();
        const bv = dropped.trainableVariables();
        for (let i = 0; i < av.length; i++) {
          const ga = a.grads[av[i].name].dataSync();
          const gb = b.grads[bv[i].name].dataSync();
          const scale = Math.max(1, ...Array.from(ga, Math.abs));
          expect(maxAbsDiff([Array.from(ga)], [Array.from(gb)]), `sr ${sr} ${names[i]}`).toBeLessThan(
            1e-4 * scale,
          );
        }
        await expectNoLeak(() => dropped.forward(x), `dropout-path forward sr ${sr}`);
        tf.dispose([x, r, a.value, b.value, ...Object.values(a.grads), ...Object.values(b.grads)]);
      } finally {
        fused.dispose();
        dropped.dispose();
      }
    }
  });

  it('throws clear errors on bad arguments and inputs', () => {
    expect(() => new ShuntedAttention(16, { numHeads: 3, srRatio: 2 })).toThrow(
      /num_heads 3 .*divided|dim 16 should be divided by num_heads 3/,
    );
    expect(() => new ShuntedAttention(12, { numHeads: 3, srRatio: 4 })).toThrow(
      /num_heads must be even .*num_heads 3 with sr_ratio 4/,
    );
    expect(() => new ShuntedAttention(12, { numHeads: 3, srRatio: 1 })).not.toThrow();
    expect(() => new ShuntedAttention(16, { numHeads: 2, srRatio: 3 })).toThrow(
      /sr_ratio 3 is not supported/,
    );
    expect(() => new ShuntedAttention(16, { numHeads: 2, srRatio: 16 })).toThrow(/sr_ratio 16/);
    const m = new ShuntedAttention(16, { numHeads: 2, srRatio: 8, label: 'block1.0.attn' });
    try {
      const x = tf.zeros([1, 42, 16]) as tf.Tensor3D;
      expect(() => m.forwardTokens(x, 6, 7)).toThrow(
        /block1\.0\.attn: the 6x7 token map is smaller than the 8x8 reduction conv sr1 of sr_ratio 8/,
      );
      expect(() => m.forwardTokens(x, 7, 7)).toThrow(/42 tokens do not form the 7x7 map/);
      expect(() => m.forwardTokens(tf.zeros([1, 64, 8]) as tf.Tensor3D, 8, 8)).toThrow(
        /block1\.0\.attn: x has 8 channels .*expected 16/,
      );
      expect(() => m.forward(tf.zeros([64, 16]) as unknown as tf.Tensor4D)).toThrow(
        /forward: x must be a 4-D NHWC tensor/,
      );
      expect(() => m.forwardTokens(x, 0, 42)).toThrow(/positive integers/);
      x.dispose();
    } finally {
      m.dispose();
    }
  });

  it('qk_scale follows the reference (`qk_scale or head_dim ** -0.5`)', () => {
    const [dim, opts] = attentionArgsFromKwargs({ dim: 32, num_heads: 4, qk_scale: null, sr_ratio: 2 });
    const a = new ShuntedAttention(dim, opts);
    const b = new ShuntedAttention(32, { numHeads: 4, qkScale: 0 });
    const c = new ShuntedAttention(32, { numHeads: 4, qkScale: 0.5 });
    expect(a.scale).toBeCloseTo(8 ** -0.5, 12);
    expect(b.scale).toBeCloseTo(8 ** -0.5, 12);
    expect(c.scale).toBe(0.5);
    for (const m of [a, b, c]) m.dispose();
  });
});
