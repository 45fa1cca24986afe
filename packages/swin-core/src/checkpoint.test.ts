import { StateDictError } from '@swin/nn';
import { resizeBiasTable } from '@swin/rel-pos-bias';
import { compareTensors, loadFixture, NODE_BACKENDS, tf, toleranceFor, useBackend } from '@swin/testing';
import { describe, expect, it, vi } from 'vitest';
import {
  detectSwinLayout,
  exportTimmLayout,
  loadSwinCheckpoint,
  stripWrapperPrefix,
  timmToMicrosoftLayout,
} from './checkpoint.js';
import { SwinTransformer } from './model.js';
import { swinConfigFromOfficial } from './official.js';

/**
 * The timm rewrite of a Microsoft checkpoint, written out here from the fixtures README section 4 (not
 * with the package's own mapping): drop the buffers, move `layers.i.downsample` to `layers.(i+1)`,
 * rename `head.` to `head.fc.`.
 */
function rewriteToTimm(sd: Record<string, tf.Tensor>): Record<string, tf.Tensor> {
  const out: Record<string, tf.Tensor> = {};
  for (const [k, v] of Object.entries(sd)) {
    if (k.endsWith('relative_position_index') || k.endsWith('attn_mask')) continue;
    let key = k;
    const m = /^layers\.(\d+)\.downsample\.(.*)$/.exec(k);
    if (m) key = `layers.${Number(m[1]) + 1}.downsample.${m[2]}`;
    if (key.startsWith('head.')) key = `head.fc.${key.slice(5)}`;
    out[key] = v;
  }
  return out;
}

function smallModel(extra: Record<string, unknown> = {}): SwinTransformer {
  return new SwinTransformer({
    imgSize: 64,
    patchSize: 4,
    embedDim: 8,
    depths: [2, 2],
    numHeads: [1, 2],
    windowSize: 4,
    numClasses: 3,
    dropPathRate: 0,
    ...extra,
  });
}

