import {
  assertTensorInput,
  DepthwiseConv2d,
  Dropout,
  DropPath,
  type FeatureBlock,
  gelu,
  LayerNorm,
  Linear,
  Module,
  SwinConfigError,
  SwinInputError,
} from '@swin/nn';
import * as tf from '@tensorflow/tfjs-core';
import { ShuntedAttention } from './attention.js';
import { mlpHidden } from './config.js';
import { shuntedBlockMacs, shuntedMlpMacs } from './counts.js';
import { officialConvInit } from './init.js';
import { checkSize } from './sizes.js';

/**
 * The reference `DWConv`: a depthwise 3x3 conv (padding 1, bias) on the `H x W` map, key `dwconv.*`.
 * NHWC `[B, H, W, C]` -> `[B, H, W, C]`.
 */
export class DWConv extends Module {
  readonly dwconv: DepthwiseConv2d;
  constructor(readonly dim: number) {
    super();
    this.dwconv = this.child('dwconv', new DepthwiseConv2d(dim, 3, 1));
    officialConvInit(this.dwconv);
  }
  forward(x: tf.Tensor4D): tf.Tensor4D {
    return this.dwconv.forward(x);
  }
}

/**
 * The detail-specific feed-forward layer of Shunted Transformer (reference `Mlp`):
 * `fc1 -> GELU(x + dwconv(x)) -> drop -> fc2 -> drop` (a residual around the depthwise conv, unlike PVT v2).
 * Keys `fc1.*`, `dwconv.dwconv.*`, `fc2.*`. NHWC `[B, H, W, in]` -> `[B, H, W, out]`.
 */
export class ShuntedMlp extends Module {
  readonly fc1: Linear;
  readonly dwconv: DWConv;
  readonly fc2: Linear;
  readonly drop: Dropout;
  constructor(
    readonly inFeatures: number,
    readonly hiddenFeatures = inFeatures,
    readonly outFeatures = inFeatures,
    drop = 0,
  ) {
    super();
    this.fc1 = this.child('fc1', new Linear(inFeatures, hiddenFeatures));
    this.dwconv = this.child('dwconv', new DWConv(hiddenFeatures));
    this.fc2 = this.child('fc2', new Linear(hiddenFeatures, outFeatures));
    this.drop = this.child('drop', new Dropout(drop));
  }
  forward(x: tf.Tensor4D): tf.Tensor4D {
    assertTensorInput('ShuntedMlp.forward', x, { rank: 4, channels: this.inFeatures });
    if (x.rank !== 4 || x.shape[3] !== this.inFeatures)
      throw new SwinInputError(
        `ShuntedMlp: expected NHWC [B, H, W, ${this.inFeatures}], got shape [${x.shape}]`,
      );
    return tf.tidy(() => {
      const h = this.fc1.forward(x) as tf.Tensor4D;
      const a = this.drop.forward(gelu(tf.add(h, this.dwconv.forward(h))));
      return this.drop.forward(this.fc2.forward(a)) as tf.Tensor4D;
    });
  }
  macs(H: number, W: number): number {
    return shuntedMlpMacs(this.inFeatures, this.hiddenFeatures, H, W);
  }
}

/** Options of {@link ShuntedBlock} (official `Block.__init__` kwargs). */
export interface ShuntedBlockOptions {
  /** [`mlp_ratio`] default 4. Hidden width `int(dim * mlp_ratio)`. */
  mlpRatio?: number;
  /** [`qkv_bias`] default false. */
  qkvBias?: boolean;
  /** [`qk_scale`] default null. */
  qkScale?: number | null;
  /** [`drop`] default 0 (attention proj and Mlp dropout). */
  drop?: number;
  /** [`attn_drop`] default 0. */
  attnDrop?: number;
  /** [`drop_path`] default 0. */
  dropPath?: number;
  /** [`sr_ratio`] 1, 2, 4 or 8, default 1. */
  srRatio?: number;
  /**
   * [`norm_layer`] eps of `norm1` / `norm2`: default 1e-6, the value of every official model factory
   * (`partial(nn.LayerNorm, eps=1e-6)`); the attention's own reduction norms always use 1e-5.
   */
  normEps?: number;
  /** Prefix for error messages (e.g. `block2.0`). */
  label?: string;
}

