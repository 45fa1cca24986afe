/**
 * One entry point for every weights file: {@link parseCheckpoint} recognises safetensors, torch zip and
 * legacy torch files by their first bytes, finds the state_dict (plain, or under a wrapper key such as
 * `model`), strips DDP's `module.` prefixes and returns every tensor exactly as stored. Non-tensor values
 * next to the state_dict come back as inert plain data in `extra`.
 */
import * as tf from '@tensorflow/tfjs-core';
import { ITEM_SIZE, type RawTensor } from './dtypes.js';
import { CheckpointError, fail, quote } from './errors.js';
import { type PickleLimits, PyDict, PyGlobal, PySet, Refused } from './pickle.js';
import { readSafetensorsRaw, SafetensorsError } from './safetensors.js';
import { readTorchLegacy, readTorchZip, TensorRef, type TorchFile } from './torch.js';

/** A parsed weights file (see the package README for the safety model). */
export interface Checkpoint {
  format: 'safetensors' | 'torch-zip' | 'torch-legacy';
  /** `''`: the file is the state_dict; else the top-level key whose value was used, e.g. `'model'`. */
  wrapper: string;
  /** Top-level keys whose values are state_dicts (hold tensors). */
  candidates: string[];
  /** The state_dict's tensors, keys with a leading `module.` stripped, in file order. */
  tensors: Record<string, RawTensor>;
  /** Globals outside the allow-list that the file named (never called), in order of first appearance. */
  refusedGlobals: string[];
  /**
   * Other top-level values as inert JSON-like data: dicts -> plain objects, tuples/lists/sets -> arrays,
   * bytes -> Uint8Array, big ints -> bigint, tensors -> `{ __tensor__: { dtype, shape } }` (no data),
   * refused objects -> their items as a plain object when they have items (a yacs `CfgNode` reads as its
   * nested config), else `{ __refused__, args, state, listItems }`.
   */
  extra: Record<string, unknown>;
  /** safetensors `__metadata__`. */
  metadata?: Record<string, string>;
}

/** Options of {@link parseCheckpoint} / `readCheckpoint`. */
export interface ParseCheckpointOptions {
  /** Top-level key holding the state_dict (`''`: the file itself). Default: see {@link DEFAULT_WRAPPERS}. */
  wrapper?: string;
  /** Turn any refused global into a {@link CheckpointError} naming it. */
  strict?: boolean;
  /** Largest file accepted, in bytes (default 8 GiB). */
  maxBytes?: number;
  /** Limits of the pickle machine. */
  limits?: PickleLimits;
}

/** Wrapper keys tried in order when no `wrapper` option is given (then the first other candidate). */
export const DEFAULT_WRAPPERS: readonly string[] = [
  'model',
  'state_dict',
  'model_ema',
  'state_dict_ema',
  'module',
  'model_state_dict',
  'net',
  'network',
  'params',
  'ema',
];

const MAX_EXTRA_NODES = 1_000_000;
const MAX_EXTRA_DEPTH = 200;

/** Sets an own, enumerable property (a key named `__proto__` stays plain data). */
function define(obj: object, key: string, value: unknown): void {
  Object.defineProperty(obj, key, { value, enumerable: true, writable: true, configurable: true });
}

function isTensorValue(v: unknown): boolean {
  return v instanceof TensorRef;
}

function dictEntries(d: PyDict): [string, unknown][] {
  const out: [string, unknown][] = [];
  for (const [k, v] of d.map) out.push([typeof k === 'string' ? k : String(k), v]);
  return out;
}

function holdsTensors(v: unknown): boolean {
  if (!(v instanceof PyDict)) return false;
  for (const x of v.map.values()) if (isTensorValue(x)) return true;
  return false;
}

/**
 * Converts an untrusted value graph to inert plain data without recursion: an explicit stack, a node budget,
 * a depth limit (deeper values become `'[too deep]'`) and cycles cut (`'[circular]'`).
 */
