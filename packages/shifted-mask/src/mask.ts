import { TensorLruCache } from '@swin/window-ops';
import * as tf from '@tensorflow/tfjs-core';

/** A size (window or shift): one number for both axes, or `[height, width]`. */
export type Size2 = number | readonly [number, number];

/**
 * How padded positions are labelled by the `...Padded` variants:
 * - `'isolate'` (default): every position that comes from the bottom/right zero padding gets its own
 *   region id {@link PAD_REGION}, so real tokens never attend to padding tokens (and padding tokens
 *   only attend to padding tokens of the same window). With shift 0 this still masks the padding.
 * - `'reference'`: exactly what Swin-Transformer-Object-Detection / -Semantic-Segmentation do
 *   (`BasicLayer.forward`): the ordinary 3x3 labelling is computed on the padded `Hp x Wp` map, so
 *   padding falls into the regions of the last slices and *is* visible to real tokens of the same
 *   region; with shift 0 the mask is all zeros (the reference passes `attn_mask=None`).
 */
export type PaddingMode = 'isolate' | 'reference';

/** The additive value for masked (query, key) pairs, as in the official code (`-100`, not `-inf`). */
export const MASK_VALUE = -100;

/** Region id given to padding positions by the `'isolate'` padding mode (ordinary ids are 0..8). */
export const PAD_REGION = 9;

/** Which coordinate frame a region-id map is laid out in. */
export interface RegionIdOptions {
  /**
   * `'rolled'` (default): position `(r, c)` of the cyclically shifted map, i.e. the official
   * `img_mask` (the token that sits there came from `((r + sh) mod H, (c + sw) mod W)`).
   * `'original'`: position `(y, x)` of the unshifted input map (the same labels, rolled back).
   */
  frame?: 'rolled' | 'original';
}

/** Options of the padded variants. */
export interface PaddedOptions extends RegionIdOptions {
  /** See {@link PaddingMode}. Default `'isolate'`. */
  padding?: PaddingMode;
}

interface Geometry {
  H: number;
  W: number;
  wh: number;
  ww: number;
  sh: number;
  sw: number;
  /** Padded sizes (multiples of the window); equal to H, W for the unpadded functions. */
  Hp: number;
  Wp: number;
}

function checkInt(fn: string, name: string, v: unknown, min: number): number {
  if (typeof v !== 'number' || !Number.isInteger(v) || v < min) {
    throw new Error(`${fn}: ${name}=${String(v)} must be an integer >= ${min}`);
  }
  return v;
}

function pair(fn: string, name: string, v: Size2, min: number): [number, number] {
  if (typeof v === 'number') {
    const x = checkInt(fn, name, v, min);
    return [x, x];
  }
  if (!Array.isArray(v) || v.length !== 2) {
    throw new Error(`${fn}: ${name}=${JSON.stringify(v)} must be a number or a [height, width] pair`);
  }
  return [checkInt(fn, `${name}[0]`, v[0], min), checkInt(fn, `${name}[1]`, v[1], min)];
}

function geometry(fn: string, H: number, W: number, window: Size2, shift: Size2, padded: boolean): Geometry {
  checkInt(fn, 'H', H, 1);
  checkInt(fn, 'W', W, 1);
  const [wh, ww] = pair(fn, 'window', window, 1);
  const [sh, sw] = pair(fn, 'shift', shift, 0);
  if (sh >= wh) throw new Error(`${fn}: shift height ${sh} must be smaller than window height ${wh}`);
  if (sw >= ww) throw new Error(`${fn}: shift width ${sw} must be smaller than window width ${ww}`);
  if (!padded) {
    if (wh > H) {
      throw new Error(
        `${fn}: window height ${wh} exceeds map height H=${H} (the official block clamps the window to ` +
          `the map and the shift to 0; or use shiftedWindowMaskPadded)`,
      );
    }
    if (ww > W) {
      throw new Error(
        `${fn}: window width ${ww} exceeds map width W=${W} (the official block clamps the window to ` +
          `the map and the shift to 0; or use shiftedWindowMaskPadded)`,
      );
    }
    if (H % wh !== 0) {
      throw new Error(`${fn}: H=${H} is not a multiple of window height ${wh} (use shiftedWindowMaskPadded)`);
    }
    if (W % ww !== 0) {
      throw new Error(`${fn}: W=${W} is not a multiple of window width ${ww} (use shiftedWindowMaskPadded)`);
    }
  }
  return { H, W, wh, ww, sh, sw, Hp: Math.ceil(H / wh) * wh, Wp: Math.ceil(W / ww) * ww };
}

/**
 * Region along one axis of the rolled map of length `L` (a multiple of `win`): the official slices
 * `[0, L-win)`, `[L-win, L-s)`, `[L-s, L)` -> 0, 1, 2. With shift 0 the axis is not split (0).
 */
function axisRegion(p: number, L: number, win: number, s: number): number {
  if (s === 0) return 0;
  return p < L - win ? 0 : p < L - s ? 1 : 2;
}

