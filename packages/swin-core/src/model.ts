import { bicubicInterpolationMatrix } from '@swin/rel-pos-bias';
import * as tf from '@tensorflow/tfjs-core';
import { type SwinBlockOptions, SwinTransformerBlock } from './block.js';
import { type LoadSwinCheckpointOptions, loadSwinCheckpoint, type SwinLoadReport } from './checkpoint.js';
import { resolveSwinConfig, type SwinConfig } from './config.js';
import { swinMacs } from './counting.js';
import {
  HierarchicalClassifier,
  type HierarchicalForwardOutputs,
  HierarchicalStageBase,
} from './hierarchical-model.js';
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
export class BasicLayer extends HierarchicalStageBase<SwinTransformerBlock> {
  constructor(
    readonly dim: number,
    inputResolution: readonly [number, number] | null,
    readonly depth: number,
    readonly numHeads: number,
    readonly windowSize: number,
    opts: BasicLayerOptions = {},
  ) {
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
    super(blocks, opts.downsample ? new PatchMerging(dim, { eps: opts.eps }) : null);
  }
}

/** Everything {@link SwinTransformer.forwardWithIntermediates} returns (`stageOut` are Microsoft `layers.<i>` outputs). */
export interface SwinForwardOutputs extends HierarchicalForwardOutputs {}

/**
 * Official Swin Transformer classifier (microsoft/Swin-Transformer `models/swin_transformer.py`).
 *
 * Keys: `patch_embed.*`, `absolute_pos_embed` `[1, L, embedDim]` (ape only), `layers.<i>.blocks.<j>.*`,
 * `layers.<i>.downsample.*` (stages 0..n-2), `norm.*`, `head.*` (numClasses > 0), plus the recomputed
 * buffers `relative_position_index` and `attn_mask`.
 *
 * Input images NHWC `[B, H, W, inChans]`, any H and W (padding to patch/window multiples and for odd
 * maps before PatchMerging; identical to the official model wherever sizes divide). Stage `i` outputs
 * `[B, ceil(H/(p*2^i)), ceil(W/(p*2^i)), embedDim*2^i]`. The absolute position embedding is bicubically
 * resized for other patch grids. Forward methods: see {@link HierarchicalClassifier}.
 */
export class SwinTransformer extends HierarchicalClassifier<SwinConfig, BasicLayer> {
  constructor(config: Partial<SwinConfig> = {}) {
    const c = resolveSwinConfig(config);
    super(
      c,
      (s) =>
        new BasicLayer(s.dim, s.resolution, c.depths[s.index], c.numHeads[s.index], c.windowSize, {
          mlpRatio: c.mlpRatio,
          qkvBias: c.qkvBias,
          qkScale: c.qkScale,
          drop: c.dropRate,
          attnDrop: c.attnDropRate,
          dropPath: s.dropPath,
          eps: c.normEps,
          downsample: s.downsample,
        }),
    );
  }

  protected override checkInput(fn: string, x: tf.Tensor4D): void {
    assertNHWC(`SwinTransformer.${fn}`, x, this.config.inChans);
  }

  protected override checkHeadInput(last: tf.Tensor4D): void {
    assertNHWC('SwinTransformer.forwardHead', last, this.numFeatures, 'last');
  }

  /** The absolute position embedding for a `gh x gw` patch grid (bicubically resized if it differs). */
  protected override posEmbedFor(gh: number, gw: number): tf.Tensor {
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

  /**
   * Loads a Microsoft- or timm-layout checkpoint (see {@link loadSwinCheckpoint}). The caller keeps
   * ownership of `tensors`.
   */
  loadCheckpoint(tensors: Record<string, tf.Tensor>, opts: LoadSwinCheckpointOptions = {}): SwinLoadReport {
    return loadSwinCheckpoint(this, tensors, opts);
  }

  /** Multiply-accumulates of one `H x W` image ({@link swinMacs}; the official `flops()` where sizes divide). */
  override macs(H?: number, W?: number): number {
    return swinMacs(this.config, H, W);
  }
}
