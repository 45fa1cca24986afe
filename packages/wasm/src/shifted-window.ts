/**
 * The kernel names of `@swin/window-ops`'s backend hooks, by value (`@swin/window-ops` is not a dependency:
 * its tests depend on the test helpers, which register these kernels; a test checks the names agree).
 */
export const SWIN_SHIFTED_WINDOW_PARTITION = 'SwinShiftedWindowPartition';
export const SWIN_SHIFTED_WINDOW_REVERSE = 'SwinShiftedWindowReverse';

import * as tf from '@tensorflow/tfjs-core';
import type { WasmBackendLike } from './asm.js';

type KernelArgs = { inputs: tf.NamedTensorInfoMap; backend: unknown; attrs?: tf.NamedAttrMap };

function input(args: KernelArgs, kernel: string, n: string): tf.TensorInfo {
  const t = args.inputs[n];
  if (!t) throw new Error(`${kernel}: missing input '${n}'`);
  return t;
}

// ============================================================================================
// Shifted-window partition / reverse (row copies on the wasm heap)
// ============================================================================================

interface WasmHeapBackend extends WasmBackendLike {
  typedArrayFromHeap(t: tf.TensorInfo): tf.TypedArray;
}

/** Attributes of the shifted-window kernels (the `@swin/window-ops` hook contract). */
interface WindowAttrs {
  H: number;
  W: number;
  wh: number;
  ww: number;
  sh: number;
  sw: number;
}

/**
 * Copies between the map layout `[B, H, W, C]` and the window layout `[B*nW, wh, ww, C]` of the map
 * rolled by `(-sh, -sw)`: window token `(b, wy, wx, i, j)` is map row
 * `(b, (wy wh + i + sh) mod H, (wx ww + j + sw) mod W)`. One `set` per contiguous run of a window row
 * (at most two: before and after the wrap-around). `toWindows` false is the exact inverse.
 */
function shuffleWindows(
  src: tf.TypedArray,
  dst: tf.TypedArray,
  B: number,
  C: number,
  a: WindowAttrs,
  toWindows: boolean,
): void {
  const { H, W, wh, ww, sh, sw } = a;
  const [nWy, nWx] = [H / wh, W / ww];
  let win = 0;
  for (let b = 0; b < B; b++)
    for (let wy = 0; wy < nWy; wy++)
      for (let wx = 0; wx < nWx; wx++)
        for (let i = 0; i < wh; i++) {
          const row = (b * H + ((wy * wh + i + sh) % H)) * W;
          let x = (wx * ww + sw) % W;
          let left = ww;
          while (left > 0) {
            const run = Math.min(left, W - x);
            const m = (row + x) * C;
            const n = run * C;
            if (toWindows) dst.set(src.subarray(m, m + n), win);
            else dst.set(src.subarray(win, win + n), m);
            win += n;
            left -= run;
            x = 0;
          }
        }
}

function windowKernel(name: string, toWindows: boolean) {
  return (args: KernelArgs) => {
    const be = args.backend as WasmHeapBackend;
    const x = input(args, name, 'x');
    const a = (args.attrs ?? {}) as unknown as WindowAttrs;
    if (x.dtype === 'string' || x.dtype === 'complex64') {
      throw new Error(`${name}: dtype ${x.dtype} is not supported (float32, int32 or bool)`);
    }
    const nW = (a.H / a.wh) * (a.W / a.ww);
    const C = x.shape[3];
    const B = toWindows ? x.shape[0] : x.shape[0] / nW;
    const out = be.makeOutput(toWindows ? [B * nW, a.wh, a.ww, C] : [B, a.H, a.W, C], x.dtype);
    // views after the allocation (it may grow the memory)
    shuffleWindows(be.typedArrayFromHeap(x), be.typedArrayFromHeap(out), B, C, a, toWindows);
    return out;
  };
}

/**
 * The kernels of `@swin/window-ops`'s backend hooks ({@link SWIN_SHIFTED_WINDOW_PARTITION} /
 * {@link SWIN_SHIFTED_WINDOW_REVERSE}) for 'wasm': input `x`, attrs `{H, W, wh, ww, sh, sw}`
 * (`0 <= sh < H`, `0 <= sw < W`); the partition maps `[B, H, W, C]` (rolled by `(-sh, -sw)`) to windows
 * `[B*nW, wh, ww, C]`, the reverse undoes it; float32, int32 and bool. tfjs-wasm otherwise runs the roll
 * as Slice + Concat, and its Slice copies the whole input first (Swin-T at 896: ~200 ms of Slice per
 * forward).
 */
export const SHIFTED_WINDOW_KERNELS: readonly tf.KernelConfig[] = [
  {
    kernelName: SWIN_SHIFTED_WINDOW_PARTITION,
    backendName: 'wasm',
    kernelFunc: windowKernel(SWIN_SHIFTED_WINDOW_PARTITION, true) as unknown as tf.KernelFunc,
  },
  {
    kernelName: SWIN_SHIFTED_WINDOW_REVERSE,
    backendName: 'wasm',
    kernelFunc: windowKernel(SWIN_SHIFTED_WINDOW_REVERSE, false) as unknown as tf.KernelFunc,
  },
];

/** Gradients of the two kernels: each is the other with the same attrs (a permutation and its inverse). */
export const SHIFTED_WINDOW_GRADIENTS: readonly tf.GradConfig[] = [
  [SWIN_SHIFTED_WINDOW_PARTITION, SWIN_SHIFTED_WINDOW_REVERSE],
  [SWIN_SHIFTED_WINDOW_REVERSE, SWIN_SHIFTED_WINDOW_PARTITION],
].map(([name, other]) => ({
  kernelName: name,
  gradFunc: (dy: tf.Tensor | tf.Tensor[], _saved: tf.Tensor[], attrs: tf.NamedAttrMap) => ({
    x: () => tf.engine().runKernel(other, { x: dy as tf.Tensor }, attrs) as tf.Tensor,
  }),
}));
