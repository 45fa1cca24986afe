/**
 * Test-only helpers (excluded from the build): read the parity fixtures and compare outputs with the
 * tolerance of the fixtures README section 7.
 */
import { existsSync, readFileSync } from 'node:fs';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { readSafetensors, type SafetensorsEntry, type SafetensorsFile } from '@swin/nn';
import * as testing from '@swin/testing';
import { tf } from '@swin/testing';

/** `fixturesDir()` of @swin/testing when present, else env SWIN_FIXTURES, else `<repo>/../shared/fixtures/parity`. */
export function fixturesDir(): string {
  const fromTesting = (testing as Record<string, unknown>)['fixturesDir'];
  if (typeof fromTesting === 'function') return (fromTesting as () => string)();
  if (process.env['SWIN_FIXTURES']) return process.env['SWIN_FIXTURES'];
  const repo = resolve(dirname(fileURLToPath(import.meta.url)), '../../../..');
  return join(repo, '..', 'shared', 'fixtures', 'parity');
}

export interface Fixture {
  name: string;
  file: SafetensorsFile;
  metadata: Record<string, string>;
  config: {
    kwargs: Record<string, unknown>;
    forward: Record<string, unknown>;
    derived: Record<string, unknown>;
  };
}

const cache = new Map<string, Fixture>();

/** Reads `<fixturesDir>/<name>.safetensors` (parsed once per process). */
export function loadFixture(name: string): Fixture {
  const hit = cache.get(name);
  if (hit) return hit;
  const path = join(fixturesDir(), `${name}.safetensors`);
  if (!existsSync(path)) throw new Error(`fixture not found: ${path} (set SWIN_FIXTURES)`);
  const file = readSafetensors(new Uint8Array(readFileSync(path)));
  const fx: Fixture = { name, file, metadata: file.metadata, config: JSON.parse(file.metadata['config']) };
  cache.set(name, fx);
  return fx;
}

/** A fixture entry as a float32 tensor (caller disposes). */
export function entryTensor(fx: Fixture, key: string): tf.Tensor {
  const e = fx.file.tensors.get(key);
  if (!e) throw new Error(`${fx.name}: no tensor '${key}'`);
  return tf.tensor(e.data as Float32Array, e.shape, 'float32');
}

/** The `state_dict.*` entries, prefix stripped, as tensors (caller disposes). */
export function stateDict(fx: Fixture): Record<string, tf.Tensor> {
  const out: Record<string, tf.Tensor> = {};
  for (const [k, e] of fx.file.tensors) {
    if (k.startsWith('state_dict.'))
      out[k.slice('state_dict.'.length)] = tf.tensor(e.data, e.shape, 'float32');
  }
  return out;
}

/** Names of the expected outputs (everything but the input and the state dict). */
export function expectedKeys(fx: Fixture): string[] {
  return [...fx.file.tensors.keys()].filter((k) => k !== 'input' && !k.startsWith('state_dict.'));
}

export interface Comparison {
  key: string;
  maxAbsErr: number;
  maxAbsExpected: number;
  worstIndex: number;
  ok: boolean;
}

/** README section 7: max|a-e| <= 1e-4 and <= 1e-3 * max|e|; shapes must match. */
export function compare(key: string, actual: tf.Tensor, expected: SafetensorsEntry): Comparison {
  if (!tf.util.arraysEqual(actual.shape, expected.shape)) {
    throw new Error(`${key}: shape [${actual.shape}] but expected [${expected.shape}]`);
  }
  const a = actual.dataSync();
  const e = expected.data;
  let maxErr = 0;
  let maxExp = 0;
  let worst = -1;
  for (let i = 0; i < e.length; i++) {
    const d = Math.abs(a[i] - e[i]);
    if (!(d <= maxErr)) {
      maxErr = Number.isNaN(d) ? Number.POSITIVE_INFINITY : d;
      worst = i;
    }
    maxExp = Math.max(maxExp, Math.abs(e[i]));
  }
  return {
    key,
    maxAbsErr: maxErr,
    maxAbsExpected: maxExp,
    worstIndex: worst,
    ok: maxErr <= 1e-4 && maxErr <= 1e-3 * maxExp,
  };
}
