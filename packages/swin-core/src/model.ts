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
import { bicubicInterpolationMatrix } from '@swin/rel-pos-bias';
import * as tf from '@tensorflow/tfjs-core';
import { type SwinBlockOptions, SwinTransformerBlock } from './block.js';
import { type LoadSwinCheckpointOptions, loadSwinCheckpoint, type SwinLoadReport } from './checkpoint.js';
import {
  dropPathRates,
  imgSizePair,
  resolveSwinConfig,
  type SwinConfig,
  stageResolutions,
} from './config.js';
import { swinMacs } from './counting.js';
import { PatchEmbed } from './patch-embed.js';
import { PatchMerging } from './patch-merging.js';
import { assertNHWC, assertPositiveInts } from './validate.js';

/** Options of {@link BasicLayer}. */
export interface BasicLayerOptions extends Omit<SwinBlockOptions, 'shiftSize' | 'dropPath' | 'windowSize'> {
  /** Stochastic depth: one rate for all blocks or one per block. Default 0. */
  dropPath?: number | number[];
  /** Append a PatchMerging (`downsample`) at the end of the stage. Default false. */
  downsample?: boolean;
}

/**
 * Official Swin `BasicLayer` (one Microsoft stage): `depth` blocks alternating W-MSA (even) and SW-MSA
 * (odd, shift `windowSize // 2`), then an optional trailing `PatchMerging`.
 * Keys `blocks.<j>.*`, `downsample.*`.
 *
 * x `[B, H, W, dim]` -> `[B, ceil(H/2), ceil(W/2), 2*dim]` with downsample, else `[B, H, W, dim]`.
 */
export class BasicLayer extends Module {
  readonly blocks: ModuleList<SwinTransformerBlock>;
  readonly downsample: PatchMerging | null;

  constructor(
    readonly dim: number,
    inputResolution: readonly [number, number] | null,
    readonly depth: number,
    readonly numHeads: number,
    readonly windowSize: number,
    opts: BasicLayerOptions = {},
  ) {
    super();
    assertPositiveInts('BasicLayer', { dim, depth, numHeads, windowSize });
    const dp = opts.dropPath ?? 0;
    const blocks: SwinTransformerBlock[] = [];
    for (let i = 0; i < depth; i++) {
      blocks.push(
        new SwinTransformerBlock(dim, inputResolution, numHeads, {
          ...opts,
          windowSize,
          shiftSize: i % 2 === 0 ? 0 : Math.floor(windowSize / 2),
          dropPath: Array.isArray(dp) ? dp[i] : dp,
        }),
      );
    }
    this.blocks = this.child('blocks', new ModuleList(blocks));
    this.downsample = opts.downsample
      ? this.child('downsample', new PatchMerging(dim, { eps: opts.eps }))
      : null;
  }

  /** Runs the blocks only: `[B, H, W, dim]` -> `[B, H, W, dim]`. */
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

/** Everything {@link SwinTransformer.forwardWithIntermediates} returns. */
export interface SwinForwardOutputs extends ForwardOutputs {
  /**
   * Microsoft `layers.<i>` outputs (stage INCLUDING its trailing PatchMerging) as tokens `[B, L, C]`,
   * like the fixtures' `stage_out.<i>`.
   */
  stageOut: tf.Tensor3D[];
}

/**
 * Official Swin Transformer classifier (microsoft/Swin-Transformer `models/swin_transformer.py`).
 *
 * Keys: `patch_embed.*`, `absolute_pos_embed` `[1, L, embedDim]` (ape only), `layers.<i>.blocks.<j>.*`,
 * `layers.<i>.downsample.*` (stages 0..n-2), `norm.*`, `head.*` (numClasses > 0), plus the recomputed
 * buffers `relative_position_index` and `attn_mask`.
 *
 * Input images NHWC `[B, H, W, inChans]`, any H and W (padding to patch/window multiples and for odd
 * maps before PatchMerging; identical to the official model wherever sizes divide). Stage `i` outputs
 * `[B, ceil(H/(p*2^i)), ceil(W/(p*2^i)), embedDim*2^i]`.
 */
export class SwinTransformer extends Module implements VisionModel {
  readonly config: SwinConfig;
  readonly patchEmbed: PatchEmbed;
  readonly absolutePosEmbed: tf.Variable | null;
  readonly posDrop: Dropout;
  readonly layers: ModuleList<BasicLayer>;
  readonly norm: LayerNorm;
  readonly head: Linear | null;
  readonly numClasses: number;
  readonly numFeatures: number;
  readonly numLayers: number;
  readonly featureInfo: FeatureInfo[];
  /** Patch grid `[H/p, W/p]` of the construction `imgSize` (the `absolute_pos_embed` grid). */
  readonly patchGrid: [number, number];

