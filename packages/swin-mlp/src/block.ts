import {
  assertTensorInput,
  DropPath,
  type FeatureBlock,
  LayerNorm,
  Mlp,
  Module,
  SwinConfigError,
  truncNormal,
  zeros,
} from '@swin/nn';
import { windowPartition, windowReverse } from '@swin/window-ops';
import * as tf from '@tensorflow/tfjs-core';
import { headTokenMix } from './spatial-mlp.js';

/** Constructor options of {@link SwinMLPBlock} (the official `SwinMLPBlock` kwargs, camelCased). */
export interface SwinMLPBlockOptions {
  /** Channels `C`. */
  dim: number;
  /** Heads `nH` (must divide `dim`); each head has its own `N x N` token-mixing matrix. */
  numHeads: number;
  /** Requested window size (default 7). Clamped like the official code, see `inputResolution`. */
  windowSize?: number;
  /** Requested shift (default 0); must satisfy `0 <= shift < window` after clamping. */
  shiftSize?: number;
  /**
   * Resolution the block is built for (the official `input_resolution`). If `min(H, W) <= windowSize`
   * the block uses `window = min(H, W)` and `shift = 0`, exactly as the official constructor does.
   * Omit to use the requested window/shift as given.
   */
  inputResolution?: readonly [number, number];
  /** Hidden width of the channel MLP = `int(dim * mlpRatio)` (default 4). */
  mlpRatio?: number;
  /** Dropout after the MLP layers (default 0). */
  drop?: number;
  /** Stochastic depth rate (default 0). */
  dropPath?: number;
  /** LayerNorm epsilon of `norm1`/`norm2` (default 1e-5, PyTorch's `nn.LayerNorm`). */
  normEps?: number;
}

/** Effective window and shift after the official clamping rule. */
export function clampWindow(
  windowSize: number,
  shiftSize: number,
  inputResolution?: readonly [number, number],
): { windowSize: number; shiftSize: number } {
  if (inputResolution && Math.min(inputResolution[0], inputResolution[1]) <= windowSize) {
    return { windowSize: Math.min(inputResolution[0], inputResolution[1]), shiftSize: 0 };
  }
  return { windowSize, shiftSize };
}

/** Multiply-accumulates of one Swin-MLP block on an `H x W` map (official `SwinMLPBlock.flops()`). */
export function swinMlpBlockMacs(
  dim: number,
  windowSize: number,
  shiftSize: number,
  mlpRatio: number,
  H: number,
  W: number,
): number {
  const ws = windowSize;
  // Official: nW = (H/ws + 1) * (W/ws + 1) when shifted, H*W/ws^2 otherwise. Sizes that are not window
  // multiples (which the official code cannot run) count the windows this implementation actually runs.
  const gh = H % ws === 0 ? H / ws : Math.ceil(H / ws);
  const gw = W % ws === 0 ? W / ws : Math.ceil(W / ws);
  const nW = shiftSize > 0 ? (gh + 1) * (gw + 1) : gh * gw;
  let macs = dim * H * W; // norm1
  macs += nW * dim * ws * ws * ws * ws; // spatial MLP
  macs += 2 * H * W * dim * dim * mlpRatio; // channel MLP
  macs += dim * H * W; // norm2
  return macs;
}

function checkInt(fn: string, name: string, v: unknown, min: number): void {
  if (typeof v !== 'number' || !Number.isInteger(v) || v < min) {
    throw new SwinConfigError(`${fn}: ${name} must be an integer >= ${min}, got ${String(v)}`);
  }
}

/**
 * Swin-MLP block (official `SwinMLPBlock`): `x + SpatialMLP(LN(x))`, then `x + MLP(LN(x))`, where the
 * spatial MLP mixes the `N = ws*ws` tokens of each window with a per-head `N x N` matrix (grouped
 * Conv1d). Shifted blocks do not roll: after `norm1` they zero-pad `ws - s` rows/columns at the top/left
 * and `s` at the bottom/right, partition the `(H + ws) x (W + ws)` map, mix, and crop. No mask.
 *
 * Implements the `FeatureBlock` contract on NHWC maps of ANY size: maps whose sides are not multiples of
 * the window are zero-padded at the bottom/right after `norm1` (like Swin for detection) and cropped
 * back, so the official outputs are reproduced exactly whenever the official code can run.
 *
 * State-dict keys (official): `norm1.{weight,bias}`, `spatial_mlp.weight` `[nH*N, N, 1]`,
 * `spatial_mlp.bias` `[nH*N]`, `norm2.{weight,bias}`, `mlp.fc1.{weight,bias}`, `mlp.fc2.{weight,bias}`.
 */
