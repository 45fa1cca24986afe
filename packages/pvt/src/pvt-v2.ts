import {
  assertOptionsObject,
  assertStateDictObject,
  assertTensorInput,
  type FeatureInfo,
  LayerNorm,
  Linear,
  type LoadReport,
  Module,
  ModuleList,
  SwinConfigError,
  SwinLoadError,
  type VisionModel,
} from '@swin/nn';
import * as tf from '@tensorflow/tfjs-core';
import { PVTv2Block } from './blocks.js';
import { dropPathRates, type PVTConfig, resolvePVTConfig } from './config.js';
import { checkPVTInputSize, type PVTMacsOptions, pvtMacs } from './counts.js';
import { OverlapPatchEmbed } from './layers.js';
import type { PVTIntermediates } from './pvt-v1.js';

/**
 * PVT v2 `PyramidVisionTransformerV2` (whai362/PVT classification/pvt_v2.py): per stage an `OverlapPatchEmbed`
 * (7x7/4 pad 3, then 3x3/2 pad 1), blocks with SR attention (or linear SRA for `linear`) and the conv Mlp, then
 * the stage norm `norm<i>` (1e-6). Classifier: mean over the last stage's tokens -> `head`. No position
 * embedding, so any input size works. Official state-dict keys; timm-layout checkpoints are detected and
 * converted by `loadStateDict`. Input NHWC `[B, H, W, inChans]`.
 */
export class PyramidVisionTransformerV2 extends Module implements VisionModel {
  readonly config: PVTConfig;
  readonly patchEmbeds: OverlapPatchEmbed[] = [];
  readonly blocks: ModuleList<PVTv2Block>[] = [];
  readonly norms: LayerNorm[] = [];
  readonly head: Linear | null;
  readonly numClasses: number;
  readonly numFeatures: number;
  readonly featureInfo: FeatureInfo[];

  constructor(config: Partial<PVTConfig> = {}) {
    super();
    assertOptionsObject('PyramidVisionTransformerV2', config, 'config');
    if (config?.version !== undefined && config.version !== 2) {
      throw new SwinConfigError(
        `PyramidVisionTransformerV2: config.version is ${JSON.stringify(config.version)}, but this class builds PVT v2 (use PyramidVisionTransformer or createPVT)`,
      );
    }
    const cfg = resolvePVTConfig({ ...config, version: 2 }, 'PyramidVisionTransformerV2');
    this.config = cfg;
    const S = cfg.embedDims.length;
    const dpr = dropPathRates(cfg);
    let cur = 0;
    for (let i = 0; i < S; i++) {
      const dim = cfg.embedDims[i];
      this.patchEmbeds.push(
        this.child(
          `patch_embed${i + 1}`,
          new OverlapPatchEmbed(
            i === 0 ? cfg.inChans : cfg.embedDims[i - 1],
            dim,
            i === 0 ? 7 : 3,
            i === 0 ? 4 : 2,
            // stage 1 embeds the image: no gradient into it
            { name: `PVTv2 stage ${i + 1} patch_embed${i + 1}`, inputGradient: i > 0 },
          ),
        ),
      );
      const list = new ModuleList<PVTv2Block>();
      for (let j = 0; j < cfg.depths[i]; j++) {
        list.push(
          new PVTv2Block(dim, cfg.numHeads[i], {
            mlpRatio: cfg.mlpRatios[i],
            srRatio: cfg.srRatios[i],
            qkvBias: cfg.qkvBias,
            qkScale: cfg.qkScale,
            normEps: cfg.normEps,
            drop: cfg.dropRate,
            attnDrop: cfg.attnDropRate,
            dropPath: dpr[cur + j],
            linear: cfg.linear,
            name: `PVTv2 stage ${i + 1} block${i + 1}.${j}`,
          }),
        );
      }
      cur += cfg.depths[i];
      this.blocks.push(this.child(`block${i + 1}`, list));
      this.norms.push(this.child(`norm${i + 1}`, new LayerNorm(dim, cfg.normEps)));
    }
    const last = cfg.embedDims[S - 1];
    this.head = cfg.numClasses > 0 ? this.child('head', new Linear(last, cfg.numClasses)) : null;
    this.numClasses = cfg.numClasses;
    this.numFeatures = last;
    this.featureInfo = cfg.embedDims.map((c, i) => ({
      channels: c,
      reduction: 4 * 2 ** i,
      module: `norm${i + 1}`,
    }));
  }