export function toPlainData(root: unknown): unknown {
  let nodes = 0;
  const done = new Map<object, unknown>();
  const onPath = new Set<object>();
  const leaf = (v: unknown): { value: unknown } | null => {
    if (v === null || v === undefined) return { value: null };
    if (typeof v !== 'object') return { value: v };
    if (v instanceof Uint8Array) return { value: v };
    if (v instanceof PyGlobal) return { value: { __global__: v.fullName } };
    if (v instanceof TensorRef) return { value: { __tensor__: { dtype: v.dtype, shape: v.shape.slice() } } };
    return null;
  };
  type Frame = { src: object; out: unknown; kids: [string | number, unknown][]; i: number };
  const open = (src: object): Frame => {
    let out: unknown;
    let kids: [string | number, unknown][];
    if (Array.isArray(src)) {
      out = [];
      kids = src.map((x, i) => [i, x]);
    } else if (src instanceof PySet) {
      out = [];
      kids = src.items.map((x, i) => [i, x]);
    } else if (src instanceof PyDict) {
      out = {};
      kids = dictEntries(src);
    } else if (src instanceof Refused) {
      if (src.items && src.items.map.size > 0) {
        out = {};
        kids = dictEntries(src.items);
      } else {
        out = { __refused__: src.__refused__ };
        kids = [
          ['args', src.args],
          ['state', src.state ?? null],
          ['listItems', src.listItems],
        ];
      }
    } else {
      out = { __unknown__: true };
      kids = [];
    }
    return { src, out, kids, i: 0 };
  };
  const assign = (parent: unknown, key: string | number, value: unknown) => {
    if (Array.isArray(parent)) parent.push(value);
    else Object.defineProperty(parent, key, { value, enumerable: true, writable: true, configurable: true });
  };
  const first = leaf(root);
  if (first) return first.value;
  const stack: Frame[] = [open(root as object)];
  onPath.add(root as object);
  let result: unknown;
  while (stack.length > 0) {
    const f = stack[stack.length - 1];
    if (f.i >= f.kids.length) {
      stack.pop();
      onPath.delete(f.src);
      done.set(f.src, f.out);
      if (stack.length === 0) result = f.out;
      continue;
    }
    const [k, v] = f.kids[f.i++];
    if (++nodes > MAX_EXTRA_NODES) {
      assign(f.out, k, '[too large]');
      f.i = f.kids.length;
      continue;
    }
    const l = leaf(v);
    if (l) assign(f.out, k, l.value);
    else if (onPath.has(v as object)) assign(f.out, k, '[circular]');
    else if (done.has(v as object)) assign(f.out, k, done.get(v as object));
    else if (stack.length >= MAX_EXTRA_DEPTH) assign(f.out, k, '[too deep]');
    else {
      const child = open(v as object);
      assign(f.out, k, child.out);
      onPath.add(v as object);
      stack.push(child);
    }
  }
  return result;
}

/** Picks the state_dict of a parsed torch file; returns the wrapper key, the candidates and the dict. */
function selectStateDict(
  root: unknown,
  wrapper: string | undefined,
): { wrapper: string; candidates: string[]; dict: PyDict } {
  if (!(root instanceof PyDict)) {
    if (root instanceof Refused && root.items) return selectStateDict(root.items, wrapper);
    fail(
      `the file holds a ${root === null ? 'None' : typeof root === 'object' ? (root as object).constructor.name : typeof root}, not a dict of tensors`,
    );
  }
  const candidates: string[] = [];
  for (const [k, v] of root.map) if (typeof k === 'string' && holdsTensors(v)) candidates.push(k);
  const plain = holdsTensors(root);
  const list = () => (candidates.length ? candidates.map((c) => quote(c)).join(', ') : 'none');
  if (wrapper !== undefined) {
    if (wrapper === '') {
      if (!plain) fail(`wrapper '' (the file itself) holds no tensors; state_dict candidates: ${list()}`);
      return { wrapper: '', candidates, dict: root };
    }
    if (!candidates.includes(wrapper)) {
      fail(
        `wrapper ${quote(wrapper)} not found or holds no tensors; state_dict candidates: ${plain ? "'' (the file itself), " : ''}${list()}`,
      );
    }
    return { wrapper, candidates, dict: root.map.get(wrapper) as PyDict };
  }
  if (plain && candidates.length === 0) return { wrapper: '', candidates, dict: root };
  const pick = DEFAULT_WRAPPERS.find((w) => candidates.includes(w)) ?? candidates[0];
  if (pick !== undefined) return { wrapper: pick, candidates, dict: root.map.get(pick) as PyDict };
  if (plain) return { wrapper: '', candidates, dict: root };
  fail('no state_dict found: no top-level value holds tensors');
}

function stripModule(keys: string[]): string[] {
  return keys.map((k) => (k.startsWith('module.') ? k.slice(7) : k));
}

