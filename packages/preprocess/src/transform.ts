/**
 * timm's evaluation transform (`transforms_imagenet_eval`, crop mode `center`) as torchvision 0.14 runs it on a
 * PIL image: `Resize(scale_size)` (shorter side), `CenterCrop(img_size)`, `ToTensor()`, `Normalize(mean, std)`.
 * The resize is {@link resizePIL} (byte-identical to PIL); the float steps are float32 like torch's, so the
 * output matches torchvision's up to float32 rounding.
 */
import { resizePILUnchecked } from './resize.js';
import {
  checkRGBImage,
  PreprocessError,
  RESAMPLE_FILTERS,
  type ResampleFilter,
  type RGBImage,
} from './types.js';

/** timm's `pretrained_cfg` fields that define the evaluation transform. */
export interface EvalTransformConfig {
  /** Crop size `S`, or `[H, W]`, or timm's `input_size` `[3, H, W]`. */
  inputSize: number | readonly [number, number] | readonly [number, number, number];
  /** timm's `crop_pct`: the shorter side is resized to `floor(S / cropPct)` before the crop. */
  cropPct: number;
  /** PIL filter of the resize (timm: `bicubic` for Swin/PVT/Shunted, `bilinear` for some others). */
  interpolation: ResampleFilter;
  /** Per-channel mean (RGB) subtracted after scaling to [0, 1]. */
  mean: readonly [number, number, number];
  /** Per-channel std (RGB) divided by after subtracting the mean. */
  std: readonly [number, number, number];
}

/** The transform's output as a plain array: `data` is `[1, height, width, 3]` float32 NHWC. */
export interface EvalArray {
  data: Float32Array;
  shape: [1, number, number, 3];
}

/** Python's `round` (half to even), as torchvision's `CenterCrop` uses. */
function roundHalfEven(x: number): number {
  const r = Math.round(x);
  return Math.abs(x % 1) === 0.5 && r % 2 !== 0 ? r - 1 : r;
}

/** Crop height and width of a config. */
export function cropSize(cfg: EvalTransformConfig): [number, number] {
  const s = cfg.inputSize;
  if (typeof s === 'number') return [s, s];
  if (s.length === 3) return [s[1], s[2]];
  return [s[0], s[1]];
}

function checkConfig(cfg: EvalTransformConfig, fn: string): void {
  if (cfg === null || typeof cfg !== 'object') throw new PreprocessError(`${fn}: expected a config object`);
  const s = cfg.inputSize;
  if (Array.isArray(s) && s.length === 3 && s[0] !== 3) {
    throw new PreprocessError(`${fn}: inputSize [${s.join(', ')}] must have 3 channels first`);
  }
  if (typeof s !== 'number' && !(Array.isArray(s) && (s.length === 2 || s.length === 3))) {
    throw new PreprocessError(
      `${fn}: inputSize must be a number, [H, W] or [3, H, W], got ${JSON.stringify(s)}`,
    );
  }
  for (const v of cropSize(cfg)) {
    if (!Number.isInteger(v) || v < 1)
      throw new PreprocessError(`${fn}: crop size ${v} is not a positive integer`);
  }
  if (!(typeof cfg.cropPct === 'number' && cfg.cropPct > 0 && Number.isFinite(cfg.cropPct))) {
    throw new PreprocessError(`${fn}: cropPct must be a positive number, got ${cfg.cropPct}`);
  }
  if (!RESAMPLE_FILTERS.includes(cfg.interpolation)) {
    throw new PreprocessError(
      `${fn}: unknown interpolation '${cfg.interpolation}' (expected one of ${RESAMPLE_FILTERS.join(', ')})`,
    );
  }
  for (const key of ['mean', 'std'] as const) {
    const v = cfg[key];
    if (!Array.isArray(v) || v.length !== 3 || !v.every((x) => typeof x === 'number' && Number.isFinite(x))) {
      throw new PreprocessError(`${fn}: ${key} must be 3 finite numbers, got ${JSON.stringify(v)}`);
    }
  }
  if (cfg.std.some((x) => x === 0)) throw new PreprocessError(`${fn}: std must not contain 0`);
}