  /**
   * Every check of an image batch, before any op (so nothing leaks inside a gradient tape): a live float32
   * `[B, H, W, inChans]`, a model not disposed, and a size every stage's sr_ratio can take.
   */
  private checkInput(fn: string, x: tf.Tensor4D): void {
    const where = `PyramidVisionTransformerV2.${fn}`;
    assertTensorInput(where, x, { rank: 4, channels: this.config.inChans });
    this.assertNotDisposed(where);
    checkPVTInputSize(this.config, x.shape[1], x.shape[2], where);
  }

  private run(x: tf.Tensor4D): { embeds: tf.Tensor4D[]; features: tf.Tensor4D[] } {
    return tf.tidy(() => {
      const embeds: tf.Tensor4D[] = [];
      const features: tf.Tensor4D[] = [];
      let h = x;
      for (let i = 0; i < this.patchEmbeds.length; i++) {
        h = this.patchEmbeds[i].forward(h);
        embeds.push(h);
        for (const blk of this.blocks[i]) h = blk.forward(h);
        h = this.norms[i].forward(h);
        features.push(h);
      }
      return { embeds, features };
    });
  }

  /** Per-stage outputs NHWC `[B, H_i, W_i, C_i]` (after each stage norm `norm<i+1>`). */
  forwardFeatures(x: tf.Tensor4D): tf.Tensor4D[] {
    this.checkInput('forwardFeatures', x);
    const r = this.run(x);
    for (const e of r.embeds) if (!r.features.includes(e)) e.dispose();
    return r.features;
  }

  /** Mean over the last stage's tokens (already normed) -> head. `[B, H, W, C]` -> `[B, numClasses]`. */
  forwardHead(last: tf.Tensor4D, opts: { preLogits?: boolean } = {}): tf.Tensor2D {
    assertTensorInput('PyramidVisionTransformerV2.forwardHead', last, {
      what: 'last',
      rank: 4,
      channels: this.numFeatures,
    });
    this.assertNotDisposed('PyramidVisionTransformerV2.forwardHead');
    return tf.tidy(() => {
      const pre = tf.mean(last, [1, 2]) as tf.Tensor2D;
      return opts.preLogits || !this.head ? pre : (this.head.forward(pre) as tf.Tensor2D);
    });
  }

  /** Logits `[B, numClasses]` (pooled features `[B, C]` when `numClasses` is 0). */
  forward(x: tf.Tensor4D): tf.Tensor2D {
    this.checkInput('forward', x);
    return tf.tidy(() => {
      const f = this.forwardFeatures(x);
      return this.forwardHead(f[f.length - 1]);
    });
  }

  /** Every intermediate (see `PVTIntermediates`); the caller disposes them (`disposeIntermediates`). */
  forwardWithIntermediates(x: tf.Tensor4D): PVTIntermediates {
    this.checkInput('forwardWithIntermediates', x);
    const r = this.run(x);
    const preLogits = this.forwardHead(r.features[r.features.length - 1], { preLogits: true });
    const logits = this.head ? (this.head.forward(preLogits) as tf.Tensor2D) : tf.clone(preLogits);
    const named: Record<string, tf.Tensor> = { pre_logits: preLogits, logits };
    r.embeds.forEach((e, i) => {
      named[`embed.${i}`] = e;
    });
    r.features.forEach((f, i) => {
      named[`features.${i}`] = f;
    });
    return { embed: r.embeds[0], embeds: r.embeds, features: r.features, preLogits, logits, named };
  }

