import {
  assertOptionsObject,
  assertTensorInput,
  Dropout,
  type FeatureInfo,
  type ForwardOutputs,
  LayerNorm,
  Linear,
  Module,
  ModuleList,
  SwinConfigError,
  SwinInputError,
  truncNormal,
  type VisionModel,
} from '@swin/nn';
import * as tf from '@tensorflow/tfjs-core';
import { PVTBlock } from './blocks.js';
import { dropPathRates, type PVTConfig, resolvePVTConfig, v1PosEmbedGrids } from './config.js';
import { checkPVTInputSize, type PVTMacsOptions, pvtMacs } from './counts.js';
import { PatchEmbed } from './layers.js';
import { bilinearResize } from './resample.js';

/** Every intermediate output of a PVT forward pass, for parity checks and dense heads. */
export interface PVTIntermediates extends ForwardOutputs {
  /** Output of every patch embedding (`patch_embed<i+1>`, before the position embedding), NHWC. */
  embeds: tf.Tensor4D[];
  /**
   * PVT v1 only: the last stage's tokens `[B, 1 + H*W, C]`, class token first, before the final norm
   * (the fixtures' `features.3`). `features[last]` holds the same map without the class token, NHWC.
   */
  lastTokens?: tf.Tensor3D;
  /**
   * The same tensors under the fixture names: `embed.<i>`, `features.<i>` (v1's last is `lastTokens`),
   * `pre_logits`, `logits`. `disposeIntermediates(out)` frees everything once.
   */
  named: Record<string, tf.Tensor>;
}

/**
 * PVT v1 `PyramidVisionTransformer` (whai362/PVT classification/pvt.py): per stage a non-overlapping
 * `PatchEmbed` (patch 4, then 2), a learned `pos_embed<i>` added (bilinearly resized, align_corners=False,
 * whenever the stage's `H*W` differs from `patch_embed1.num_patches`, as the reference does), then SR-attention
 * blocks. The last stage prepends `cls_token` (its `pos_embed4` has `1 + H*W` rows); final `norm` (1e-6) on the
 * class token -> `head`. State-dict keys are the official ones. Input NHWC `[B, H, W, inChans]`.
 */
export class PyramidVisionTransformer extends Module implements VisionModel {
  readonly config: PVTConfig;
  readonly patchEmbeds: PatchEmbed[] = [];
  readonly posEmbeds: tf.Variable[] = [];
  readonly posDrops: Dropout[] = [];
  readonly blocks: ModuleList<PVTBlock>[] = [];
  readonly norm: LayerNorm;
  readonly clsToken: tf.Variable;
  readonly head: Linear | null;
  readonly numClasses: number;
  readonly numFeatures: number;
  readonly featureInfo: FeatureInfo[];
  /** Stored `pos_embed<i+1>` grid of each stage (the last stage's has one extra class-token row). */
  readonly posGrids: [number, number][];

  constructor(config: Partial<PVTConfig> = {}) {
    super();
    assertOptionsObject('PyramidVisionTransformer', config, 'config');
    if (config?.version !== undefined && config.version !== 1) {
      throw new SwinConfigError(
        `PyramidVisionTransformer: config.version is ${JSON.stringify(config.version)}, but this class builds PVT v1 (use PyramidVisionTransformerV2 or createPVT)`,
      );
    }
    const cfg = resolvePVTConfig({ ...config, version: 1 }, 'PyramidVisionTransformer');
    this.config = cfg;
    const S = cfg.embedDims.length;
    this.posGrids = v1PosEmbedGrids(cfg);
    const dpr = dropPathRates(cfg);
    let cur = 0;
    for (let i = 0; i < S; i++) {
      const dim = cfg.embedDims[i];
      const pe = this.child(
        `patch_embed${i + 1}`,
        new PatchEmbed(i === 0 ? cfg.inChans : cfg.embedDims[i - 1], dim, i === 0 ? cfg.patchSize : 2, {
          name: `PVT stage ${i + 1} patch_embed${i + 1}`,
        }),
      );
      this.patchEmbeds.push(pe);
      const [gh, gw] = this.posGrids[i];
      const rows = gh * gw + (i === S - 1 ? 1 : 0);
      this.posEmbeds.push(this.param(`pos_embed${i + 1}`, [1, rows, dim], truncNormal(0.02)));
      this.posDrops.push(this.child(`pos_drop${i + 1}`, new Dropout(cfg.dropRate)));
      const list = new ModuleList<PVTBlock>();
      for (let j = 0; j < cfg.depths[i]; j++) {
        list.push(
          new PVTBlock(dim, cfg.numHeads[i], {
            mlpRatio: cfg.mlpRatios[i],
            srRatio: cfg.srRatios[i],
            qkvBias: cfg.qkvBias,
            qkScale: cfg.qkScale,
            normEps: cfg.normEps,
            drop: cfg.dropRate,
            attnDrop: cfg.attnDropRate,
            dropPath: dpr[cur + j],
            name: `PVT stage ${i + 1} block${i + 1}.${j}`,
          }),
        );
      }
      cur += cfg.depths[i];
      this.blocks.push(this.child(`block${i + 1}`, list));
    }
    const last = cfg.embedDims[S - 1];
    this.norm = this.child('norm', new LayerNorm(last, cfg.normEps));
    this.clsToken = this.param('cls_token', [1, 1, last], truncNormal(0.02));
    this.head = cfg.numClasses > 0 ? this.child('head', new Linear(last, cfg.numClasses)) : null;
    this.numClasses = cfg.numClasses;
    this.numFeatures = last;
    this.featureInfo = cfg.embedDims.map((c, i) => ({
      channels: c,
      reduction: cfg.patchSize * 2 ** i,
      module: `block${i + 1}`,
    }));
  }