/**
 * Size `[width, height]` of the image after the transform's resize (before the crop), as timm + torchvision
 * 0.14 compute it: for a square crop `S`, the shorter side becomes `scale = floor(S / cropPct)` and the longer
 * `int(scale * long / short)`; for a non-square crop `[H, W]` with `floor(H / cropPct) != floor(W / cropPct)`,
 * timm's `ResizeKeepRatio`: both sides divided by `min(h / sH, w / sW)` and rounded (half to even).
 */
export function evalResizeSize(width: number, height: number, cfg: EvalTransformConfig): [number, number] {
  const [ch, cw] = cropSize(cfg);
  const sh = Math.floor(ch / cfg.cropPct);
  const sw = Math.floor(cw / cfg.cropPct);
  if (sh === sw) {
    const size = sh;
    if (width <= height) return [size, Math.trunc((size * height) / width)];
    return [Math.trunc((size * width) / height), size];
  }
  const ratio = Math.min(height / sh, width / sw);
  return [roundHalfEven(width / ratio), roundHalfEven(height / ratio)];
}

/**
 * The transform's resize step alone: {@link evalResizeSize} with PIL's resampling (`cfg.interpolation`).
 * @returns a new image, or `img` itself when the size does not change (torchvision returns the input then).
 */
export function evalResize(img: RGBImage, cfg: EvalTransformConfig): RGBImage {
  checkRGBImage(img, 'evalResize');
  checkConfig(cfg, 'evalResize');
  return resizeUnchecked(img, cfg);
}

/** Largest resized image {@link evalResize} builds (PIL's `MAX_IMAGE_PIXELS`): extreme aspect ratios blow up. */
const MAX_RESIZED_PIXELS = Math.floor((1024 * 1024 * 1024) / 4 / 3);

function resizedSize(img: RGBImage, cfg: EvalTransformConfig, fn: string): [number, number] {
  const [w, h] = evalResizeSize(img.width, img.height, cfg);
  if (w < 1 || h < 1)
    throw new PreprocessError(`${fn}: a ${img.width}x${img.height} image resizes to ${w}x${h}`);
  return [w, h];
}

function resizeUnchecked(img: RGBImage, cfg: EvalTransformConfig): RGBImage {
  const [w, h] = resizedSize(img, cfg, 'evalResize');
  if (w === img.width && h === img.height) return img;
  if (w * h > MAX_RESIZED_PIXELS) {
    throw new PreprocessError(
      `evalResize: a ${img.width}x${img.height} image resizes to ${w}x${h} = ${w * h} pixels (over ` +
        `${MAX_RESIZED_PIXELS}); evalTransform computes only the crop and handles it`,
    );
  }
  return {
    data: resizePILUnchecked(img.data, img.width, img.height, 3, w, h, cfg.interpolation),
    width: w,
    height: h,
  };
}

/**
 * Where the center crop starts in a `width` x `height` image, like torchvision 0.14: `int(round((h - S) / 2))`
 * (half to even); negative when the image is smaller than the crop (torchvision pads with zeros first: left/top
 * `(S - w) // 2`, the rest right/bottom).
 */
function cropOrigin(width: number, height: number, cw: number, ch: number): [number, number] {
  const padLeft = cw > width ? Math.floor((cw - width) / 2) : 0;
  const padTop = ch > height ? Math.floor((ch - height) / 2) : 0;
  const left = roundHalfEven((Math.max(cw, width) - cw) / 2) - padLeft;
  const top = roundHalfEven((Math.max(ch, height) - ch) / 2) - padTop;
  return [left, top];
}

/**
 * `ToTensor` + `Normalize` of the crop `[left, left + cw) x [top, top + ch)` of an image of which `win` holds the
 * part starting at (`x0`, `y0`); pixels outside the image are zeros (torchvision's padding).
 */