function detect(bytes: Uint8Array): Checkpoint['format'] | 'tar' {
  if (
    bytes.length >= 4 &&
    bytes[0] === 0x50 &&
    bytes[1] === 0x4b &&
    (bytes[2] === 3 || bytes[2] === 5) &&
    (bytes[3] === 4 || bytes[3] === 6)
  ) {
    return 'torch-zip';
  }
  if (bytes.length >= 2 && bytes[0] === 0x80 && bytes[1] >= 2 && bytes[1] <= 5) return 'torch-legacy';
  if (
    bytes.length >= 9 &&
    bytes[8] === 0x7b &&
    bytes[4] === 0 &&
    bytes[5] === 0 &&
    bytes[6] === 0 &&
    bytes[7] === 0
  ) {
    return 'safetensors';
  }
  if (bytes.length >= 262 && String.fromCharCode(...bytes.subarray(257, 262)) === 'ustar') return 'tar';
  fail(
    `unrecognised format (${bytes.length} bytes): not safetensors, not a torch zip checkpoint, not a legacy torch pickle`,
  );
}

/**
 * Parses a weights file held in memory (synchronous core of `readCheckpoint`).
 *
 * Formats: safetensors, torch zip (torch >= 1.6), legacy torch (pre-1.6). The state_dict is the file itself
 * or the value of a wrapper key (option `wrapper`, else the first of {@link DEFAULT_WRAPPERS} present, else
 * the first candidate); `module.` prefixes are stripped. Tensors come back as contiguous copies in their
 * stored dtype ({@link RawTensor}); only the chosen state_dict's tensors are materialised.
 *
 * @throws CheckpointError (one line) on any malformed, truncated or unsupported file, a missing wrapper, or
 *   with `strict: true` a global outside the allow-list
 */
export function parseCheckpoint(
  bytes: Uint8Array | ArrayBuffer,
  opts: ParseCheckpointOptions = {},
): Checkpoint {
  const u8 =
    bytes instanceof Uint8Array ? bytes : bytes instanceof ArrayBuffer ? new Uint8Array(bytes) : null;
  if (!u8) fail(`expected a Uint8Array or ArrayBuffer, got ${Object.prototype.toString.call(bytes)}`);
  const maxBytes = opts.maxBytes ?? 8 * 1024 ** 3;
  if (u8.length > maxBytes) fail(`file is ${u8.length} bytes, more than maxBytes ${maxBytes}`);
  if (u8.length === 0) fail('file is empty');
  const format = detect(u8);
  if (format === 'tar') fail('the tar-based torch format (PyTorch < 0.4) is not supported');
  if (format === 'safetensors') {
    let file: ReturnType<typeof readSafetensorsRaw>;
    try {
      file = readSafetensorsRaw(u8);
    } catch (e) {
      if (e instanceof SafetensorsError) throw new CheckpointError(e.message);
      throw e;
    }
    const keys = stripModule([...file.tensors.keys()]);
    const tensors: Record<string, RawTensor> = {};
    let i = 0;
    for (const t of file.tensors.values()) {
      const k = keys[i++];
      if (Object.hasOwn(tensors, k)) fail(`key ${quote(k)} appears twice after stripping 'module.'`);
      define(tensors, k, t);
    }
    return {
      format,
      wrapper: '',
      candidates: [],
      tensors,
      refusedGlobals: [],
      extra: {},
      metadata: file.metadata,
    };
  }

  const refused: string[] = [];
  const seen = new Set<string>();
  const onRefused = (name: string) => {
    if (opts.strict)
      fail(`refused global ${name} (strict mode: only weights, tensors and plain data may be loaded)`);
    if (!seen.has(name)) {
      seen.add(name);
      refused.push(name);
    }
  };
  let file: TorchFile;
  try {
    file =
      format === 'torch-zip'
        ? readTorchZip(u8, { onRefused, limits: opts.limits })
        : readTorchLegacy(u8, { onRefused, limits: opts.limits });
  } catch (e) {
    if (e instanceof CheckpointError) throw e;
    fail(`${format}: ${e instanceof Error ? `${e.name}: ${e.message}` : String(e)}`);
  }
  const { wrapper, candidates, dict } = selectStateDict(file.root, opts.wrapper);
  const names: string[] = [];
  const refs: TensorRef[] = [];
  for (const [k, v] of dict.map) {
    if (typeof k === 'string' && v instanceof TensorRef) {
      names.push(k);
      refs.push(v);
    }
  }
  // the tensors may not ask for much more memory than the file holds (views of shared or expanded storages)
  let total = 0;
  for (const r of refs) total += r.numel * ITEM_SIZE[r.dtype];
  const budget = 4 * u8.length + 256 * 1024 * 1024;
  if (total > budget) {
    fail(`the state_dict's tensors would take ${total} bytes from a file of ${u8.length} (limit ${budget})`);
  }
  const keys = stripModule(names);
  const raws = file.materialize(refs);
  const tensors: Record<string, RawTensor> = {};
  keys.forEach((k, i) => {
    if (Object.hasOwn(tensors, k)) fail(`key ${quote(k)} appears twice after stripping 'module.'`);
    define(tensors, k, raws[i]);
  });
  const extra: Record<string, unknown> = {};
  if (file.root instanceof PyDict) {
    const rest = new PyDict();
    for (const [k, v] of file.root.map) {
      if (wrapper !== '' && k === wrapper) continue;
      if (wrapper === '' && v instanceof TensorRef) continue;
      rest.map.set(k, v);
    }
    const plain = toPlainData(rest) as Record<string, unknown>;
    for (const k of Object.keys(plain)) define(extra, k, plain[k]);
  }
  return { format: file.format, wrapper, candidates, tensors, refusedGlobals: refused, extra };
}

