import * as tf from '@tensorflow/tfjs-core';
import {
  assertStateDictObject,
  describeValue,
  isDisposedTensor,
  SwinConfigError,
  SwinInputError,
  SwinLoadError,
  stateDictValueProblem,
} from './validate.js';

/**
 * How a parameter is stored in PyTorch versus here. Conversion happens once, at load / export.
 * - `identity`: same layout (LayerNorm weight, biases, tables, embeddings).
 * - `linear`: PyTorch `nn.Linear.weight` `[out, in]` <-> here `[in, out]` (plain matMul, no transposed
 *   matMul on the hot path: those are 10-40x slower on tfjs-wasm).
 * - `conv2d`: PyTorch OIHW `[out, in, kH, kW]` <-> here HWIO `[kH, kW, in, out]`.
 * - `depthwise`: PyTorch `[C, 1, kH, kW]` <-> here `[kH, kW, C, 1]`.
 */
export type ParamLayout = 'identity' | 'linear' | 'conv2d' | 'depthwise';

const TO_INTERNAL: Record<ParamLayout, number[] | null> = {
  identity: null,
  linear: [1, 0],
  conv2d: [2, 3, 1, 0],
  depthwise: [2, 3, 0, 1],
};
const TO_TORCH: Record<ParamLayout, number[] | null> = {
  identity: null,
  linear: [1, 0],
  conv2d: [3, 2, 0, 1],
  depthwise: [2, 3, 0, 1],
};

function permuteShape(shape: readonly number[], perm: number[] | null): number[] {
  return perm ? perm.map((p) => shape[p]) : [...shape];
}

/** Converts a tensor from PyTorch layout to the internal layout (new tensor, caller owns it). */
export function fromTorchLayout(t: tf.Tensor, layout: ParamLayout): tf.Tensor {
  const perm = TO_INTERNAL[layout];
  return perm ? tf.transpose(t, perm) : tf.clone(t);
}

/** Converts a tensor from the internal layout to PyTorch layout (new tensor, caller owns it). */
export function toTorchLayout(t: tf.Tensor, layout: ParamLayout): tf.Tensor {
  const perm = TO_TORCH[layout];
  return perm ? tf.transpose(t, perm) : tf.clone(t);
}

interface ParamRecord {
  variable: tf.Variable;
  layout: ParamLayout;
  /** Shape in PyTorch layout (what a checkpoint holds). */
  torchShape: number[];
}

/**
 * A buffer a checkpoint may carry that this module recomputes itself (e.g. Swin's
 * `relative_position_index` and `attn_mask`, BatchNorm's `num_batches_tracked`).
 * Loading never trusts it: it is compared with `compute()` (unless `verify` is false) and
 * a difference is reported as a mismatch.
 */
export interface BufferSpec {
  /** Computes the buffer's value in PyTorch layout (new tensor, caller owns it). */
  compute: () => tf.Tensor;
  /** Compare a loaded value against `compute()` (default true). */
  verify?: boolean;
  /** Include in `stateDict()` (default true, like PyTorch persistent buffers). */
  persistent?: boolean;
}

/** One problem found while loading a state dict. */
export interface ShapeMismatch {
  key: string;
  expected: number[];
  got: number[];
}

/** What `loadStateDict` found. With `strict` (default) any entry here is an error. */
export interface LoadReport {
  /** Parameters of the module absent from the checkpoint. */
  missing: string[];
  /** Checkpoint keys the module has no parameter or buffer for. */
  unexpected: string[];
  /** Keys present on both sides with different shapes (PyTorch layout). */
  mismatched: ShapeMismatch[];
  /** Buffers whose stored value differs from what this module computes. */
  bufferMismatches: { key: string; message: string }[];
  /** Values that are not loadable tensors (not a tf.Tensor, disposed, string/complex dtype); never loaded. */
  invalid: { key: string; message: string }[];
  /** Number of parameters loaded. */
  loaded: number;
}

