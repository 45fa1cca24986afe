import { Dropout } from '@swin/nn';
import { expectNoLeak, NODE_BACKENDS, tf, useBackend } from '@swin/testing';
import { beforeAll, describe, expect, it } from 'vitest';
import { GlobalAttention, multiHeadAttention, SRAttention } from './attention.js';
import { GlobalAttentionBlock, PVTBlock, PVTv2Block } from './blocks.js';
import { ConvMlp, OverlapPatchEmbed, PatchEmbed } from './layers.js';

/** Plain-JS multi-head attention of token rows (reference for GlobalAttention). */
function refGlobalAttention(
  x: Float32Array,
  N: number,
  C: number,
  heads: number,
  wqkv: Float32Array, // torch layout [3C, C]
  bqkv: Float32Array,
  wproj: Float32Array, // [C, C]
  bproj: Float32Array,
): Float64Array {
  const hd = C / heads;
  const qkv = new Float64Array(N * 3 * C);
  for (let n = 0; n < N; n++)
    for (let o = 0; o < 3 * C; o++) {
      let s = bqkv[o];
      for (let i = 0; i < C; i++) s += x[n * C + i] * wqkv[o * C + i];
      qkv[n * 3 * C + o] = s;
    }
  const att = new Float64Array(N * C);
  const scale = hd ** -0.5;
  for (let h = 0; h < heads; h++)
    for (let i = 0; i < N; i++) {
      const logits = new Float64Array(N);
      for (let j = 0; j < N; j++) {
        let s = 0;
        for (let d = 0; d < hd; d++) s += qkv[i * 3 * C + h * hd + d] * qkv[j * 3 * C + C + h * hd + d];
        logits[j] = s * scale;
      }
      const mx = Math.max(...logits);
      let z = 0;
      for (let j = 0; j < N; j++) z += Math.exp(logits[j] - mx);
      for (let d = 0; d < hd; d++) {
        let s = 0;
        for (let j = 0; j < N; j++) s += (Math.exp(logits[j] - mx) / z) * qkv[j * 3 * C + 2 * C + h * hd + d];
        att[i * C + h * hd + d] = s;
      }
    }
  const out = new Float64Array(N * C);
  for (let n = 0; n < N; n++)
    for (let o = 0; o < C; o++) {
      let s = bproj[o];
      for (let i = 0; i < C; i++) s += att[n * C + i] * wproj[o * C + i];
      out[n * C + o] = s;
    }
  return out;
}

function randomizeParams(m: { namedParameters(): [string, tf.Variable][] }, std = 0.3): void {
  for (const [, v] of m.namedParameters()) tf.tidy(() => v.assign(tf.randomNormal(v.shape, 0, std)));
}

function maxAbsDiff(a: ArrayLike<number>, b: ArrayLike<number>): number {
  let m = 0;
  for (let i = 0; i < a.length; i++) m = Math.max(m, Math.abs(a[i] - b[i]));
  return m;
}