function normalizeCrop(
  win: RGBImage,
  x0: number,
  y0: number,
  full: [number, number],
  left: number,
  top: number,
  cw: number,
  ch: number,
  cfg: EvalTransformConfig,
): EvalArray {
  // float32 steps of ToTensor (x / 255) and Normalize ((x - mean) / std)
  const mean = cfg.mean.map(Math.fround);
  const std = cfg.std.map(Math.fround);
  const lut = new Float32Array(256 * 3);
  for (let c = 0; c < 3; c++) {
    for (let v = 0; v < 256; v++) {
      lut[v * 3 + c] = Math.fround(Math.fround(Math.fround(v / 255) - mean[c]) / std[c]);
    }
  }
  const [width, height] = full;
  const out = new Float32Array(ch * cw * 3);
  for (let y = 0; y < ch; y++) {
    const sy = y + top;
    for (let x = 0; x < cw; x++) {
      const sx = x + left;
      const inside = sy >= 0 && sy < height && sx >= 0 && sx < width;
      const p = ((sy - y0) * win.width + (sx - x0)) * 3;
      const o = (y * cw + x) * 3;
      for (let c = 0; c < 3; c++) out[o + c] = lut[(inside ? win.data[p + c] : 0) * 3 + c];
    }
  }
  return { data: out, shape: [1, ch, cw, 3] };
}

/**
 * Center crop, `ToTensor` and `Normalize` on an already resized image, like torchvision 0.14: the crop starts at
 * `int(round((h - S) / 2))` (half to even); an image smaller than the crop is first padded with zeros
 * (left/top `(S - w) // 2`, the rest right/bottom); then `(v / 255 - mean) / std` per channel in float32.
 */
export function cropAndNormalize(img: RGBImage, cfg: EvalTransformConfig): EvalArray {
  checkRGBImage(img, 'cropAndNormalize');
  checkConfig(cfg, 'cropAndNormalize');
  const [ch, cw] = cropSize(cfg);
  const [left, top] = cropOrigin(img.width, img.height, cw, ch);
  return normalizeCrop(img, 0, 0, [img.width, img.height], left, top, cw, ch, cfg);
}

/**
 * timm's evaluation transform without TensorFlow.js: resize ({@link evalResize}), center crop, scale and
 * normalise ({@link cropAndNormalize}). Only the pixels of the resized image that survive the crop are
 * computed (each resampled pixel depends on its own position only, so they are the same bytes).
 * @param img `[H, W, 3]` uint8 RGB.
 * @returns `{ data, shape: [1, S, S, 3] }` (or `[1, H', W', 3]` for a non-square crop), float32 NHWC.
 * @throws {PreprocessError} for a malformed image or config.
 */
export function evalTransformArray(img: RGBImage, cfg: EvalTransformConfig): EvalArray {
  checkRGBImage(img, 'evalTransform');
  checkConfig(cfg, 'evalTransform');
  const [w, h] = resizedSize(img, cfg, 'evalTransform');
  const [ch, cw] = cropSize(cfg);
  const [left, top] = cropOrigin(w, h, cw, ch);
  // the part of the resized image inside the crop
  const x0 = Math.max(0, left);
  const y0 = Math.max(0, top);
  const x1 = Math.min(w, left + cw);
  const y1 = Math.min(h, top + ch);
  const win: RGBImage =
    w === img.width && h === img.height
      ? img
      : {
          data: resizePILUnchecked(img.data, img.width, img.height, 3, w, h, cfg.interpolation, undefined, [
            x0,
            y0,
            x1,
            y1,
          ]),
          width: x1 - x0,
          height: y1 - y0,
        };
  const [wx0, wy0] = win === img ? [0, 0] : [x0, y0];
  return normalizeCrop(win, wx0, wy0, [w, h], left, top, cw, ch, cfg);
}
