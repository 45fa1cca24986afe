/**
 * Parity fixtures in the browser: bytes come from the `readFixture` browser command (Node side), are
 * parsed with `@swin/nn`'s `readSafetensors` into the same `Fixture` object `@swin/testing`'s
 * `loadFixture` builds in Node, run through the parity app's handlers, and compared with the README
 * section 7 tolerance (`compareTensors` / `toleranceFor` of `@swin/testing`).
 *
 * Outputs are downloaded with `await t.data()` before comparing: on the webgpu backend `dataSync()` of a
 * GPU-resident tensor reads back through a canvas, which returns zeros in headless Chromium on SwiftShader.
 */
import { readSafetensors, toTensors } from '@swin/io';
import { compareTensors, type Fixture, INPUT_KEYS, type Json, toleranceFor } from '@swin/testing';
import * as tf from '@tensorflow/tfjs-core';
import { commands } from 'vitest/browser';
import { HANDLERS } from '../../../../apps/parity/src/handlers/index.js';

interface FixtureCommands {
  listFixtures(): Promise<string[]>;
  readFixture(name: string): Promise<string>;
}
const cmd = commands as unknown as FixtureCommands;

/** File names of every fixture (sorted). */
export function listFixtures(): Promise<string[]> {
  return cmd.listFixtures();
}

function base64ToBytes(b64: string): Uint8Array {
  const bin = atob(b64);
  const out = new Uint8Array(bin.length);
  for (let i = 0; i < bin.length; i++) out[i] = bin.charCodeAt(i);
  return out;
}

const bytesCache = new Map<string, Uint8Array>();

/** The raw bytes of a fixture file (cached: the same files run on several backends). */
export async function fixtureBytes(file: string): Promise<Uint8Array> {
  let b = bytesCache.get(file);
  if (!b) {
    b = base64ToBytes(await cmd.readFixture(file));
    bytesCache.set(file, b);
  }
  return b;
}

/** Header-only metadata (no tensors created). */
export async function fixtureMetadata(file: string): Promise<Record<string, string>> {
  return readSafetensors(await fixtureBytes(file)).metadata;
}

function parseJson(metadata: Record<string, string>, key: string): Json {
  const raw = metadata[key];
  return raw === undefined ? {} : JSON.parse(raw);
}

/** Same structure as `loadFixture` of `@swin/testing`, from bytes; tensors on the current backend. */
export function fixtureFromBytes(file: string, bytes: Uint8Array): Fixture {
  const parsed = readSafetensors(bytes);
  const metadata = parsed.metadata;
  const config = parseJson(metadata, 'config');
  const layouts = parseJson(metadata, 'layouts');
  const features = parseJson(metadata, 'features');
  const dtypes: Fixture['dtypes'] = {};
  for (const [k, e] of parsed.tensors) dtypes[k] = e.dtype;
  const all = toTensors(parsed);
  const stateDict: Record<string, tf.Tensor> = {};
  const inputs: Record<string, tf.Tensor> = {};
  const expected: Record<string, tf.Tensor> = {};
  for (const [k, t] of Object.entries(all)) {
    if (k.startsWith('state_dict.')) stateDict[k.slice('state_dict.'.length)] = t;
    else if (INPUT_KEYS.includes(k)) inputs[k] = t;
    else expected[k] = t;
  }
  return {
    file,
    path: file,
    metadata,
    family: metadata.family ?? '',
    module: metadata.module ?? '',
    reference: metadata.reference ?? '',
    config,
    layouts,
    features,
    dtypes,
    // biome-ignore lint/suspicious/noExplicitAny: @swin/testing types tensors from @tensorflow/tfjs (same class)
    stateDict: stateDict as any,
    // biome-ignore lint/suspicious/noExplicitAny: idem
    inputs: inputs as any,
    // biome-ignore lint/suspicious/noExplicitAny: idem
    expected: expected as any,
    dispose() {
      for (const t of Object.values(all)) if (!t.isDisposed) t.dispose();
    },
  };
}

/** Result of one expected output. */
export interface OutputCheck {
  name: string;
  ok: boolean;
  maxAbs: number;
  maxRel: number;
  message: string;
}