describe.each(NODE_BACKENDS)('checkpoint loading on %s', (backend) => {
  it.each(['swin_model_64_w4', 'swin_model_32_p2_ape'])(
    'a timm-layout rewrite of %s loads into the same model and gives the same outputs',
    async (name) => {
      await useBackend(backend);
      const fx = loadFixture(`${name}.safetensors`);
      const timm = rewriteToTimm(fx.stateDict);
      expect(Object.keys(timm).some((k) => k.startsWith('layers.0.downsample'))).toBe(false);
      expect(detectSwinLayout(Object.keys(timm))).toBe('timm');
      const model = new SwinTransformer(swinConfigFromOfficial(fx.config.kwargs));
      const report = loadSwinCheckpoint(model, timm);
      expect(report.layout).toBe('timm');
      expect(report.missing).toEqual([]);
      const o = model.forwardWithIntermediates(fx.inputs.input as tf.Tensor4D);
      const tol = toleranceFor(fx.family);
      const c = compareTensors(o.logits, fx.expected.logits, tol);
      expect(c.ok, c.message).toBe(true);
      // timm's features.i (outputs of timm layers.i) are the same tensors as Microsoft's features.i
      o.features.forEach((f, i) => {
        expect(compareTensors(f, fx.expected[`features.${i}`], tol).ok).toBe(true);
      });
      // the package's own pure mapping agrees with the rewrite, and inverts
      const mine = exportTimmLayout(fx.stateDict);
      expect(Object.keys(mine).sort()).toEqual(Object.keys(timm).sort());
      for (const k of Object.keys(timm)) expect(mine[k]).toBe(timm[k]);
      const back = timmToMicrosoftLayout(mine);
      const noBuffers = Object.keys(fx.stateDict).filter(
        (k) => !/(relative_position_index|attn_mask)$/.test(k),
      );
      expect(Object.keys(back).sort()).toEqual(noBuffers.sort());
      tf.dispose([o.embed, ...o.features, ...o.stageOut, o.preLogits, o.logits]);
      model.dispose();
      fx.dispose();
    },
  );

  it('strips a model./state_dict. wrapper prefix and leaks nothing', async () => {
    await useBackend(backend);
    const src = smallModel();
    const sd = src.stateDict();
    const wrapped = Object.fromEntries(Object.entries(sd).map(([k, v]) => [`state_dict.model.${k}`, v]));
    const dst = smallModel();
    const before = tf.memory().numTensors;
    const report = loadSwinCheckpoint(dst, wrapped);
    expect(tf.memory().numTensors).toBe(before);
    expect(report.strippedPrefix).toBe('state_dict.model.');
    expect(report.layout).toBe('microsoft');
    const x = tf.randomNormal([1, 64, 64, 3]) as tf.Tensor4D;
    const a = src.forward(x);
    const b = dst.forward(x);
    expect(tf.max(tf.abs(tf.sub(a, b))).dataSync()[0]).toBe(0);
    expect(stripWrapperPrefix({ 'patch_embed.proj.weight': a }).prefix).toBe('');
    tf.dispose([x, a, b, ...Object.values(sd)]);
    src.dispose();
    dst.dispose();
  });

  it('resizes relative_position_bias_table for another window (bicubic) and warns once', async () => {
    await useBackend(backend);
    const src = smallModel({ windowSize: 4 });
    const sd = src.stateDict();
    const dst = smallModel({ windowSize: 8 });
    expect(dst.blockWindows()).toEqual([
      [
        [8, 0],
        [8, 4],
      ],
      [
        [8, 0],
        [8, 0],
      ],
    ]);
    const warn = vi.spyOn(console, 'warn').mockImplementation(() => {});
    const report = loadSwinCheckpoint(dst, sd);
    expect(warn).toHaveBeenCalledTimes(1);
    expect(String(warn.mock.calls[0][0])).toMatch(/resized 4 relative_position_bias_table/);
    warn.mockRestore();
    expect(report.resizedTables).toHaveLength(4);
    expect(report.skippedBuffers).toEqual(
      expect.arrayContaining([
        'layers.0.blocks.0.attn.relative_position_index',
        'layers.0.blocks.1.attn.relative_position_index',
        'layers.0.blocks.1.attn_mask',
        'layers.1.blocks.1.attn.relative_position_index',
      ]),
    );
    const key = 'layers.0.blocks.1.attn.relative_position_bias_table';
    const expected = resizeBiasTable(sd[key], 4, 8);
    const loaded = dst.stateDict({ includeBuffers: false })[key];
    expect(loaded.shape).toEqual([225, 1]);
    expect(compareTensors(loaded, expected, { abs: 1e-6, rel: 1e-6 }).ok).toBe(true);
    const y = dst.forward(tf.zeros([1, 64, 64, 3]) as tf.Tensor4D);
    expect(y.shape).toEqual([1, 3]);
    tf.dispose([expected, loaded, y, ...Object.values(sd)]);
    src.dispose();
    dst.dispose();
  });

  it('loads a checkpoint built for another resolution (attn_mask skipped, no warning)', async () => {
    await useBackend(backend);
    const src = smallModel({ imgSize: 32 });
    const sd = src.stateDict();
    expect(sd['layers.0.blocks.1.attn_mask'].shape).toEqual([4, 16, 16]);
    const dst = smallModel({ imgSize: 64 });
    const warn = vi.fn();
    const report = loadSwinCheckpoint(dst, sd, { warn });
    expect(warn).not.toHaveBeenCalled();
    expect(report.skippedBuffers).toEqual(['layers.0.blocks.1.attn_mask']);
    tf.dispose(Object.values(sd));
    src.dispose();
    dst.dispose();
  });

  it('reports a checkpoint of another model/size with keys, shapes and both architectures', async () => {
    await useBackend(backend);
    const model = smallModel();
    const deeper = smallModel({ depths: [2, 3] });
    const wider = smallModel({ embedDim: 16, numHeads: [2, 4] });
    for (const other of [deeper, wider]) {
      const sd = other.stateDict();
      let err: unknown;
      try {
        loadSwinCheckpoint(model, sd);
      } catch (e) {
        err = e;
      }
      expect(err).toBeInstanceOf(StateDictError);
      const msg = (err as Error).message;
      expect(msg).toMatch(/loadSwinCheckpoint \(microsoft layout; checkpoint: .*; model: embedDim=8/);
      if (other === deeper) {
        expect(msg).toMatch(/unexpected keys \(\d+\): layers\.1\.blocks\.2\./);
        expect(msg).toMatch(/depths=\[2,3\]/);
      } else {
        expect(msg).toMatch(
          /shape mismatches .*patch_embed\.proj\.weight expected \[8,3,4,4\] got \[16,3,4,4\]/,
        );
        expect(msg).toMatch(/checkpoint: embedDim=16/);
      }
      tf.dispose(Object.values(sd));
    }
    // non-strict loads what fits and reports the rest
    const sd = deeper.stateDict();
    const report = loadSwinCheckpoint(model, sd, { strict: false });
    expect(report.unexpected.length).toBeGreaterThan(0);
    expect(report.missing).toEqual([]);
    tf.dispose(Object.values(sd));
    // a corrupted buffer is caught
    const good = model.stateDict();
    const idx = good['layers.0.blocks.0.attn.relative_position_index'];
    const bad = { ...good, 'layers.0.blocks.0.attn.relative_position_index': tf.reverse(idx, 0) };
    expect(() => loadSwinCheckpoint(model, bad)).toThrow(/buffers differing.*relative_position_index/);
    tf.dispose([...Object.values(good), bad['layers.0.blocks.0.attn.relative_position_index']]);
    for (const m of [model, deeper, wider]) m.dispose();
  });
});

describe('layout detection', () => {
  it('detects timm and Microsoft layouts from keys', () => {
    expect(detectSwinLayout(['head.fc.weight'])).toBe('timm');
    expect(detectSwinLayout(['head.weight', 'layers.0.downsample.norm.weight'])).toBe('microsoft');
    expect(detectSwinLayout(['layers.0.blocks.0.norm1.weight', 'layers.1.downsample.norm.weight'])).toBe(
      'timm',
    );
    expect(detectSwinLayout(['layers.0.downsample.norm.weight', 'layers.1.blocks.0.norm1.weight'])).toBe(
      'microsoft',
    );
    expect(() => timmToMicrosoftLayout({ 'layers.0.downsample.norm.weight': {} as tf.Tensor })).toThrow(
      /no preceding stage/,
    );
  });
});
