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
import { PatchEmbed } from './patch-embed.js';
import { mergePatches2x2, PatchMerging } from './patch-merging.js';

/** Brute-force reference of the official concat order on plain arrays. */
function mergeRef(x: number[][][][]): number[][][][] {
  const B = x.length;
  const H = x[0].length;
  const W = x[0][0].length;
  const out: number[][][][] = [];
  for (let b = 0; b < B; b++) {
    const rows: number[][][] = [];
    for (let i = 0; i < H / 2; i++) {
      const cols: number[][] = [];
      for (let j = 0; j < W / 2; j++) {
        cols.push([
          ...x[b][2 * i][2 * j],
          ...x[b][2 * i + 1][2 * j],
          ...x[b][2 * i][2 * j + 1],
          ...x[b][2 * i + 1][2 * j + 1],
        ]);
      }
      rows.push(cols);
    }
    out.push(rows);
  }
  return out;
}

describe.each(NODE_BACKENDS)('patch layers on %s', (backend) => {
  it('PatchMerging matches the fixtures (8x8 C16, 4x6 C8)', async () => {
    await useBackend(backend);
    for (const file of ['patch_merging_8x8_c16.safetensors', 'patch_merging_4x6_c8.safetensors']) {
      const fx = loadFixture(file);
      const { dim, input_resolution } = fx.config.kwargs;
      const m = new PatchMerging(dim);
      m.loadStateDict(fx.stateDict);
      const [H, W] = input_resolution;
      const x = fx.inputs.input;
      const B = x.shape[0];
      const y = m.forward(tf.reshape(x, [B, H, W, dim]) as tf.Tensor4D);
      const out = tf.reshape(y, [B, -1, 2 * dim]);
      const c = compareTensors(out, fx.expected.output, toleranceFor(fx.family));
      expect(c.ok, `${file}: ${c.message}`).toBe(true);
      tf.dispose([y, out]);
      m.dispose();
      fx.dispose();
    }
  });

  it('PatchEmbed matches the fixture (32x32 p4 C16)', async () => {
    await useBackend(backend);
    const fx = loadFixture('patch_embed_32_p4_c16.safetensors');
    const k = fx.config.kwargs;
    const m = new PatchEmbed({
      patchSize: k.patch_size,
      inChans: k.in_chans,
      embedDim: k.embed_dim,
      norm: k.norm_layer != null,
      eps: k.norm_layer?.eps ?? 1e-5,
    });
    m.loadStateDict(fx.stateDict);
    const y = m.forward(fx.inputs.input as tf.Tensor4D);
    const out = tf.reshape(y, fx.expected.output.shape);
    const c = compareTensors(out, fx.expected.output, toleranceFor(fx.family));
    expect(c.ok, c.message).toBe(true);
    tf.dispose([y, out]);
    m.dispose();
    fx.dispose();
  });

  it('mergePatches2x2 equals a loop reference', async () => {
    await useBackend(backend);
    const x = tf.randomNormal([2, 4, 6, 3]);
    const y = mergePatches2x2(x as tf.Tensor4D);
    expect(y.arraySync()).toEqual(mergeRef(x.arraySync() as number[][][][]));
    tf.dispose([x, y]);
  });

  it('odd sizes pad bottom/right; sizes and leaks', async () => {
    await useBackend(backend);
    const pm = new PatchMerging(4);
    const pe = new PatchEmbed({ patchSize: 4, inChans: 3, embedDim: 8 });
    const x = tf.randomNormal([1, 5, 7, 4]) as tf.Tensor4D;
    const y = pm.forward(x);
    expect(y.shape).toEqual([1, 3, 4, 8]);
    // padded equals explicit zero padding
    const xp = tf.pad(x, [
      [0, 0],
      [0, 1],
      [0, 1],
      [0, 0],
    ]) as tf.Tensor4D;
    const y2 = pm.forward(xp);
    expect(tf.max(tf.abs(tf.sub(y, y2))).dataSync()[0]).toBe(0);
    const img = tf.randomNormal([2, 37, 53, 3]) as tf.Tensor4D;
    const e = pe.forward(img);
    expect(e.shape).toEqual([2, 10, 14, 8]);
    expect(pe.outSize(37, 53)).toEqual([10, 14]);
    expect(pm.outSize(5, 7)).toEqual([3, 4]);
    await expectNoLeak(() => pm.forward(x), 'PatchMerging.forward');
    await expectNoLeak(() => pe.forward(img), 'PatchEmbed.forward');
    expect(() => pm.forward(tf.zeros([1, 4, 4, 5]) as tf.Tensor4D)).toThrow(
      /PatchMerging.*5 channels.*expected 4/,
    );
    expect(() => pe.forward(tf.zeros([4, 4, 3]) as unknown as tf.Tensor4D)).toThrow(/PatchEmbed.*4-D/);
    tf.dispose([x, y, xp, y2, img, e]);
    pm.dispose();
    pe.dispose();
  });
});