  /**
   * The position embedding of stage `i` for an `H x W` token grid, `[1, H*W, C]` (class-token row excluded).
   * Reproduces the reference's `_get_pos_embed`: the stored grid is used as is when `H*W` equals
   * `patch_embed1.num_patches`, otherwise it is bilinearly resized (align_corners=False) to `H x W`.
   */
  posEmbedFor(i: number, H: number, W: number): tf.Tensor3D {
    const S = this.config.embedDims.length;
    const C = this.config.embedDims[i];
    const [gh, gw] = this.posGrids[i];
    const [g0h, g0w] = this.posGrids[0];
    return tf.tidy(() => {
      const stored = this.posEmbeds[i];
      const grid = (i === S - 1 ? tf.slice(stored, [0, 1, 0], [1, gh * gw, C]) : stored) as tf.Tensor3D;
      if (H * W === g0h * g0w) {
        if (gh * gw !== H * W) {
          // unreachable from the model's entries (checkInput refuses these sizes before any op)
          throw new SwinInputError(
            `PyramidVisionTransformer: stage ${i + 1} has a ${H}x${W} token grid, whose size equals patch_embed1.num_patches (${g0h * g0w}), so the reference adds pos_embed${i + 1} (${gh}x${gw} = ${gh * gw} rows) without resizing and fails; use an input size whose stage-${i + 1} grid differs from ${g0h * g0w} tokens`,
          );
        }
        return tf.clone(grid);
      }
      const resized = bilinearResize(tf.reshape(grid, [1, gh, gw, C]) as tf.Tensor4D, H, W);
      return tf.reshape(resized, [1, H * W, C]) as tf.Tensor3D;
    });
  }

  /**
   * Every check of an image batch, before any op (so nothing leaks inside a gradient tape): a live float32
   * `[B, H, W, inChans]`, a model not disposed, and a size every stage can take.
   */
  private checkInput(fn: string, x: tf.Tensor4D): void {
    const where = `PyramidVisionTransformer.${fn}`;
    assertTensorInput(where, x, { rank: 4, channels: this.config.inChans });
    this.assertNotDisposed(where);
    checkPVTInputSize(this.config, x.shape[1], x.shape[2], where);
  }

  /** Runs every stage; returns patch-embed outputs, per-stage maps (NHWC), the last stage's tokens. */
  private run(x: tf.Tensor4D): { embeds: tf.Tensor4D[]; features: tf.Tensor4D[]; lastTokens: tf.Tensor3D } {
    const S = this.config.embedDims.length;
    return tf.tidy(() => {
      const embeds: tf.Tensor4D[] = [];
      const features: tf.Tensor4D[] = [];
      let lastTokens: tf.Tensor3D | null = null;
      let h: tf.Tensor4D = x;
      for (let i = 0; i < S; i++) {
        const e = this.patchEmbeds[i].forward(h);
        embeds.push(e);
        const [B, H, W, C] = e.shape;
        let t = tf.reshape(e, [B, H * W, C]) as tf.Tensor3D;
        let pos = this.posEmbedFor(i, H, W);
        if (i === S - 1) {
          t = tf.concat([tf.broadcastTo(this.clsToken, [B, 1, C]) as tf.Tensor3D, t], 1);
          pos = tf.concat([tf.slice(this.posEmbeds[i], [0, 0, 0], [1, 1, C]) as tf.Tensor3D, pos], 1);
        }
        t = this.posDrops[i].forward(tf.add(t, pos)) as tf.Tensor3D;
        for (const blk of this.blocks[i]) t = blk.forwardTokens(t, H, W);
        if (i === S - 1) {
          lastTokens = t;
          features.push(tf.reshape(tf.slice(t, [0, 1, 0], [B, H * W, C]), [B, H, W, C]) as tf.Tensor4D);
        } else {
          h = tf.reshape(t, [B, H, W, C]) as tf.Tensor4D;
          features.push(h);
        }
      }
      return { embeds, features, lastTokens: lastTokens! };
    });
  }

