/**
 * The hostile-user test table shared by every model family: the same bad inputs, bad state dicts and
 * preset names against each model, each expected to throw a project error (`SwinError`) whose message names
 * the model and the problem, and to leave the tensor count unchanged. Families add their own config cases.
 *
 * Plain assertions (no test-runner import), so this module can sit in the package index next to helpers
 * that apps import.
 */
import { type Module, SwinError } from '@swin/nn';
import * as tf from '@tensorflow/tfjs';

function check(ok: boolean, message: string): void {
  if (!ok) throw new Error(message);
}

function checkSwinError(e: Error, label: string): void {
  check(e instanceof SwinError, `${label}: expected a SwinError, got ${e?.name}: ${e?.message}`);
  check(!/^(TypeError|RangeError|ReferenceError)$/.test(e.name), `${label}: raw ${e.name}: ${e.message}`);
}

/** One hostile call: it must throw a `SwinError` matching `match` (and naming the model, see `names`). */
export interface BadCase {
  label: string;
  run: () => unknown;
  /** What the message must say (the problem). */
  match: RegExp;
}

/** The error `run` throws (fails the test if it returns). */
export function errorOf(run: () => unknown, label: string): Error {
  try {
    const r = run();
    tf.dispose(r as tf.TensorContainer);
  } catch (e) {
    return e as Error;
  }
  throw new Error(`${label}: expected a throw, but the call returned`);
}

/**
 * Runs every case: each must throw a `SwinError` (never a raw TypeError/RangeError from JS or tfjs) whose
 * message matches `names` (the model or function) and the case's `match`, and must leave
 * `tf.memory().numTensors` unchanged. Returns the messages (for snapshots or printing).
 */
export function expectBadCases(cases: readonly BadCase[], names: RegExp): string[] {
  const messages: string[] = [];
  for (const c of cases) {
    const before = tf.memory().numTensors;
    const e = errorOf(c.run, c.label);
    const after = tf.memory().numTensors;
    checkSwinError(e, c.label);
    check(names.test(e.message), `${c.label}: message does not name ${names}: ${e.message}`);
    check(c.match.test(e.message), `${c.label}: message does not match ${c.match}: ${e.message}`);
    check(after === before, `${c.label}: ${after - before} tensors leaked`);
    messages.push(e.message);
  }
  return messages;
}

/** What {@link badInputCases} needs to know about a model. */
export interface InputCaseSpec {
  /** The model (used for forward, forwardFeatures and, when given, other entries). */
  model: { forward(x: tf.Tensor4D): unknown; forwardFeatures(x: tf.Tensor4D): unknown };
  /** A valid image size and channels, `[H, W, C]`. */
  ok: [number, number, number];
  /** An image `[H, W]` too small for some stage, and what the message says about it. */
  tooSmall?: { size: [number, number]; match: RegExp };
}

/**
 * Generic bad inputs for `forward` and `forwardFeatures` (not a tensor, wrong dtype, disposed, rank, batch 0,
 * empty axes, channels, NCHW, too small). Tensors the cases need are created here; call the returned
 * `dispose` after the run.
 */