/** Thrown by a strict `loadStateDict`; `report` lists every problem at once. Nothing was loaded. */
export class StateDictError extends SwinLoadError {
  constructor(
    readonly report: LoadReport,
    context: string,
  ) {
    super(formatLoadReport(report, context));
  }
}

function listKeys(keys: string[], max = 12): string {
  const shown = keys.slice(0, max).join(', ');
  return keys.length > max ? `${shown}, ... (${keys.length} in all)` : shown;
}

/** Human-readable summary of a load report. */
export function formatLoadReport(r: LoadReport, context = 'loadStateDict'): string {
  const parts: string[] = [];
  const invalid = r.invalid ?? [];
  if (invalid.length)
    parts.push(
      `values that cannot be loaded (${invalid.length}): ${invalid
        .slice(0, 6)
        .map((m) => `${m.key} ${m.message}`)
        .join('; ')}${invalid.length > 6 ? '; ...' : ''}`,
    );
  if (r.missing.length) parts.push(`missing keys (${r.missing.length}): ${listKeys(r.missing)}`);
  if (r.unexpected.length) parts.push(`unexpected keys (${r.unexpected.length}): ${listKeys(r.unexpected)}`);
  if (r.mismatched.length)
    parts.push(
      `shape mismatches (${r.mismatched.length}): ${r.mismatched
        .slice(0, 12)
        .map((m) => `${m.key} expected [${m.expected}] got [${m.got}]`)
        .join('; ')}`,
    );
  if (r.bufferMismatches.length)
    parts.push(
      `buffers differing from the computed ones (${r.bufferMismatches.length}): ${r.bufferMismatches
        .slice(0, 6)
        .map((m) => `${m.key}: ${m.message}`)
        .join('; ')}`,
    );
  return `${context}: ${parts.length ? parts.join('. ') : 'ok'}`;
}

/** Options of `Module.param`. */
export interface ParamOptions {
  layout?: ParamLayout;
  /** Defaults to true; false for statistics such as BatchNorm running mean/var. */
  trainable?: boolean;
}

/** An initialiser receives the shape in the INTERNAL layout and returns a new tensor. */
export type Initializer = (shape: number[]) => tf.Tensor;

/**
 * Base class of every layer and model: a tree of named parameters whose dotted paths are exactly the
 * official PyTorch `state_dict` keys (`layers.0.blocks.1.attn.qkv.weight`), so real checkpoints load.
 *
 * Subclasses register parameters with `param`, children with `child` (or `ModuleList`), and checkpoint
 * buffers they recompute with `buffer`. `forward` signatures are the subclasses' own.
 */
export abstract class Module {
  /** Training mode enables Dropout and DropPath; eval mode (default) is deterministic. */
  training = false;
  private readonly _params = new Map<string, ParamRecord>();
  private readonly _children = new Map<string, Module>();
  private readonly _buffers = new Map<string, BufferSpec>();

  /**
   * Registers a parameter. `torchShape` is its PyTorch shape; the stored variable has the internal
   * layout. `init` receives the internal shape.
   */
  protected param(
    name: string,
    torchShape: number[],
    init: Initializer,
    opts: ParamOptions = {},
  ): tf.Variable {
    const layout = opts.layout ?? 'identity';
    if (this._params.has(name) || this._children.has(name)) throw new Error(`duplicate name '${name}'`);
    const internal = permuteShape(torchShape, TO_INTERNAL[layout]);
    const value = init(internal);
    if (!tf.util.arraysEqual(value.shape, internal)) {
      const s = value.shape;
      value.dispose();
      throw new Error(`initialiser of '${name}' returned shape [${s}], expected [${internal}]`);
    }
    const variable = tf.variable(value, opts.trainable ?? true);
    value.dispose();
    this._params.set(name, { variable, layout, torchShape: [...torchShape] });
    return variable;
  }