describe.each(NODE_BACKENDS)('PVT blocks on %s', (backend) => {
  beforeAll(async () => {
    await useBackend(backend);
  });

  it('GlobalAttention matches a plain-JS multi-head attention (qkv split [3][heads][head_dim])', () => {
    const C = 12;
    const a = new GlobalAttention(C, 3);
    randomizeParams(a);
    const x = tf.randomNormal([1, 3, 5, C]) as tf.Tensor4D;
    const y = a.forward(x);
    const sd = a.stateDict();
    const ref = refGlobalAttention(
      x.dataSync() as Float32Array,
      15,
      C,
      3,
      sd['qkv.weight'].dataSync() as Float32Array,
      sd['qkv.bias'].dataSync() as Float32Array,
      sd['proj.weight'].dataSync() as Float32Array,
      sd['proj.bias'].dataSync() as Float32Array,
    );
    expect(maxAbsDiff(y.dataSync(), ref)).toBeLessThan(1e-4);
    tf.dispose([x, y, ...Object.values(sd)]);
    a.dispose();
  });

  it('multiHeadAttention: the attention-dropout path equals the fused path when nothing is dropped', async () => {
    // p = 1e-9 in training mode takes the materialised-probabilities path (smallBatchMatMul, softmax,
    // dropout) but drops nothing in practice: values and gradients must match the fused attentionCore path.
    const drop = new Dropout(1e-9).train();
    for (const [B, N, M, C, heads] of [
      [1, 7, 7, 8, 1],
      [2, 10, 4, 12, 3],
      [3, 5, 9, 16, 2],
    ]) {
      const shapes: [number, number, number][] = [
        [B, N, C],
        [B, M, C],
        [B, M, C],
        [B, N, C],
      ];
      const [q, k, v, r] = shapes.map((s, i) => tf.randomNormal(s, 0, 1, 'float32', 10 + i) as tf.Tensor3D);
      const f = (d?: Dropout) =>
        tf.grads((a: tf.Tensor, b: tf.Tensor, c: tf.Tensor) =>
          tf.sum(
            tf.mul(
              multiHeadAttention(a as tf.Tensor3D, b as tf.Tensor3D, c as tf.Tensor3D, heads, 0.4, d),
              r,
            ),
          ),
        )([q, k, v]);
      const y0 = multiHeadAttention(q, k, v, heads, 0.4);
      const y1 = multiHeadAttention(q, k, v, heads, 0.4, drop);
      expect(maxAbsDiff(y0.dataSync(), y1.dataSync())).toBeLessThan(1e-5);
      const g0 = f();
      const g1 = f(drop);
      for (let i = 0; i < 3; i++) {
        expect(
          maxAbsDiff(g0[i].dataSync(), g1[i].dataSync()),
          `[${B},${N},${M},${C}] x${heads} grad ${i}`,
        ).toBeLessThan(1e-4);
      }
      await expectNoLeak(() => multiHeadAttention(q, k, v, heads, 0.4, drop), 'dropout path');
      await expectNoLeak(() => f(drop), 'dropout path gradients');
      tf.dispose([q, k, v, r, y0, y1, ...g0, ...g1]);
    }
  });

  it('blocks keep NHWC shape; forward and forwardTokens agree; batch items are independent', () => {
    const blocks = [
      new PVTBlock(16, 2, { srRatio: 2, qkvBias: true }),
      new PVTv2Block(16, 2, { srRatio: 2, qkvBias: true }),
      new PVTv2Block(16, 4, { linear: true, qkvBias: true }),
      new GlobalAttentionBlock(16, 4),
    ];
    const x = tf.randomNormal([2, 5, 7, 16]) as tf.Tensor4D; // odd map: the sr-2 conv floors to 2x3
    for (const b of blocks) {
      randomizeParams(b, 0.2);
      const y = b.forward(x);
      expect(y.shape).toEqual([2, 5, 7, 16]);
      const yt =
        b instanceof GlobalAttentionBlock
          ? b.forwardTokens(tf.reshape(x, [2, 35, 16]) as tf.Tensor3D)
          : b.forwardTokens(tf.reshape(x, [2, 35, 16]) as tf.Tensor3D, 5, 7);
      expect(maxAbsDiff(y.dataSync(), yt.dataSync())).toBeLessThan(1e-5);
      const x1 = tf.slice(x, [1, 0, 0, 0], [1, 5, 7, 16]);
      const y1 = b.forward(x1);
      const y1ref = tf.slice(y, [1, 0, 0, 0], [1, 5, 7, 16]);
      expect(maxAbsDiff(y1.dataSync(), y1ref.dataSync())).toBeLessThan(1e-5);
      tf.dispose([y, yt, x1, y1, y1ref]);
      b.dispose();
    }
    x.dispose();
  });

  it('v1 blocks take the class token with sr_ratio 1 (N = 1 + H*W) and refuse it with a reduction', () => {
    const b = new PVTBlock(8, 2, { srRatio: 1 });
    const t = tf.randomNormal([1, 1 + 6, 8]) as tf.Tensor3D;
    const y = b.forwardTokens(t, 2, 3);
    expect(y.shape).toEqual([1, 7, 8]);
    const r = new PVTBlock(8, 2, { srRatio: 2, name: 'block4.0' });
    expect(() => r.forwardTokens(t, 2, 3)).toThrow(/block4\.0\.attn: 7 tokens do not form the 2x3 map/);
    tf.dispose([t, y]);
    b.dispose();
    r.dispose();
  });

  it('state-dict keys are the official ones', () => {
    const v1 = new PVTBlock(8, 2, { srRatio: 2, qkvBias: true });
    expect(v1.namedParameters().map(([k]) => k)).toEqual([
      'norm1.weight',
      'norm1.bias',
      'attn.q.weight',
      'attn.q.bias',
      'attn.kv.weight',
      'attn.kv.bias',
      'attn.proj.weight',
      'attn.proj.bias',
      'attn.sr.weight',
      'attn.sr.bias',
      'attn.norm.weight',
      'attn.norm.bias',
      'norm2.weight',
      'norm2.bias',
      'mlp.fc1.weight',
      'mlp.fc1.bias',
      'mlp.fc2.weight',
      'mlp.fc2.bias',
    ]);
    const v2 = new PVTv2Block(8, 2, { linear: true });
    const keys = v2.namedParameters().map(([k]) => k);
    expect(keys).toContain('mlp.dwconv.dwconv.weight');
    expect(keys).toContain('attn.sr.weight');
    expect(keys).not.toContain('attn.q.bias');
    const g = new GlobalAttentionBlock(8, 2);
    expect(g.namedParameters().map(([k]) => k)).toEqual([
      'norm1.weight',
      'norm1.bias',
      'attn.qkv.weight',
      'attn.qkv.bias',
      'attn.proj.weight',
      'attn.proj.bias',
      'norm2.weight',
      'norm2.bias',
      'mlp.fc1.weight',
      'mlp.fc1.bias',
      'mlp.fc2.weight',
      'mlp.fc2.bias',
    ]);
    for (const m of [v1, v2, g]) m.dispose();
  });

  it('patch embeds implement Downsample: outSize matches forward (remainders dropped / padded)', () => {
    const pe = new PatchEmbed(3, 8, 4);
    const ope = new OverlapPatchEmbed(3, 8, 7, 4);
    const ope2 = new OverlapPatchEmbed(8, 16, 3, 2);
    for (const [H, W] of [
      [13, 9],
      [16, 16],
      [5, 31],
    ]) {
      const x = tf.randomNormal([1, H, W, 3]) as tf.Tensor4D;
      const a = pe.forward(x);
      const b = ope.forward(x);
      const c = ope2.forward(b);
      expect(a.shape.slice(1, 3)).toEqual(pe.outSize(H, W));
      expect(a.shape.slice(1, 3)).toEqual([Math.floor(H / 4), Math.floor(W / 4)]);
      expect(b.shape.slice(1, 3)).toEqual(ope.outSize(H, W));
      expect(b.shape.slice(1, 3)).toEqual([Math.floor((H - 1) / 4) + 1, Math.floor((W - 1) / 4) + 1]);
      expect(c.shape.slice(1, 3)).toEqual([Math.ceil(b.shape[1] / 2), Math.ceil(b.shape[2] / 2)]);
      tf.dispose([x, a, b, c]);
    }
    for (const m of [pe, ope, ope2]) m.dispose();
  });

  it('ConvMlp applies ReLU before the depthwise conv only when linear', () => {
    const a = new ConvMlp(4, 8, 4, { linear: false });
    const b = new ConvMlp(4, 8, 4, { linear: true });
    randomizeParams(a, 0.5);
    const sd = a.stateDict();
    b.loadStateDict(sd);
    tf.dispose(Object.values(sd));
    const x = tf.randomNormal([1, 3, 3, 4]) as tf.Tensor4D;
    const ya = a.forward(x);
    const yb = b.forward(x);
    expect(maxAbsDiff(ya.dataSync(), yb.dataSync())).toBeGreaterThan(1e-2);
    tf.dispose([x, ya, yb]);
    a.dispose();
    b.dispose();
  });

  it('bad inputs throw clear errors', () => {
    expect(() => new SRAttention(10, 3)).toThrow(/dim 10 should be divisible by num_heads 3/);
    expect(() => new GlobalAttentionBlock(10, 4)).toThrow(/dim 10 should be divisible by num_heads 4/);
    expect(() => new PVTv2Block(12, 5)).toThrow(/divisible/);
    const a = new SRAttention(8, 2, { srRatio: 4, name: 'stage 2 block2.0.attn' });
    const x = tf.zeros([1, 3, 8, 8]) as tf.Tensor4D;
    expect(() => a.forward(x)).toThrow(
      /stage 2 block2\.0\.attn: the 3x8 feature map is smaller than sr_ratio 4/,
    );
    const wrongC = tf.zeros([1, 4, 4, 6]) as tf.Tensor4D;
    expect(() => a.forward(wrongC)).toThrow(
      /stage 2 block2\.0\.attn\.forward: x has 6 channels .*expected 8/,
    );
    const pe = new PatchEmbed(8, 8, 2, { name: 'PVT stage 3 patch_embed3' });
    const tiny = tf.zeros([1, 1, 5, 8]) as tf.Tensor4D;
    expect(() => pe.forward(tiny)).toThrow(
      /PVT stage 3 patch_embed3: the 1x5 input is smaller than the 2x2 stride-2 patch/,
    );
    const blk = new PVTv2Block(8, 2, { name: 'blk' });
    expect(() => blk.forward(wrongC)).toThrow(/blk\.forward: x has 6 channels .*expected 8/);
    tf.dispose([x, wrongC, tiny]);
    for (const m of [a, pe, blk]) m.dispose();
  });

  it('leak nothing (forward and gradients)', async () => {
    const x = tf.randomNormal([1, 6, 5, 16]) as tf.Tensor4D;
    const blocks = [
      new PVTBlock(16, 2, { srRatio: 2 }),
      new PVTv2Block(16, 2, { srRatio: 3 }),
      new PVTv2Block(16, 2, { linear: true }),
      new GlobalAttentionBlock(16, 2),
    ];
    for (const b of blocks) {
      await expectNoLeak(() => b.forward(x), `${b.constructor.name}.forward`);
      await expectNoLeak(() => {
        const { value, grads } = tf.variableGrads(() => tf.sum(tf.square(b.forward(x))) as tf.Scalar);
        return [value, ...Object.values(grads)];
      }, `${b.constructor.name} gradients`);
      await expectNoLeak(() => b.stateDict(), `${b.constructor.name}.stateDict`);
      b.dispose();
    }
    x.dispose();
  });

  it('finite differences agree with the gradient (each parameter and the input, random directions)', () => {
    const blocks = [
      new PVTBlock(8, 2, { srRatio: 2, qkvBias: true, normEps: 1e-6 }),
      new PVTv2Block(8, 2, { srRatio: 2, qkvBias: true }),
      new PVTv2Block(8, 2, { linear: true, qkvBias: true }),
      new GlobalAttentionBlock(8, 2),
    ];
    for (const b of blocks) {
      randomizeParams(b, 0.3);
      if (b instanceof PVTv2Block && b.attn.linear) {
        // Keep the Mlp's ReLU inputs far from its kink (finite differences across it are meaningless):
        // half the hidden units always on, half always off.
        const fc1 = b.mlp.fc1;
        tf.tidy(() => {
          fc1.weight.assign(tf.randomNormal(fc1.weight.shape, 0, 0.05));
          fc1.bias!.assign(tf.tensor1d(Array.from({ length: fc1.outFeatures }, (_, i) => (i % 2 ? 2 : -2))));
        });
      }
      const x = tf.variable(tf.randomNormal([1, 4, 5, 8]));
      const r = tf.randomNormal([1, 4, 5, 8]);
      const vars: [string, tf.Variable][] = [...b.namedParameters(), ['input', x]];
      const loss = () => tf.sum(tf.mul(b.forward(x as unknown as tf.Tensor4D), r)) as tf.Scalar;
      const { value, grads } = tf.variableGrads(
        loss,
        vars.map(([, v]) => v),
      );
      const eps = 1e-3;
      for (const [name, v] of vars) {
        const d = tf.randomNormal(v.shape);
        const analytic = tf.tidy(() => tf.sum(tf.mul(grads[v.name], d)).dataSync()[0]);
        const move = (s: number) => tf.tidy(() => v.assign(tf.add(v, tf.mul(d, s))));
        move(eps);
        const lp = tf.tidy(() => loss().dataSync()[0]);
        move(-2 * eps);
        const lm = tf.tidy(() => loss().dataSync()[0]);
        move(eps);
        d.dispose();
        const numeric = (lp - lm) / (2 * eps);
        expect(
          Math.abs(numeric - analytic),
          `${b.constructor.name}${(b as PVTv2Block).attn?.linear ? ' (linear)' : ''} ${name}: finite difference ${numeric} vs gradient ${analytic}`,
        ).toBeLessThan(2e-2 * Math.max(1, Math.abs(analytic)));
      }
      tf.dispose([value, ...Object.values(grads), x, r]);
      b.dispose();
    }
  });
});