export function badInputCases(spec: InputCaseSpec): { cases: BadCase[]; dispose: () => void } {
  const [H, W, C] = spec.ok;
  const made: tf.Tensor[] = [];
  const keep = <T extends tf.Tensor>(t: T): T => {
    made.push(t);
    return t;
  };
  const disposed = tf.zeros([1, H, W, C]);
  disposed.dispose();
  const values: [string, unknown, RegExp][] = [
    ['null', null, /must be a tf\.Tensor.*got null.*pass a tf\.Tensor/],
    ['undefined', undefined, /must be a tf\.Tensor.*got undefined/],
    ['a number', 3, /must be a tf\.Tensor.*got the number 3/],
    ['a string', 'image.png', /must be a tf\.Tensor.*got the string/],
    ['a plain array', [1, 2, 3], /must be a tf\.Tensor.*got an array of length 3.*tf\.tensor/],
    ['a nested array', [[[[0, 0, 0]]]], /must be a tf\.Tensor.*got an array of length 1/],
    ['a Float32Array', new Float32Array(H * W * C), /must be a tf\.Tensor.*got a Float32Array/],
    ['a plain object', { shape: [1, H, W, C] }, /must be a tf\.Tensor.*got an object/],
    ['a disposed tensor', disposed, /was disposed/],
    ['an int32 image', keep(tf.zeros([1, H, W, C], 'int32')), /dtype int32.*tf\.cast\(x, 'float32'\)/],
    ['a bool image', keep(tf.zeros([1, H, W, C], 'bool')), /dtype bool.*float32/],
    [
      'a complex64 image',
      keep(tf.tidy(() => tf.complex(tf.zeros([1, H, W, C]), tf.zeros([1, H, W, C])))),
      /dtype complex64.*float32/,
    ],
    ['a string tensor', keep(tf.tensor(['a'])), /dtype string/],
    ['rank 3 (no batch axis)', keep(tf.zeros([H, W, C])), /4-D NHWC.*rank 3.*expandDims/],
    ['rank 5', keep(tf.zeros([1, 1, H, W, C])), /4-D NHWC.*rank 5/],
    ['rank 2', keep(tf.zeros([H, W])), /4-D NHWC.*rank 2/],
    ['a scalar tensor', keep(tf.scalar(1)), /4-D NHWC.*rank 0/],
    ['batch 0', keep(tf.zeros([0, H, W, C])), /batch size 0.*at least one/],
    ['height 0', keep(tf.zeros([1, 0, W, C])), /empty axis 1/],
    ['width 0', keep(tf.zeros([1, H, 0, C])), /empty axis 2/],
    ['wrong channels', keep(tf.zeros([1, H, W, C + 1])), new RegExp(`${C + 1} channels.*expected ${C}`)],
    ['zero channels', keep(tf.zeros([1, H, W, 0])), /empty axis 3/],
    ['NCHW layout', keep(tf.zeros([1, C, H, W])), /channels-first \(NCHW\).*tf\.transpose/],
  ];
  if (spec.tooSmall) {
    const [h, w] = spec.tooSmall.size;
    values.push(['an image too small for a stage', keep(tf.zeros([1, h, w, C])), spec.tooSmall.match]);
  }
  const cases: BadCase[] = [];
  for (const [label, x, match] of values) {
    cases.push({ label: `forward(${label})`, run: () => spec.model.forward(x as tf.Tensor4D), match });
  }
  for (const [label, x, match] of values.filter((_, i) => i % 3 === 0)) {
    cases.push({
      label: `forwardFeatures(${label})`,
      run: () => spec.model.forwardFeatures(x as tf.Tensor4D),
      match,
    });
  }
  return { cases, dispose: () => tf.dispose(made) };
}

/** Calls on a model whose parameters were disposed (a throwaway model from `make`); `dispose` frees the inputs. */
export function disposedModelCases(
  make: () => Module & { forward(x: tf.Tensor4D): unknown },
  ok: [number, number, number],
): { cases: BadCase[]; dispose: () => void } {
  const m = make();
  const sd = m.stateDict();
  m.dispose();
  const x = tf.zeros([1, ...ok]) as tf.Tensor4D;
  return {
    cases: [
      { label: 'forward on a disposed model', run: () => m.forward(x), match: /was disposed.*build or load/ },
      { label: 'loadStateDict into a disposed model', run: () => m.loadStateDict(sd), match: /was disposed/ },
    ],
    dispose: () => tf.dispose([x, ...Object.values(sd)]),
  };
}

