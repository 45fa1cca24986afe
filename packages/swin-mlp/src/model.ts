import {
  Dropout,
  type FeatureInfo,
  type ForwardOutputs,
  LayerNorm,
  Linear,
  Module,
  ModuleList,
  truncNormal,
  type VisionModel,
} from '@swin/nn';
import { PatchEmbed, PatchMerging } from '@swin/swin-core';
import * as tf from '@tensorflow/tfjs-core';
import { checkMap, SwinMLPBlock } from './block.js';
import {
  dropPathRates,
  imgSizePair,
  resolveSwinMlpConfig,
  type SwinMLPConfig,
  stageResolutions,
} from './config.js';
import { swinMlpMacs } from './counting.js';

/** Options of {@link SwinMLPLayer}. */
export interface SwinMLPLayerOptions {
  /** Channel-MLP ratio. Default 4. */
  mlpRatio?: number;
  /** Dropout rate. Default 0. */
  drop?: number;
  /** Stochastic depth: one rate for all blocks or one per block. Default 0. */
  dropPath?: number | number[];
  /** LayerNorm epsilon (blocks and PatchMerging). Default 1e-5. */
  normEps?: number;
  /** Append a PatchMerging (`downsample`) at the end of the stage. Default false. */
  downsample?: boolean;
}

/**
 * One Swin-MLP stage (official `BasicLayer` of `swin_mlp.py`): `depth` blocks, even ones unshifted,
 * odd ones shifted by `windowSize // 2` (both clamped for `inputResolution`), then an optional
 * PatchMerging. Keys `blocks.<j>.*`, `downsample.*`.
 *
 * x `[B, H, W, dim]` -> `[B, ceil(H/2), ceil(W/2), 2*dim]` with downsample, else `[B, H, W, dim]`.
 */
export class SwinMLPLayer extends Module {
  readonly blocks: ModuleList<SwinMLPBlock>;
  readonly downsample: PatchMerging | null;

  constructor(
    readonly dim: number,
    inputResolution: readonly [number, number] | null,
    readonly depth: number,
    readonly numHeads: number,
    readonly windowSize: number,
    opts: SwinMLPLayerOptions = {},
  ) {
    super();
    if (!Number.isInteger(depth) || depth <= 0) {
      throw new Error(`SwinMLPLayer: depth must be a positive integer, got ${depth}`);
    }
    const dp = opts.dropPath ?? 0;
    const blocks: SwinMLPBlock[] = [];
    for (let i = 0; i < depth; i++) {
      blocks.push(
        new SwinMLPBlock({
          dim,
          numHeads,
          windowSize,
          shiftSize: i % 2 === 0 ? 0 : Math.floor(windowSize / 2),
          inputResolution: inputResolution ?? undefined,
          mlpRatio: opts.mlpRatio,
          drop: opts.drop,
          dropPath: Array.isArray(dp) ? dp[i] : dp,
          normEps: opts.normEps,
        }),
      );
    }
    this.blocks = this.child('blocks', new ModuleList(blocks));
    this.downsample = opts.downsample
      ? this.child('downsample', new PatchMerging(dim, { eps: opts.normEps }))
      : null;
  }

  /** The blocks only: `[B, H, W, dim]` -> `[B, H, W, dim]`. */
  forwardBlocks(x: tf.Tensor4D): tf.Tensor4D {
    return tf.tidy(() => {
      let y = x;
      for (const b of this.blocks) y = b.forward(y);
      return y;
    });
  }

  /** Blocks then downsample (the official `BasicLayer.forward`). */
  forward(x: tf.Tensor4D): tf.Tensor4D {
    return tf.tidy(() => {
      const y = this.forwardBlocks(x);
      return this.downsample ? this.downsample.forward(y) : y;
    });
  }

  /** Official `BasicLayer.flops()` for an `H x W` input map. */
  macs(H: number, W: number): number {
    let m = 0;
    for (const b of this.blocks) m += b.macs(H, W);
    if (this.downsample) m += this.downsample.macs(H, W);
    return m;
  }
}

/** Everything {@link SwinMLP.forwardWithIntermediates} returns. */
export interface SwinMLPForwardOutputs extends ForwardOutputs {
  /**
   * Official `layers.<i>` outputs (stage INCLUDING its trailing PatchMerging) as tokens `[B, L, C]`, like
   * the fixtures' `stage_out.<i>`.
   */
  stageOut: tf.Tensor3D[];
}