export class SwinMLPBlock extends Module implements FeatureBlock {
  readonly dim: number;
  readonly numHeads: number;
  /** Effective window size (after clamping). */
  readonly windowSize: number;
  /** Effective shift (after clamping). */
  readonly shiftSize: number;
  readonly mlpRatio: number;
  readonly norm1: LayerNorm;
  readonly norm2: LayerNorm;
  readonly mlp: Mlp;
  readonly dropPath: DropPath;
  /** `spatial_mlp.weight`, stored in the PyTorch layout `[nH*N, N, 1]` (see `headTokenMix`). */
  readonly spatialWeight: tf.Variable;
  /** `spatial_mlp.bias` `[nH*N]`. */
  readonly spatialBias: tf.Variable;

  constructor(opts: SwinMLPBlockOptions) {
    super();
    const fn = 'SwinMLPBlock';
    checkInt(fn, 'dim', opts.dim, 1);
    checkInt(fn, 'numHeads', opts.numHeads, 1);
    if (opts.dim % opts.numHeads !== 0) {
      throw new SwinConfigError(`${fn}: dim=${opts.dim} is not divisible by numHeads=${opts.numHeads}`);
    }
    const requestedWindow = opts.windowSize ?? 7;
    const requestedShift = opts.shiftSize ?? 0;
    checkInt(fn, 'windowSize', requestedWindow, 1);
    checkInt(fn, 'shiftSize', requestedShift, 0);
    if (opts.inputResolution) {
      checkInt(fn, 'inputResolution[0]', opts.inputResolution[0], 1);
      checkInt(fn, 'inputResolution[1]', opts.inputResolution[1], 1);
    }
    const { windowSize, shiftSize } = clampWindow(requestedWindow, requestedShift, opts.inputResolution);
    if (shiftSize >= windowSize) {
      throw new SwinConfigError(`${fn}: shiftSize=${shiftSize} must be in [0, windowSize=${windowSize})`);
    }
    const mlpRatio = opts.mlpRatio ?? 4;
    if (!(mlpRatio > 0)) throw new SwinConfigError(`${fn}: mlpRatio must be > 0, got ${mlpRatio}`);
    this.dim = opts.dim;
    this.numHeads = opts.numHeads;
    this.windowSize = windowSize;
    this.shiftSize = shiftSize;
    this.mlpRatio = mlpRatio;
    const eps = opts.normEps ?? 1e-5;
    const N = windowSize * windowSize;
    this.norm1 = this.child('norm1', new LayerNorm(this.dim, eps));
    // Official init (SwinMLP._init_weights): trunc_normal(.02) weight, zero bias for the Conv1d.
    const spatial = this.child('spatial_mlp', new SpatialMlpParams(this.numHeads * N, N));
    this.spatialWeight = spatial.weight;
    this.spatialBias = spatial.bias;
    this.dropPath = this.child('drop_path', new DropPath(opts.dropPath ?? 0));
    this.norm2 = this.child('norm2', new LayerNorm(this.dim, eps));
    this.mlp = this.child(
      'mlp',
      new Mlp(this.dim, Math.floor(this.dim * mlpRatio), this.dim, opts.drop ?? 0),
    );
  }

  /** Tokens per window. */
  get tokensPerWindow(): number {
    return this.windowSize * this.windowSize;
  }