/** Bad preset names for a `create(name)` function: inherited members, wrong types, typos (with did-you-mean). */
export function presetCases(create: (name: never) => unknown, typo: string, meant: string): BadCase[] {
  const bad: [string, unknown, RegExp][] = [
    ['toString', 'toString', /unknown (preset|model) 'toString'.*known:/],
    ['constructor', 'constructor', /unknown (preset|model) 'constructor'.*known:/],
    ['__proto__', '__proto__', /unknown (preset|model) '__proto__'.*known:/],
    ['hasOwnProperty', 'hasOwnProperty', /unknown (preset|model) 'hasOwnProperty'/],
    ['valueOf', 'valueOf', /unknown (preset|model) 'valueOf'/],
    ['empty string', '', /unknown (preset|model) ''/],
    ['a typo', typo, new RegExp(`did you mean '${meant}'`)],
    ['a number', 42, /name must be a string, got the number 42/],
    ['null', null, /name must be a string, got null/],
    ['an object', {}, /name must be a string, got an object/],
  ];
  return bad.map(([label, name, match]) => ({
    label: `preset ${label}`,
    run: () => create(name as never),
    match,
  }));
}

/**
 * Bad state dicts for `model.loadStateDict`: wrong container, wrong values (each problem named by key),
 * keys and shapes. Tensors created here are disposed by the returned `dispose`.
 */
export function badStateDictCases(
  model: Module,
  load: (sd: unknown) => unknown = (sd) => model.loadStateDict(sd as Record<string, tf.Tensor>),
): { cases: BadCase[]; dispose: () => void } {
  const good = model.stateDict({ includeBuffers: false });
  const keys = Object.keys(good);
  const k0 = keys[0];
  const kLast = keys[keys.length - 1];
  const made: tf.Tensor[] = Object.values(good);
  const keep = <T extends tf.Tensor>(t: T): T => {
    made.push(t);
    return t;
  };
  const disposed = tf.clone(good[kLast]);
  disposed.dispose();
  const esc = (k: string) => k.replace(/[.*+?^${}()|[\]\\]/g, '\\$&');
  const withValue = (k: string, v: unknown) => ({ ...good, [k]: v });
  const without = (k: string) => {
    const { [k]: _, ...rest } = good;
    return rest;
  };
  const entries: [string, unknown, RegExp][] = [
    ['null', null, /expected an object of tf\.Tensors.*got null/],
    ['a number', 7, /expected an object of tf\.Tensors.*got the number 7/],
    ['an array', [good[k0]], /expected an object of tf\.Tensors.*got an array/],
    ['a Map', new Map(Object.entries(good)), /Object\.fromEntries/],
    ['a tensor', good[k0], /expected an object of tf\.Tensors.*got a tf\.Tensor/],
    ['a number value', withValue(kLast, 1), new RegExp(`${esc(kLast)} is the number 1, not a tf\\.Tensor`)],
    ['a null value', withValue(kLast, null), new RegExp(`${esc(kLast)} is null, not a tf\\.Tensor`)],
    ['an array value', withValue(k0, [1, 2]), new RegExp(`${esc(k0)} is an array of length 2`)],
    ['a disposed value', withValue(kLast, disposed), new RegExp(`${esc(kLast)} \\(shape .*\\) was disposed`)],
    [
      'a complex64 value',
      withValue(k0, keep(tf.tidy(() => tf.complex(tf.zeros(good[k0].shape), tf.zeros(good[k0].shape))))),
      /has dtype complex64/,
    ],
    ['a string value', withValue(k0, keep(tf.tensor(['w']))), /has dtype string/],
    [
      'a wrong shape',
      withValue(kLast, keep(tf.zeros([3, 1, 2]))),
      new RegExp(`${esc(kLast)} expected .* got \\[3,1,2\\]`),
    ],
    ['a missing key', without(k0), new RegExp(`missing keys \\(1\\): ${esc(k0)}`)],
    [
      'an unexpected key',
      withValue('not.a.param', keep(tf.zeros([1]))),
      /unexpected keys \(1\): not\.a\.param/,
    ],
    ['an empty object', {}, /missing keys/],
  ];
  const cases: BadCase[] = entries.map(([label, sd, match]) => ({
    label: `loadStateDict(${label})`,
    run: () => load(sd),
    match,
  }));
  cases.push({
    label: 'loadStateDict(opts.strict not a boolean)',
    run: () => model.loadStateDict(good, { strict: 'yes' as unknown as boolean }),
    match: /opts must be \{ strict\?: boolean \}/,
  });
  return { cases, dispose: () => tf.dispose(made) };
}