  /** Registers a child module under `name` and returns it. */
  protected child<M extends Module>(name: string, m: M): M {
    if (this._params.has(name) || this._children.has(name)) throw new Error(`duplicate name '${name}'`);
    this._children.set(name, m);
    return m;
  }

  /** Registers a checkpoint buffer that this module recomputes (see `BufferSpec`). */
  protected buffer(name: string, spec: BufferSpec): void {
    this._buffers.set(name, spec);
  }

  /** Direct children, by name. */
  namedChildren(): [string, Module][] {
    return [...this._children.entries()];
  }

  /** Every parameter with its full dotted PyTorch key, in registration order. */
  namedParameters(prefix = ''): [string, tf.Variable][] {
    const out: [string, tf.Variable][] = [];
    this.visit(prefix, (key, rec) => out.push([key, rec.variable]));
    return out;
  }

  /** Trainable variables (for optimizers: `opt.minimize(f, false, model.trainableVariables())`). */
  trainableVariables(): tf.Variable[] {
    return this.namedParameters()
      .map(([, v]) => v)
      .filter((v) => v.trainable);
  }

  /** Number of trainable scalar parameters (what papers report). */
  numParams(): number {
    return this.trainableVariables().reduce((n, v) => n + v.size, 0);
  }

  /** Sets training mode recursively; returns this. */
  train(mode = true): this {
    this.training = mode;
    for (const c of this._children.values()) c.train(mode);
    return this;
  }

  /** Sets eval mode recursively; returns this. */
  eval(): this {
    return this.train(false);
  }

  private visit(
    prefix: string,
    onParam: (key: string, rec: ParamRecord) => void,
    onBuffer?: (key: string, spec: BufferSpec) => void,
  ): void {
    for (const [name, rec] of this._params) onParam(prefix + name, rec);
    if (onBuffer) for (const [name, spec] of this._buffers) onBuffer(prefix + name, spec);
    for (const [name, c] of this._children) c.visit(`${prefix}${name}.`, onParam, onBuffer);
  }

  /**
   * The PyTorch-layout state dict: parameter tensors under their official keys, plus persistent
   * buffers (computed) when `includeBuffers` (default true). New tensors; the caller disposes them.
   */
  stateDict(opts: { includeBuffers?: boolean } = {}): Record<string, tf.Tensor> {
    const out: Record<string, tf.Tensor> = {};
    this.visit(
      '',
      (key, rec) => {
        out[key] = toTorchLayout(rec.variable, rec.layout);
      },
      (key, spec) => {
        if ((opts.includeBuffers ?? true) && (spec.persistent ?? true)) out[key] = spec.compute();
      },
    );
    return out;
  }