  /**
   * The token-mixing half without the residual: `[B, H, W, C]` (already normalised) -> `[B, H, W, C]`.
   * Pads (shift + window multiple), partitions, mixes per head, reverses and crops.
   */
  spatialMix(x: tf.Tensor4D): tf.Tensor4D {
    return tf.tidy(() => {
      const [B, H, W, C] = x.shape;
      const ws = this.windowSize;
      const s = this.shiftSize;
      const nH = this.numHeads;
      const d = C / nH;
      const N = ws * ws;
      const padB = (ws - (H % ws)) % ws;
      const padR = (ws - (W % ws)) % ws;
      // Shift = zero padding ws-s top/left and s bottom/right (official), plus padding to window multiples.
      const top = s > 0 ? ws - s : 0;
      const bottom = s + padB;
      const right = s + padR;
      const padded =
        top === 0 && bottom === 0 && right === 0
          ? x
          : tf.pad(x, [
              [0, 0],
              [top, bottom],
              [top, right],
              [0, 0],
            ]);
      const Hp = H + top + bottom;
      const Wp = W + top + right;
      const windows = windowPartition(padded, ws); // [B*nW, ws, ws, C]
      const Bw = windows.shape[0];
      // [B*nW, N, nH, d] -> heads first [nH, N, B*nW*d]: each head is one plain matMul operand.
      const heads = tf.reshape(tf.transpose(tf.reshape(windows, [Bw, N, nH, d]), [2, 1, 0, 3]), [
        nH,
        N,
        Bw * d,
      ]) as tf.Tensor3D;
      const mixed = headTokenMix(heads, this.spatialWeight, this.spatialBias);
      const back = tf.reshape(tf.transpose(tf.reshape(mixed, [nH, N, Bw, d]), [2, 1, 0, 3]), [
        Bw,
        ws,
        ws,
        C,
      ]) as tf.Tensor4D;
      const map = windowReverse(back, ws, Hp, Wp);
      return Hp === H && Wp === W ? map : (tf.slice(map, [0, top, top, 0], [B, H, W, C]) as tf.Tensor4D);
    });
  }

  /**
   * `[B, H, W, dim]` -> `[B, H, W, dim]` for any `H, W >= 1`.
   * @throws Error if `x` is not a 4-D float32 tensor with `dim` channels.
   */
  forward(x: tf.Tensor4D): tf.Tensor4D {
    checkMap('SwinMLPBlock.forward', x, this.dim);
    return tf.tidy(() => {
      const mixed = this.spatialMix(this.norm1.forward(x));
      const y = tf.add(x, this.dropPath.forward(mixed)) as tf.Tensor4D;
      return tf.add(y, this.dropPath.forward(this.mlp.forward(this.norm2.forward(y)))) as tf.Tensor4D;
    });
  }

  /** Multiply-accumulates for one `H x W` map (official `flops()` convention). */
  macs(H: number, W: number): number {
    return swinMlpBlockMacs(this.dim, this.windowSize, this.shiftSize, this.mlpRatio, H, W);
  }
}

/** The `spatial_mlp` Conv1d's parameters (keys `weight` `[out, in/groups, 1]`, `bias` `[out]`). */
class SpatialMlpParams extends Module {
  readonly weight: tf.Variable;
  readonly bias: tf.Variable;
  constructor(outChannels: number, inPerGroup: number) {
    super();
    this.weight = this.param('weight', [outChannels, inPerGroup, 1], truncNormal(0.02));
    this.bias = this.param('bias', [outChannels], zeros);
  }
}

/** Validates an NHWC feature map argument (`assertTensorInput` of `@swin/nn`: a live float32 `[B, H, W, channels]`). */
export function checkMap(fn: string, x: unknown, channels: number, what = 'x'): asserts x is tf.Tensor4D {
  assertTensorInput(fn, x, { what, rank: 4, channels });
}

/** Epsilon of a fixture/official `norm_layer` argument (`{"__layer__": "LayerNorm", "eps": 1e-6}`), or undefined. */
export function normEpsFromKwarg(normLayer: unknown): number | undefined {
  if (normLayer === undefined || normLayer === null) return undefined;
  const nl = normLayer as { __layer__?: unknown; eps?: unknown };
  if (typeof nl !== 'object' || nl.__layer__ !== 'LayerNorm') {
    throw new SwinConfigError(`norm_layer: only LayerNorm is supported, got ${JSON.stringify(normLayer)}`);
  }
  return typeof nl.eps === 'number' ? nl.eps : undefined;
}

/**
 * Options from the official constructor kwargs (snake_case, as the fixtures' `config.kwargs` store them):
 * `dim, input_resolution, num_heads, window_size, shift_size, mlp_ratio, drop, drop_path, norm_layer`.
 */
export function swinMlpBlockOptionsFromKwargs(kw: Record<string, unknown>): SwinMLPBlockOptions {
  const res = kw.input_resolution as [number, number] | undefined;
  return {
    dim: kw.dim as number,
    numHeads: kw.num_heads as number,
    windowSize: (kw.window_size as number | undefined) ?? 7,
    shiftSize: (kw.shift_size as number | undefined) ?? 0,
    inputResolution: res ? [res[0], res[1]] : undefined,
    mlpRatio: (kw.mlp_ratio as number | undefined) ?? 4,
    drop: (kw.drop as number | undefined) ?? 0,
    dropPath: (kw.drop_path as number | undefined) ?? 0,
    normEps: normEpsFromKwarg(kw.norm_layer),
  };
}