/** Result of {@link runFixtureInBrowser}. */
export interface BrowserFixtureResult {
  file: string;
  family: string;
  backend: string;
  status: 'PASS' | 'FAIL' | 'SKIP';
  handler?: string;
  reason?: string;
  outputs: OutputCheck[];
  maxAbs: number;
  ms: number;
}

/** A tensor's values copied into a fresh tensor that only lives on the CPU side of the backend. */
async function download(t: tf.Tensor): Promise<tf.Tensor> {
  return tf.tensor(await t.data(), t.shape, t.dtype);
}

/**
 * Runs one fixture on the current backend with the parity handlers and compares every expected output.
 * SKIP means no handler implements the fixture's module yet. Disposes everything it creates.
 */
export async function runFixtureInBrowser(file: string): Promise<BrowserFixtureResult> {
  const t0 = performance.now();
  const fx = fixtureFromBytes(file, await fixtureBytes(file));
  const result: BrowserFixtureResult = {
    file,
    family: fx.family,
    backend: tf.getBackend(),
    status: 'FAIL',
    outputs: [],
    maxAbs: Number.NaN,
    ms: 0,
  };
  let outputs: Record<string, tf.Tensor> = {};
  try {
    const handler = HANDLERS.find((h) => h.matches(fx));
    if (!handler) {
      result.status = 'SKIP';
      result.reason = `family ${fx.family} not built yet (module ${fx.module})`;
      return result;
    }
    result.handler = handler.name;
    try {
      outputs = (await handler.run(fx)) as Record<string, tf.Tensor>;
    } catch (e) {
      result.reason = `${handler.name} threw: ${e instanceof Error ? e.message : String(e)}`;
      return result;
    }
    const tol = toleranceFor(fx.family);
    const failures: string[] = [];
    for (const [name, expectedT] of Object.entries(fx.expected)) {
      const actual = outputs[name];
      if (!(actual instanceof tf.Tensor)) {
        failures.push(`missing output '${name}'`);
        result.outputs.push({ name, ok: false, maxAbs: Number.NaN, maxRel: Number.NaN, message: 'missing' });
        continue;
      }
      const a = await download(actual);
      const e = await download(expectedT as unknown as tf.Tensor);
      // biome-ignore lint/suspicious/noExplicitAny: @swin/testing types tensors from @tensorflow/tfjs (same class)
      const cmp = compareTensors(a as any, e as any, tol);
      a.dispose();
      e.dispose();
      result.outputs.push({ name, ok: cmp.ok, maxAbs: cmp.maxAbs, maxRel: cmp.maxRel, message: cmp.message });
      if (!cmp.ok) failures.push(`${name}: ${cmp.message}`);
    }
    const measured = result.outputs.filter((o) => !Number.isNaN(o.maxAbs));
    if (measured.length > 0) result.maxAbs = Math.max(...measured.map((o) => o.maxAbs));
    if (result.outputs.length === 0) failures.push('fixture has no expected outputs');
    result.status = failures.length === 0 ? 'PASS' : 'FAIL';
    if (failures.length > 0) result.reason = failures.join('; ');
    return result;
  } finally {
    const owned = new Set<tf.Tensor>(
      Object.values({ ...fx.stateDict, ...fx.inputs, ...fx.expected }) as unknown as tf.Tensor[],
    );
    for (const t of new Set(Object.values(outputs))) {
      if (t instanceof tf.Tensor && !owned.has(t) && !t.isDisposed) t.dispose();
    }
    fx.dispose();
    result.ms = performance.now() - t0;
  }
}

/** `PASS file max_abs=..` / `FAIL file .. reason` / `SKIP file reason`. */
export function formatBrowserResult(r: BrowserFixtureResult): string {
  const abs = Number.isNaN(r.maxAbs) ? 'n/a' : r.maxAbs === 0 ? '0' : r.maxAbs.toExponential(2);
  if (r.status === 'SKIP') return `SKIP ${r.file} [${r.backend}] ${r.reason ?? ''}`;
  return `${r.status} ${r.file} [${r.backend}] max_abs=${abs} ${(r.ms / 1000).toFixed(1)}s ${r.reason ?? ''}`.trimEnd();
}
