import {
  assertTensorInput,
  type Downsample,
  Dropout,
  describeValue,
  type FeatureBlock,
  type FeatureInfo,
  type ForwardOutputs,
  LayerNorm,
  Linear,
  Module,
  ModuleList,
  SwinInputError,
  truncNormal,
  type VisionModel,
} from '@swin/nn';
import { bilinearResize, GlobalAttentionBlock, PVTBlock } from '@swin/pvt';
import * as tf from '@tensorflow/tfjs-core';
import type { BackboneConfig } from './config.js';
import { backboneMacs } from './counting.js';
import { BLOCK_KINDS, DOWNSAMPLE_KINDS } from './kinds.js';
import {
  dropPathSchedule,
  type ResolvedBackboneConfig,
  type ResolvedStageConfig,
  resolveBackboneConfig,
  stageReductions,
  stageSizes,
} from './resolve.js';

/** Options of {@link BackboneStage} besides its config. */
export interface BackboneStageOptions {
  /** Stage index (key `stages.{index}`). */
  index: number;
  /** Channels entering the stage. */
  inChannels: number;
  /** The stage's map size at the construction `imgSize`. */
  resolution: [number, number];
  /** Stochastic depth rate of each block. */
  dropPath: number[];
  dropRate: number;
  attnDropRate: number;
  /** The last stage of a `headPool: 'cls'` model: its position embedding has a class-token row. */
  classToken: boolean;
}

/**
 * One stage of a {@link HybridBackbone}: `downsample` -> (+ `pos_embed`, dropout) -> `blocks` -> `norm`.
 * Keys `downsample.*`, `pos_embed`, `blocks.{j}.*`, `norm.*`.
 *
 * x `[B, H, W, inChannels]` -> `[B, h, w, dim]`.
 */
export class BackboneStage extends Module {
  readonly downsample: Downsample;
  readonly posEmbed: tf.Variable | null;
  readonly posDrop: Dropout | null;
  readonly blocks: ModuleList<FeatureBlock>;
  readonly norm: LayerNorm | null;
  readonly dim: number;
  /** The stored `pos_embed` grid (the stage's map at `imgSize`), or null. */
  readonly posGrid: [number, number] | null;
  readonly hasClassToken: boolean;

  constructor(
    readonly config: ResolvedStageConfig,
    opts: BackboneStageOptions,
  ) {
    super();
    const c = config;
    this.dim = c.dim;
    this.hasClassToken = opts.classToken;
    this.downsample = this.child(
      'downsample',
      DOWNSAMPLE_KINDS[c.downsample.kind].build(c.downsample, opts.inChannels, c.dim),
    );
    if (c.posEmbed) {
      this.posGrid = [...opts.resolution];
      const rows = opts.resolution[0] * opts.resolution[1] + (opts.classToken ? 1 : 0);
      this.posEmbed = this.param('pos_embed', [1, rows, c.dim], truncNormal(0.02));
      this.posDrop = this.child('pos_drop', new Dropout(opts.dropRate));
    } else {
      this.posGrid = null;
      this.posEmbed = null;
      this.posDrop = null;
    }
    const spec = BLOCK_KINDS[c.block.kind];
    const blocks: FeatureBlock[] = [];
    for (let j = 0; j < c.depth; j++) {
      blocks.push(
        spec.build(c.block, {
          dim: c.dim,
          resolution: opts.resolution,
          index: j,
          normEps: c.blockNormEps,
          drop: opts.dropRate,
          attnDrop: opts.attnDropRate,
          dropPath: opts.dropPath[j] ?? 0,
          label: `stages.${opts.index}.blocks.${j}`,
        }),
      );
    }
    this.blocks = this.child('blocks', new ModuleList(blocks));
    this.norm = c.norm ? this.child('norm', new LayerNorm(c.dim, c.norm.eps)) : null;
  }

  /**
   * The position embedding of the map part for an `h x w` grid, `[1, h, w, dim]`: the stored grid, bilinearly
   * resized (align_corners=False) when the size differs.
   */
  private posMap(h: number, w: number): tf.Tensor4D {
    const [gh, gw] = this.posGrid as [number, number];
    const C = this.dim;
    return tf.tidy(() => {
      const pe = this.posEmbed as tf.Variable;
      const grid = this.hasClassToken ? tf.slice(pe, [0, 1, 0], [1, gh * gw, C]) : pe;
      const map = tf.reshape(grid, [1, gh, gw, C]) as tf.Tensor4D;
      return gh === h && gw === w ? map : bilinearResize(map, h, w);
    });
  }