  constructor(config: Partial<SwinConfig> = {}) {
    super();
    const c = resolveSwinConfig(config);
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
    const layers: BasicLayer[] = [];
    let start = 0;
    this.featureInfo = [];
    for (let i = 0; i < this.numLayers; i++) {
      const dim = c.embedDim * 2 ** i;
      layers.push(
        new BasicLayer(dim, res[i], c.depths[i], c.numHeads[i], c.windowSize, {
          mlpRatio: c.mlpRatio,
          qkvBias: c.qkvBias,
          qkScale: c.qkScale,
          drop: c.dropRate,
          attnDrop: c.attnDropRate,
          dropPath: dpr.slice(start, start + c.depths[i]),
          eps: c.normEps,
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
    assertNHWC(`SwinTransformer.${fn}`, x, this.config.inChans);
  }

  /** The absolute position embedding for a `gh x gw` patch grid (bicubically resized if it differs). */
  private posEmbedFor(gh: number, gw: number): tf.Tensor {
    const pe = this.absolutePosEmbed as tf.Variable;
    const [h0, w0] = this.patchGrid;
    const C = this.config.embedDim;
    if (gh === h0 && gw === w0) return tf.reshape(pe, [1, gh, gw, C]);
    return tf.tidy(() => {
      const rowM = tf.tensor2d(bicubicInterpolationMatrix(h0, gh), [gh, h0]);
      const colM = tf.tensor2d(bicubicInterpolationMatrix(w0, gw), [gw, w0]);
      const rows = tf.matMul(rowM, tf.reshape(pe, [h0, w0 * C])); // [gh, w0*C]
      const t = tf.reshape(tf.transpose(tf.reshape(rows, [gh, w0, C]), [1, 0, 2]), [w0, gh * C]);
      const cols = tf.matMul(colM, t); // [gw, gh*C]
      return tf.reshape(tf.transpose(tf.reshape(cols, [gw, gh, C]), [1, 0, 2]), [1, gh, gw, C]);
    });
  }

  /** Patch embedding (+ absolute position embedding, + dropout): `[B, H, W, inChans]` -> `[B, H/p, W/p, embedDim]`. */
  forwardEmbed(x: tf.Tensor4D): tf.Tensor4D {
    this.checkInput('forwardEmbed', x);
    return tf.tidy(() => this.embedTail(this.patchEmbed.forward(x)));
  }

  private embedTail(e: tf.Tensor4D): tf.Tensor4D {
    let y: tf.Tensor = e;
    if (this.absolutePosEmbed) y = tf.add(y, this.posEmbedFor(e.shape[1], e.shape[2]));
    return this.posDrop.forward(y) as tf.Tensor4D;
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
    assertNHWC('SwinTransformer.forwardHead', last, this.numFeatures, 'last');
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
   * `features[i]` (last block of stage i, NHWC), `stageOut[i]` (Microsoft `layers.i` output incl.
   * PatchMerging, tokens `[B, L, C]`), `preLogits`, `logits`.
   */
  forwardWithIntermediates(x: tf.Tensor4D): SwinForwardOutputs {
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

  /**
   * Loads a Microsoft- or timm-layout checkpoint (see {@link loadSwinCheckpoint}). The caller keeps
   * ownership of `tensors`.
   */
  loadCheckpoint(tensors: Record<string, tf.Tensor>, opts: LoadSwinCheckpointOptions = {}): SwinLoadReport {
    return loadSwinCheckpoint(this, tensors, opts);
  }

  /** Multiply-accumulates of one `H x W` image ({@link swinMacs}; the official `flops()` where sizes divide). */
  macs(H?: number, W?: number): number {
    return swinMacs(this.config, H, W);
  }
}
