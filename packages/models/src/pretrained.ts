/**
 * Pretrained configurations: what a set of weights expects at evaluation time (timm's `pretrained_cfg`):
 * input size, centre-crop fraction, resampling filter, normalisation and the classes of its head.
 */

/** Mean of ImageNet RGB pixels in [0, 1] (timm `IMAGENET_DEFAULT_MEAN`). */
export const IMAGENET_DEFAULT_MEAN: readonly [number, number, number] = Object.freeze([0.485, 0.456, 0.406]);
/** Standard deviation of ImageNet RGB pixels in [0, 1] (timm `IMAGENET_DEFAULT_STD`). */
export const IMAGENET_DEFAULT_STD: readonly [number, number, number] = Object.freeze([0.229, 0.224, 0.225]);

/** Resampling filters of the evaluation resize (PIL's names). */
export type Interpolation = 'bicubic' | 'bilinear' | 'nearest';

/**
 * The evaluation recipe of one set of weights, like timm's `pretrained_cfg`. The image is resized so that its
 * shorter side is `floor(inputSize[1] / cropPct)` with `interpolation`, centre-cropped to `inputSize[1] x
 * inputSize[2]`, scaled to [0, 1] and normalised with `mean` / `std`. Two extensions for models trained
 * here (e.g. the ablation's Fashion-MNIST backbones, see `preprocessImage`): `inputSize[0] === 1` (grayscale
 * input, PIL's `L` conversion) and {@link PretrainedCfg.pad} (a letterbox before the network's resize).
 */
export interface PretrainedCfg {
  /** `[channels, height, width]` of the network input (timm `input_size`); 3 = RGB, 1 = grayscale. */
  inputSize: [1 | 3, number, number];
  /** Fraction of the resized image kept by the centre crop (timm `crop_pct`). */
  cropPct: number;
  /** Filter of the resize. */
  interpolation: Interpolation;
  /** Per-channel mean subtracted after scaling to [0, 1] (one per input channel: 3 for RGB, 1 for grayscale). */
  mean: number[];
  /** Per-channel standard deviation divided by after subtracting the mean (one per input channel). */
  std: number[];
  /** Classes of the head the weights were trained with (0 = no head). */
  numClasses: number;
  /** Which class names index the logits: `'imagenet-1k'` (1000), `'imagenet-22k'` (21841) or a custom name. */
  labelSet: 'imagenet-1k' | 'imagenet-22k' | string;
  /** Hugging Face hub repository of the weights (`timm/<name>.<tag>`), when published there. */
  hfHubId?: string;
  /** Direct download URL of the original release, when there is one. */
  url?: string;
  /** The pretrained tag (`ms_in1k`, `in1k`, ...). */
  tag?: string;
  /** True when the model only accepts `inputSize` (timm `fixed_input_size`). */
  fixedInputSize?: boolean;
  /** Class names in logit order, when the weights came with them (hub `config.json` `label_names`). */
  labelNames?: string[];
  /**
   * A letterbox step (how the ablation feeds Fashion-MNIST): the eval resize + crop go to `contentSize`
   * (identity for images of that size), the normalised image is padded, centred, to `paddedSize` with the
   * value of a black pixel, then resized bilinearly (corners aligned, `tf.image.resizeBilinear(x, size, true)`)
   * to the input size when that differs.
   */
  pad?: { contentSize: [number, number]; paddedSize: [number, number] };
}

/** `[height, width]` of a cfg's input. */
export function cfgImageSize(cfg: Pick<PretrainedCfg, 'inputSize'>): [number, number] {
  return [cfg.inputSize[1], cfg.inputSize[2]];
}

/** A copy of `cfg` (arrays copied) so callers may edit it freely. */
export function copyPretrainedCfg(cfg: PretrainedCfg): PretrainedCfg {
  const out: PretrainedCfg = {
    ...cfg,
    inputSize: [cfg.inputSize[0], cfg.inputSize[1], cfg.inputSize[2]],
    mean: [...cfg.mean],
    std: [...cfg.std],
  };
  if (cfg.labelNames) out.labelNames = [...cfg.labelNames];
  if (cfg.pad) {
    out.pad = {
      contentSize: [cfg.pad.contentSize[0], cfg.pad.contentSize[1]],
      paddedSize: [cfg.pad.paddedSize[0], cfg.pad.paddedSize[1]],
    };
  }
  return out;
}

const ATTACHED = new WeakMap<object, PretrainedCfg>();

/** Remembers the evaluation settings of `model`'s weights (done by `createModel` and `loadPretrained`). */
export function attachPretrainedCfg<T extends object>(model: T, cfg: PretrainedCfg): T {
  ATTACHED.set(model, cfg);
  return model;
}

/**
 * The evaluation settings attached to a model by `createModel` / `loadPretrained` (a copy), or null for models
 * built otherwise.
 */
export function pretrainedCfgOf(model: object): PretrainedCfg | null {
  const c = ATTACHED.get(model);
  return c ? copyPretrainedCfg(c) : null;
}