  /**
   * Runs the stage. Without a class token: `[B, H, W, in]` -> `{ embed, out: [B, h, w, dim] }`. With a class
   * token `cls` `[1, 1, dim]` (the last stage of a `headPool: 'cls'` model), it is prepended to the tokens
   * (with its own position-embedding row), runs through the blocks, and comes back as `clsOut` `[B, dim]`.
   */
  run(
    x: tf.Tensor4D,
    cls: tf.Tensor | null = null,
  ): { embed: tf.Tensor4D; out: tf.Tensor4D; clsOut: tf.Tensor2D | undefined } {
    return tf.tidy(() => {
      const embed = this.downsample.forward(x);
      const [B, h, w, C] = embed.shape;
      if (!cls) {
        let y = embed;
        if (this.posEmbed) y = (this.posDrop as Dropout).forward(tf.add(y, this.posMap(h, w))) as tf.Tensor4D;
        for (const b of this.blocks) y = b.forward(y);
        if (this.norm) y = this.norm.forward(y);
        return { embed, out: y, clsOut: undefined };
      }
      let t: tf.Tensor3D = tf.concat(
        [tf.broadcastTo(cls, [B, 1, C]), tf.reshape(embed, [B, h * w, C])],
        1,
      ) as tf.Tensor3D;
      if (this.posEmbed) {
        const pos = tf.concat(
          [tf.slice(this.posEmbed, [0, 0, 0], [1, 1, C]), tf.reshape(this.posMap(h, w), [1, h * w, C])],
          1,
        );
        t = (this.posDrop as Dropout).forward(tf.add(t, pos)) as tf.Tensor3D;
      }
      for (const b of this.blocks) t = blockTokens(b, t, h, w);
      if (this.norm) t = this.norm.forward(t);
      const clsOut = tf.reshape(tf.slice(t, [0, 0, 0], [B, 1, C]), [B, C]) as tf.Tensor2D;
      const out = tf.reshape(tf.slice(t, [0, 1, 0], [B, h * w, C]), [B, h, w, C]) as tf.Tensor4D;
      return { embed, out, clsOut };
    });
  }

  /** `[B, H, W, in]` -> `[B, h, w, dim]` (stages without a class token). */
  forward(x: tf.Tensor4D): tf.Tensor4D {
    const r = this.run(x);
    r.embed.dispose();
    return r.out;
  }

  /** MACs of one `H x W` input map, summed from the built modules' own counters. */
  moduleMacs(H: number, W: number): number {
    const [h, w] = this.downsample.outSize(H, W);
    let m = this.downsample.macs(H, W);
    const spec = BLOCK_KINDS[this.config.block.kind];
    for (const b of this.blocks) {
      m += b.macs(h, w);
      if (this.hasClassToken && spec.classTokenMacs)
        m += spec.classTokenMacs(this.config.block, this.dim, h, w);
    }
    return m;
  }
}

/** Runs a block on tokens with a class token first (`[B, 1 + h*w, C]`). */
function blockTokens(b: FeatureBlock, t: tf.Tensor3D, h: number, w: number): tf.Tensor3D {
  if (b instanceof PVTBlock) return b.forwardTokens(t, h, w);
  if (b instanceof GlobalAttentionBlock) return b.forwardTokens(t);
  throw new SwinInputError(`HybridBackbone: block ${b.constructor.name} cannot take a class token`);
}

/** Everything {@link HybridBackbone.forwardWithIntermediates} returns (NHWC maps). */
export interface BackboneOutputs extends ForwardOutputs {
  /** Output of every stage's downsample (before position embedding), NHWC; `embed` is `embeds[0]`. */
  embeds: tf.Tensor4D[];
  /** `headPool: 'cls'` only: the class token after the last stage's blocks (and stage norm), `[B, C]`. */
  clsToken?: tf.Tensor2D;
}

/**
 * A hierarchical backbone whose stages mix block kinds (Swin, Swin-MLP, Shunted, PVT v1/v2, global
 * attention) and downsample kinds, built from a JSON {@link BackboneConfig}. Implements `VisionModel`.
 *
 * State-dict keys: `stages.{i}.downsample.*`, `stages.{i}.pos_embed`, `stages.{i}.blocks.{j}.*` (each block
 * with its own package's official keys), `stages.{i}.norm.*`, `cls_token`, `norm.*`, `head.*`.
 *
 * Input images NHWC `[B, H, W, inChans]`; stage `i` outputs `[B, h_i, w_i, dim_i]` (sizes from
 * {@link stageSizes}). Classifier: final norm -> mean over tokens (or the class token) -> head.
 */
