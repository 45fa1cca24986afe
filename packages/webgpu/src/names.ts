/**
 * Kernel names and attribute conventions of the fused Swin kernels.
 *
 * The window-partition names are owned by `@swin/window-ops` (its generic `shiftedWindowPartition` /
 * `shiftedWindowReverse` dispatch to them when a kernel is registered for the active backend) and only
 * re-exported here; the attention name is shared with `@swin/nn`'s `attentionCore` by value.
 */
import { SWIN_SHIFTED_WINDOW_PARTITION, SWIN_SHIFTED_WINDOW_REVERSE } from '@swin/window-ops';

export { SWIN_SHIFTED_WINDOW_PARTITION, SWIN_SHIFTED_WINDOW_REVERSE };

/**
 * Attributes of {@link SWIN_SHIFTED_WINDOW_PARTITION} and {@link SWIN_SHIFTED_WINDOW_REVERSE}.
 *
 * - `SwinShiftedWindowPartition`: input `x` `[B, H, W, C]` -> windows `[B*nW, wh, ww, C]`, equal to
 *   `window_partition(torch.roll(x, (-sh, -sw), (1, 2)), (wh, ww))`.
 * - `SwinShiftedWindowReverse`: input `x` = windows `[B*nW, wh, ww, C]` -> `[B, H, W, C]`, equal to
 *   `torch.roll(window_reverse(x, (wh, ww), H, W), (sh, sw), (1, 2))`.
 *
 * `nW = (H / wh) * (W / ww)` windows per image, batch-major, row-major over windows; tokens row-major
 * inside a window. `H`, `W` must be multiples of `wh`, `ww`; shifts are any integers (taken modulo `H`,
 * `W`). Any dtype; the data are moved bit-exactly. Gradient of one kernel = the other with the same attrs.
 */
export interface ShiftedWindowAttrs {
  /** Map height. */
  H: number;
  /** Map width. */
  W: number;
  /** Window height. */
  wh: number;
  /** Window width. */
  ww: number;
  /** Row shift (the map is rolled by `-sh` before partitioning). */
  sh: number;
  /** Column shift. */
  sw: number;
}

/**
 * Fused window attention: `softmax(q kᵀ · scale + bias + mask) v` for `G` independent groups in one
 * kernel (the scores never reach global memory).
 *
 * Inputs (float32):
 * - `q` `[G, N, d]`, `k` `[G, M, d]`, `v` `[G, M, dv]`. Swin: `G = B*nW*nH`, groups ordered `(b, w, h)`
 *   (head innermost), `M = N = wh*ww`.
 * - `bias` (optional) `[nB, N, M]` or `[N, M]`: group `g` adds `bias[g % nB]`. Swin: the relative
 *   position bias `[nH, N, N]`.
 * - `mask` (optional) `[nW, N, M]` or `[N, M]`: group `g` adds `mask[floor(g / numHeads) % nW]`. Swin:
 *   the shifted-window mask `[nW, N, N]` (0 / -100), broadcast over the batch.
 *
 * Output `[G, N, dv]`. This is the broadcast convention of `attentionCore` in `@swin/nn`.
 */
export const SWIN_WINDOW_ATTENTION = 'SwinWindowAttention';

/** Attributes of {@link SWIN_WINDOW_ATTENTION}. */
export interface WindowAttentionAttrs {
  /** Multiplier of `q kᵀ` (pass 1 if `q` is already scaled). */
  scale: number;
  /** Innermost group factor used to index `mask` (Swin: heads). `G` must be a multiple of `numHeads * nW`. */
  numHeads: number;
  /** Number of mask matrices `nW` (must equal `mask.shape[0]` when a 3-D mask is given; unused otherwise). */
  numWindows: number;
}