/**
 * Converts one raw tensor to a tfjs tensor: floats (F64/F32/F16/BF16) -> float32, integers -> int32
 * (I64 values must lie in the int32 range, else a {@link CheckpointError}), BOOL -> bool. The caller owns it.
 */
export function rawToTensor(raw: RawTensor, name = 'tensor'): tf.Tensor {
  const n = raw.shape.reduce((a, b) => a * b, 1);
  const d = raw.data;
  switch (raw.dtype) {
    case 'F32':
      return tf.tensor(Float32Array.from(d as Float32Array), raw.shape, 'float32');
    case 'F64':
      return tf.tensor(Float32Array.from(d as Float64Array), raw.shape, 'float32');
    case 'F16':
    case 'BF16': {
      const bits = d as Uint16Array;
      const out = new Float32Array(n);
      if (raw.dtype === 'BF16') {
        const u = new Uint32Array(out.buffer);
        for (let i = 0; i < n; i++) u[i] = bits[i] << 16;
      } else {
        for (let i = 0; i < n; i++) out[i] = halfToNumber(bits[i]);
      }
      return tf.tensor(out, raw.shape, 'float32');
    }
    case 'I64': {
      const b = d as BigInt64Array;
      const out = new Int32Array(n);
      for (let i = 0; i < n; i++) {
        const v = b[i];
        if (v < -2147483648n || v > 2147483647n) {
          fail(`${name}: I64 value ${v} at flat index ${i} is outside the int32 range`);
        }
        out[i] = Number(v);
      }
      return tf.tensor(out, raw.shape, 'int32');
    }
    case 'I32':
    case 'I16':
    case 'I8':
    case 'U8':
      return tf.tensor(Int32Array.from(d as Int32Array), raw.shape, 'int32');
    case 'BOOL':
      return tf.tensor(
        Uint8Array.from(d as Uint8Array, (x) => (x ? 1 : 0)),
        raw.shape,
        'bool',
      );
    default:
      fail(`${name}: unknown dtype ${String((raw as RawTensor).dtype)}`);
  }
}

function halfToNumber(h: number): number {
  const sign = h & 0x8000 ? -1 : 1;
  const e = (h >>> 10) & 0x1f;
  const m = h & 0x3ff;
  if (e === 0) return sign * m * 2 ** -24;
  if (e === 0x1f) return m === 0 ? sign * Number.POSITIVE_INFINITY : Number.NaN;
  return sign * (1024 + m) * 2 ** (e - 25);
}

/** {@link rawToTensor} for every tensor of a checkpoint (all or nothing: nothing leaks on an error). */
export function checkpointToTensors(ckpt: Pick<Checkpoint, 'tensors'>): Record<string, tf.Tensor> {
  const out: Record<string, tf.Tensor> = {};
  try {
    for (const [k, raw] of Object.entries(ckpt.tensors)) define(out, k, rawToTensor(raw, k));
  } catch (e) {
    for (const t of Object.values(out)) t.dispose();
    throw e;
  }
  return out;
}