/**
 * Shunted Transformer block (reference `Block`): `x + attn(norm1(x))`, then `x + mlp(norm2(x))`, with
 * stochastic depth on both branches. Keys `norm1.*`, `attn.*`, `norm2.*`, `mlp.*`.
 * Implements `FeatureBlock`: NHWC `[B, H, W, dim]` -> `[B, H, W, dim]`.
 */
export class ShuntedBlock extends Module implements FeatureBlock {
  readonly norm1: LayerNorm;
  readonly attn: ShuntedAttention;
  readonly dropPath: DropPath;
  readonly norm2: LayerNorm;
  readonly mlp: ShuntedMlp;
  readonly mlpRatio: number;
  readonly label: string;

  constructor(
    readonly dim: number,
    readonly numHeads: number,
    opts: ShuntedBlockOptions = {},
  ) {
    super();
    this.label = opts.label ?? 'ShuntedBlock';
    const eps = opts.normEps ?? 1e-6;
    this.mlpRatio = opts.mlpRatio ?? 4;
    const hidden = mlpHidden(dim, this.mlpRatio);
    if (!(hidden >= 1))
      throw new SwinConfigError(
        `${this.label}: mlp_ratio ${this.mlpRatio} gives a hidden width of ${hidden} for dim ${dim}`,
      );
    this.norm1 = this.child('norm1', new LayerNorm(dim, eps));
    this.attn = this.child(
      'attn',
      new ShuntedAttention(dim, {
        numHeads,
        qkvBias: opts.qkvBias,
        qkScale: opts.qkScale,
        attnDrop: opts.attnDrop,
        projDrop: opts.drop,
        srRatio: opts.srRatio,
        label: `${this.label}.attn`,
      }),
    );
    this.dropPath = this.child('drop_path', new DropPath(opts.dropPath ?? 0));
    this.norm2 = this.child('norm2', new LayerNorm(dim, eps));
    this.mlp = this.child('mlp', new ShuntedMlp(dim, hidden, dim, opts.drop ?? 0));
  }

  get srRatio(): number {
    return this.attn.srRatio;
  }

  /** NHWC `[B, H, W, dim]` -> `[B, H, W, dim]`. */
  forward(x: tf.Tensor4D): tf.Tensor4D {
    assertTensorInput(`${this.label}.forward`, x, { rank: 4, channels: this.dim });
    if (x.rank !== 4 || x.shape[3] !== this.dim)
      throw new SwinInputError(
        `${this.label}.forward: expected NHWC [B, H, W, ${this.dim}], got shape [${x.shape}]`,
      );
    return tf.tidy(() => {
      const y = tf.add(x, this.dropPath.forward(this.attn.forward(this.norm1.forward(x)))) as tf.Tensor4D;
      return tf.add(y, this.dropPath.forward(this.mlp.forward(this.norm2.forward(y)))) as tf.Tensor4D;
    });
  }

  /** Token interface of the reference `forward(x, H, W)`: `[B, H*W, dim]` -> `[B, H*W, dim]`. */
  forwardTokens(x: tf.Tensor3D, H: number, W: number): tf.Tensor3D {
    checkSize(this.label, H, W);
    assertTensorInput(`${this.label}.forwardTokens`, x, { rank: 3, channels: this.dim });
    if (x.rank !== 3 || x.shape[2] !== this.dim || x.shape[1] !== H * W)
      throw new SwinInputError(
        `${this.label}.forwardTokens: expected tokens [B, ${H * W}, ${this.dim}] for a ${H}x${W} map, got shape [${x.shape}]`,
      );
    return tf.tidy(() => {
      const [B, N, C] = x.shape;
      return tf.reshape(this.forward(tf.reshape(x, [B, H, W, C])), [B, N, C]);
    });
  }

  macs(H: number, W: number): number {
    return shuntedBlockMacs(this.dim, this.srRatio, this.mlpRatio, H, W);
  }
}
