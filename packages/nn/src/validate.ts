/**
 * The one validation layer every model family runs before any tensor op: input tensors, configs, preset
 * lookups. Every error it throws is a {@link SwinError} whose message starts with the caller's name
 * (`'ShuntedTransformer.forward: ...'`), names the problem and, where there is one, says what to do.
 *
 * Why before any op: an error thrown inside `tf.variableGrads` / `optimizer.minimize` leaks every tensor
 * created before the throw (tfjs cannot unwind a gradient tape), so checks that run first leak nothing.
 */
import * as tf from '@tensorflow/tfjs-core';

/** Base class of every error the project throws for bad input, bad config or a refused load. */
export class SwinError extends Error {
  constructor(message: string) {
    super(message);
    this.name = new.target.name;
  }
}

/** A forward/features entry got an argument it cannot run on (not a tensor, disposed, dtype, shape, size). */
export class SwinInputError extends SwinError {}

/** A config, option or preset name is unknown, mistyped or describes impossible geometry. */
export class SwinConfigError extends SwinError {}

/** A state dict / checkpoint cannot be loaded (wrong value types, disposed tensors, keys, shapes). */
export class SwinLoadError extends SwinError {}

function isObjectLike(v: unknown): v is Record<string, unknown> {
  return typeof v === 'object' && v !== null;
}

/**
 * True for a tfjs tensor (also one from another copy of tfjs-core, recognised by its fields), disposed or not.
 */
export function isTensor(v: unknown): v is tf.Tensor {
  if (v instanceof tf.Tensor) return true;
  return (
    isObjectLike(v) &&
    'dataId' in v &&
    Array.isArray((v as { shape?: unknown }).shape) &&
    typeof (v as { dtype?: unknown }).dtype === 'string' &&
    typeof (v as { rank?: unknown }).rank === 'number'
  );
}

/** True when `t` has been disposed (reading it would crash inside tfjs). */
export function isDisposedTensor(t: tf.Tensor): boolean {
  return (t as { isDisposed?: boolean }).isDisposed === true;
}

/**
 * A short, bounded, non-recursive description of any value for error messages: `null`, `the number 3`,
 * `an array of length 2`, `a Float32Array of length 12`, `a string`, `an object (Foo)`.
 */
export function describeValue(v: unknown): string {
  if (v === null) return 'null';
  if (v === undefined) return 'undefined';
  if (typeof v === 'number') return `the number ${v}`;
  if (typeof v === 'boolean') return `the boolean ${v}`;
  if (typeof v === 'bigint') return `the bigint ${v}`;
  if (typeof v === 'string') return `the string ${formatValue(v)}`;
  if (typeof v === 'function') return 'a function';
  if (typeof v === 'symbol') return 'a symbol';
  if (Array.isArray(v)) return `an array of length ${v.length}`;
  if (ArrayBuffer.isView(v)) {
    const n = (v as unknown as { length?: number }).length ?? v.byteLength;
    return `a ${v.constructor.name} of length ${n}`;
  }
  if (isTensor(v)) return `a tf.Tensor of shape [${v.shape}] (${v.dtype})`;
  const ctor = (v as { constructor?: { name?: unknown } }).constructor?.name;
  return typeof ctor === 'string' && ctor !== 'Object' ? `an object (${ctor})` : 'an object';
}

/** A value rendered for a message: JSON when short and serialisable, else a description (never throws). */
export function formatValue(v: unknown, max = 60): string {
  let s: string | undefined;
  try {
    s = typeof v === 'bigint' ? `${v}n` : JSON.stringify(v);
  } catch {
    s = undefined;
  }
  if (s === undefined) return describeValue(v);
  return s.length > max ? `${s.slice(0, max)}...` : s;
}

/** How {@link assertTensorInput} checks a tensor argument. */
export interface TensorInputSpec {
  /** Name of the argument in messages. Default `'x'`. */
  what?: string;
  /** Expected rank. Default 4. */
  rank?: number;
  /** Layout shown in messages. Default `[B, H, W, C]` for rank 4, `[B, N, C]` for rank 3, `[B, C]` for rank 2. */
  layout?: string;
  /** Required size of the last axis (channels); the message says the layout is channels-last. */
  channels?: number;
  /** Accepted dtypes. Default `['float32']`. */
  dtypes?: readonly tf.DataType[];
}

