/**
 * Golden parity fixtures (see `shared/fixtures/README.md` next to the repository): locating, loading and
 * comparing against the tolerance of the fixtures README, section 7. Node-only (reads files).
 */
import { existsSync, readdirSync, readFileSync } from 'node:fs';
import { basename, dirname, isAbsolute, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { readSafetensors, type SafetensorsDtype, toTensors } from '@swin/io';
import type * as tf from '@tensorflow/tfjs';

/** Absolute tolerance of README section 7. */
export const ABS_TOL = 1e-4;
/** Relative tolerance (against `max |expected|`) of README section 7. */
export const REL_TOL = 1e-3;
/** Families whose outputs must match exactly (data movement, integers, 0/-100 masks). */
export const EXACT_FAMILIES: readonly string[] = ['window_ops', 'rel_pos_index', 'shifted_mask'];
/** Tensor keys that are inputs of a fixture (everything else outside `state_dict.` is an expected output). */
export const INPUT_KEYS: readonly string[] = ['input', 'mask', 'reverse_input'];
const STATE_DICT_PREFIX = 'state_dict.';

/** Parsed JSON metadata: its shape depends on the fixture family, so it is deliberately untyped. */
// biome-ignore lint/suspicious/noExplicitAny: parsed JSON whose shape depends on the fixture family
export type Json = any;

function findRepoRoot(start: string): string {
  let dir = start;
  for (;;) {
    if (existsSync(join(dir, 'pnpm-workspace.yaml'))) return dir;
    const up = dirname(dir);
    if (up === dir) break;
    dir = up;
  }
  // fallback: this file lives in <root>/packages/testing/{src,dist}/
  return resolve(start, '..', '..', '..');
}

/**
 * Directory of the parity fixtures: env `SWIN_FIXTURES` if set, else `<repo root>/../shared/fixtures/parity`
 * with the repo root found from this source file's location (works from `src/` via vitest/tsx and from `dist/`).
 */
export function fixturesDir(): string {
  const env = process.env.SWIN_FIXTURES;
  if (env) return resolve(env);
  const here = dirname(fileURLToPath(import.meta.url));
  return resolve(findRepoRoot(here), '..', 'shared', 'fixtures', 'parity');
}

/** File names (not paths) of every `*.safetensors` fixture in {@link fixturesDir}, sorted. */
export function listFixtures(): string[] {
  return readdirSync(fixturesDir())
    .filter((f) => f.endsWith('.safetensors'))
    .sort();
}

/** A loaded fixture. All tensors live on the backend that was current at load time; call `dispose()`. */
export interface Fixture {
  /** File name, e.g. `swin_block_8x8_w4_s2.safetensors`. */
  file: string;
  /** Absolute path of the file. */
  path: string;
  /** Raw `__metadata__` strings. */
  metadata: Record<string, string>;
  family: string;
  module: string;
  reference: string;
  /** `metadata.config` parsed (`{}` if absent). */
  config: Record<string, Json>;
  /** `metadata.layouts` parsed (`{}` if absent). */
  layouts: Record<string, string>;
  /** `metadata.features` parsed (model cases; `{}` if absent). */
  features: Record<string, string>;
  /** Stored dtype of every tensor key (full keys, e.g. `state_dict.attn.relative_position_index: 'I64'`). */
  dtypes: Record<string, SafetensorsDtype>;
  /** Parameters and buffers under their PyTorch keys (prefix `state_dict.` removed); float16 upcast to float32, I64 as int32. */
  stateDict: Record<string, tf.Tensor>;
  /** `input`, `mask`, `reverse_input` when present. */
  inputs: Record<string, tf.Tensor>;
  /** Every other tensor: the expected outputs (`output`, `logits`, `features.<i>`, ...). */
  expected: Record<string, tf.Tensor>;
  /** Disposes every tensor of the fixture. */
  dispose(): void;
}

function parseJsonField(metadata: Record<string, string>, key: string, file: string): Json {
  const raw = metadata[key];
  if (raw === undefined) return {};
  try {
    return JSON.parse(raw);
  } catch (e) {
    throw new Error(
      `loadFixture: metadata field '${key}' of ${file} is not valid JSON: ${(e as Error).message}`,
    );
  }
}

/** Resolves a fixture file name (looked up in {@link fixturesDir}) or a path (absolute or relative to cwd). */
export function resolveFixturePath(fileOrPath: string): string {
  if (isAbsolute(fileOrPath)) return fileOrPath;
  if (fileOrPath.includes('/') || fileOrPath.includes('\\')) return resolve(fileOrPath);
  const inDir = join(fixturesDir(), fileOrPath);
  if (existsSync(inDir) || !existsSync(fileOrPath)) return inDir;
  return resolve(fileOrPath);
}

/**
 * Loads a fixture: a file name inside {@link fixturesDir} or a path. Tensors are created on the current
 * backend: float data (F32, F16 upcast) as float32, integers (I64, I32, U8) as int32.
 */
export function loadFixture(fileOrPath: string): Fixture {
  const path = resolveFixturePath(fileOrPath);
  const file = basename(path);
  const parsed = readSafetensors(new Uint8Array(readFileSync(path)));
  const metadata = parsed.metadata;
  // parse the metadata before creating tensors so that a bad field leaks nothing
  const config = parseJsonField(metadata, 'config', file);
  const layouts = parseJsonField(metadata, 'layouts', file);
  const features = parseJsonField(metadata, 'features', file);
  const dtypes: Record<string, SafetensorsDtype> = {};
  for (const [k, e] of parsed.tensors) dtypes[k] = e.dtype;
  const all = toTensors(parsed);
  const stateDict: Record<string, tf.Tensor> = {};
  const inputs: Record<string, tf.Tensor> = {};
  const expected: Record<string, tf.Tensor> = {};
  for (const [k, t] of Object.entries(all)) {
    if (k.startsWith(STATE_DICT_PREFIX)) stateDict[k.slice(STATE_DICT_PREFIX.length)] = t;
    else if (INPUT_KEYS.includes(k)) inputs[k] = t;
    else expected[k] = t;
  }
  return {
    file,
    path,
    metadata,
    family: metadata.family ?? '',
    module: metadata.module ?? '',
    reference: metadata.reference ?? '',
    config,
    layouts,
    features,
    dtypes,
    stateDict,
    inputs,
    expected,
    dispose() {
      for (const t of Object.values(all)) if (!t.isDisposed) t.dispose();
    },
  };
}

/** Tolerance selector for {@link compareTensors}. */
export interface Tolerance {
  /** Require exact equality (window_ops, rel_pos_index, shifted_mask). */
  exact?: boolean;
  /** Absolute bound (default {@link ABS_TOL}). */
  abs?: number;
  /** Bound relative to `max |expected|` (default {@link REL_TOL}). */
  rel?: number;
}

/** Result of {@link compareTensors}. */
export interface Comparison {
  ok: boolean;
  /** `max |actual - expected|` (Infinity on a shape mismatch or a NaN/inf disagreement). */
  maxAbs: number;
  /** `maxAbs / max |expected|` (0 when both are 0). */
  maxRel: number;
  /** `max |expected|`. */
  maxExpected: number;
  /** Multi-index of the element with the largest error (`[]` if none). */
  worstIndex: number[];
  /** Human-readable summary: error, where, the bound. */
  message: string;
}

/** The README section 7 tolerance for a fixture family. */
export function toleranceFor(family: string): Tolerance {
  return EXACT_FAMILIES.includes(family) ? { exact: true } : { abs: ABS_TOL, rel: REL_TOL };
}

function unravel(flat: number, shape: number[]): number[] {
  const idx = new Array<number>(shape.length).fill(0);
  for (let d = shape.length - 1; d >= 0; d--) {
    idx[d] = flat % shape[d];
    flat = Math.floor(flat / shape[d]);
  }
  return idx;
}

function num(x: number): string {
  return Number.isFinite(x) && x !== 0 ? x.toExponential(3) : String(x);
}

/**
 * Compares `actual` with `expected` element-wise (README section 7): passes iff
 * `max|a-e| <= abs` and `max|a-e| <= rel * max|e|`, or, with `exact`, iff every element is identical
 * (NaN matches NaN). Shapes must match exactly. Reads both tensors synchronously; disposes nothing.
 */
export function compareTensors(actual: tf.Tensor, expected: tf.Tensor, tol: Tolerance = {}): Comparison {
  const exp = expected.dataSync();
  let maxExpected = 0;
  for (let i = 0; i < exp.length; i++) {
    const a = Math.abs(exp[i]);
    if (a > maxExpected || Number.isNaN(a)) maxExpected = a;
  }
  const same =
    actual.shape.length === expected.shape.length && actual.shape.every((d, i) => d === expected.shape[i]);
  if (!same) {
    return {
      ok: false,
      maxAbs: Number.POSITIVE_INFINITY,
      maxRel: Number.POSITIVE_INFINITY,
      maxExpected,
      worstIndex: [],
      message: `shape mismatch: actual [${actual.shape.join(', ')}] vs expected [${expected.shape.join(', ')}]`,
    };
  }
  const act = actual.dataSync();
  let maxAbs = 0;
  let worst = -1;
  let mismatches = 0;
  for (let i = 0; i < exp.length; i++) {
    const a = act[i];
    const e = exp[i];
    if (a === e || (Number.isNaN(a) && Number.isNaN(e))) continue;
    mismatches++;
    const d = Math.abs(a - e);
    const diff = Number.isNaN(d) ? Number.POSITIVE_INFINITY : d; // NaN vs number, or inf - inf
    if (diff > maxAbs || worst < 0) {
      maxAbs = diff;
      worst = i;
    }
  }
  const maxRel = maxAbs === 0 ? 0 : maxAbs / maxExpected;
  const worstIndex = worst < 0 ? [] : unravel(worst, expected.shape);
  const where =
    worst < 0 ? '' : ` at [${worstIndex.join(', ')}] (actual ${act[worst]}, expected ${exp[worst]})`;
  let ok: boolean;
  let bound: string;
  if (tol.exact) {
    ok = mismatches === 0;
    bound = 'exact equality required';
    if (!ok) bound += `: ${mismatches} of ${exp.length} elements differ`;
  } else {
    const abs = tol.abs ?? ABS_TOL;
    const rel = tol.rel ?? REL_TOL;
    const limit = Math.min(abs, rel * maxExpected);
    ok = maxAbs <= limit;
    bound = `bound min(${num(abs)}, ${num(rel)} * max|expected| = ${num(rel * maxExpected)}) = ${num(limit)}`;
  }
  const message =
    `${ok ? 'ok' : 'MISMATCH'}: max_abs=${num(maxAbs)}${where}, max_rel=${num(maxRel)}, ` +
    `max|expected|=${num(maxExpected)}; ${bound}`;
  return { ok, maxAbs, maxRel, maxExpected, worstIndex, message };
}