export class HybridBackbone extends Module implements VisionModel {
  readonly config: ResolvedBackboneConfig;
  readonly stages: ModuleList<BackboneStage>;
  readonly clsToken: tf.Variable | null;
  readonly norm: LayerNorm | null;
  readonly head: Linear | null;
  readonly numClasses: number;
  readonly numFeatures: number;
  readonly featureInfo: FeatureInfo[];

  constructor(config: BackboneConfig) {
    super();
    const c = resolveBackboneConfig(config);
    this.config = c;
    const sizes = stageSizes(c, c.imgSize[0], c.imgSize[1], 'imgSize');
    const dpr = dropPathSchedule(c);
    const reductions = stageReductions(c);
    const S = c.stages.length;
    let inC = c.inChans;
    const stages: BackboneStage[] = [];
    c.stages.forEach((s, i) => {
      stages.push(
        new BackboneStage(s, {
          index: i,
          inChannels: inC,
          resolution: sizes[i],
          dropPath: dpr[i],
          dropRate: c.dropRate,
          attnDropRate: c.attnDropRate,
          classToken: c.headPool === 'cls' && i === S - 1,
        }),
      );
      inC = s.dim;
    });
    this.stages = this.child('stages', new ModuleList(stages));
    this.numFeatures = inC;
    this.clsToken = c.headPool === 'cls' ? this.param('cls_token', [1, 1, inC], truncNormal(0.02)) : null;
    this.norm = c.finalNorm ? this.child('norm', new LayerNorm(inC, c.finalNorm.eps)) : null;
    this.numClasses = c.numClasses;
    this.head = c.numClasses > 0 ? this.child('head', new Linear(inC, c.numClasses)) : null;
    this.featureInfo = c.stages.map((s, i) => ({
      channels: s.dim,
      reduction: reductions[i],
      module: `stages.${i}`,
    }));
  }

  /** Map size `[h, w]` of every stage for an `H x W` image (clear errors when a stage cannot run). */
  stageSizes(H: number, W: number): [number, number][] {
    return stageSizes(this.config, H, W);
  }

  /**
   * Every check of an image batch, before any op (so nothing leaks inside a gradient tape): a live float32
   * `[B, H, W, inChans]`, a model not disposed, and a size every stage can take.
   */
  private checkInput(fn: string, x: tf.Tensor4D): void {
    const where = `HybridBackbone.${fn}`;
    assertTensorInput(where, x, { rank: 4, channels: this.config.inChans });
    this.assertNotDisposed(where);
    try {
      stageSizes(this.config, x.shape[1], x.shape[2]);
    } catch (e) {
      throw new SwinInputError(`${where}: ${(e as Error).message.replace(/^createBackbone: /, '')}`);
    }
  }

  private run(x: tf.Tensor4D): {
    embeds: tf.Tensor4D[];
    features: tf.Tensor4D[];
    cls: tf.Tensor2D | undefined;
  } {
    return tf.tidy(() => {
      const embeds: tf.Tensor4D[] = [];
      const features: tf.Tensor4D[] = [];
      let cls: tf.Tensor2D | undefined;
      let y = x;
      this.stages.items.forEach((stage) => {
        const r = stage.run(y, stage.hasClassToken ? this.clsToken : null);
        embeds.push(r.embed);
        features.push(r.out);
        if (r.clsOut) cls = r.clsOut;
        y = r.out;
      });
      return { embeds, features, cls };
    });
  }

  /** Multi-scale stage outputs, NHWC `[B, h_i, w_i, dim_i]` (after each stage's norm, if any). */
  forwardFeatures(x: tf.Tensor4D): tf.Tensor4D[] {
    this.checkInput('forwardFeatures', x);
    const r = this.run(x);
    tf.dispose(r.embeds);
    if (r.cls) r.cls.dispose();
    return r.features;
  }

