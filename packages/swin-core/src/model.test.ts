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
import { SwinTransformer } from './model.js';
import { swinConfigFromOfficial } from './official.js';

const FIXTURES = ['swin_model_32_p2_ape', 'swin_model_32_p2_ape_epsprobe', 'swin_model_64_w4'];

function outputsByName(
  o: ReturnType<SwinTransformer['forwardWithIntermediates']>,
): Record<string, tf.Tensor> {
  const got: Record<string, tf.Tensor> = { embed: o.embed, pre_logits: o.preLogits, logits: o.logits };
  o.features.forEach((t, i) => {
    got[`features.${i}`] = t;
  });
  o.stageOut.forEach((t, i) => {
    got[`stage_out.${i}`] = t;
  });
  return got;
}

/** A small model for the shape tests (4 stages, window 4, clamped at the last stages). */
function tinyModel(extra: Record<string, unknown> = {}): SwinTransformer {
  return new SwinTransformer({
    imgSize: 32,
    patchSize: 2,
    embedDim: 8,
    depths: [2, 2, 1, 1],
    numHeads: [1, 2, 2, 4],
    windowSize: 4,
    numClasses: 5,
    dropPathRate: 0,
    ...extra,
  });
}

describe.each(NODE_BACKENDS)('SwinTransformer on %s', (backend) => {
  it.each(FIXTURES)('matches every stored output of %s', async (name) => {
    await useBackend(backend);
    const fx = loadFixture(`${name}.safetensors`);
    const model = new SwinTransformer(swinConfigFromOfficial(fx.config.kwargs));
    // effective window / shift of every block as the reference derived them
    const windows = model.blockWindows();
    for (const b of fx.config.derived.blocks) {
      expect(windows[b.stage][b.block]).toEqual([b.window_size, b.shift_size]);
    }
    // same keys as the official state_dict (including the buffers)
    const sd = model.stateDict();
    expect(Object.keys(sd).sort()).toEqual(Object.keys(fx.stateDict).sort());
    tf.dispose(Object.values(sd));
    const report = model.loadCheckpoint(fx.stateDict);
    expect(report.layout).toBe('microsoft');
    expect(report.skippedBuffers).toEqual([]);
    const x = fx.inputs.input as tf.Tensor4D;
    const o = model.forwardWithIntermediates(x);
    const got = outputsByName(o);
    const expectedNames = Object.keys(fx.expected);
    expect(expectedNames).toEqual(expect.arrayContaining(Object.keys(fx.features)));
    for (const n of expectedNames) {
      const c = compareTensors(got[n], fx.expected[n], toleranceFor(fx.family));
      expect(c.ok, `${n}: ${c.message}`).toBe(true);
    }
    // forward / forwardFeatures / forwardHead agree with the intermediates
    const logits = model.forward(x);
    expect(compareTensors(logits, fx.expected.logits, toleranceFor(fx.family)).ok).toBe(true);
    const feats = model.forwardFeatures(x);
    expect(feats.map((f) => f.shape)).toEqual(o.features.map((f) => f.shape));
    const head = model.forwardHead(feats[feats.length - 1]);
    expect(compareTensors(head, fx.expected.logits, toleranceFor(fx.family)).ok).toBe(true);
    await expectNoLeak(
      () => Object.values(outputsByName(model.forwardWithIntermediates(x))),
      'forwardWithIntermediates',
    );
    await expectNoLeak(() => model.forward(x), 'forward');
    tf.dispose([logits, head, ...feats, ...Object.values(got)]);
    model.dispose();
    fx.dispose();
  });

  it('runs odd input sizes (37x53) with the padded path and consistent shapes', async () => {
    await useBackend(backend);
    const model = tinyModel();
    const x = tf.randomNormal([2, 37, 53, 3], 0, 1, 'float32', 1) as tf.Tensor4D;
    const o = model.forwardWithIntermediates(x);
    expect(o.embed.shape).toEqual([2, 19, 27, 8]);
    expect(o.features.map((f) => f.shape)).toEqual([
      [2, 19, 27, 8],
      [2, 10, 14, 16],
      [2, 5, 7, 32],
      [2, 3, 4, 64],
    ]);
    expect(o.stageOut.map((f) => f.shape)).toEqual([
      [2, 140, 16],
      [2, 35, 32],
      [2, 12, 64],
      [2, 12, 64],
    ]);
    expect(o.logits.shape).toEqual([2, 5]);
    expect(Array.from(o.logits.dataSync()).every(Number.isFinite)).toBe(true);
    // batch items are independent (padding/masks never mix images)
    const one = model.forward(tf.slice(x, [1, 0, 0, 0], [1, 37, 53, 3]) as tf.Tensor4D);
    const two = tf.slice(o.logits, [1, 0], [1, 5]);
    expect(tf.max(tf.abs(tf.sub(one, two))).dataSync()[0]).toBeLessThan(1e-5);
    await expectNoLeak(() => model.forward(x), 'forward 37x53');
    tf.dispose([x, one, two, o.embed, ...o.features, ...o.stageOut, o.preLogits, o.logits]);
    model.dispose();
  });

  it('ape models run at another size (bicubically resized absolute_pos_embed)', async () => {
    await useBackend(backend);
    const model = tinyModel({ ape: true, depths: [1, 1, 1, 1] });
    expect(model.absolutePosEmbed?.shape).toEqual([1, 256, 8]);
    const y = model.forward(tf.zeros([1, 40, 24, 3]) as tf.Tensor4D);
    expect(y.shape).toEqual([1, 5]);
    const z = tf.zeros([1, 40, 24, 3]) as tf.Tensor4D;
    await expectNoLeak(() => model.forward(z), 'ape resize');
    z.dispose();
    y.dispose();
    model.dispose();
  });

  it('implements VisionModel: featureInfo, numFeatures, headless models', async () => {
    await useBackend(backend);
    const model = tinyModel({ numClasses: 0 });
    expect(model.numFeatures).toBe(64);
    expect(model.featureInfo).toEqual([
      { channels: 8, reduction: 2, module: 'layers.0.blocks.1' },
      { channels: 16, reduction: 4, module: 'layers.1.blocks.1' },
      { channels: 32, reduction: 8, module: 'layers.2.blocks.0' },
      { channels: 64, reduction: 16, module: 'layers.3.blocks.0' },
    ]);
    expect(model.head).toBeNull();
    const x = tf.randomNormal([1, 32, 32, 3]) as tf.Tensor4D;
    const y = model.forward(x);
    expect(y.shape).toEqual([1, 64]);
    expect(Object.keys(model.stateDict({ includeBuffers: false })).some((k) => k.startsWith('head'))).toBe(
      false,
    );
    tf.dispose([x, y]);
    model.dispose();
  });

  it('rejects bad input and bad configs with clear messages', async () => {
    await useBackend(backend);
    const model = tinyModel();
    expect(() => model.forward(tf.zeros([1, 32, 32, 4]) as tf.Tensor4D)).toThrow(
      /SwinTransformer.forward: x has 4 channels.*expected 3/,
    );
    expect(() => model.forward(tf.zeros([32, 32, 3]) as unknown as tf.Tensor4D)).toThrow(/4-D NHWC/);
    expect(() => model.forwardHead(tf.zeros([1, 2, 2, 8]) as tf.Tensor4D)).toThrow(
      /forwardHead: last has 8 channels/,
    );
    expect(() => tinyModel({ numHeads: [1, 3, 2, 4] })).toThrow(/stage 1: dim=16.*numHeads\[1\]=3/);
    expect(() => tinyModel({ numHeads: [1, 2] })).toThrow(/numHeads must be 4 positive integers/);
    expect(() => tinyModel({ windowSize: 0 })).toThrow(/windowSize must be a positive integer/);
    expect(() => tinyModel({ bogus: 1 })).toThrow(/unknown option 'bogus'/);
    model.dispose();
  });

  it('training mode enables dropout/DropPath; eval is deterministic', async () => {
    await useBackend(backend);
    const model = tinyModel({ dropRate: 0.3, dropPathRate: 0.3, depths: [1, 1, 1, 1] });
    const x = tf.randomNormal([2, 16, 16, 3]) as tf.Tensor4D;
    const a = model.forward(x);
    const b = model.forward(x);
    expect(tf.max(tf.abs(tf.sub(a, b))).dataSync()[0]).toBe(0);
    model.train();
    const c = model.forward(x);
    const d = model.forward(x);
    expect(tf.max(tf.abs(tf.sub(c, d))).dataSync()[0]).toBeGreaterThan(0);
    model.eval();
    tf.dispose([x, a, b, c, d]);
    model.dispose();
  });
});