  /**
   * Loads PyTorch-layout tensors by key (converting layouts once). Buffers are accepted and checked
   * against what this module computes. With `strict` (default) every problem (missing, unexpected,
   * shape-mismatched keys, differing buffers) is reported together in one `StateDictError` and nothing
   * is loaded; non-strict loads what fits and returns the report. The caller keeps ownership of `tensors`.
   */
  loadStateDict(tensors: Record<string, tf.Tensor>, opts: { strict?: boolean } = {}): LoadReport {
    const context = `${this.constructor.name}.loadStateDict`;
    assertStateDictObject(context, tensors);
    if (
      opts === null ||
      typeof opts !== 'object' ||
      (opts.strict !== undefined && typeof opts.strict !== 'boolean')
    )
      throw new SwinConfigError(`${context}: opts must be { strict?: boolean }, got ${describeValue(opts)}`);
    this.assertNotDisposed(context);
    const strict = opts.strict ?? true;
    const params = new Map<string, ParamRecord>();
    const buffers = new Map<string, BufferSpec>();
    this.visit(
      '',
      (k, r) => params.set(k, r),
      (k, s) => buffers.set(k, s),
    );
    const report: LoadReport = {
      missing: [],
      unexpected: [],
      mismatched: [],
      bufferMismatches: [],
      invalid: [],
      loaded: 0,
    };
    // 1. Check every value (own keys only) before reading any of them.
    const valid = new Map<string, tf.Tensor>();
    for (const key of Object.keys(tensors)) {
      const v: unknown = tensors[key];
      const problem = stateDictValueProblem(v);
      if (problem) report.invalid.push({ key, message: problem });
      else valid.set(key, v as tf.Tensor);
    }
    const invalidKeys = new Set(report.invalid.map((p) => p.key));
    // 2. Keys, shapes and buffers.
    const toLoad: [ParamRecord, tf.Tensor][] = [];
    for (const [key, rec] of params) {
      const t = valid.get(key);
      if (!t) {
        if (!invalidKeys.has(key)) report.missing.push(key);
      } else if (!tf.util.arraysEqual(t.shape, rec.torchShape))
        report.mismatched.push({ key, expected: rec.torchShape, got: [...t.shape] });
      else toLoad.push([rec, t]);
    }
    for (const [key, t] of valid) {
      if (params.has(key)) continue;
      const spec = buffers.get(key);
      if (!spec) {
        report.unexpected.push(key);
        continue;
      }
      if (spec.verify === false) continue;
      const problem = compareBuffer(spec.compute, t);
      if (problem) report.bufferMismatches.push({ key, message: problem });
    }
    const bad =
      report.invalid.length +
      report.missing.length +
      report.unexpected.length +
      report.mismatched.length +
      report.bufferMismatches.length;
    if (strict && bad > 0) throw new StateDictError(report, context);
    // 3. Only now assign: every value was checked, so a strict load changes all or nothing.
    for (const [rec, t] of toLoad) {
      tf.tidy(() => rec.variable.assign(tf.cast(fromTorchLayout(t, rec.layout), 'float32')));
    }
    report.loaded = toLoad.length;
    return report;
  }

  /**
   * Throws a `SwinInputError` `'<where>: ...'` if any parameter of this module (or its children) was
   * disposed: a disposed model cannot run or load. Reads no data.
   */
  assertNotDisposed(where: string): void {
    let bad: string | null = null;
    this.visit('', (key, rec) => {
      if (bad === null && isDisposedTensor(rec.variable)) bad = key;
    });
    if (bad !== null) {
      throw new SwinInputError(
        `${where}: parameter '${bad}' was disposed (model.dispose() or tf.disposeVariables() was called); build or load the model again`,
      );
    }
  }

  /**
   * Disposes this module's variables, then each child through its own `dispose()` (so subclasses that hold
   * caches can release them by overriding `dispose()` and calling `super.dispose()`).
   */
  dispose(): void {
    for (const rec of this._params.values()) rec.variable.dispose();
    for (const c of this._children.values()) c.dispose();
  }
}

function compareBuffer(compute: () => tf.Tensor, stored: tf.Tensor): string | null {
  const mine = compute();
  try {
    if (!tf.util.arraysEqual(mine.shape, stored.shape))
      return `shape [${stored.shape}] but computed [${mine.shape}]`;
    const a = mine.dataSync();
    const b = stored.dataSync();
    for (let i = 0; i < a.length; i++) {
      if (a[i] !== b[i]) return `element ${i} is ${b[i]} but computed ${a[i]}`;
    }
    return null;
  } finally {
    mine.dispose();
  }
}

/** An ordered list of child modules named `0`, `1`, ... (PyTorch `nn.ModuleList` / `nn.Sequential`). */
export class ModuleList<M extends Module = Module> extends Module {
  readonly items: M[] = [];
  constructor(items: M[] = []) {
    super();
    for (const m of items) this.push(m);
  }
  push(m: M): void {
    this.child(String(this.items.length), m);
    this.items.push(m);
  }
  get length(): number {
    return this.items.length;
  }
  at(i: number): M {
    return this.items[i];
  }
  [Symbol.iterator](): Iterator<M> {
    return this.items[Symbol.iterator]();
  }
}
