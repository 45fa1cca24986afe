/**
 * `SwinShiftedWindowPartition` / `SwinShiftedWindowReverse` on WebGPU: cyclic shift + window partition
 * (and the inverse) as ONE gather pass over the map, instead of slice+concat (roll) and
 * reshape+transpose (partition), or a gather with an index tensor.
 */
import type * as tf from '@tensorflow/tfjs-core';
import {
  type ShiftedWindowAttrs,
  SWIN_SHIFTED_WINDOW_PARTITION,
  SWIN_SHIFTED_WINDOW_REVERSE,
} from './names.js';
import {
  asWebGPU,
  dispatchFor,
  flatDispatchLayout,
  int,
  mod,
  type ProgramUniform,
  posInt,
  type WebGPUProgram,
} from './program.js';

const WORKGROUP = 64;

/**
 * One invocation per output element (or per 4 channels when `C % 4 == 0`: vec4 loads/stores).
 * `reverse = false`: output windows `[B*nW, wh, ww, C]` read from the map `[B, H, W, C]` at
 * `((wy*wh + i + sh) mod H, (wx*ww + j + sw) mod W)`. `reverse = true`: output map `[B, H, W, C]` read
 * from the windows at the token `((y - sh) mod H, (x - sw) mod W)`.
 */
class ShiftedWindowProgram implements WebGPUProgram {
  variableNames = ['x'];
  outputShape: number[];
  shaderKey: string;
  dispatchLayout: { x: number[] };
  dispatch: [number, number, number];
  workgroupSize: [number, number, number] = [WORKGROUP, 1, 1];
  size = true;
  outputComponent: number;
  variableComponents: number[];
  uniforms = 'H : i32, W : i32, wh : i32, ww : i32, sh : i32, sw : i32, cv : i32,';

  constructor(
    outputShape: number[],
    readonly reverse: boolean,
    component: number,
  ) {
    this.outputShape = outputShape;
    this.outputComponent = component;
    this.variableComponents = [component];
    this.dispatchLayout = flatDispatchLayout(outputShape);
    const size = outputShape.reduce((a, b) => a * b, 1) / component;
    this.dispatch = dispatchFor(size, WORKGROUP);
    this.shaderKey = `swinShiftedWindow_${reverse ? 'reverse' : 'partition'}_${component}`;
  }

  getUserCode(): string {
    const body = this.reverse
      ? `
        // output token t = (b, y, x) of the map; read the rolled-back position from the windows
        let x0 = t % W;
        let t2 = t / W;
        let y0 = t2 % H;
        let b = t2 / H;
        var y = y0 - uniforms.sh;
        if (y < 0) { y = y + H; }
        var xx = x0 - uniforms.sw;
        if (xx < 0) { xx = xx + W; }
        let w = (y / wh) * nWw + xx / ww;
        let src = (((b * nW + w) * wh + y % wh) * ww + xx % ww) * cv + c;`
      : `
        // output token t = (window bw, i, j); read the map at the shifted position
        let j = t % ww;
        let t2 = t / ww;
        let i = t2 % wh;
        let bw = t2 / wh;
        let b = bw / nW;
        let w = bw % nW;
        var y = (w / nWw) * wh + i + uniforms.sh;
        if (y >= H) { y = y - H; }
        var xx = (w % nWw) * ww + j + uniforms.sw;
        if (xx >= W) { xx = xx - W; }
        let src = ((b * H + y) * W + xx) * cv + c;`;
    return `
      fn main(index : i32) {
        if (index < uniforms.size) {
          let H = uniforms.H;
          let W = uniforms.W;
          let wh = uniforms.wh;
          let ww = uniforms.ww;
          let cv = uniforms.cv;
          let nWw = W / ww;
          let nW = (H / wh) * nWw;
          let c = index % cv;
          let t = index / cv;
          ${body}
          result[index] = x[src];
        }
      }
    `;
  }
}

/** Validated attrs with shifts reduced to `[0, H)` / `[0, W)`. */
function parseAttrs(kernel: string, attrs: tf.NamedAttrMap | undefined): ShiftedWindowAttrs {
  const a = (attrs ?? {}) as Partial<Record<keyof ShiftedWindowAttrs, unknown>>;
  const H = posInt(kernel, 'H', a.H);
  const W = posInt(kernel, 'W', a.W);
  const wh = posInt(kernel, 'wh', a.wh);
  const ww = posInt(kernel, 'ww', a.ww);
  if (H % wh !== 0 || W % ww !== 0) {
    throw new Error(
      `${kernel}: the ${H}x${W} map is not tiled by ${wh}x${ww} windows (H, W must be multiples of wh, ww)`,
    );
  }
  return { H, W, wh, ww, sh: mod(int(kernel, 'sh', a.sh), H), sw: mod(int(kernel, 'sw', a.sw), W) };
}

function run(
  kernel: string,
  reverse: boolean,
  args: { inputs: tf.NamedTensorInfoMap; backend: unknown; attrs?: tf.NamedAttrMap },
): tf.TensorInfo {
  const backend = asWebGPU(kernel, args.backend);
  const x = args.inputs.x;
  if (!x) throw new Error(`${kernel}: missing input 'x'`);
  const { H, W, wh, ww, sh, sw } = parseAttrs(kernel, args.attrs);
  if (x.shape.length !== 4) {
    throw new Error(
      `${kernel}: x must be 4-D (${reverse ? '[B*nW, wh, ww, C]' : '[B, H, W, C]'}), got [${x.shape}]`,
    );
  }
  if (x.dtype === 'complex64' || x.dtype === 'string') {
    throw new Error(`${kernel}: dtype ${x.dtype} is not supported`);
  }
  const C = x.shape[3];
  const nW = (H / wh) * (W / ww);
  let outShape: number[];
  if (reverse) {
    const [n, h, w] = x.shape;
    if (h !== wh || w !== ww || n % nW !== 0) {
      throw new Error(
        `${kernel}: windows [${x.shape}] do not match attrs (expected [B*${nW}, ${wh}, ${ww}, C] for a ${H}x${W} map)`,
      );
    }
    outShape = [n / nW, H, W, C];
  } else {
    if (x.shape[1] !== H || x.shape[2] !== W) {
      throw new Error(`${kernel}: x [${x.shape}] does not match attrs H=${H}, W=${W}`);
    }
    outShape = [x.shape[0] * nW, wh, ww, C];
  }
  const component = C % 4 === 0 ? 4 : 1;
  const program = new ShiftedWindowProgram(outShape, reverse, component);
  const uniforms: ProgramUniform = [H, W, wh, ww, sh, sw, C / component].map((v) => ({
    type: 'int32' as const,
    data: [v],
  }));
  return backend.runWebGPUProgram(program, [x], x.dtype, uniforms);
}

/** Kernel function of {@link SWIN_SHIFTED_WINDOW_PARTITION} (input `x` `[B, H, W, C]`). */
export const shiftedWindowPartitionKernel: tf.KernelFunc = (args) =>
  run(SWIN_SHIFTED_WINDOW_PARTITION, false, args);

/** Kernel function of {@link SWIN_SHIFTED_WINDOW_REVERSE} (input `x` = windows `[B*nW, wh, ww, C]`). */
export const shiftedWindowReverseKernel: tf.KernelFunc = (args) =>
  run(SWIN_SHIFTED_WINDOW_REVERSE, true, args);