/**
 * Swin-MLP classifier (microsoft/Swin-Transformer `models/swin_mlp.py` `SwinMLP`): Swin's hierarchy with
 * window attention replaced by a per-head spatial MLP inside (shifted) windows.
 *
 * Keys: `patch_embed.*`, `absolute_pos_embed` `[1, L, embedDim]` (ape only), `layers.<i>.blocks.<j>.*`,
 * `layers.<i>.downsample.*` (stages 0..n-2), `norm.*`, `head.*` (numClasses > 0). No buffers.
 *
 * Input images NHWC `[B, H, W, inChans]`, any H and W (zero padding to patch/window multiples and for odd
 * maps before PatchMerging; identical to the official model wherever sizes divide). Stage `i` outputs
 * `[B, ceil(H/(p*2^i)), ceil(W/(p*2^i)), embedDim*2^i]`. The block windows (and so the `spatial_mlp`
 * weight shapes) are fixed at construction from `imgSize`.
 */
export class SwinMLP extends Module implements VisionModel {
  readonly config: SwinMLPConfig;
  readonly patchEmbed: PatchEmbed;
  readonly absolutePosEmbed: tf.Variable | null;
  readonly posDrop: Dropout;
  readonly layers: ModuleList<SwinMLPLayer>;
  readonly norm: LayerNorm;
  readonly head: Linear | null;
  readonly numClasses: number;
  readonly numFeatures: number;
  readonly numLayers: number;
  readonly featureInfo: FeatureInfo[];
  /** Patch grid of the construction `imgSize` (the `absolute_pos_embed` grid). */
  readonly patchGrid: [number, number];

  constructor(config: Partial<SwinMLPConfig> = {}) {
    super();
    const c = resolveSwinMlpConfig(config);
    this.config = c;
    this.numClasses = c.numClasses;
    this.numLayers = c.depths.length;
    this.numFeatures = c.embedDim * 2 ** (this.numLayers - 1);
    const [H, W] = imgSizePair(c);
    const res = stageResolutions(c, H, W);
    this.patchGrid = res[0];
    this.patchEmbed = this.child(
      'patch_embed',
      new PatchEmbed({
        patchSize: c.patchSize,
        inChans: c.inChans,
        embedDim: c.embedDim,
        norm: c.patchNorm,
        eps: c.normEps,
      }),
    );
    this.absolutePosEmbed = c.ape
      ? this.param('absolute_pos_embed', [1, res[0][0] * res[0][1], c.embedDim], truncNormal(0.02))
      : null;
    this.posDrop = this.child('pos_drop', new Dropout(c.dropRate));
    const dpr = dropPathRates(
      c.dropPathRate,
      c.depths.reduce((a, b) => a + b, 0),
    );
    const layers: SwinMLPLayer[] = [];
    this.featureInfo = [];
    let start = 0;
    for (let i = 0; i < this.numLayers; i++) {
      const dim = c.embedDim * 2 ** i;
      layers.push(
        new SwinMLPLayer(dim, res[i], c.depths[i], c.numHeads[i], c.windowSize, {
          mlpRatio: c.mlpRatio,
          drop: c.dropRate,
          dropPath: dpr.slice(start, start + c.depths[i]),
          normEps: c.normEps,
          downsample: i < this.numLayers - 1,
        }),
      );
      start += c.depths[i];
      this.featureInfo.push({
        channels: dim,
        reduction: c.patchSize * 2 ** i,
        module: `layers.${i}.blocks.${c.depths[i] - 1}`,
      });
    }
    this.layers = this.child('layers', new ModuleList(layers));
    this.norm = this.child('norm', new LayerNorm(this.numFeatures, c.normEps));
    this.head = c.numClasses > 0 ? this.child('head', new Linear(this.numFeatures, c.numClasses)) : null;
  }

  /** Effective `[window, shift]` of every block (after the official clamping), per stage. */
  blockWindows(): [number, number][][] {
    return this.layers.items.map((l) => l.blocks.items.map((b) => [b.windowSize, b.shiftSize]));
  }

  private checkInput(fn: string, x: tf.Tensor4D): void {
    checkMap(`SwinMLP.${fn}`, x, this.config.inChans);
  }