/** Region ids on the rolled padded map `[Hp, Wp]`. */
function rolledLabels(g: Geometry, padding: PaddingMode | 'none'): Int32Array {
  const { H, W, wh, ww, sh, sw, Hp, Wp } = g;
  const out = new Int32Array(Hp * Wp);
  for (let r = 0; r < Hp; r++) {
    const hr = axisRegion(r, Hp, wh, sh);
    const padRow = (r + sh) % Hp >= H;
    for (let c = 0; c < Wp; c++) {
      const isPad = padRow || (c + sw) % Wp >= W;
      out[r * Wp + c] = padding === 'isolate' && isPad ? PAD_REGION : hr * 3 + axisRegion(c, Wp, ww, sw);
    }
  }
  return out;
}

/** Rolls a rolled-frame `[Hp, Wp]` label map back to the original frame. */
function toOriginalFrame(labels: Int32Array, g: Geometry): Int32Array {
  const { Hp, Wp, sh, sw } = g;
  const out = new Int32Array(Hp * Wp);
  for (let r = 0; r < Hp; r++) {
    const y = (r + sh) % Hp;
    for (let c = 0; c < Wp; c++) out[y * Wp + ((c + sw) % Wp)] = labels[r * Wp + c];
  }
  return out;
}

/** `[nW, N, N]` additive mask from a rolled `[Hp, Wp]` label map, windows in window_partition order. */
function maskFromLabels(labels: Int32Array, g: Geometry): Float32Array {
  const { wh, ww, Hp, Wp } = g;
  const nWh = Hp / wh;
  const nWw = Wp / ww;
  const n = wh * ww;
  const out = new Float32Array(nWh * nWw * n * n);
  const win = new Int32Array(n);
  for (let bh = 0; bh < nWh; bh++) {
    for (let bw = 0; bw < nWw; bw++) {
      let uniform = true;
      for (let a = 0; a < wh; a++) {
        for (let b = 0; b < ww; b++) {
          const v = labels[(bh * wh + a) * Wp + bw * ww + b];
          win[a * ww + b] = v;
          if (v !== win[0]) uniform = false;
        }
      }
      if (uniform) continue;
      const base = (bh * nWw + bw) * n * n;
      for (let i = 0; i < n; i++) {
        const row = base + i * n;
        for (let j = 0; j < n; j++) if (win[i] !== win[j]) out[row + j] = MASK_VALUE;
      }
    }
  }
  return out;
}

/**
 * The region-id map of the shifted-window mask, for visualisation: the official `img_mask` of
 * `SwinTransformerBlock` (3x3 labelling of the slices `[0, H-wh)`, `[H-wh, H-sh)`, `[H-sh, H)` times
 * the same along the width, ids `3 * rowRegion + colRegion` in 0..8, row-major). Tokens attend to
 * each other only when they are in the same window and have the same id. An axis with shift 0 is not
 * split (region 0 along it).
 *
 * @param H map height, a multiple of the window height
 * @param W map width, a multiple of the window width
 * @param window `[wh, ww]` or one number (1 <= window <= map)
 * @param shift `[sh, sw]` or one number (0 <= shift < window)
 * @param options `frame: 'rolled'` (default, the official `img_mask`) or `'original'`
 * @returns `Int32Array` `[H * W]` (row-major `[H, W]`)
 */
export function regionIds(
  H: number,
  W: number,
  window: Size2,
  shift: Size2,
  options: RegionIdOptions = {},
): Int32Array {
  const g = geometry('regionIds', H, W, window, shift, false);
  const labels = rolledLabels(g, 'none');
  return options.frame === 'original' ? toOriginalFrame(labels, g) : labels;
}

/**
 * Plain-JS {@link shiftedWindowMask}: the additive mask as a `Float32Array` of length
 * `nW * N * N` (row-major `[nW, N, N]`, `nW = (H/wh) * (W/ww)`, `N = wh * ww`). Not cached.
 */
export function shiftedWindowMaskArray(H: number, W: number, window: Size2, shift: Size2): Float32Array {
  const g = geometry('shiftedWindowMaskArray', H, W, window, shift, false);
  return maskFromLabels(rolledLabels(g, 'none'), g);
}

/** `[Hp, Wp]`: the map size padded at the bottom/right up to multiples of the window. */
export function paddedSize(H: number, W: number, window: Size2): [number, number] {
  const g = geometry('paddedSize', H, W, window, 0, true);
  return [g.Hp, g.Wp];
}

/**
 * Region-id map of {@link shiftedWindowMaskPadded} on the padded `Hp x Wp` map (see
 * {@link PaddingMode}); with `padding: 'isolate'` padding positions carry {@link PAD_REGION}.
 *
 * @returns `Int32Array` `[Hp * Wp]` (row-major `[Hp, Wp]`, `Hp, Wp` = {@link paddedSize})
 */
export function regionIdsPadded(
  H: number,
  W: number,
  window: Size2,
  shift: Size2,
  options: PaddedOptions = {},
): Int32Array {
  const g = geometry('regionIdsPadded', H, W, window, shift, true);
  const labels = rolledLabels(g, paddingMode('regionIdsPadded', options.padding));
  return options.frame === 'original' ? toOriginalFrame(labels, g) : labels;
}

