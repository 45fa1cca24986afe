/**
 * `SwinWindowAttention` on WebGPU: `softmax(q kᵀ · scale + bias + mask) v` per group in one dispatch.
 *
 * One workgroup (64 invocations) owns a tile of `R` query rows of one group. Keys are processed in
 * chunks of `T` (all of them at once for Swin windows, `M <= 256`): the workgroup computes the `R x T`
 * scores (scale, bias and mask added on the fly) into workgroup memory, each row's running max / sum is
 * updated (online softmax: earlier partial outputs are rescaled by `exp(oldMax - newMax)`), and the
 * invocations accumulate `P · V` into the output rows. Only q, k, v, bias, mask are read and the
 * `[G, N, dv]` output written: the `[G, N, M]` score and probability tensors of the unfused path never
 * exist in global memory.
 */
import type * as tf from '@tensorflow/tfjs-core';
import { SWIN_WINDOW_ATTENTION, type WindowAttentionAttrs } from './names.js';
import {
  asWebGPU,
  flatDispatchLayout,
  type ProgramUniform,
  posInt,
  type WebGPUProgram,
  withShape,
} from './program.js';

const WORKGROUP = 64;
/** Largest key chunk held in workgroup memory. */
const MAX_CHUNK = 256;
/** Score tile budget in floats (8 KiB of the 16 KiB every WebGPU device offers). */
const TILE_FLOATS = 2048;
/** Most query rows per workgroup. */
const MAX_ROWS = 16;

/** Tile geometry for `N` queries and `M` keys: rows per workgroup `R`, keys per chunk `T`. */
export function attentionTiling(N: number, M: number): { rows: number; chunk: number } {
  const chunk = Math.min(M, MAX_CHUNK);
  const rows = Math.max(1, Math.min(MAX_ROWS, N, Math.floor(TILE_FLOATS / chunk)));
  return { rows, chunk };
}

class WindowAttentionProgram implements WebGPUProgram {
  variableNames: string[];
  outputShape: number[];
  shaderKey: string;
  dispatchLayout: { x: number[] };
  dispatch: [number, number, number];
  workgroupSize: [number, number, number] = [WORKGROUP, 1, 1];
  uniforms = 'scale : f32, nB : i32, nM : i32, heads : i32,';

  constructor(
    G: number,
    N: number,
    Dv: number,
    readonly rows: number,
    readonly chunk: number,
    readonly hasBias: boolean,
    readonly hasMask: boolean,
  ) {
    this.variableNames = ['q', 'k', 'v'];
    if (hasBias) this.variableNames.push('bias');
    if (hasMask) this.variableNames.push('mask');
    this.outputShape = [G, N, Dv];
    this.dispatchLayout = flatDispatchLayout(this.outputShape);
    this.dispatch = [G * Math.ceil(N / rows), 1, 1];
    this.shaderKey = `swinWindowAttention_${rows}_${chunk}_${hasBias}_${hasMask}`;
  }

  getUserCode(): string {
    const R = this.rows;
    const T = this.chunk;
    const addBias = this.hasBias ? 's = s + bias[biasBase + i * M + j0 + j];' : '';
    const addMask = this.hasMask ? 's = s + mask[maskBase + i * M + j0 + j];' : '';
    return `
      const R = ${R};
      const T = ${T};
      const WG = ${WORKGROUP};
      const LOWEST = -3.402823466e+38;
      var<workgroup> S : array<f32, ${R * T}>;
      var<workgroup> rowMax : array<f32, ${R}>;
      var<workgroup> rowSum : array<f32, ${R}>;
      var<workgroup> rowRescale : array<f32, ${R}>;

      fn main(index : i32) {
        let G = uniforms.qShape.x;
        let N = uniforms.qShape.y;
        let D = uniforms.qShape.z;
        let M = uniforms.kShape.y;
        let DV = uniforms.vShape.z;
        let tiles = (N + R - 1) / R;
        // workgroup id, linearised (the backend may fold a long dispatch into 2-D or 3-D)
        let wg = i32(workgroupId.z * numWorkgroups.x * numWorkgroups.y + workgroupId.y * numWorkgroups.x +
          workgroupId.x);
        let g = wg / tiles;
        let row0 = (wg % tiles) * R;
        let tid = i32(localIndex);
        let valid = g < G;
        let qBase = g * N * D;
        let kBase = g * M * D;
        let vBase = g * M * DV;
        let oBase = g * N * DV;
        let biasBase = (g % uniforms.nB) * N * M;
        let maskBase = ((g / uniforms.heads) % uniforms.nM) * N * M;
        let chunks = (M + T - 1) / T;
        for (var chunk = 0; chunk < chunks; chunk = chunk + 1) {
          let j0 = chunk * T;
          let tc = min(T, M - j0);
          // 1. scores of the tile
          for (var e = tid; e < R * T; e = e + WG) {
            let r = e / T;
            let j = e % T;
            let i = row0 + r;
            var s = LOWEST;
            if (valid && i < N && j < tc) {
              var acc = 0.0;
              let qo = qBase + i * D;
              let ko = kBase + (j0 + j) * D;
              for (var c = 0; c < D; c = c + 1) {
                acc = acc + q[qo + c] * k[ko + c];
              }
              s = acc * uniforms.scale;
              ${addBias}
              ${addMask}
            }
            S[e] = s;
          }
          workgroupBarrier();
          // 2. running max / sum per row; S becomes exp(s - max)
          if (tid < R) {
            let base = tid * T;
            var mx = LOWEST;
            for (var j = 0; j < tc; j = j + 1) {
              mx = max(mx, S[base + j]);
            }
            var mNew = mx;
            if (chunk > 0) {
              mNew = max(mx, rowMax[tid]);
            }
            var sum = 0.0;
            for (var j = 0; j < tc; j = j + 1) {
              let p = exp(S[base + j] - mNew);
              S[base + j] = p;
              sum = sum + p;
            }
            if (chunk > 0) {
              let corr = exp(rowMax[tid] - mNew);
              rowRescale[tid] = corr;
              rowSum[tid] = rowSum[tid] * corr + sum;
            } else {
              rowRescale[tid] = 0.0;
              rowSum[tid] = sum;
            }
            rowMax[tid] = mNew;
          }
          workgroupBarrier();
          // 3. out = rescale * out + P V (divided by the row sum after the last chunk)
          for (var e = tid; e < R * DV; e = e + WG) {
            let r = e / DV;
            let c = e % DV;
            let i = row0 + r;
            if (valid && i < N) {
              var acc = 0.0;
              let base = r * T;
              for (var j = 0; j < tc; j = j + 1) {
                acc = acc + S[base + j] * v[vBase + (j0 + j) * DV + c];
              }
              let o = oBase + i * DV + c;
              if (chunk > 0) {
                acc = acc + result[o] * rowRescale[r];
              }
              if (chunk == chunks - 1) {
                acc = acc / rowSum[r];
              }
              result[o] = acc;
            }
          }
          workgroupBarrier();
        }
      }
    `;
  }
}