  /** ape, dropout after the patch embedding. */
  private embedTail(e: tf.Tensor4D): tf.Tensor4D {
    let y: tf.Tensor = e;
    if (this.absolutePosEmbed) {
      const [, gh, gw, C] = e.shape;
      const [h0, w0] = this.patchGrid;
      if (gh !== h0 || gw !== w0) {
        throw new Error(
          `SwinMLP: absolute_pos_embed is defined for a ${h0}x${w0} patch grid (imgSize ${JSON.stringify(
            this.config.imgSize,
          )}), but the input gives ${gh}x${gw}; run at imgSize or build the model without ape`,
        );
      }
      y = tf.add(y, tf.reshape(this.absolutePosEmbed, [1, gh, gw, C]));
    }
    return this.posDrop.forward(y) as tf.Tensor4D;
  }

  /** Patch embedding (+ ape, + dropout): `[B, H, W, inChans]` -> `[B, ceil(H/p), ceil(W/p), embedDim]`. */
  forwardEmbed(x: tf.Tensor4D): tf.Tensor4D {
    this.checkInput('forwardEmbed', x);
    return tf.tidy(() => this.embedTail(this.patchEmbed.forward(x)));
  }

  /**
   * Multi-scale features: the output of each stage's last block (before its PatchMerging), NHWC
   * `[B, H_i, W_i, C_i]`, as the fixtures' `features.<i>` (the last one is before the final norm).
   */
  forwardFeatures(x: tf.Tensor4D): tf.Tensor4D[] {
    this.checkInput('forwardFeatures', x);
    return tf.tidy(() => {
      let y = this.embedTail(this.patchEmbed.forward(x));
      const out: tf.Tensor4D[] = [];
      for (const layer of this.layers) {
        const f = layer.forwardBlocks(y);
        out.push(f);
        y = layer.downsample ? layer.downsample.forward(f) : f;
      }
      return out;
    });
  }

  /**
   * Classifier on the last stage output `[B, H, W, numFeatures]`: final LayerNorm -> mean over tokens ->
   * head. `preLogits` stops before the head (`[B, numFeatures]`). Without a head, returns the pooled features.
   */
  forwardHead(last: tf.Tensor4D, opts: { preLogits?: boolean } = {}): tf.Tensor2D {
    checkMap('SwinMLP.forwardHead', last, this.numFeatures);
    return tf.tidy(() => {
      const pooled = tf.mean(this.norm.forward(last), [1, 2]) as tf.Tensor2D;
      if (opts.preLogits || !this.head) return pooled;
      return this.head.forward(pooled) as tf.Tensor2D;
    });
  }

  /** Logits `[B, numClasses]` (pooled features `[B, numFeatures]` when numClasses is 0). */
  forward(x: tf.Tensor4D): tf.Tensor2D {
    this.checkInput('forward', x);
    return tf.tidy(() => {
      let y = this.embedTail(this.patchEmbed.forward(x));
      for (const layer of this.layers) y = layer.forward(y);
      return this.forwardHead(y);
    });
  }

  /**
   * Every intermediate the parity fixtures store: `embed` (patch_embed output, before ape, NHWC),
   * `features[i]` (last block of stage i, NHWC), `stageOut[i]` (official `layers.i` output incl.
   * PatchMerging, tokens `[B, L, C]`), `preLogits`, `logits`.
   */
  forwardWithIntermediates(x: tf.Tensor4D): SwinMLPForwardOutputs {
    this.checkInput('forwardWithIntermediates', x);
    return tf.tidy(() => {
      const embed = this.patchEmbed.forward(x);
      let y = this.embedTail(embed);
      const features: tf.Tensor4D[] = [];
      const stageOut: tf.Tensor3D[] = [];
      for (const layer of this.layers) {
        const f = layer.forwardBlocks(y);
        features.push(f);
        y = layer.downsample ? layer.downsample.forward(f) : f;
        const [B, h, w, C] = y.shape;
        stageOut.push(tf.reshape(y, [B, h * w, C]));
      }
      const preLogits = this.forwardHead(y, { preLogits: true });
      const logits = this.head ? (this.head.forward(preLogits) as tf.Tensor2D) : tf.clone(preLogits);
      return { embed, features, stageOut, preLogits, logits };
    });
  }

  /** Multiply-accumulates of one `H x W` image ({@link swinMlpMacs}; the official `flops()` where sizes divide). */
  macs(H?: number, W?: number): number {
    return swinMlpMacs(this.config, H, W);
  }
}