const LAYOUTS: Record<number, string> = { 2: '[B, C]', 3: '[B, N, C]', 4: '[B, H, W, C]' };

/**
 * Throws a {@link SwinInputError} `'<where>: ...'` unless `x` is a live tensor of the expected rank, dtype
 * and channels with every axis at least 1 (batch included). Runs no tensor op and reads no data.
 *
 * @param where The model and method, e.g. `'PyramidVisionTransformerV2.forward'`.
 */
export function assertTensorInput(
  where: string,
  x: unknown,
  spec: TensorInputSpec = {},
): asserts x is tf.Tensor {
  const what = spec.what ?? 'x';
  const rank = spec.rank ?? 4;
  const layout = spec.layout ?? LAYOUTS[rank] ?? `rank ${rank}`;
  const fail = (msg: string): never => {
    throw new SwinInputError(`${where}: ${msg}`);
  };
  if (!isTensor(x)) {
    const hint =
      Array.isArray(x) || ArrayBuffer.isView(x)
        ? ` (wrap the data with tf.tensor(data, shape) or tf.tensor${rank}d(...))`
        : '';
    return fail(`${what} must be a tf.Tensor ${layout}, got ${describeValue(x)}${hint}; pass a tf.Tensor`);
  }
  if (isDisposedTensor(x)) {
    return fail(`${what} (shape [${x.shape}]) was disposed; pass a live tensor (dispose it after the call)`);
  }
  const dtypes = spec.dtypes ?? ['float32'];
  if (!dtypes.includes(x.dtype)) {
    return fail(
      `${what} has dtype ${x.dtype}, expected ${dtypes.join(' or ')}; cast it first with tf.cast(${what}, '${dtypes[0]}')` +
        (x.dtype === 'int32' || x.dtype === 'bool' ? ` (and scale pixel values as the model expects)` : ''),
    );
  }
  if (x.rank !== rank) {
    const hint =
      x.rank === rank - 1 ? ` (a single example? add the batch axis with tf.expandDims(${what}, 0))` : '';
    return fail(
      `${what} must be a ${rank}-D${rank === 4 ? ' NHWC' : ''} tensor ${layout}, got shape [${x.shape}] (rank ${x.rank})${hint}`,
    );
  }
  if (x.shape[0] < 1) {
    return fail(`${what} has batch size ${x.shape[0]} (shape [${x.shape}]); pass at least one example`);
  }
  const empty = x.shape.findIndex((s) => s < 1);
  if (empty >= 0) return fail(`${what} has an empty axis ${empty}: shape [${x.shape}]`);
  if (spec.channels !== undefined && x.shape[rank - 1] !== spec.channels) {
    const nchw =
      rank === 4 && x.shape[1] === spec.channels
        ? `; it looks channels-first (NCHW): transpose with tf.transpose(${what}, [0, 2, 3, 1])`
        : '';
    return fail(
      `${what} has ${x.shape[rank - 1]} channels in its last axis (shape [${x.shape}]), expected ${spec.channels} ` +
        `(layout ${layout}, channels last)${nchw}`,
    );
  }
}

/** Levenshtein edit distance (both strings cut to 64 characters, so the cost stays bounded). */
export function editDistance(a: string, b: string): number {
  const s = a.slice(0, 64);
  const t = b.slice(0, 64);
  let prev = Array.from({ length: t.length + 1 }, (_, j) => j);
  for (let i = 1; i <= s.length; i++) {
    const cur = [i];
    for (let j = 1; j <= t.length; j++) {
      cur[j] = Math.min(prev[j] + 1, cur[j - 1] + 1, prev[j - 1] + (s[i - 1] === t[j - 1] ? 0 : 1));
    }
    prev = cur;
  }
  return prev[t.length];
}

