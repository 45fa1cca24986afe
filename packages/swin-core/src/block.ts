import { DropPath, type FeatureBlock, LayerNorm, Mlp, Module } from '@swin/nn';
import { shiftedWindowMask, shiftedWindowMaskPadded } from '@swin/shifted-mask';
import {
  cropTo,
  padToWindow,
  shiftedWindowPartition,
  shiftedWindowReverse,
  windowPartition,
  windowReverse,
} from '@swin/window-ops';
import * as tf from '@tensorflow/tfjs-core';
import { assertNHWC, assertPositiveInts, fail } from './validate.js';
import { WindowAttention, windowAttentionMacs } from './window-attention.js';

/** Options of {@link SwinTransformerBlock} (the official kwargs). */
export interface SwinBlockOptions {
  /** Requested window size (clamped, see the class). Default 7. */
  windowSize?: number;
  /** Requested shift (0 = W-MSA, `windowSize/2` = SW-MSA). Default 0. */
  shiftSize?: number;
  /** MLP hidden width = `int(dim * mlpRatio)`. Default 4. */
  mlpRatio?: number;
  qkvBias?: boolean;
  qkScale?: number | null;
  /** Relative position bias in the attention (default true; false is an ablation, see WindowAttention). */
  relativePositionBias?: boolean;
  /** Dropout after attention proj and in the MLP (training only). Default 0. */
  drop?: number;
  attnDrop?: number;
  /** Stochastic depth rate of both residual branches (training only). Default 0. */
  dropPath?: number;
  /** LayerNorm epsilon of norm1/norm2. Default 1e-5. */
  eps?: number;
}

/** The official clamping: `min(H, W) <= window` -> window `min(H, W)`, shift 0. Returns `[window, shift]`. */
export function effectiveWindow(
  inputResolution: readonly [number, number] | null | undefined,
  windowSize: number,
  shiftSize: number,
): [number, number] {
  if (inputResolution && Math.min(inputResolution[0], inputResolution[1]) <= windowSize) {
    return [Math.min(inputResolution[0], inputResolution[1]), 0];
  }
  return [windowSize, shiftSize];
}

/**
 * Official Swin `SwinTransformerBlock` on channels-last maps:
 * `x + DropPath(proj(W-MSA/SW-MSA(norm1(x))))`, then `x + DropPath(mlp(norm2(x)))`.
 *
 * Keys: `norm1.*`, `attn.*` (see {@link WindowAttention}), `norm2.*`, `mlp.fc1.*`, `mlp.fc2.*`, and the
 * buffer `attn_mask` `[nW, N, N]` only when the effective shift is > 0 (recomputed, verified on load).
 *
 * Window clamping happens at construction, exactly as in the official code: if
 * `min(inputResolution) <= windowSize` the block uses `window = min(H, W)` and `shift = 0`
 * (`inputResolution` null: no clamping).
 *
 * Forward accepts any `H x W`: after norm1 the map is zero-padded at the bottom/right to window
 * multiples, the padding gets its own region id in the attention mask (real tokens never attend to it),
 * the shifted path uses the fused shifted-window ops of `@swin/window-ops` (on wasm through row-copy
 * kernels registered by `registerWasmKernels()` of `@swin/wasm`), and the result is cropped back.
 * Where the window divides the map this is identical to the official block. Masks are cached per shape
 * by `@swin/shifted-mask`, the relative position index by `@swin/rel-pos-bias`.
 */
export class SwinTransformerBlock extends Module implements FeatureBlock {
  readonly norm1: LayerNorm;
  readonly attn: WindowAttention;
  readonly dropPath: DropPath;
  readonly norm2: LayerNorm;
  readonly mlp: Mlp;
  /** Effective window size (after clamping). */
  readonly windowSize: number;
  /** Effective shift (after clamping). */
  readonly shiftSize: number;
  readonly mlpRatio: number;
  readonly inputResolution: [number, number] | null;

  /**
   * @param dim channels C
   * @param inputResolution `[H, W]` the block is built for (drives clamping and the `attn_mask` buffer),
   *   or null
   * @param numHeads attention heads (must divide dim)
   */
  constructor(
    readonly dim: number,
    inputResolution: readonly [number, number] | null,
    readonly numHeads: number,
    opts: SwinBlockOptions = {},
  ) {
    super();
    const fn = 'SwinTransformerBlock';
    assertPositiveInts(fn, { dim, numHeads, windowSize: opts.windowSize ?? 7 });
    if (dim % numHeads !== 0) fail(fn, `dim=${dim} is not divisible by numHeads=${numHeads}`);
    this.inputResolution = inputResolution ? [inputResolution[0], inputResolution[1]] : null;
    if (this.inputResolution)
      assertPositiveInts(fn, { H: this.inputResolution[0], W: this.inputResolution[1] });
    const [ws, s] = effectiveWindow(this.inputResolution, opts.windowSize ?? 7, opts.shiftSize ?? 0);
    if (!Number.isInteger(s) || s < 0 || s >= ws) {
      fail(fn, `shiftSize must be an integer in [0, windowSize) = [0, ${ws}), got ${s}`);
    }
    this.windowSize = ws;
    this.shiftSize = s;
    this.mlpRatio = opts.mlpRatio ?? 4;
    const eps = opts.eps ?? 1e-5;
    const drop = opts.drop ?? 0;
    this.norm1 = this.child('norm1', new LayerNorm(dim, eps));
    this.attn = this.child(
      'attn',
      new WindowAttention(dim, [ws, ws], numHeads, {
        qkvBias: opts.qkvBias,
        qkScale: opts.qkScale,
        relativePositionBias: opts.relativePositionBias,
        attnDrop: opts.attnDrop,
        projDrop: drop,
      }),
    );
    this.dropPath = this.child('drop_path', new DropPath(opts.dropPath ?? 0));
    this.norm2 = this.child('norm2', new LayerNorm(dim, eps));
    this.mlp = this.child('mlp', new Mlp(dim, Math.floor(dim * this.mlpRatio), dim, drop));
    const res = this.inputResolution;
    if (s > 0 && res) {
      this.buffer('attn_mask', { compute: () => shiftedWindowMaskPadded(res[0], res[1], ws, s) });
    }
  }

