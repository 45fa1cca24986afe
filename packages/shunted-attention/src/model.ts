import {
  assertOptionsObject,
  assertTensorInput,
  type Downsample,
  type FeatureInfo,
  type ForwardOutputs,
  LayerNorm,
  Linear,
  lookupOwn,
  Module,
  ModuleList,
  SwinInputError,
  type VisionModel,
} from '@swin/nn';
import * as tf from '@tensorflow/tfjs-core';
import { ShuntedBlock } from './block.js';
import {
  dropPathRates,
  resolveShuntedConfig,
  SHUNTED_PRESETS,
  type ShuntedConfig,
  type ShuntedPresetName,
} from './config.js';
import { shuntedMacs } from './counts.js';
import { OverlapPatchEmbed, ShuntedStem } from './embed.js';
import { shuntedStageSizes } from './sizes.js';

/** Everything {@link ShuntedTransformer.forwardWithIntermediates} computes (all tensors NHWC). */
export interface ShuntedOutputs extends ForwardOutputs {
  /** Output of every patch embedding (`patch_embed<i+1>`), NHWC; `embed` is `embeds[0]` (same tensor). */
  embeds: tf.Tensor4D[];
}

/**
 * Shunted Transformer classifier (reference `ShuntedTransformer` of `SSA.py`). Keys exactly as the
 * reference: `patch_embed1.*` (conv stem), `patch_embed<i>.*` (OverlapPatchEmbed, i = 2..4),
 * `block<i>.<j>.*`, `norm<i>.*`, `head.*`.
 *
 * Stage `i` = patch_embed -> blocks -> `norm<i+1>`; the stage outputs (after their norm) are the
 * features. Classifier: mean over the last stage's tokens -> `head`.
 * Implements `VisionModel`; input images NHWC `[B, H, W, 3]`.
 */
export class ShuntedTransformer extends Module implements VisionModel {
  readonly config: ShuntedConfig;
  readonly numClasses: number;
  readonly numFeatures: number;
  readonly featureInfo: FeatureInfo[];
  readonly patchEmbeds: Downsample[] = [];
  readonly blocks: ModuleList<ShuntedBlock>[] = [];
  readonly norms: LayerNorm[] = [];
  readonly head: Linear | null;

  /** Partial configs are completed with {@link SHUNTED_DEFAULTS} (Shunted-T) and validated. */
  constructor(config: Partial<ShuntedConfig> = {}) {
    super();
    const cfg = resolveShuntedConfig(config);
    this.config = cfg;
    const dpr = dropPathRates(cfg);
    this.featureInfo = [];
    for (let i = 0; i < cfg.numStages; i++) {
      const dim = cfg.embedDims[i];
      const pe =
        i === 0 ? new ShuntedStem(cfg.numConv) : new OverlapPatchEmbed(cfg.embedDims[i - 1], dim, 3, 2);
      const blocks = new ModuleList<ShuntedBlock>(
        Array.from(
          { length: cfg.depths[i] },
          (_, j) =>
            new ShuntedBlock(dim, cfg.numHeads[i], {
              mlpRatio: cfg.mlpRatios[i],
              qkvBias: cfg.qkvBias,
              qkScale: cfg.qkScale,
              drop: cfg.dropRate,
              attnDrop: cfg.attnDropRate,
              dropPath: dpr[i][j],
              srRatio: cfg.srRatios[i],
              normEps: cfg.normEps,
              label: `block${i + 1}.${j}`,
            }),
        ),
      );
      this.patchEmbeds.push(this.child(`patch_embed${i + 1}`, pe));
      this.blocks.push(this.child(`block${i + 1}`, blocks));
      this.norms.push(this.child(`norm${i + 1}`, new LayerNorm(dim, cfg.normEps)));
      this.featureInfo.push({ channels: dim, reduction: 2 ** (i + 2), module: `norm${i + 1}` });
    }
    this.numFeatures = cfg.embedDims[cfg.numStages - 1];
    this.numClasses = cfg.numClasses;
    this.head = cfg.numClasses > 0 ? this.child('head', new Linear(this.numFeatures, cfg.numClasses)) : null;
  }

  /** Token-map size `[H_i, W_i]` of every stage for an `H x W` image (throws if too small). */
  stageSizes(H: number, W: number): [number, number][] {
    return shuntedStageSizes(this.config, H, W);
  }