  /**
   * Classifier on the last stage output `[B, h, w, numFeatures]`: final norm (if any) -> mean over tokens ->
   * head; `preLogits` stops before the head (`[B, numFeatures]`). A `headPool: 'cls'` model classifies the
   * class token instead, which the map does not hold: pass it as `opts.clsToken` `[B, numFeatures]`
   * (from `forwardWithIntermediates`), or call `forward`.
   */
  forwardHead(last: tf.Tensor4D, opts: { preLogits?: boolean; clsToken?: tf.Tensor2D } = {}): tf.Tensor2D {
    const C = this.numFeatures;
    const where = 'HybridBackbone.forwardHead';
    if (opts === null || typeof opts !== 'object')
      throw new SwinInputError(`${where}: opts must be an object, got ${describeValue(opts)}`);
    if (this.config.headPool === 'cls') {
      const t = opts.clsToken;
      if (t === undefined) {
        throw new SwinInputError(
          `${where}: this model classifies its class token: pass opts.clsToken [B, ${C}] (from forwardWithIntermediates), got none`,
        );
      }
      assertTensorInput(where, t, { what: 'opts.clsToken', rank: 2, channels: C });
    } else {
      assertTensorInput(where, last, { what: 'last', rank: 4, channels: C });
    }
    this.assertNotDisposed(where);
    return tf.tidy(() => {
      let pooled: tf.Tensor2D;
      if (this.config.headPool === 'cls') {
        const t = opts.clsToken as tf.Tensor2D;
        pooled = this.norm ? this.norm.forward(t) : t;
      } else {
        pooled = tf.mean(this.norm ? this.norm.forward(last) : last, [1, 2]) as tf.Tensor2D;
      }
      if (opts.preLogits || !this.head) return opts.clsToken === pooled ? tf.clone(pooled) : pooled;
      return this.head.forward(pooled) as tf.Tensor2D;
    });
  }

  /** Logits `[B, numClasses]` (pooled features `[B, numFeatures]` when numClasses is 0). */
  forward(x: tf.Tensor4D): tf.Tensor2D {
    this.checkInput('forward', x);
    return tf.tidy(() => {
      const r = this.run(x);
      return this.forwardHead(r.features[r.features.length - 1], { clsToken: r.cls });
    });
  }

  /**
   * One pass returning every intermediate: `embeds[i]` (stage i's downsample output), `features[i]`,
   * `clsToken` (cls models), `preLogits`, `logits`. The caller disposes them (`disposeOutputs`).
   */
  forwardWithIntermediates(x: tf.Tensor4D): BackboneOutputs {
    this.checkInput('forwardWithIntermediates', x);
    const out = tf.tidy(() => {
      const r = this.run(x);
      const last = r.features[r.features.length - 1];
      const preLogits = this.forwardHead(last, { preLogits: true, clsToken: r.cls });
      const logits = this.head ? (this.head.forward(preLogits) as tf.Tensor2D) : tf.clone(preLogits);
      const o: {
        embeds: tf.Tensor4D[];
        features: tf.Tensor4D[];
        preLogits: tf.Tensor2D;
        logits: tf.Tensor2D;
        clsToken?: tf.Tensor2D;
      } = {
        embeds: r.embeds,
        features: r.features,
        preLogits,
        logits,
      };
      if (r.cls) o.clsToken = r.cls;
      return o;
    });
    return { embed: out.embeds[0], ...out };
  }

  /** Multiply-accumulates of one `H x W` image, from the config alone ({@link backboneMacs}). */
  macs(H: number, W: number): number {
    return backboneMacs(this.config, H, W);
  }

  /** The same count summed from the built modules' own `macs` (a cross-check of {@link backboneMacs}). */
  moduleMacs(H: number, W: number): number {
    let h = H;
    let w = W;
    let m = 0;
    for (const s of this.stages) {
      m += s.moduleMacs(h, w);
      [h, w] = s.downsample.outSize(h, w);
    }
    return m + (this.head ? this.head.macs(1) : 0);
  }
}

/** Builds a hybrid backbone from a JSON config (validated; see {@link resolveBackboneConfig}). */
export function createBackbone(config: BackboneConfig): HybridBackbone {
  return new HybridBackbone(config);
}

/** Disposes every tensor of a {@link BackboneOutputs} once. */
export function disposeOutputs(o: BackboneOutputs): void {
  const all = new Set<tf.Tensor>([o.embed, ...o.embeds, ...o.features, o.preLogits, o.logits]);
  if (o.clsToken) all.add(o.clsToken);
  for (const t of all) t.dispose();
}