  /**
   * The additive mask for an `H x W` input (null when neither shift nor padding needs one).
   * A new handle on a cached tensor: the caller owns it.
   */
  maskFor(H: number, W: number): tf.Tensor3D | null {
    const ws = this.windowSize;
    const padded = H % ws !== 0 || W % ws !== 0;
    if (!padded) return this.shiftSize > 0 ? shiftedWindowMask(H, W, ws, this.shiftSize) : null;
    return shiftedWindowMaskPadded(H, W, ws, this.shiftSize, { padding: 'isolate' });
  }

  /** x `[B, H, W, dim]` -> `[B, H, W, dim]` (any H, W). */
  forward(x: tf.Tensor4D): tf.Tensor4D {
    assertNHWC('SwinTransformerBlock.forward', x, this.dim);
    const [, H, W, C] = x.shape;
    const ws = this.windowSize;
    const s = this.shiftSize;
    const [Hp, Wp] = this.paddedSize(H, W);
    return tf.tidy(() => {
      const tokens = this.windowTokens(x);
      const mask = this.maskFor(H, W);
      const attended = tf.reshape(this.attn.forward(tokens, mask), [-1, ws, ws, C]) as tf.Tensor4D;
      let merged =
        s > 0 ? shiftedWindowReverse(attended, ws, s, Hp, Wp) : windowReverse(attended, ws, Hp, Wp);
      if (Hp !== H || Wp !== W) merged = cropTo(merged, H, W);
      const y = tf.add(x, this.dropPath.forward(merged));
      return tf.add(y, this.dropPath.forward(this.mlp.forward(this.norm2.forward(y)))) as tf.Tensor4D;
    });
  }

  /**
   * The attention probabilities this block's forward applies to x `[B, H, W, dim]`:
   * `[B*nW, numHeads, N, N]` (`N = windowSize^2`, see `WindowAttention.attentionProbs`), shifted-window
   * mask and relative position bias included.
   *
   * Windows are those forward attends in: of `norm1(x)` zero-padded to `Hp x Wp` (window multiples) and,
   * when `shiftSize > 0`, rolled up and left by `shiftSize` (`cyclicShift(x, [-s, -s])`). Window
   * `b*nW + r*(Wp/ws) + c` covers rows `r*ws..` and columns `c*ws..` of that (rolled) map, tokens row-major
   * inside it: token `i` of it came from pixel `((r*ws + i/ws + s) mod Hp, (c*ws + i%ws + s) mod Wp)` of
   * the padded input. Padding tokens never receive weight from real ones. A new tensor: the caller owns it.
   * @throws SwinInputError naming `SwinTransformerBlock.attentionProbs` on a bad x
   */
  attentionProbs(x: tf.Tensor4D): tf.Tensor4D {
    assertNHWC('SwinTransformerBlock.attentionProbs', x, this.dim);
    const [, H, W] = x.shape;
    return tf.tidy(() => this.attn.attentionProbs(this.windowTokens(x), this.maskFor(H, W)));
  }

  /** `[H, W]` padded up to multiples of the window. */
  paddedSize(H: number, W: number): [number, number] {
    const ws = this.windowSize;
    return [Math.ceil(H / ws) * ws, Math.ceil(W / ws) * ws];
  }

  /** norm1, pad to window multiples, (shifted) window partition: `[B, H, W, C]` -> `[B*nW, ws*ws, C]`. */
  private windowTokens(x: tf.Tensor4D): tf.Tensor3D {
    const C = x.shape[3];
    const ws = this.windowSize;
    const s = this.shiftSize;
    const h = padToWindow(this.norm1.forward(x), ws).padded;
    // with a backend kernel registered (wasm: registerWasmKernels() of @swin/wasm; webgpu:
    // registerSwinWebGPUKernels()) the shifted path runs it instead of Slice + Concat
    const windows = s > 0 ? shiftedWindowPartition(h, ws, s) : windowPartition(h, ws);
    return tf.reshape(windows, [-1, ws * ws, C]) as tf.Tensor3D;
  }

  /**
   * Official `SwinTransformerBlock.flops()` for an `H x W` map: norm1 `C*H*W`, attention over
   * `nW = ceil(H/ws)*ceil(W/ws)` windows, MLP `2*H*W*C*C*mlpRatio`, norm2 `C*H*W`.
   */
  macs(H: number, W: number): number {
    return swinBlockMacs(this.dim, this.numHeads, this.windowSize, this.mlpRatio, H, W);
  }
}

/** Official `SwinTransformerBlock.flops()` (windows counted on the padded map). */
export function swinBlockMacs(
  dim: number,
  numHeads: number,
  windowSize: number,
  mlpRatio: number,
  H: number,
  W: number,
): number {
  const nW = Math.ceil(H / windowSize) * Math.ceil(W / windowSize);
  return (
    2 * dim * H * W +
    nW * windowAttentionMacs(dim, numHeads, windowSize * windowSize) +
    2 * H * W * dim * dim * mlpRatio
  );
}