/** Copies of every parameter's values (to prove a failed load changed nothing). */
export function snapshotParams(model: Module): Map<string, Float32Array> {
  return new Map(model.namedParameters().map(([k, v]) => [k, Float32Array.from(v.dataSync())]));
}

/**
 * Asserts that a strict load which fails on ONE bad entry (placed last, after every good one) changes no
 * parameter, although every good entry holds new values (2x + 1) that a partial load would have written.
 * `load` is the family's loader (default `model.loadStateDict`).
 */
export function expectAllOrNothingLoad(
  model: Module,
  load: (sd: Record<string, unknown>) => unknown = (sd) =>
    model.loadStateDict(sd as Record<string, tf.Tensor>),
): void {
  const before = snapshotParams(model);
  const sd = model.stateDict({ includeBuffers: false });
  const changed: Record<string, unknown> = {};
  for (const [k, v] of Object.entries(sd)) {
    changed[k] = tf.tidy(() => tf.add(tf.mul(v, 2), 1));
    v.dispose();
  }
  const keys = Object.keys(changed);
  const last = keys[keys.length - 1];
  const disposed = tf.clone(changed[last] as tf.Tensor);
  disposed.dispose();
  const badEntries: [string, unknown][] = [
    ['a disposed tensor', disposed],
    ['a number', 0.5],
    ['null', null],
    ['a wrong shape', tf.zeros([2, 3, 5])],
    ['a complex64 tensor', tf.complex([1], [1])],
  ];
  try {
    for (const [label, bad] of badEntries) {
      const n0 = tf.memory().numTensors;
      const e = errorOf(() => load({ ...changed, [last]: bad }), `load with ${label}`);
      checkSwinError(e, `load with ${label}`);
      check(tf.memory().numTensors === n0, `load with ${label}: tensors leaked`);
      for (const [k, v] of model.namedParameters()) {
        const was = before.get(k) as Float32Array;
        const now = v.dataSync();
        let same = now.length === was.length;
        for (let i = 0; same && i < now.length; i++) same = now[i] === was[i];
        check(same, `load with ${label} changed parameter ${k}`);
      }
    }
    // and a correct load still writes everything
    load(changed);
    const [k0, v0] = model.namedParameters()[0];
    check(v0.dataSync()[0] !== (before.get(k0) as Float32Array)[0], `a correct load did not write ${k0}`);
  } finally {
    for (const [, bad] of badEntries) if (bad instanceof tf.Tensor && !bad.isDisposed) bad.dispose();
    tf.dispose(Object.values(changed) as tf.Tensor[]);
  }
}

/**
 * Asserts that failing forwards inside `tf.variableGrads` and `optimizer.minimize` throw a `SwinError` and
 * leak no tensor. `bad` are inputs the model refuses; `model.trainableVariables()` are differentiated.
 */
export function expectNoLeakInTapes(
  model: Module & { forward(x: tf.Tensor4D): tf.Tensor },
  bad: readonly [string, unknown][],
): void {
  const opt = tf.train.sgd(0.1);
  const vars = model.trainableVariables();
  try {
    for (const [label, x] of bad) {
      const loss = () => tf.mean(model.forward(x as tf.Tensor4D)) as tf.Scalar;
      const n0 = tf.memory().numTensors;
      const e1 = errorOf(() => tf.variableGrads(loss, vars), `variableGrads(${label})`);
      checkSwinError(e1, `variableGrads(${label})`);
      const e2 = errorOf(() => opt.minimize(loss, false, vars), `minimize(${label})`);
      checkSwinError(e2, `minimize(${label})`);
      const e3 = errorOf(() => tf.tidy(() => model.forward(x as tf.Tensor4D)), `tidy(${label})`);
      checkSwinError(e3, `tidy(${label})`);
      const leaked = tf.memory().numTensors - n0;
      check(leaked === 0, `${label}: ${leaked} tensors leaked inside the tapes`);
    }
  } finally {
    opt.dispose();
  }
}