  /** Per-stage outputs NHWC `[B, H_i, W_i, C_i]` (before the final norm; the last map without the class token). */
  forwardFeatures(x: tf.Tensor4D): tf.Tensor4D[] {
    this.checkInput('forwardFeatures', x);
    const { features, clsToken } = this.forwardFeaturesWithClassToken(x);
    clsToken.dispose();
    return features;
  }

  /** `forwardFeatures` plus the last stage's class token `[B, C]` (before the final norm). */
  forwardFeaturesWithClassToken(x: tf.Tensor4D): { features: tf.Tensor4D[]; clsToken: tf.Tensor2D } {
    this.checkInput('forwardFeaturesWithClassToken', x);
    const r = this.run(x);
    for (const e of r.embeds) e.dispose();
    const [B, , C] = r.lastTokens.shape;
    const clsToken = tf.tidy(
      () => tf.reshape(tf.slice(r.lastTokens, [0, 0, 0], [B, 1, C]), [B, C]) as tf.Tensor2D,
    );
    r.lastTokens.dispose();
    return { features: r.features, clsToken };
  }

  /**
   * Classifier: final norm on the class token -> head. PVT v1 classifies the class token, which the NHWC map
   * does not hold: pass it as `opts.clsToken` (`[B, C]` or `[B, 1, C]`, from `forwardFeaturesWithClassToken`).
   */
  forwardHead(_last: tf.Tensor4D, opts: { preLogits?: boolean; clsToken?: tf.Tensor } = {}): tf.Tensor2D {
    if (opts === null || typeof opts !== 'object' || !opts.clsToken) {
      throw new SwinInputError(
        'PyramidVisionTransformer.forwardHead: PVT v1 classifies the class token, which the last NHWC map does not hold; pass opts.clsToken (from forwardFeaturesWithClassToken) or call forward()',
      );
    }
    const cls = opts.clsToken;
    assertTensorInput('PyramidVisionTransformer.forwardHead', cls, {
      what: 'opts.clsToken',
      rank: cls?.rank === 3 ? 3 : 2,
      layout: cls?.rank === 3 ? '[B, 1, C]' : '[B, C]',
      channels: this.numFeatures,
    });
    if (cls.rank === 3 && cls.shape[1] !== 1)
      throw new SwinInputError(
        `PyramidVisionTransformer.forwardHead: opts.clsToken must be [B, C] or [B, 1, C], got shape [${cls.shape}]`,
      );
    this.assertNotDisposed('PyramidVisionTransformer.forwardHead');
    return tf.tidy(() => {
      const c = tf.reshape(cls, [cls.shape[0], this.numFeatures]) as tf.Tensor2D;
      const pre = this.norm.forward(c);
      return opts.preLogits || !this.head ? pre : (this.head.forward(pre) as tf.Tensor2D);
    });
  }

  /** Logits `[B, numClasses]` (pre-logits `[B, C]` when `numClasses` is 0). */
  forward(x: tf.Tensor4D): tf.Tensor2D {
    this.checkInput('forward', x);
    return tf.tidy(() => {
      const { clsToken } = this.forwardFeaturesWithClassToken(x);
      return this.forwardHead(null as unknown as tf.Tensor4D, { clsToken });
    });
  }

  /** Every intermediate (see `PVTIntermediates`); the caller disposes them. */
  forwardWithIntermediates(x: tf.Tensor4D): PVTIntermediates {
    this.checkInput('forwardWithIntermediates', x);
    const r = this.run(x);
    const [B, , C] = r.lastTokens.shape;
    const preLogits = tf.tidy(() =>
      this.norm.forward(tf.reshape(tf.slice(r.lastTokens, [0, 0, 0], [B, 1, C]), [B, C]) as tf.Tensor2D),
    );
    const logits = this.head ? (this.head.forward(preLogits) as tf.Tensor2D) : tf.clone(preLogits);
    const named: Record<string, tf.Tensor> = { pre_logits: preLogits, logits };
    r.embeds.forEach((e, i) => {
      named[`embed.${i}`] = e;
    });
    r.features.forEach((f, i) => {
      named[`features.${i}`] = i === r.features.length - 1 ? r.lastTokens : f;
    });
    return {
      embed: r.embeds[0],
      embeds: r.embeds,
      features: r.features,
      lastTokens: r.lastTokens,
      preLogits,
      logits,
      named,
    };
  }

  /** Multiply-accumulates of one `H x W` image (see `pvtMacs`; default: the official get_flops.py convention). */
  macs(H: number, W: number, opts: PVTMacsOptions = {}): number {
    return pvtMacs(this.config, H, W, opts);
  }
}

/** Disposes every tensor of a `PVTIntermediates` (each once). */
export function disposeIntermediates(out: PVTIntermediates): void {
  const all = new Set<tf.Tensor>([
    out.embed,
    ...out.embeds,
    ...out.features,
    out.preLogits,
    out.logits,
    ...Object.values(out.named),
  ]);
  if (out.lastTokens) all.add(out.lastTokens);
  for (const t of all) t.dispose();
}
