/**
 * Parity runner: loads a golden fixture, finds the handler that implements its reference module, runs it
 * and compares every expected tensor of the fixture with the README section 7 tolerance.
 */

import { basename } from 'node:path';
import {
  type Comparison,
  compareTensors,
  EXACT_FAMILIES,
  type Fixture,
  loadFixture,
  type Tolerance,
  toleranceFor,
  useBackend,
} from '@swin/testing';
import * as tf from '@tensorflow/tfjs-core';
import { HANDLERS } from './handlers/index.js';
import type { WeightsOverride } from './weights.js';

/**
 * Implements one kind of fixture. `run` builds the module from `fx.config`, loads `fx.stateDict`, runs it on
 * `fx.inputs` and returns named outputs, keyed like the fixture's expected tensors (`output`, `logits`,
 * `features.<i>`, ...). The runner owns and disposes the returned tensors, so return fresh tensors (use
 * `tf.clone` for a cached one, e.g. a mask from a cache) and dispose everything else you create.
 */
export interface Handler {
  name: string;
  /** Whether this handler implements the fixture (dispatch on `fx.module` + `fx.reference`, not `family` alone). */
  matches(fx: Fixture): boolean;
  run(fx: Fixture): Promise<Record<string, tf.Tensor>> | Record<string, tf.Tensor>;
  /** Fixture tensors this handler reads as inputs (not compared), beyond the usual `input`/`mask`. */
  inputKeys?: readonly string[];
  /** Bound for one output when the family's README gives its own (default {@link toleranceFor}). */
  tolerance?(fx: Fixture, output: string): Tolerance;
}

/** Comparison of one expected tensor. */
export interface OutputResult extends Omit<Comparison, 'worstIndex'> {
  name: string;
  /** The handler did not return this output. */
  missing?: boolean;
  worstIndex: number[];
}

export type Status = 'PASS' | 'FAIL' | 'SKIP';

/** Result of {@link runFixture}. `maxAbs` / `maxRel` are NaN when nothing was compared. */
export interface FixtureResult {
  status: Status;
  file: string;
  family?: string;
  module?: string;
  backend: string;
  handler?: string;
  maxAbs: number;
  maxRel: number;
  reason?: string;
  perOutput: OutputResult[];
  /** Outputs the handler returned that the fixture has no expectation for (not an error). */
  extraOutputs: string[];
  ms: number;
  /** Label of the weights used instead of the fixture's own state_dict (`--weights`). */
  weights?: string;
  /** The tolerance used when it is not README section 7's (reduced-precision weights). */
  tolerance?: Tolerance;
}

/** Options of {@link runFixture}. */
export interface RunOptions {
  /** Handler registry to dispatch on (default: {@link HANDLERS}). */
  handlers?: readonly Handler[];
  /**
   * Run with these weights instead of the fixture's `state_dict.*` tensors (`pnpm parity --weights CKPT`): the
   * handler sees them as `fx.stateDict`; their `tolerance`, if set, replaces section 7's for non-exact families.
   */
  weights?: WeightsOverride;
}

function errorMessage(e: unknown): string {
  return e instanceof Error ? e.message : String(e);
}

/**
 * Runs one fixture (a file name inside `fixturesDir()` or a path) on `backend`.
 * PASS: every expected tensor matches. FAIL: a mismatch, an expected output the handler did not produce,
 * a thrown error (load or run), or no expected outputs at all. SKIP: no handler matches the fixture.
 * Every tensor the runner creates or receives is disposed.
 */
