/**
 * Every Swin parity fixture (window ops, masks, indices, WindowAttention, blocks, patch merging, models,
 * Swin-MLP) in headless Chromium, through the parity app's handlers, compared with the fixtures README
 * section 7 tolerance: on 'webgpu' with the fused Swin kernels registered, and on 'webgl' (generic path)
 * as a cross-check. Calls of the fused kernels are counted per fixture.
 */
import '@tensorflow/tfjs-backend-webgpu';
import { compareTensors, tf, toleranceFor } from '@swin/testing';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { fusedWindowAttention, registerSwinWebGPUKernels, unregisterSwinWebGPUKernels } from './index.js';
import {
  type BrowserFixtureResult,
  fixtureBytes,
  fixtureFromBytes,
  formatBrowserResult,
  listFixtures,
  runFixtureInBrowser,
} from './test-utils/browser-fixtures.js';
import { countKernelCalls, describeCalls, kernelCalls } from './test-utils/count-calls.js';

/** File-name prefixes of the Swin families (Microsoft Swin and Swin-MLP; `patch_embed` is filed under patch_merging). */
const SWIN_PREFIXES = [
  'window_ops_',
  'rel_pos_index_',
  'shifted_mask_',
  'window_attention_',
  'swin_block_',
  'patch_embed_',
  'patch_merging_',
  'swin_model_',
  'swin_mlp_block_',
  'swin_mlp_model_',
];
const SWIN_FAMILIES = [
  'window_ops',
  'rel_pos_index',
  'shifted_mask',
  'window_attention',
  'swin_block',
  'patch_merging',
  'swin_model',
  'swin_mlp_block',
  'swin_mlp_model',
];

const FILES = (await listFixtures()).filter((f) => SWIN_PREFIXES.some((p) => f.startsWith(p)));

const summary: string[] = [];
afterAll(() => {
  console.log(`Swin fixtures in Chromium:\n${summary.join('\n')}`);
  unregisterSwinWebGPUKernels();
});

it('finds the Swin fixtures', () => {
  expect(FILES.length).toBeGreaterThanOrEqual(25);
});

describe.each(['webgpu', 'webgl'])('Swin parity fixtures on %s', (backend) => {
  beforeAll(async () => {
    expect(await tf.setBackend(backend), `backend ${backend} must initialise`).toBe(true);
    await tf.ready();
    if (backend === 'webgpu') {
      unregisterSwinWebGPUKernels();
      registerSwinWebGPUKernels();
      countKernelCalls();
    }
  });

  it.each(FILES)('%s', async (file) => {
    kernelCalls.clear();
    const r: BrowserFixtureResult = await runFixtureInBrowser(file);
    const line = formatBrowserResult(r) + (backend === 'webgpu' ? ` {kernels: ${describeCalls()}}` : '');
    summary.push(line);
    for (const o of r.outputs) if (!o.ok) summary.push(`    ${o.name}: ${o.message}`);
    expect(SWIN_FAMILIES, `${file} is a Swin fixture`).toContain(r.family);
    if (r.status === 'SKIP') {
      // allowed only while no handler exists for the family (the parity app's own rule)
      expect(r.reason, line).toMatch(/^family \S+ not built yet/);
      return;
    }
    expect(r.status, line).toBe('PASS');
    if (backend === 'webgpu' && r.family === 'window_ops') {
      // shifted_partition goes through @swin/window-ops' shiftedWindowPartition
      expect(kernelCalls.get('SwinShiftedWindowPartition') ?? 0, line).toBeGreaterThan(0);
    }
  });
});

/**
 * swin-core's WindowAttention does not (yet) call `attentionCore`, so the fixtures above never reach
 * SwinWindowAttention. Here the WindowAttention fixtures run with the official formula written out
 * around the fused kernel (qkv Linear, heads split `[3][heads][head_dim]`, bias = table[index] from the
 * stored buffers, the stored mask, proj) and are compared with the same tolerance.
 */
describe('WindowAttention fixtures with the attention computed by SwinWindowAttention (webgpu)', () => {
  const ATTN_FILES = FILES.filter((f) => f.startsWith('window_attention_'));
  beforeAll(async () => {
    expect(await tf.setBackend('webgpu')).toBe(true);
    unregisterSwinWebGPUKernels();
    registerSwinWebGPUKernels();
    countKernelCalls();
  });

  it.each(ATTN_FILES)('%s', async (file) => {
    kernelCalls.clear();
    const fx = fixtureFromBytes(file, await fixtureBytes(file));
    try {
      const [wh, ww] = fx.config.kwargs.window_size as [number, number];
      const nH = fx.config.kwargs.num_heads as number;
      const scale = fx.config.derived.scale as number;
      const sd = fx.stateDict as unknown as Record<string, tf.Tensor>;
      const x = fx.inputs.input as unknown as tf.Tensor3D;
      const mask = (fx.inputs.mask as unknown as tf.Tensor3D | undefined) ?? null;
      const [Bn, N, C] = x.shape;
      const hd = C / nH;
      expect(N).toBe(wh * ww);
      const out = tf.tidy(() => {
        const linear = (t: tf.Tensor, w: tf.Tensor, b: tf.Tensor) =>
          tf.add(tf.matMul(tf.reshape(t, [-1, t.shape[t.rank - 1]]), w, false, true), b);
        const qkv = tf.reshape(linear(x, sd['qkv.weight'], sd['qkv.bias']), [Bn, N, 3, nH, hd]);
        const [q, k, v] = tf
          .split(tf.transpose(qkv, [2, 0, 3, 1, 4]), 3, 0)
          .map((s) => tf.reshape(s, [Bn * nH, N, hd]) as tf.Tensor3D);
        const index = tf.reshape(sd.relative_position_index, [-1]);
        const bias = tf.transpose(
          tf.reshape(tf.gather(sd.relative_position_bias_table, index), [N, N, nH]),
          [2, 0, 1],
        );
        const o = fusedWindowAttention(q, k, v, { bias, mask, numHeads: nH, scale });
        const merged = tf.reshape(tf.transpose(tf.reshape(o, [Bn, nH, N, hd]), [0, 2, 1, 3]), [Bn * N, C]);
        return tf.reshape(linear(merged, sd['proj.weight'], sd['proj.bias']), [Bn, N, C]);
      });
      expect(kernelCalls.get('SwinWindowAttention')).toBe(1);
      const got = tf.tensor(await out.data(), out.shape);
      const want = tf.tensor(await (fx.expected.output as unknown as tf.Tensor).data(), out.shape);
      // biome-ignore lint/suspicious/noExplicitAny: @swin/testing types tensors from @tensorflow/tfjs (same class)
      const cmp = compareTensors(got as any, want as any, toleranceFor(fx.family));
      summary.push(
        `${cmp.ok ? 'PASS' : 'FAIL'} ${file} [webgpu, SwinWindowAttention] max_abs=${cmp.maxAbs.toExponential(2)}`,
      );
      expect(cmp.ok, cmp.message).toBe(true);
      tf.dispose([out, got, want]);
    } finally {
      fx.dispose();
    }
  });
});