function check3D(kernel: string, name: string, t: tf.TensorInfo | undefined, layout: string): tf.TensorInfo {
  if (!t) throw new Error(`${kernel}: missing input '${name}' ${layout}`);
  if (t.shape.length !== 3) throw new Error(`${kernel}: ${name} must be 3-D ${layout}, got [${t.shape}]`);
  if (t.dtype !== 'float32') throw new Error(`${kernel}: ${name} must be float32, got ${t.dtype}`);
  return t;
}

/** `[n, N, M]` or `[N, M]` additive term -> `[n, N, M]` view, checked. */
function extra(kernel: string, name: string, t: tf.TensorInfo | undefined, N: number, M: number) {
  if (!t) return null;
  if (t.dtype !== 'float32') throw new Error(`${kernel}: ${name} must be float32, got ${t.dtype}`);
  const s = t.shape;
  const ok = (s.length === 3 || s.length === 2) && s[s.length - 2] === N && s[s.length - 1] === M;
  if (!ok) throw new Error(`${kernel}: ${name} must be [n, ${N}, ${M}] or [${N}, ${M}], got [${s}]`);
  const n = s.length === 3 ? s[0] : 1;
  if (n < 1) throw new Error(`${kernel}: ${name} [${s}] is empty`);
  return withShape(t, [n, N, M]);
}

/** Kernel function of {@link SWIN_WINDOW_ATTENTION}; see {@link WindowAttentionAttrs}. */
export const windowAttentionKernel: tf.KernelFunc = ({ inputs, backend: be, attrs }) => {
  const kernel = SWIN_WINDOW_ATTENTION;
  const backend = asWebGPU(kernel, be);
  const q = check3D(kernel, 'q', inputs.q, '[G, N, d]');
  const k = check3D(kernel, 'k', inputs.k, '[G, M, d]');
  const v = check3D(kernel, 'v', inputs.v, '[G, M, dv]');
  const [G, N, D] = q.shape;
  const M = k.shape[1];
  const Dv = v.shape[2];
  if (k.shape[0] !== G || v.shape[0] !== G || k.shape[2] !== D || v.shape[1] !== M) {
    throw new Error(
      `${kernel}: q [${q.shape}], k [${k.shape}], v [${v.shape}] must be [G, N, d], [G, M, d], [G, M, dv]`,
    );
  }
  if (G === 0 || N === 0 || M === 0 || D === 0 || Dv === 0) {
    throw new Error(`${kernel}: empty input: q [${q.shape}], k [${k.shape}], v [${v.shape}]`);
  }
  const a = (attrs ?? {}) as Partial<Record<keyof WindowAttentionAttrs, unknown>>;
  const scale = a.scale;
  if (typeof scale !== 'number' || !Number.isFinite(scale)) {
    throw new Error(`${kernel}: attr scale must be a finite number, got ${JSON.stringify(scale)}`);
  }
  const heads = posInt(kernel, 'numHeads', a.numHeads);
  const bias = extra(kernel, 'bias', inputs.bias, N, M);
  const mask = extra(kernel, 'mask', inputs.mask, N, M);
  const nB = bias ? bias.shape[0] : 1;
  const nM = mask ? mask.shape[0] : 1;
  if (G % nB !== 0) throw new Error(`${kernel}: ${G} groups are not a multiple of the ${nB} bias matrices`);
  if (mask) {
    const nW = posInt(kernel, 'numWindows', a.numWindows);
    if (inputs.mask!.shape.length === 3 && nW !== nM) {
      throw new Error(`${kernel}: attr numWindows=${nW} but mask has ${nM} matrices [${inputs.mask!.shape}]`);
    }
    if (G % (heads * nM) !== 0) {
      throw new Error(
        `${kernel}: ${G} groups are not a multiple of numHeads * numWindows = ${heads} * ${nM}`,
      );
    }
  }
  const { rows, chunk } = attentionTiling(N, M);
  const program = new WindowAttentionProgram(G, N, Dv, rows, chunk, !!bias, !!mask);
  const progInputs = [q, k, v];
  if (bias) progInputs.push(bias);
  if (mask) progInputs.push(mask);
  const uniforms: ProgramUniform = [
    { type: 'float32', data: [scale] },
    { type: 'int32', data: [nB] },
    { type: 'int32', data: [nM] },
    { type: 'int32', data: [heads] },
  ];
  return backend.runWebGPUProgram(program, progInputs, 'float32', uniforms);
};
