/**
 * The evaluation transform of a {@link PretrainedCfg} as a model input. RGB configs without a letterbox are
 * timm's transform exactly (`@swin/preprocess` `evalTransform`); grayscale inputs (`inputSize[0] === 1`) and the
 * letterbox step (`pad`, how the ablation feeds Fashion-MNIST) add three steps around it:
 *
 * 1. grayscale: every pixel becomes PIL's `convert('L')` value `(19595 R + 38470 G + 7471 B + 0x8000) >> 16`
 *    (a gray image keeps its bytes);
 * 2. timm's resize + centre crop to `pad.contentSize` (or the input size), then `(v / 255 - mean) / std`
 *    per channel (float64 arithmetic, stored as float32: the ablation's own `makeBatch` bit for bit);
 * 3. letterbox: centred in `pad.paddedSize` (top/left get the floor of the half), the border filled with a
 *    normalised black pixel `(0 - mean) / std`; then, when `paddedSize` differs from the input size,
 *    `tf.image.resizeBilinear(x, [H, W], alignCorners = true)`.
 */
import { evalTransform, evalTransformArray, type RGBImage } from '@swin/preprocess';
import * as tf from '@tensorflow/tfjs-core';
import type { PretrainedCfg } from './pretrained.js';

/** True when `cfg` is plain timm (RGB, no letterbox): `@swin/preprocess`'s `evalTransform` runs it. */
export function isTimmTransform(cfg: PretrainedCfg): boolean {
  return cfg.inputSize[0] === 3 && cfg.pad === undefined;
}

function triple(v: readonly number[], what: string): [number, number, number] {
  if (v.length !== 3) throw new Error(`preprocessImage: ${what} has ${v.length} entries for an RGB input`);
  return [v[0], v[1], v[2]];
}

/** PIL's `convert('L')` of every pixel, written back to all three channels. */
function toGray(img: RGBImage): RGBImage {
  const n = img.width * img.height;
  const out = new Uint8Array(n * 3);
  for (let i = 0; i < n; i++) {
    const p = i * 3;
    const l = (img.data[p] * 19595 + img.data[p + 1] * 38470 + img.data[p + 2] * 7471 + 0x8000) >>> 16;
    out[p] = l;
    out[p + 1] = l;
    out[p + 2] = l;
  }
  return { data: out, width: img.width, height: img.height };
}

/**
 * `img` (decoded `[H, W, 3]` uint8 RGB) through the evaluation transform of `cfg` (see the file comment).
 * @returns a new `tf.Tensor4D` `[1, inputSize[1], inputSize[2], inputSize[0]]` float32 NHWC (caller disposes).
 * @throws Error (`PreprocessError` from `@swin/preprocess`) for a malformed image or config.
 */
export function transformImage(img: RGBImage, cfg: PretrainedCfg): tf.Tensor4D {
  const [C, H, W] = cfg.inputSize;
  if (isTimmTransform(cfg)) {
    return evalTransform(img, {
      inputSize: [H, W],
      cropPct: cfg.cropPct,
      interpolation: cfg.interpolation,
      mean: triple(cfg.mean, 'mean'),
      std: triple(cfg.std, 'std'),
    });
  }
  if (C !== 1 && C !== 3) throw new Error(`preprocessImage: inputSize[0] must be 1 or 3, got ${C}`);
  if (cfg.mean.length !== C || cfg.std.length !== C) {
    throw new Error(
      `preprocessImage: mean and std need ${C} entries for ${C} channel(s), got ${cfg.mean.length} and ${cfg.std.length}`,
    );
  }
  const [h, w] = cfg.pad?.contentSize ?? [H, W];
  const [ph, pw] = cfg.pad?.paddedSize ?? [h, w];
  if (ph < h || pw < w) {
    throw new Error(
      `preprocessImage: pad.paddedSize [${ph}, ${pw}] is smaller than contentSize [${h}, ${w}]`,
    );
  }
  // resize + crop in bytes: with mean 0 / std 1 the float32 output is fround(v / 255), so v = round(x * 255)
  const scaled = evalTransformArray(C === 1 ? toGray(img) : img, {
    inputSize: [h, w],
    cropPct: cfg.cropPct,
    interpolation: cfg.interpolation,
    mean: [0, 0, 0],
    std: [1, 1, 1],
  }).data;
  const out = new Float32Array(ph * pw * C);
  for (let c = 0; c < C; c++) {
    const black = (0 - cfg.mean[c]) / cfg.std[c];
    for (let i = c; i < out.length; i += C) out[i] = black;
  }
  const top = Math.floor((ph - h) / 2);
  const left = Math.floor((pw - w) / 2);
  for (let y = 0; y < h; y++) {
    for (let x = 0; x < w; x++) {
      const o = ((top + y) * pw + left + x) * C;
      const s = (y * w + x) * 3;
      for (let c = 0; c < C; c++) {
        const v = Math.round(scaled[s + c] * 255);
        out[o + c] = (v / 255 - cfg.mean[c]) / cfg.std[c];
      }
    }
  }
  if (ph === H && pw === W) return tf.tensor4d(out, [1, H, W, C]);
  return tf.tidy(() => tf.image.resizeBilinear(tf.tensor4d(out, [1, ph, pw, C]), [H, W], true));
}
