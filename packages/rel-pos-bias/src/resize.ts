import * as tf from '@tensorflow/tfjs-core';
import { checkInt, toPair, type WindowSize } from './validate.js';

/** Cubic convolution coefficient of PyTorch's bicubic upsampling (Keys kernel, `A = -0.75`). */
const A = -0.75;

/** `|x| <= 1` branch of the cubic convolution kernel. */
function cubic1(x: number): number {
  return ((A + 2) * x - (A + 3)) * x * x + 1;
}

/** `1 < |x| < 2` branch of the cubic convolution kernel. */
function cubic2(x: number): number {
  return ((A * x - 5 * A) * x + 8 * A) * x - 4 * A;
}

/**
 * The 1-D bicubic interpolation matrix `M [outSize, inSize]` (row-major) of PyTorch's
 * `F.interpolate(mode='bicubic', align_corners=False)` along one axis, so that
 * `out = M @ in`. Built in float64 and rounded to float32.
 *
 * For output `o`: source coordinate `x = (o + 0.5) * inSize / outSize - 0.5`, `i = floor(x)`,
 * `t = x - i`; the taps `i-1, i, i+1, i+2` (each clamped to `[0, inSize-1]`, weights of clamped taps
 * accumulate on the border sample) get the weights `W(t+1), W(t), W(1-t), W(2-t)` of the cubic
 * convolution kernel with `A = -0.75`. Each row sums to 1; `inSize == outSize` gives the identity.
 *
 * @param inSize source length (integer >= 1)
 * @param outSize destination length (integer >= 1)
 * @returns `Float32Array` of length `outSize * inSize`
 */
export function bicubicInterpolationMatrix(inSize: number, outSize: number): Float32Array {
  checkInt('bicubicInterpolationMatrix', 'inSize', inSize);
  checkInt('bicubicInterpolationMatrix', 'outSize', outSize);
  const m = new Float64Array(outSize * inSize);
  const scale = inSize / outSize;
  for (let o = 0; o < outSize; o++) {
    const x = (o + 0.5) * scale - 0.5;
    const i = Math.floor(x);
    const t = x - i;
    const w = [cubic2(t + 1), cubic1(t), cubic1(1 - t), cubic2(2 - t)];
    for (let k = 0; k < 4; k++) {
      const src = Math.min(Math.max(i - 1 + k, 0), inSize - 1);
      m[o * inSize + src] += w[k];
    }
  }
  return Float32Array.from(m);
}

/**
 * Resizes a relative position bias table from an `a x b` window to a `c x d` window with bicubic
 * interpolation, exactly like the official Swin `utils.py load_pretrained`:
 * `F.interpolate(table.permute(1, 0).view(1, nH, 2a-1, 2b-1), size=(2c-1, 2d-1), mode='bicubic')`
 * (`align_corners=False`, `A = -0.75`, border taps clamped as in PyTorch's `upsample_bicubic2d`).
 *
 * Implemented as two interpolation matrices ({@link bicubicInterpolationMatrix}) applied with plain
 * `matMul` (rows, then columns), so it is separable, exact up to float32 summation order and
 * differentiable w.r.t. `table` on every backend. Equal sizes give the table back unchanged.
 *
 * @param table float32 `[(2a-1)(2b-1), nH]`
 * @param from source window `[a, b]` (or one number for a square window)
 * @param to target window `[c, d]` (or one number)
 * @returns float32 `[(2c-1)(2d-1), nH]` (a new tensor the caller owns)
 */
export function resizeBiasTable(table: tf.Tensor, from: WindowSize, to: WindowSize): tf.Tensor2D {
  const fn = 'resizeBiasTable';
  const [a, b] = toPair(fn, 'from', from);
  const [c, d] = toPair(fn, 'to', to);
  if (!(table instanceof tf.Tensor)) throw new Error(`${fn}: table must be a tf.Tensor`);
  const ha = 2 * a - 1;
  const wb = 2 * b - 1;
  const hc = 2 * c - 1;
  const wd = 2 * d - 1;
  if (table.rank !== 2 || table.shape[0] !== ha * wb) {
    throw new Error(
      `${fn}: table has shape [${table.shape.join(', ')}]; a ${a}x${b} source window needs ` +
        `[(2*${a}-1)*(2*${b}-1), numHeads] = [${ha * wb}, numHeads]`,
    );
  }
  if (table.dtype !== 'float32') throw new Error(`${fn}: table has dtype ${table.dtype}, expected float32`);
  const nH = table.shape[1] as number;
  return tf.tidy(() => {
    const rowM = tf.tensor2d(bicubicInterpolationMatrix(ha, hc), [hc, ha]);
    const colM = tf.tensor2d(bicubicInterpolationMatrix(wb, wd), [wd, wb]);
    // table [ha*wb, nH] is [ha, wb, nH] row-major. Rows: [hc, ha] x [ha, wb*nH] -> [hc, wb, nH].
    const rows = tf.matMul(rowM, tf.reshape(table, [ha, wb * nH]));
    // Columns: [wd, wb] x [wb, hc*nH] -> [wd, hc, nH] -> [hc, wd, nH].
    const t = tf.transpose(tf.reshape(rows, [hc, wb, nH]), [1, 0, 2]);
    const cols = tf.matMul(colM, tf.reshape(t, [wb, hc * nH]));
    return tf.reshape(tf.transpose(tf.reshape(cols, [wd, hc, nH]), [1, 0, 2]), [hc * wd, nH]);
  });
}
