import { evalTransform, type RGBImage } from '@swin/preprocess';
import { tf, useBackend } from '@swin/testing';
import { beforeAll, describe, expect, it } from 'vitest';
import type { PretrainedCfg } from './pretrained.js';
import { isTimmTransform, transformImage } from './transform.js';

const RGB: PretrainedCfg = {
  inputSize: [3, 4, 4],
  cropPct: 1,
  interpolation: 'bilinear',
  mean: [0.485, 0.456, 0.406],
  std: [0.229, 0.224, 0.225],
  numClasses: 10,
  labelSet: 'custom',
};

function image(w: number, h: number, px: (x: number, y: number) => [number, number, number]): RGBImage {
  const data = new Uint8Array(w * h * 3);
  for (let y = 0; y < h; y++) for (let x = 0; x < w; x++) data.set(px(x, y), (y * w + x) * 3);
  return { data, width: w, height: h };
}

beforeAll(() => useBackend('cpu'));

describe('transformImage', () => {
  it('is timm evalTransform for RGB weights without a letterbox', () => {
    expect(isTimmTransform(RGB)).toBe(true);
    const img = image(6, 5, (x, y) => [x * 40, y * 50, (x + y) * 20]);
    const [a, b] = [
      transformImage(img, RGB),
      evalTransform(img, { ...RGB, mean: [0.485, 0.456, 0.406], std: [0.229, 0.224, 0.225] }),
    ];
    expect(Array.from(a.dataSync())).toEqual(Array.from(b.dataSync()));
    tf.dispose([a, b]);
  });

  it('grayscale: PIL convert("L") of each pixel, then normalised', () => {
    const cfg: PretrainedCfg = { ...RGB, inputSize: [1, 2, 1], mean: [0.5], std: [0.5] };
    expect(isTimmTransform(cfg)).toBe(false);
    // pure red, and a gray pixel that must keep its byte
    const img = image(1, 2, (_x, y) => (y === 0 ? [255, 0, 0] : [77, 77, 77]));
    const x = transformImage(img, cfg);
    expect(x.shape).toEqual([1, 2, 1, 1]);
    const [red, gray] = Array.from(x.dataSync());
    expect(red).toBeCloseTo((76 / 255 - 0.5) / 0.5, 6); // PIL: (255 * 19595 + 0x8000) >> 16 = 76
    expect(gray).toBeCloseTo((77 / 255 - 0.5) / 0.5, 6);
    x.dispose();
  });

  it('letterbox: centred in the padded size with normalised black, then resized with aligned corners', () => {
    const pad = { contentSize: [2, 2] as [number, number], paddedSize: [5, 4] as [number, number] };
    const cfg: PretrainedCfg = { ...RGB, inputSize: [1, 5, 4], mean: [0.25], std: [0.5], pad };
    const img = image(2, 2, (x, y) => {
      const v = [10, 20, 30, 40][y * 2 + x];
      return [v, v, v];
    });
    const x = transformImage(img, cfg);
    const black = (0 - 0.25) / 0.5;
    const n = (v: number) => Math.fround((v / 255 - 0.25) / 0.5);
    // top = floor((5 - 2) / 2) = 1, left = floor((4 - 2) / 2) = 1
    const want = [
      [black, black, black, black],
      [black, n(10), n(20), black],
      [black, n(30), n(40), black],
      [black, black, black, black],
      [black, black, black, black],
    ].flat();
    expect(Array.from(x.dataSync())).toEqual(want);
    x.dispose();
    // another input size: tf.image.resizeBilinear(alignCorners) of the padded map
    const small = transformImage(img, { ...cfg, inputSize: [1, 3, 3] });
    const ref = tf.tidy(() => tf.image.resizeBilinear(tf.tensor4d(want, [1, 5, 4, 1]), [3, 3], true));
    expect(Array.from(small.dataSync())).toEqual(Array.from(ref.dataSync()));
    tf.dispose([small, ref]);
  });

  it('other image sizes are resized to the content size first', () => {
    const cfg: PretrainedCfg = {
      ...RGB,
      inputSize: [1, 8, 8],
      mean: [0.5],
      std: [0.5],
      pad: { contentSize: [6, 6], paddedSize: [8, 8] },
    };
    const x = transformImage(
      image(30, 20, () => [200, 200, 200]),
      cfg,
    );
    expect(x.shape).toEqual([1, 8, 8, 1]);
    const v = Array.from(x.dataSync());
    expect(v[0]).toBeCloseTo(-1, 6); // border
    expect(v[8 + 1]).toBeCloseTo((200 / 255 - 0.5) / 0.5, 6); // content
    x.dispose();
  });

  it('refuses mean/std that do not match the channels, creating no tensor', () => {
    const before = tf.memory().numTensors;
    expect(() =>
      transformImage(
        image(2, 2, () => [0, 0, 0]),
        { ...RGB, inputSize: [1, 2, 2] },
      ),
    ).toThrow(/mean and std need 1 entries/);
    expect(tf.memory().numTensors).toBe(before);
  });
});
