import { SwinConfigError, SwinInputError } from '@swin/nn';
import {
  HierarchicalClassifier,
  type HierarchicalForwardOutputs,
  HierarchicalStageBase,
  PatchMerging,
} from '@swin/swin-core';
import * as tf from '@tensorflow/tfjs-core';
import { checkMap, SwinMLPBlock } from './block.js';
import { resolveSwinMlpConfig, type SwinMLPConfig } from './config.js';
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
export class SwinMLPLayer extends HierarchicalStageBase<SwinMLPBlock> {
  constructor(
    readonly dim: number,
    inputResolution: readonly [number, number] | null,
    readonly depth: number,
    readonly numHeads: number,
    readonly windowSize: number,
    opts: SwinMLPLayerOptions = {},
  ) {
    if (!Number.isInteger(depth) || depth <= 0) {
      throw new SwinConfigError(`SwinMLPLayer: depth must be a positive integer, got ${depth}`);
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
    super(blocks, opts.downsample ? new PatchMerging(dim, { eps: opts.normEps }) : null);
  }
}

/** Everything {@link SwinMLP.forwardWithIntermediates} returns (`stageOut` are the official `layers.<i>` outputs). */
export interface SwinMLPForwardOutputs extends HierarchicalForwardOutputs {}

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
 * weight shapes) are fixed at construction from `imgSize`. Forward methods: see the shared
 * `HierarchicalClassifier` of `@swin/swin-core`.
 */
export class SwinMLP extends HierarchicalClassifier<SwinMLPConfig, SwinMLPLayer> {
  constructor(config: Partial<SwinMLPConfig> = {}) {
    const c = resolveSwinMlpConfig(config);
    super(
      c,
      (s) =>
        new SwinMLPLayer(s.dim, s.resolution, c.depths[s.index], c.numHeads[s.index], c.windowSize, {
          mlpRatio: c.mlpRatio,
          drop: c.dropRate,
          dropPath: s.dropPath,
          normEps: c.normEps,
          downsample: s.downsample,
        }),
    );
  }

  protected override checkInput(fn: string, x: tf.Tensor4D): void {
    checkMap(`SwinMLP.${fn}`, x, this.config.inChans);
    if (this.absolutePosEmbed) {
      // checked here, before any op: the embedding exists for the construction patch grid only
      const p = this.config.patchSize;
      const [gh, gw] = [Math.ceil(x.shape[1] / p), Math.ceil(x.shape[2] / p)];
      const [h0, w0] = this.patchGrid;
      if (gh !== h0 || gw !== w0) {
        throw new SwinInputError(
          `SwinMLP.${fn}: absolute_pos_embed is defined for a ${h0}x${w0} patch grid (imgSize ${JSON.stringify(
            this.config.imgSize,
          )}), but the ${x.shape[1]}x${x.shape[2]} input gives ${gh}x${gw}; run at imgSize or build the model without ape`,
        );
      }
    }
  }

  protected override checkHeadInput(last: tf.Tensor4D): void {
    checkMap('SwinMLP.forwardHead', last, this.numFeatures, 'last');
  }

  /** The absolute position embedding `[1, gh, gw, embedDim]`; only the construction patch grid is supported. */
  protected override posEmbedFor(gh: number, gw: number): tf.Tensor {
    const [h0, w0] = this.patchGrid;
    if (gh !== h0 || gw !== w0) {
      throw new SwinConfigError(
        `SwinMLP: absolute_pos_embed is defined for a ${h0}x${w0} patch grid (imgSize ${JSON.stringify(
          this.config.imgSize,
        )}), but the input gives ${gh}x${gw}; run at imgSize or build the model without ape`,
      );
    }
    return tf.reshape(this.absolutePosEmbed as tf.Variable, [1, gh, gw, this.config.embedDim]);
  }

  /** Multiply-accumulates of one `H x W` image ({@link swinMlpMacs}; the official `flops()` where sizes divide). */
  override macs(H?: number, W?: number): number {
    return swinMlpMacs(this.config, H, W);
  }
}