  /**
   * Runs before any op (so a bad input inside a gradient tape leaks nothing): a live float32
   * `[B, H, W, 3]` batch, a model not disposed, and an image large enough for every stage.
   */
  private checkInput(fn: string, x: tf.Tensor4D): void {
    const where = `ShuntedTransformer.${fn}`;
    assertTensorInput(where, x, { rank: 4, channels: this.config.inChans });
    this.assertNotDisposed(where);
    try {
      this.stageSizes(x.shape[1], x.shape[2]);
    } catch (e) {
      throw new SwinInputError(`${where}: ${(e as Error).message.replace(/^ShuntedTransformer: /, '')}`);
    }
  }

  private runStages(x: tf.Tensor4D, embeds: tf.Tensor4D[] | null): tf.Tensor4D[] {
    const feats: tf.Tensor4D[] = [];
    let y = x;
    for (let i = 0; i < this.config.numStages; i++) {
      y = this.patchEmbeds[i].forward(y);
      if (embeds) embeds.push(y);
      for (const blk of this.blocks[i]) y = blk.forward(y);
      y = this.norms[i].forward(y);
      feats.push(y);
    }
    return feats;
  }

  /** Per-stage outputs (after `norm<i+1>`), NHWC `[B, H_i, W_i, embedDims[i]]`, strides 4, 8, 16, 32. */
  forwardFeatures(x: tf.Tensor4D): tf.Tensor4D[] {
    this.checkInput('forwardFeatures', x);
    return tf.tidy(() => this.runStages(x, null));
  }

  /**
   * Classifier on the last stage output `[B, H, W, C]` (already normalised by the stage norm): mean over
   * tokens -> head. `preLogits` returns the pooled `[B, C]`.
   */
  forwardHead(last: tf.Tensor4D, opts: { preLogits?: boolean } = {}): tf.Tensor2D {
    assertTensorInput('ShuntedTransformer.forwardHead', last, {
      what: 'last',
      rank: 4,
      channels: this.numFeatures,
    });
    this.assertNotDisposed('ShuntedTransformer.forwardHead');
    return tf.tidy(() => {
      const pooled = tf.mean(last, [1, 2]) as tf.Tensor2D;
      if (opts.preLogits || !this.head) return pooled;
      return this.head.forward(pooled) as tf.Tensor2D;
    });
  }

  /** Logits `[B, numClasses]` (pooled features `[B, C]` when `numClasses` is 0). */
  forward(x: tf.Tensor4D): tf.Tensor2D {
    this.checkInput('forward', x);
    return tf.tidy(() => {
      const feats = this.runStages(x, null);
      return this.forwardHead(feats[feats.length - 1]);
    });
  }

  /**
   * One pass returning every intermediate the parity fixtures store: `embeds[i]` (= fixture `embed.<i>`),
   * `features[i]` (`features.<i>`), `preLogits` (`pre_logits`), `logits`. The caller disposes them.
   */
  forwardWithIntermediates(x: tf.Tensor4D): ShuntedOutputs {
    this.checkInput('forwardWithIntermediates', x);
    const out = tf.tidy(() => {
      const embeds: tf.Tensor4D[] = [];
      const features = this.runStages(x, embeds);
      const preLogits = this.forwardHead(features[features.length - 1], { preLogits: true });
      const logits = this.head ? (this.head.forward(preLogits) as tf.Tensor2D) : tf.clone(preLogits);
      return { embeds, features, preLogits, logits };
    });
    return { embed: out.embeds[0], ...out };
  }

  /** MACs of one `H x W` image (see {@link shuntedMacs}). */
  macs(H: number, W: number): number {
    return shuntedMacs(this.config, H, W);
  }
}

/**
 * Builds an official preset (`shunted_t`, `shunted_s`, `shunted_b`) with optional overrides
 * (e.g. `{ numClasses: 10 }`).
 */
export function createShunted(
  name: ShuntedPresetName,
  overrides: Partial<ShuntedConfig> = {},
): ShuntedTransformer {
  const preset = lookupOwn('createShunted', SHUNTED_PRESETS, name);
  assertOptionsObject('createShunted', overrides, 'overrides');
  return new ShuntedTransformer({ ...preset, ...overrides });
}

/** The preset config (completed with the defaults) without building a model. */
export function shuntedPresetConfig(
  name: ShuntedPresetName,
  overrides: Partial<ShuntedConfig> = {},
): ShuntedConfig {
  const preset = lookupOwn('shuntedPresetConfig', SHUNTED_PRESETS, name);
  assertOptionsObject('shuntedPresetConfig', overrides, 'overrides');
  return resolveShuntedConfig({ ...preset, ...overrides });
}