/** `'name'` for a message, cut to 60 characters, control characters shown as `?`. */
export function quoteName(s: string): string {
  const cut = s.length > 60 ? `${s.slice(0, 60)}...` : s;
  let out = '';
  for (const ch of cut) out += ch < ' ' || ch === '\x7f' ? '?' : ch;
  return `'${out}'`;
}

const normaliseName = (s: string) => s.toLowerCase().replace(/[_\-\s.]/g, '');

/**
 * The candidate closest to `name`, or null when none is close: case, `_` and `-` are ignored
 * (`num_heads` -> `numHeads`), then an edit distance of at most a third of the name (at least 2).
 */
export function didYouMean(name: string, candidates: readonly string[]): string | null {
  const n = normaliseName(name);
  let best: string | null = null;
  let bestD = Number.POSITIVE_INFINITY;
  for (const c of candidates) {
    const d = editDistance(n, normaliseName(c));
    if (d < bestD) {
      bestD = d;
      best = c;
    }
  }
  return best !== null && bestD <= Math.max(2, Math.floor(n.length / 3)) ? best : null;
}

function suggestion(name: string, candidates: readonly string[]): string {
  const s = didYouMean(name, candidates);
  return s ? ` (did you mean ${quoteName(s)}?)` : '';
}

/**
 * `table[name]` for an OWN property only (so `'toString'`, `'constructor'` or `'__proto__'` are unknown
 * names, not inherited members). Throws a {@link SwinConfigError} `'<where>: unknown <what> ...'` with a
 * did-you-mean and the known names.
 */
export function lookupOwn<T>(
  where: string,
  table: Readonly<Record<string, T>>,
  name: unknown,
  what = 'preset',
): T {
  const known = Object.keys(table);
  if (typeof name !== 'string') {
    throw new SwinConfigError(
      `${where}: the ${what} name must be a string, got ${describeValue(name)} (known: ${known.join(', ')})`,
    );
  }
  if (!Object.hasOwn(table, name)) {
    throw new SwinConfigError(
      `${where}: unknown ${what} ${quoteName(name)}${suggestion(name, known)} (known: ${known.join(', ')})`,
    );
  }
  return table[name];
}

/** One field of a config schema: a predicate and what it expects, for the message. */
export interface FieldSpec {
  check: (v: unknown) => boolean;
  expected: string;
}

const isPosInt = (v: unknown): v is number => typeof v === 'number' && Number.isInteger(v) && v > 0;
const isNonNegInt = (v: unknown): v is number => typeof v === 'number' && Number.isInteger(v) && v >= 0;
const isNum = (v: unknown): v is number => typeof v === 'number' && Number.isFinite(v);
const arrayOf =
  (p: (v: unknown) => boolean, nonEmpty = true) =>
  (v: unknown) =>
    Array.isArray(v) && (!nonEmpty || v.length > 0) && v.every(p);

/** The field types configs use. */
export const field = {
  boolean: { check: (v) => typeof v === 'boolean', expected: 'a boolean (true or false)' },
  positiveInt: { check: isPosInt, expected: 'a positive integer' },
  nonNegativeInt: { check: isNonNegInt, expected: 'an integer >= 0' },
  positiveNumber: { check: (v) => isNum(v) && v > 0, expected: 'a number > 0' },
  nonNegativeNumber: { check: (v) => isNum(v) && v >= 0, expected: 'a number >= 0' },
  rate: { check: (v) => isNum(v) && v >= 0 && v < 1, expected: 'in [0, 1)' },
  numberOrNull: { check: (v) => v === null || isNum(v), expected: 'a number or null' },
  size: {
    check: (v) => isPosInt(v) || (Array.isArray(v) && v.length === 2 && v.every(isPosInt)),
    expected: 'a positive integer or [H, W] of positive integers',
  },
  positiveIntArray: { check: arrayOf(isPosInt), expected: 'a non-empty array of positive integers' },
  nonNegativeIntArray: { check: arrayOf(isNonNegInt), expected: 'a non-empty array of integers >= 0' },
  positiveNumberArray: {
    check: arrayOf((v) => isNum(v) && v > 0),
    expected: 'a non-empty array of numbers > 0',
  },
  oneOf: (...values: readonly unknown[]): FieldSpec => ({
    check: (v) => values.includes(v),
    expected: `one of ${values.map((x) => formatValue(x)).join(', ')}`,
  }),
  any: { check: () => true, expected: 'anything' },
} satisfies Record<string, FieldSpec | ((...a: never[]) => FieldSpec)>;

