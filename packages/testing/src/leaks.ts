import * as tf from '@tensorflow/tfjs';

/**
 * Runs `fn` twice and asserts that the second run leaves `tf.memory().numTensors` unchanged.
 * The first run is allowed to create cached constants (masks, index tensors), which must then be
 * reused, so the count is compared around the second run only. Returns the second run's result
 * (tensors it returns are disposed before counting and must not be used by the caller).
 */
export async function expectNoLeak<T>(fn: () => T | Promise<T>, label = 'operation'): Promise<void> {
  const dispose = (r: unknown) => {
    if (r instanceof tf.Tensor) r.dispose();
    else if (Array.isArray(r)) for (const x of r) dispose(x);
    else if (r && typeof r === 'object')
      for (const x of Object.values(r)) if (x instanceof tf.Tensor) x.dispose();
  };
  dispose(await fn());
  const before = tf.memory().numTensors;
  dispose(await fn());
  const after = tf.memory().numTensors;
  if (after !== before) {
    throw new Error(`${label} leaked ${after - before} tensor(s): numTensors ${before} -> ${after}`);
  }
}