  /** Multiply-accumulates of one `H x W` image (see `pvtMacs`; default: the official get_flops.py convention). */
  macs(H: number, W: number, opts: PVTMacsOptions = {}): number {
    return pvtMacs(this.config, H, W, opts);
  }

  /**
   * Loads an official (pvt_v2.py) or timm (`timm/models/pvt_v2.py`) state dict; the layout is detected from the
   * keys (`patch_embed.` / `stages.` = timm) and converted with `timmToOfficialPVTv2`.
   */
  override loadStateDict(tensors: Record<string, tf.Tensor>, opts: { strict?: boolean } = {}): LoadReport {
    assertStateDictObject('PyramidVisionTransformerV2.loadStateDict', tensors);
    const t = isTimmPVTv2StateDict(tensors) ? timmToOfficialPVTv2(tensors) : tensors;
    return super.loadStateDict(t, opts);
  }

  /** State dict in the official layout, or timm's with `{ layout: 'timm' }`. The caller disposes it. */
  override stateDict(
    opts: { includeBuffers?: boolean; layout?: 'official' | 'timm' } = {},
  ): Record<string, tf.Tensor> {
    const sd = super.stateDict(opts);
    return opts.layout === 'timm' ? officialToTimmPVTv2(sd) : sd;
  }
}

/** True when the keys follow timm's PVT v2 layout (`patch_embed.*`, `stages.<i>.*`). */
export function isTimmPVTv2StateDict(tensors: Record<string, unknown>): boolean {
  return Object.keys(tensors).some((k) => k.startsWith('stages.') || k.startsWith('patch_embed.'));
}

/**
 * Renames timm PVT v2 keys to the official ones (inverse of timm's `_checkpoint_filter_fn`):
 * `patch_embed.` -> `patch_embed1.`, `stages.<i>.downsample.` -> `patch_embed<i+1>.`,
 * `stages.<i>.blocks.<j>.` -> `block<i+1>.<j>.`, `stages.<i>.norm.` -> `norm<i+1>.`, `mlp.dwconv.` ->
 * `mlp.dwconv.dwconv.`. Same tensor objects, new keys.
 */
export function timmToOfficialPVTv2<T>(tensors: Record<string, T>): Record<string, T> {
  const out: Record<string, T> = {};
  for (const [key, v] of Object.entries(tensors)) {
    let k = key.replace(/^patch_embed\./, 'patch_embed1.');
    k = k.replace(/^stages\.(\d+)\.downsample\./, (_, i) => `patch_embed${Number(i) + 1}.`);
    k = k.replace(/^stages\.(\d+)\.blocks\.(\d+)\./, (_, i, j) => `block${Number(i) + 1}.${j}.`);
    k = k.replace(/^stages\.(\d+)\.norm\./, (_, i) => `norm${Number(i) + 1}.`);
    k = k.replace(/\.mlp\.dwconv\.(weight|bias)$/, '.mlp.dwconv.dwconv.$1');
    if (Object.hasOwn(out, k))
      throw new SwinLoadError(`timmToOfficialPVTv2: keys collide on '${k}' (from '${key}')`);
    out[k] = v;
  }
  return out;
}

/** Renames official PVT v2 keys to timm's layout (timm's `_checkpoint_filter_fn`). Same tensor objects. */
export function officialToTimmPVTv2<T>(tensors: Record<string, T>): Record<string, T> {
  const out: Record<string, T> = {};
  for (const [key, v] of Object.entries(tensors)) {
    let k = key.replace(/^patch_embed1\./, 'patch_embed.');
    k = k.replace(/^patch_embed(\d+)\./, (_, i) => `stages.${Number(i) - 1}.downsample.`);
    k = k.replace(/^block(\d+)\.(\d+)\./, (_, i, j) => `stages.${Number(i) - 1}.blocks.${j}.`);
    k = k.replace(/^norm(\d+)\./, (_, i) => `stages.${Number(i) - 1}.norm.`);
    k = k.replace('.dwconv.dwconv.', '.dwconv.');
    out[k] = v;
  }
  return out;
}
