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
import * as tf from '@tensorflow/tfjs-core';
import { dropPathRates, type HierarchicalConfig, imgSizePair, stageResolutions } from './hierarchical.js';
import { PatchEmbed } from './patch-embed.js';
import type { PatchMerging } from './patch-merging.js';

/**
 * What {@link HierarchicalClassifier} needs of a stage (official `BasicLayer`): blocks then an optional
 * trailing PatchMerging. `forwardBlocks` `[B, H, W, dim]` -> `[B, H, W, dim]`; `forward` also downsamples.
 */
export interface HierarchicalStage extends Module {
  readonly blocks: ModuleList<Module & { readonly windowSize: number; readonly shiftSize: number }>;
  readonly downsample: PatchMerging | null;
  forwardBlocks(x: tf.Tensor4D): tf.Tensor4D;
  forward(x: tf.Tensor4D): tf.Tensor4D;
}

/** A block of a {@link HierarchicalStageBase}: `[B, H, W, dim]` -> `[B, H, W, dim]` with its effective window. */
export interface WindowedBlock extends Module {
  readonly windowSize: number;
  readonly shiftSize: number;
  forward(x: tf.Tensor4D): tf.Tensor4D;
  macs(H: number, W: number): number;
}

/**
 * The shared body of a hierarchical stage (official `BasicLayer`): the `blocks` (keys `blocks.<j>.*`)
 * then an optional trailing PatchMerging (`downsample.*`). Subclasses build the blocks.
 *
 * x `[B, H, W, dim]` -> `[B, ceil(H/2), ceil(W/2), 2*dim]` with downsample, else `[B, H, W, dim]`.
 */
export abstract class HierarchicalStageBase<B extends WindowedBlock>
  extends Module
  implements HierarchicalStage
{
  readonly blocks: ModuleList<B>;
  readonly downsample: PatchMerging | null;

  protected constructor(blocks: B[], downsample: PatchMerging | null) {
    super();
    this.blocks = this.child('blocks', new ModuleList(blocks));
    this.downsample = downsample ? this.child('downsample', downsample) : null;
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

/** Everything {@link HierarchicalClassifier.forwardWithIntermediates} returns. */
export interface HierarchicalForwardOutputs extends ForwardOutputs {
  /**
   * Official `layers.<i>` outputs (stage INCLUDING its trailing PatchMerging) as tokens `[B, L, C]`, like
   * the fixtures' `stage_out.<i>`.
   */
  stageOut: tf.Tensor3D[];
}

/** Arguments of the stage factory of {@link HierarchicalClassifier}. */
export interface StageSpec {
  /** Stage index. */
  index: number;
  /** Channels, `embedDim * 2**index`. */
  dim: number;
  /** `[H, W]` map of the stage at the construction `imgSize`. */
  resolution: [number, number];
  /** Stochastic depth rate of each block of the stage. */
  dropPath: number[];
  /** Whether the stage ends with a PatchMerging (all but the last). */
  downsample: boolean;
}

/**
 * The skeleton of the hierarchical Swin-style classifiers (Swin Transformer, Swin-MLP): `patch_embed`,
 * optional `absolute_pos_embed` `[1, L, embedDim]`, `pos_drop`, `layers.<i>` (built by `makeStage`),
 * `norm`, `head` (numClasses > 0). Subclasses supply the stages, input checks and how the absolute
 * position embedding adapts to another patch grid.
 *
 * Input images NHWC `[B, H, W, inChans]`; stage `i` outputs `[B, ceil(H/(p*2^i)), ceil(W/(p*2^i)), embedDim*2^i]`.
 */
export abstract class HierarchicalClassifier<C extends HierarchicalConfig, L extends HierarchicalStage>
  extends Module
  implements VisionModel
{
  readonly config: C;
  readonly patchEmbed: PatchEmbed;
  readonly absolutePosEmbed: tf.Variable | null;
  readonly posDrop: Dropout;
  readonly layers: ModuleList<L>;
  readonly norm: LayerNorm;
  readonly head: Linear | null;
  readonly numClasses: number;
  readonly numFeatures: number;
  readonly numLayers: number;
  readonly featureInfo: FeatureInfo[];
  /** Patch grid `[H/p, W/p]` of the construction `imgSize` (the `absolute_pos_embed` grid). */
  readonly patchGrid: [number, number];

  /** @param c A resolved config. @param makeStage Builds stage `layers.<i>`. */
  protected constructor(c: C, makeStage: (spec: StageSpec) => L) {
    super();
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
    const layers: L[] = [];
    let start = 0;
    this.featureInfo = [];
    for (let i = 0; i < this.numLayers; i++) {
      const dim = c.embedDim * 2 ** i;
      layers.push(
        makeStage({
          index: i,
          dim,
          resolution: res[i],
          dropPath: dpr.slice(start, start + c.depths[i]),
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

  /** Throws unless `x` is an NHWC image batch with `inChans` channels; `fn` names the calling method. */
  protected abstract checkInput(fn: string, x: tf.Tensor4D): void;

  /** Throws unless `last` is `[B, H, W, numFeatures]` (the input of {@link forwardHead}). */
  protected abstract checkHeadInput(last: tf.Tensor4D): void;

  /** The absolute position embedding as `[1, gh, gw, embedDim]` for a `gh x gw` patch grid. */
  protected abstract posEmbedFor(gh: number, gw: number): tf.Tensor;

  /** Multiply-accumulates of one `H x W` image (default: `imgSize`). */
  abstract macs(H?: number, W?: number): number;

  /** Effective `[window, shift]` of every block (after the official clamping), per stage. */
  blockWindows(): [number, number][][] {
    return this.layers.items.map((l) => l.blocks.items.map((b) => [b.windowSize, b.shiftSize]));
  }

  /** Patch embedding (+ absolute position embedding, + dropout): `[B, H, W, inChans]` -> `[B, H/p, W/p, embedDim]`. */
  forwardEmbed(x: tf.Tensor4D): tf.Tensor4D {
    this.checkInput('forwardEmbed', x);
    this.assertNotDisposed(`${this.constructor.name}.forwardEmbed`);
    return tf.tidy(() => this.embedTail(this.patchEmbed.forward(x)));
  }

  /** ape, dropout after the patch embedding. */
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
    this.assertNotDisposed(`${this.constructor.name}.forwardFeatures`);
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
    this.checkHeadInput(last);
    this.assertNotDisposed(`${this.constructor.name}.forwardHead`);
    return tf.tidy(() => {
      const pooled = tf.mean(this.norm.forward(last), [1, 2]) as tf.Tensor2D;
      if (opts.preLogits || !this.head) return pooled;
      return this.head.forward(pooled) as tf.Tensor2D;
    });
  }

  /** Logits `[B, numClasses]` (pooled features `[B, numFeatures]` when numClasses is 0). */
  forward(x: tf.Tensor4D): tf.Tensor2D {
    this.checkInput('forward', x);
    this.assertNotDisposed(`${this.constructor.name}.forward`);
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
  forwardWithIntermediates(x: tf.Tensor4D): HierarchicalForwardOutputs {
    this.checkInput('forwardWithIntermediates', x);
    this.assertNotDisposed(`${this.constructor.name}.forwardWithIntermediates`);
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
}