export async function runFixture(
  path: string,
  backend: string,
  opts: RunOptions = {},
): Promise<FixtureResult> {
  const handlers = opts.handlers ?? HANDLERS;
  const t0 = performance.now();
  const result: FixtureResult = {
    status: 'FAIL',
    file: basename(path),
    backend,
    maxAbs: Number.NaN,
    maxRel: Number.NaN,
    perOutput: [],
    extraOutputs: [],
    ms: 0,
  };
  const done = (status: Status, reason?: string): FixtureResult => {
    result.status = status;
    if (reason !== undefined) result.reason = reason;
    result.ms = performance.now() - t0;
    return result;
  };

  try {
    await useBackend(backend);
  } catch (e) {
    return done('FAIL', `backend '${backend}' unavailable: ${errorMessage(e)}`);
  }

  let fx: Fixture;
  try {
    fx = loadFixture(path);
  } catch (e) {
    return done('FAIL', `could not load fixture: ${errorMessage(e)}`);
  }
  result.family = fx.family;
  result.module = fx.module;

  let weightTensors: Record<string, tf.Tensor> | undefined;
  if (opts.weights) {
    result.weights = opts.weights.label;
    try {
      weightTensors = opts.weights.stateDict();
    } catch (e) {
      fx.dispose();
      return done('FAIL', `could not build the weights of ${opts.weights.label}: ${errorMessage(e)}`);
    }
    fx.stateDict = weightTensors;
  }

  let outputs: Record<string, unknown> = {};
  try {
    let handler: Handler | undefined;
    try {
      handler = handlers.find((h) => h.matches(fx));
    } catch (e) {
      return done('FAIL', `handler dispatch threw: ${errorMessage(e)}`);
    }
    if (!handler) return done('SKIP', `family ${fx.family} not built yet (module ${fx.module})`);
    result.handler = handler.name;

    const expectedNames = Object.keys(fx.expected).filter((k) => !handler?.inputKeys?.includes(k));
    if (expectedNames.length === 0) return done('FAIL', 'fixture has no expected outputs');

    try {
      const out = await handler.run(fx);
      if (out === null || typeof out !== 'object')
        throw new Error(`returned ${String(out)} instead of an object`);
      outputs = out;
    } catch (e) {
      return done('FAIL', `${handler.name} threw: ${errorMessage(e)}`);
    }

    let tol = toleranceFor(fx.family);
    if (opts.weights?.tolerance && !EXACT_FAMILIES.includes(fx.family)) {
      tol = opts.weights.tolerance;
      result.tolerance = tol;
    }
    const failures: string[] = [];
    for (const name of expectedNames) {
      const actual = outputs[name];
      if (actual === undefined) {
        result.perOutput.push({
          name,
          ok: false,
          missing: true,
          maxAbs: Number.NaN,
          maxRel: Number.NaN,
          maxExpected: Number.NaN,
          worstIndex: [],
          message: `expected output '${name}' was not produced by handler ${handler.name}`,
        });
        failures.push(`missing output '${name}'`);
        continue;
      }
      let cmp: Comparison;
      if (!(actual instanceof tf.Tensor)) {
        cmp = {
          ok: false,
          maxAbs: Number.NaN,
          maxRel: Number.NaN,
          maxExpected: Number.NaN,
          worstIndex: [],
          message: `handler returned a non-tensor for '${name}'`,
        };
      } else if (actual.isDisposed) {
        cmp = {
          ok: false,
          maxAbs: Number.NaN,
          maxRel: Number.NaN,
          maxExpected: Number.NaN,
          worstIndex: [],
          message: `handler returned an already disposed tensor for '${name}'`,
        };
      } else {
        cmp = compareTensors(actual, fx.expected[name], handler.tolerance?.(fx, name) ?? tol);
      }
      result.perOutput.push({ name, ...cmp });
      if (!cmp.ok) failures.push(`${name}: ${cmp.message}`);
    }
    result.extraOutputs = Object.keys(outputs).filter((k) => !(k in fx.expected));

    const measured = result.perOutput.filter((o) => !o.missing && !Number.isNaN(o.maxAbs));
    if (measured.length > 0) {
      result.maxAbs = Math.max(...measured.map((o) => o.maxAbs));
      result.maxRel = Math.max(...measured.map((o) => o.maxRel));
    }
    return failures.length === 0 ? done('PASS') : done('FAIL', failures.join('; '));
  } finally {
    const owned = new Set(Object.values({ ...fx.stateDict, ...fx.inputs, ...fx.expected }));
    const seen = new Set<tf.Tensor>();
    for (const t of Object.values(outputs)) {
      if (t instanceof tf.Tensor && !owned.has(t) && !seen.has(t)) {
        seen.add(t);
        if (!t.isDisposed) t.dispose();
      }
    }
    fx.dispose();
    for (const t of Object.values(weightTensors ?? {})) if (!t.isDisposed) t.dispose();
  }
}

/** Formats an error number for a report line: `1.19e-7`, `0`, `n/a` (NaN). */
export function formatNumber(x: number): string {
  if (Number.isNaN(x)) return 'n/a';
  if (x === 0 || !Number.isFinite(x)) return String(x);
  return x.toExponential(2);
}

/**
 * One report line: `PASS <file> max_abs=.. max_rel=..`, `FAIL <file> max_abs=.. max_rel=.. <reason>`,
 * `SKIP <file> <reason>`; with `--weights`, `weights=<label>` (and a relaxed tolerance) follow the numbers.
 */
export function formatResult(r: FixtureResult): string {
  if (r.status === 'SKIP') return `SKIP ${r.file} ${r.reason ?? ''}`.trimEnd();
  let nums = `max_abs=${formatNumber(r.maxAbs)} max_rel=${formatNumber(r.maxRel)}`;
  if (r.weights !== undefined) nums += ` weights=${r.weights}`;
  if (r.tolerance?.rel !== undefined) nums += ` tolerance=rel<=${formatNumber(r.tolerance.rel)}`;
  if (r.status === 'PASS') return `PASS ${r.file} ${nums}`;
  return `FAIL ${r.file} ${nums} ${r.reason ?? ''}`.trimEnd();
}

/** `N passed, M failed, K skipped`. */
export function formatSummary(results: readonly FixtureResult[]): string {
  const count = (s: Status) => results.filter((r) => r.status === s).length;
  return `${count('PASS')} passed, ${count('FAIL')} failed, ${count('SKIP')} skipped`;
}
