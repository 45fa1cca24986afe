import * as tf from '@tensorflow/tfjs-core';

/**
 * Batched `a @ b` for rank-3 tensors `[n, M, K] x [n, K, N] -> [n, M, N]` whose gradient uses only plain
 * (untransposed) matMuls after explicit transposes. tfjs's own matMul gradient passes transpose flags,
 * which are 10-40x slower on tfjs-wasm.
 */
export function bmm(a: tf.Tensor3D, b: tf.Tensor3D): tf.Tensor3D {
  const f = tf.customGrad((...args: (tf.Tensor | tf.GradSaveFunc)[]) => {
    const [x, y, save] = args as [tf.Tensor3D, tf.Tensor3D, tf.GradSaveFunc];
    save([x, y]);
    return {
      value: tf.matMul(x, y),
      gradFunc: (dy: tf.Tensor | tf.Tensor[], saved: tf.Tensor[]) => {
        const g = dy as tf.Tensor3D;
        const [xs, ys] = saved as [tf.Tensor3D, tf.Tensor3D];
        return [tf.matMul(g, tf.transpose(ys, [0, 2, 1])), tf.matMul(tf.transpose(xs, [0, 2, 1]), g)];
      },
    };
  });
  return f(a, b) as tf.Tensor3D;
}

/**
 * `x @ w + b` over the last axis (x `[..., in]`, w `[in, out]` internal layout, b `[out]`) whose
 * gradient uses plain matMuls after explicit transposes (`dx = dy @ w^T`, `dw = x^T @ dy`): tfjs's own
 * matMul gradient passes transpose flags, 10-40x slower on tfjs-wasm. Same forward as `@swin/nn` `linear`.
 */
export function linearFast(x: tf.Tensor, w: tf.Tensor, b: tf.Tensor | null = null): tf.Tensor {
  const inDim = w.shape[0] as number;
  const outDim = w.shape[1] as number;
  if (x.shape[x.rank - 1] !== inDim) {
    throw new Error(
      `linear: input has ${x.shape[x.rank - 1]} features (shape [${x.shape}]), expected ${inDim}`,
    );
  }
  return tf.tidy(() => {
    const flat = tf.reshape(x, [-1, inDim]) as tf.Tensor2D;
    const f = tf.customGrad((...args: (tf.Tensor | tf.GradSaveFunc)[]) => {
      const [xi, wi, save] = args as [tf.Tensor2D, tf.Tensor2D, tf.GradSaveFunc];
      save([xi, wi]);
      return {
        value: tf.matMul(xi, wi),
        gradFunc: (dy: tf.Tensor | tf.Tensor[], saved: tf.Tensor[]) => {
          const g = dy as tf.Tensor2D;
          const [xs, ws] = saved as [tf.Tensor2D, tf.Tensor2D];
          return [tf.matMul(g, tf.transpose(ws)), tf.matMul(tf.transpose(xs), g)];
        },
      };
    });
    let y = f(flat, w) as tf.Tensor;
    if (b) y = tf.add(y, b);
    return tf.reshape(y, [...x.shape.slice(0, -1), outDim]);
  });
}
