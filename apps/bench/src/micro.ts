/**
 * Micro-benchmarks: Swin-T window attention (the attentionCore kernel vs plain tfjs ops vs the naive
 * formulation) and the shifted-window partition (fused gather vs roll + partition), per Swin-T stage.
 */

import { type AttentionImpl, attentionCore, attentionKernelAvailable, naiveAttention } from '@swin/nn';
import { cyclicShift, shiftedWindowPartition, windowPartition } from '@swin/window-ops';
import { attentionMacs, swinTAttentionShapes } from './plan.js';
import { type BenchRecord, type Mode, makeRecord, skippedRecord } from './records.js';
import { type Log, type TimingConfig, tf, timeSteps } from './runner.js';

type AttnVariant = { name: string; run: typeof attentionCore; impl?: AttentionImpl };

/** The attention variants worth timing on `backend`. */
export function attentionVariants(backend: string): AttnVariant[] {
  const v: AttnVariant[] = [{ name: 'naive', run: naiveAttention }];
  v.push({ name: 'core-tf-ops', run: attentionCore, impl: 'tf' });
  if (attentionKernelAvailable(backend)) v.push({ name: 'core-kernel', run: attentionCore, impl: 'kernel' });
  return v;
}

async function syncAll(ts: tf.Tensor | tf.Tensor[]): Promise<void> {
  const list = Array.isArray(ts) ? ts : [ts];
  await Promise.all(list.map((t) => t.data()));
  tf.dispose(list);
}

/** Window attention at the Swin-T stage shapes (224 input), `batch` images, forward or forward+backward. */
export async function benchWindowAttention(
  backend: string,
  batches: number[],
  modes: Mode[],
  cfg: TimingConfig,
  matmulGflops: number | null,
  log: Log,
): Promise<BenchRecord[]> {
  const out: BenchRecord[] = [];
  for (const shape of swinTAttentionShapes(224)) {
    for (const batch of batches) {
      const G = batch * shape.nW * shape.nH;
      const { N, d } = shape;
      const q = tf.randomNormal([G, N, d]) as tf.Tensor3D;
      const k = tf.randomNormal([G, N, d]) as tf.Tensor3D;
      const v = tf.randomNormal([G, N, d]) as tf.Tensor3D;
      const bias = tf.randomNormal([shape.nH, N, N], 0, 2);
      const mask = shape.masked
        ? tf.tidy(() => tf.mul(tf.cast(tf.greater(tf.randomUniform([shape.nW, N, N]), 0.6), 'float32'), -100))
        : null;
      const dy = tf.randomNormal([G, N, d]);
      const model = `window_attention/s${shape.stage}`;
      const size = 56 / 2 ** (shape.stage - 1);
      for (const mode of modes) {
        for (const variant of attentionVariants(backend)) {
          const opts = { bias, mask, impl: variant.impl };
          const label = `${backend} ${model} [${G},${N},${d}] b${batch} ${mode} ${variant.name}`;
          try {
            const step =
              mode === 'forward'
                ? () => syncAll(variant.run(q, k, v, opts))
                : () =>
                    syncAll(
                      tf.grads((a: tf.Tensor, b: tf.Tensor, c: tf.Tensor, e: tf.Tensor) =>
                        tf.sum(
                          tf.mul(
                            variant.run(a as tf.Tensor3D, b as tf.Tensor3D, c as tf.Tensor3D, {
                              ...opts,
                              bias: e,
                            }),
                            dy,
                          ),
                        ),
                      )([q, k, v, bias]),
                    );
            const t = await timeSteps(step, cfg, label);
            const rec = makeRecord({
              model,
              backend,
              batch,
              size,
              mode,
              summary: t.summary,
              macs: attentionMacs(G, N, N, d, d),
              matmulGflops,
              peakBytes: t.peakBytes,
              variant: variant.name,
            });
            log(`${label}: p50 ${rec.p50_ms} ms, ${rec.gflops} GFLOP/s`);
            out.push(rec);
          } catch (e) {
            log(`${label}: error ${(e as Error).message}`);
            out.push(
              skippedRecord(
                { model, backend, batch, size, mode, variant: variant.name },
                `error: ${(e as Error).message}`,
              ),
            );
          }
        }
      }
      tf.dispose([q, k, v, bias, dy, ...(mask ? [mask] : [])]);
    }
  }
  return out;
}

/** Shifted-window partition of the Swin-T stage maps (shift 3, window 7): fused gather vs roll + partition. */
export async function benchShiftPartition(
  backend: string,
  batches: number[],
  modes: Mode[],
  cfg: TimingConfig,
  matmulGflops: number | null,
  log: Log,
): Promise<BenchRecord[]> {
  const out: BenchRecord[] = [];
  const variants: [string, (x: tf.Tensor4D) => tf.Tensor4D][] = [
    ['fused-gather', (x) => shiftedWindowPartition(x, 7, 3, { method: 'gather' })],
    ['fused-auto', (x) => shiftedWindowPartition(x, 7, 3)],
    ['roll+partition', (x) => windowPartition(cyclicShift(x, -3), 7)],
  ];
  for (let stage = 1; stage <= 3; stage++) {
    const res = 56 / 2 ** (stage - 1);
    const C = 96 * 2 ** (stage - 1);
    for (const batch of batches) {
      const x = tf.randomNormal([batch, res, res, C]) as tf.Tensor4D;
      const w = tf.randomNormal([batch * (res / 7) ** 2, 7, 7, C]);
      const model = `shifted_window_partition/s${stage}`;
      for (const mode of modes) {
        for (const [name, f] of variants) {
          const label = `${backend} ${model} [${batch},${res},${res},${C}] ${mode} ${name}`;
          try {
            const step =
              mode === 'forward'
                ? () => syncAll(tf.tidy(() => f(x)))
                : () => syncAll(tf.grads((a: tf.Tensor) => tf.sum(tf.mul(f(a as tf.Tensor4D), w)))([x]));
            const t = await timeSteps(step, cfg, label);
            const rec = makeRecord({
              model,
              backend,
              batch,
              size: res,
              mode,
              summary: t.summary,
              macs: null,
              matmulGflops,
              peakBytes: t.peakBytes,
              variant: name,
            });
            log(`${label}: p50 ${rec.p50_ms} ms`);
            out.push(rec);
          } catch (e) {
            log(`${label}: error ${(e as Error).message}`);
            out.push(
              skippedRecord(
                { model, backend, batch, size: res, mode, variant: name },
                `error: ${(e as Error).message}`,
              ),
            );
          }
        }
      }
      tf.dispose([x, w]);
    }
  }
  return out;
}
