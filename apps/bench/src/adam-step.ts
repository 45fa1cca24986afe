/**
 * `pnpm bench:adam`: the Adam update alone (no forward / backward) on the trainable variables of Shunted-T and
 * PVTv2-b1 at 224 on wasm, `tf.train.adam` vs `adam()` of @swin/nn (fused `SwinNnAdam` kernel of @swin/wasm),
 * interleaved: 2 untimed + 10 timed steps each, random gradients. Prints the median / min ms and the kernels
 * of one step (tf.profile).
 */
import { adam } from '@swin/nn';
import { registerWasmKernels } from '@swin/wasm';
import * as tf from '@tensorflow/tfjs';
import '@tensorflow/tfjs-backend-wasm';
import { createModel } from './models.js';

tf.env().set('PROD', true);
registerWasmKernels();
await tf.setBackend('wasm');
await tf.ready();

const median = (xs: number[]) => [...xs].sort((a, b) => a - b)[xs.length >> 1];

/** Kernel name -> count of one profiled call (copied at once: tfjs reuses the profile object). */
async function kernelCounts(f: () => void): Promise<Record<string, number>> {
  const counts: Record<string, number> = {};
  for (const k of (await tf.profile(f)).kernels) counts[k.name] = (counts[k.name] ?? 0) + 1;
  return counts;
}

for (const id of ['shunted_t', 'pvt_v2_b1']) {
  const model = await createModel(id, 224);
  const vars = model.trainableVariables();
  const grads: tf.NamedTensorMap = Object.fromEntries(
    vars.map((v, i) => [v.name, tf.randomNormal(v.shape, 0, 0.01, 'float32', i + 1)]),
  );
  const params = vars.reduce((a, v) => a + v.size, 0);
  const opts: Record<string, tf.Optimizer> = { tfjs: tf.train.adam(1e-4), swin: adam(1e-4) };
  const times: Record<string, number[]> = { tfjs: [], swin: [] };
  for (let r = 0; r < 12; r++) {
    for (const k of ['tfjs', 'swin']) {
      const t0 = performance.now();
      opts[k].applyGradients(grads);
      await vars[vars.length - 1].data();
      if (r >= 2) times[k].push(performance.now() - t0);
    }
  }
  const line = [`${id}: ${vars.length} variables, ${(params / 1e6).toFixed(2)} M parameters`];
  for (const k of ['tfjs', 'swin']) {
    const counts = await kernelCounts(() => opts[k].applyGradients(grads));
    const total = Object.values(counts).reduce((a, b) => a + b, 0);
    const ms = `${median(times[k]).toFixed(1)} ms (min ${Math.min(...times[k]).toFixed(1)})`;
    line.push(`${k} ${ms}, ${total} kernels ${JSON.stringify(counts)}`);
  }
  console.log(line.join('\n  '));
  for (const o of Object.values(opts)) o.dispose();
  tf.dispose(Object.values(grads));
  model.dispose();
}