/** Plain-JS {@link shiftedWindowMaskPadded}: `Float32Array` `[nWp * N * N]`. Not cached. */
export function shiftedWindowMaskPaddedArray(
  H: number,
  W: number,
  window: Size2,
  shift: Size2,
  options: PaddedOptions = {},
): Float32Array {
  const fn = 'shiftedWindowMaskPaddedArray';
  const g = geometry(fn, H, W, window, shift, true);
  return maskFromLabels(rolledLabels(g, paddingMode(fn, options.padding)), g);
}

function paddingMode(fn: string, p: unknown): PaddingMode {
  if (p === undefined) return 'isolate';
  if (p !== 'isolate' && p !== 'reference') {
    throw new Error(`${fn}: padding=${JSON.stringify(p)} must be 'isolate' or 'reference'`);
  }
  return p;
}

/** Maximum number of cached masks (per process, all backends); least recently used ones are disposed. */
const CACHE_LIMIT = 32;

const cache = new TensorLruCache<tf.Tensor3D>(CACHE_LIMIT, (t) => [t]);

/** Disposes every cached mask on every backend. The next call rebuilds what it needs. */
export function clearShiftedMaskCache(): void {
  cache.clear();
}

function cachedMask(g: Geometry, padding: PaddingMode | 'none'): tf.Tensor3D {
  const key = `${tf.getBackend()}|${padding}|${g.H}x${g.W}|${g.wh}x${g.ww}|${g.sh}x${g.sw}`;
  const t = cache.getOrCreate(key, () => {
    const n = g.wh * g.ww;
    const nW = (g.Hp / g.wh) * (g.Wp / g.ww);
    return tf.keep(tf.tensor3d(maskFromLabels(rolledLabels(g, padding), g), [nW, n, n], 'float32'));
  });
  // A new handle on the cached buffer (no copy); the caller owns it.
  return tf.reshape(t, t.shape);
}

/**
 * The SW-MSA attention mask of Swin Transformer, identical to the official
 * `SwinTransformerBlock.attn_mask` buffer: for each window of the cyclically shifted map (windows in
 * `window_partition` order, row-major over the window grid; tokens row-major inside a window),
 * `mask[w, i, j] = 0` if query `i` and key `j` come from the same region of the map and `-100`
 * otherwise. Add it to the attention logits viewed as `[B, nW, nH, N, N]` (broadcast over `B` and
 * heads). Shift 0 gives all zeros. Non-square maps and windows are supported.
 *
 * Built once per (backend, H, W, window, shift) and cached (bounded LRU of 32,
 * {@link clearShiftedMaskCache}). The returned tensor is a new handle on the cached buffer (no copy)
 * that **the caller owns**: dispose it or let an enclosing `tf.tidy` do it; that never invalidates
 * the cache.
 *
 * @param H map height, a multiple of the window height (pad first, or use {@link shiftedWindowMaskPadded})
 * @param W map width, a multiple of the window width
 * @param window `[wh, ww]` or one number (1 <= window <= map; the official block clamps larger windows)
 * @param shift `[sh, sw]` or one number (0 <= shift < window)
 * @returns float32 `[nW, N, N]`, `nW = (H/wh) * (W/ww)`, `N = wh * ww`, values 0 / -100
 */
export function shiftedWindowMask(H: number, W: number, window: Size2, shift: Size2): tf.Tensor3D {
  const g = geometry('shiftedWindowMask', H, W, window, shift, false);
  return cachedMask(g, 'none');
}

/**
 * The shifted-window mask for a map that is zero-padded at the bottom/right to `Hp x Wp` (multiples
 * of the window, {@link paddedSize}) before the cyclic shift, as in the Swin detection and
 * segmentation backbones. The labelling is done on the padded map exactly like
 * {@link shiftedWindowMask}; `options.padding` decides what happens to padding positions (see
 * {@link PaddingMode}: `'isolate'`, the default, gives them their own region so real tokens never
 * attend to them; `'reference'` reproduces the official detection code, where padding shares the
 * last slices' regions). When `H` and `W` are multiples of the window there is no padding and the
 * result equals {@link shiftedWindowMask} in both modes. The window may exceed the map here.
 *
 * Cached and caller-owned like {@link shiftedWindowMask}.
 *
 * @param H unpadded map height (integer >= 1)
 * @param W unpadded map width (integer >= 1)
 * @param window `[wh, ww]` or one number
 * @param shift `[sh, sw]` or one number (0 <= shift < window)
 * @returns float32 `[nWp, N, N]`, `nWp = (Hp/wh) * (Wp/ww)`, `N = wh * ww`, values 0 / -100
 */
export function shiftedWindowMaskPadded(
  H: number,
  W: number,
  window: Size2,
  shift: Size2,
  options: PaddedOptions = {},
): tf.Tensor3D {
  const fn = 'shiftedWindowMaskPadded';
  const g = geometry(fn, H, W, window, shift, true);
  return cachedMask(g, paddingMode(fn, options.padding));
}