/**
 * Checks a (partial) config against `schema` before anything is built: it must be a plain object, every own
 * key must be in the schema (unknown keys are refused with a did-you-mean: `num_heads` -> `numHeads`), and
 * every defined value must pass its field's check (booleans are booleans, sizes positive integers, ...).
 * `undefined` values are skipped (they mean "default"). Throws a {@link SwinConfigError} `'<where>: ...'`.
 */
export function validateConfig(
  where: string,
  cfg: unknown,
  schema: Readonly<Record<string, FieldSpec>>,
): void {
  if (cfg === undefined) return;
  if (!isObjectLike(cfg) || Array.isArray(cfg) || isTensor(cfg)) {
    throw new SwinConfigError(`${where}: the config must be an object of options, got ${describeValue(cfg)}`);
  }
  const known = Object.keys(schema);
  for (const k of Object.keys(cfg)) {
    if (!Object.hasOwn(schema, k)) {
      throw new SwinConfigError(
        `${where}: unknown option ${quoteName(k)}${suggestion(k, known)} (known: ${known.join(', ')})`,
      );
    }
  }
  for (const k of known) {
    if (!Object.hasOwn(cfg, k)) continue;
    const v = cfg[k];
    if (v === undefined) continue;
    const spec = schema[k];
    if (!spec.check(v)) {
      throw new SwinConfigError(`${where}: ${k} must be ${spec.expected}, got ${formatValue(v)}`);
    }
  }
}

/** Throws a {@link SwinConfigError} unless `v` is undefined or a plain object (not null, an array, a tensor). */
export function assertOptionsObject(where: string, v: unknown, what = 'options'): void {
  if (v === undefined) return;
  if (!isObjectLike(v) || Array.isArray(v) || isTensor(v)) {
    throw new SwinConfigError(`${where}: ${what} must be an object, got ${describeValue(v)}`);
  }
}

/** Throws a {@link SwinConfigError} `'<where>: <message>'`. */
export function configError(where: string, message: string): never {
  throw new SwinConfigError(`${where}: ${message}`);
}

/** Throws a {@link SwinInputError} `'<where>: <message>'`. */
export function inputError(where: string, message: string): never {
  throw new SwinInputError(`${where}: ${message}`);
}

/**
 * What is wrong with one state-dict value, or null when it can be loaded: not a tensor, disposed, or a
 * dtype no parameter can take (string, complex64). Reads no data.
 */
export function stateDictValueProblem(v: unknown): string | null {
  if (!isTensor(v)) return `is ${describeValue(v)}, not a tf.Tensor`;
  if (isDisposedTensor(v)) return `(shape [${v.shape}]) was disposed`;
  if (v.dtype !== 'float32' && v.dtype !== 'int32' && v.dtype !== 'bool')
    return `has dtype ${v.dtype}, which no parameter can take (float32 or int32 expected)`;
  return null;
}

/**
 * Throws a {@link SwinLoadError} unless `tensors` is a plain object of named values (not null, an array, a
 * Map or a tensor). Values are checked by the loader itself.
 */
export function assertStateDictObject(
  where: string,
  tensors: unknown,
): asserts tensors is Record<string, unknown> {
  if (!isObjectLike(tensors) || Array.isArray(tensors) || isTensor(tensors) || tensors instanceof Map) {
    const hint = tensors instanceof Map ? ' (convert a Map with Object.fromEntries(map))' : '';
    throw new SwinLoadError(
      `${where}: expected an object of tf.Tensors keyed by parameter name, got ${describeValue(tensors)}${hint}`,
    );
  }
}
