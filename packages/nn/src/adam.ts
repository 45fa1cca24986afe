import * as tf from '@tensorflow/tfjs-core';
import type { FusedImpl } from './functional.js';
import { type AdamAttrs, adamKernel, SWIN_ADAM } from './kernels.js';
import { SwinInputError } from './validate.js';

/** A named tensor as tfjs's optimizers take and return them (`tf.NamedTensor` is not exported by tfjs-core). */
export interface NamedTensor {
  name: string;
  tensor: tf.Tensor;
}

/**
 * Adam with one fused kernel per variable: a drop-in for `tf.train.adam` (tfjs-core 4.22's
 * `AdamOptimizer`, same defaults, same float32 math, same `getWeights` names).
 *
 * Why: tfjs's Adam runs about ten elementwise kernels per variable (Mul, Mul, Add, Square, Mul, Mul, Add,
 * RealDiv, RealDiv, Sqrt, Add, RealDiv, Mul, Add), each a pass over memory plus a dispatch; over the ~200
 * variables of a small backbone that was ~15% of a wasm train step. With a kernel registered under
 * {@link SWIN_ADAM} for the active backend (`registerWasmKernels()` of `@swin/wasm` does so for 'wasm' and
 * 'cpu') a variable takes one streaming pass; on other backends (or with `impl: 'tf'`) the exact tfjs op
 * sequence runs, so the results equal `tf.train.adam`'s bit for bit there.
 *
 * Math (tfjs's, per step t >= 1, every operation rounded to float32; `beta1^t` is kept as the float32
 * running product `accBeta1 = fl(accBeta1 * beta1)`, starting at `beta1`):
 * `m = m beta1 + g (1 - beta1)`, `v = v beta2 + g^2 (1 - beta2)`,
 * `param = (m / (1 - accBeta1)) / (sqrt(v / (1 - accBeta2)) + epsilon) * (-learningRate) + param`.
 * `epsilon` defaults to the backend's (`1e-7` for float32). Moments are indexed by the position of a
 * variable in the gradient list / map, like tfjs.
 */
export class Adam extends tf.Optimizer {
  /** Serialization name (tfjs's Adam is `'Adam'`; this one has the same config). */
  static get className(): string {
    return 'Adam';
  }

  readonly epsilon: number;
  readonly impl: FusedImpl;
  /** float32 beta1^t and beta2^t of the next step (tfjs's `accBeta1` / `accBeta2` variables) */
  private accBeta1: number;
  private accBeta2: number;
  private firstMoments: NamedTensor[] = [];
  private secondMoments: NamedTensor[] = [];

  /**
   * @param learningRate step size (> 0)
   * @param beta1 decay of the first moment, in [0, 1)
   * @param beta2 decay of the second moment, in [0, 1)
   * @param epsilon added to the root of the second moment (default: the backend's epsilon, 1e-7 in float32)
   * @param opts.impl 'auto' (default: the fused kernel where registered), 'kernel' (require it) or 'tf' (tfjs ops)
   * @throws SwinInputError on a non-finite or out-of-range hyperparameter or an unknown impl
   */
  constructor(
    readonly learningRate: number,
    readonly beta1: number,
    readonly beta2: number,
    epsilon: number | null = null,
    opts: { impl?: FusedImpl } = {},
  ) {
    super();
    const bad = (what: string, x: number) => new SwinInputError(`Adam: ${what} got ${String(x)}`);
    if (!Number.isFinite(learningRate)) throw bad('learningRate must be a finite number,', learningRate);
    for (const [n, b] of [
      ['beta1', beta1],
      ['beta2', beta2],
    ] as const) {
      if (!(b >= 0 && b < 1)) throw bad(`${n} must be in [0, 1),`, b);
    }
    if (epsilon != null && !(epsilon >= 0 && Number.isFinite(epsilon)))
      throw bad('epsilon must be a finite number >= 0,', epsilon);
    const impl = opts.impl ?? 'auto';
    if (impl !== 'auto' && impl !== 'kernel' && impl !== 'tf') {
      throw new SwinInputError(`Adam: impl must be 'auto', 'kernel' or 'tf', got ${String(impl)}`);
    }
    this.impl = impl;
    this.epsilon = epsilon ?? tf.backend().epsilon();
    this.accBeta1 = Math.fround(beta1);
    this.accBeta2 = Math.fround(beta2);
  }

  /** Whether the next update runs the fused kernel (registered for the active backend, impl not 'tf'). */
  usesKernel(): boolean {
    if (this.impl === 'tf') return false;
    const ok = !!tf.getKernel(SWIN_ADAM, tf.getBackend());
    if (this.impl === 'kernel' && !ok) {
      throw new SwinInputError(
        `Adam: impl 'kernel' needs the kernel ${SWIN_ADAM} registered for backend '${tf.getBackend()}' ` +
          `(registerWasmKernels() of @swin/wasm does so for 'wasm' and 'cpu')`,
      );
    }
    return ok;
  }

  /**
   * One Adam step on the variables named in `variableGradients` (a name -> gradient map, or a list of
   * `{name, tensor}`; a missing gradient skips its variable, as in tfjs). Gradients are not disposed.
   * @throws SwinInputError if a name is no registered variable or a gradient's shape differs from it
   */
  applyGradients(variableGradients: tf.NamedTensorMap | NamedTensor[]): void {
    const list = Array.isArray(variableGradients)
      ? variableGradients.map((v) => ({ name: v.name, grad: v.tensor as tf.Tensor | undefined }))
      : Object.keys(variableGradients).map((name) => ({ name, grad: variableGradients[name] }));
    const registered = tf.engine().registeredVariables;
    // validate before running anything (no half-applied step)
    for (const [i, { name, grad }] of list.entries()) {
      const value = registered[name];
      if (!value) throw new SwinInputError(`Adam: '${name}' is not a registered variable`);
      const moment = this.firstMoments[i]?.tensor;
      if (moment && !tf.util.arraysEqual(moment.shape, value.shape)) {
        throw new SwinInputError(
          `Adam: variable #${i} '${name}' has shape [${value.shape}] but the moments at that position are ` +
            `[${moment.shape}] (moments are kept by position, as in tfjs: use one optimizer per variable list)`,
        );
      }
      if (grad != null && !tf.util.arraysEqual(grad.shape, value.shape)) {
        throw new SwinInputError(
          `Adam: gradient of '${name}' has shape [${grad.shape}], the variable [${value.shape}]`,
        );
      }
    }
    const kernel = this.usesKernel();
    const c1 = Math.fround(1 - this.accBeta1);
    const c2 = Math.fround(1 - this.accBeta2);
    const attrs: AdamAttrs = {
      lr: this.learningRate,
      beta1: this.beta1,
      beta2: this.beta2,
      eps: this.epsilon,
      c1,
      c2,
    };
    tf.tidy(() => {
      const oneMinusAccBeta1 = tf.scalar(c1);
      const oneMinusAccBeta2 = tf.scalar(c2);
      list.forEach(({ name, grad }, i) => {
        const value = registered[name];
        if (this.firstMoments[i] == null) {
          this.firstMoments[i] = {
            name: `${name}/m`,
            tensor: tf.tidy(() => tf.zerosLike(value).variable(false)),
          };
        }
        if (this.secondMoments[i] == null) {
          this.secondMoments[i] = {
            name: `${name}/v`,
            tensor: tf.tidy(() => tf.zerosLike(value).variable(false)),
          };
        }
        if (grad == null) return;
        const m = this.firstMoments[i].tensor as tf.Variable;
        const v = this.secondMoments[i].tensor as tf.Variable;
        if (kernel && value.dtype === 'float32' && grad.dtype === 'float32' && value.size > 0) {
          const [p2, m2, v2] = adamKernel(value, grad, m, v, attrs);
          m.assign(m2);
          v.assign(v2);
          value.assign(p2);
          return;
        }
        // tfjs's AdamOptimizer.applyGradients, op for op
        const newM = tf.add(tf.mul(m, this.beta1), tf.mul(grad, 1 - this.beta1));
        const newV = tf.add(tf.mul(v, this.beta2), tf.mul(tf.square(grad), 1 - this.beta2));
        const mHat = tf.div(newM, oneMinusAccBeta1);
        const vHat = tf.div(newV, oneMinusAccBeta2);
        m.assign(newM);
        v.assign(newV);
        value.assign(
          tf.add(tf.mul(tf.div(mHat, tf.add(tf.sqrt(vHat), this.epsilon)), -this.learningRate), value),
        );
      });
    });
    // tfjs: accBeta.assign(mul(accBeta, beta)) in float32
    this.accBeta1 = Math.fround(this.accBeta1 * Math.fround(this.beta1));
    this.accBeta2 = Math.fround(this.accBeta2 * Math.fround(this.beta2));
    this.incrementIterations();
  }

  /** Disposes the moment variables (and the iteration counter). */
  override dispose(): void {
    super.dispose();
    tf.dispose([...this.firstMoments, ...this.secondMoments].map((v) => v.tensor));
    this.firstMoments = [];
    this.secondMoments = [];
  }

  /** `[iterations, ...first moments, ...second moments]`, named `iter`, `<variable>/m`, `<variable>/v` as in tfjs. */
  override async getWeights(): Promise<NamedTensor[]> {
    return [await this.saveIterations(), ...this.firstMoments, ...this.secondMoments];
  }

  /** Restores what {@link getWeights} returned (bias corrections recomputed from the iteration count). */
  override async setWeights(weightValues: NamedTensor[]): Promise<void> {
    const rest = await this.extractIterations(weightValues);
    // tfjs: pow(beta, iterations + 1) in float32
    this.accBeta1 = Math.fround(this.beta1 ** (this.iterations + 1));
    this.accBeta2 = Math.fround(this.beta2 ** (this.iterations + 1));
    const n = rest.length / 2;
    const old = [...this.firstMoments, ...this.secondMoments].map((v) => v.tensor);
    this.firstMoments = rest.slice(0, n).map((w) => ({ name: w.name, tensor: w.tensor.variable(false) }));
    this.secondMoments = rest
      .slice(n, 2 * n)
      .map((w) => ({ name: w.name, tensor: w.tensor.variable(false) }));
    tf.dispose(old); // after: the new variables may share data with the old ones
  }

  getConfig(): tf.serialization.ConfigDict {
    return {
      learningRate: this.learningRate,
      beta1: this.beta1,
      beta2: this.beta2,
      epsilon: this.epsilon,
    };
  }
}

/**
 * Like `tf.train.adam(learningRate, beta1, beta2, epsilon)` (same defaults), running one fused kernel per
 * variable where `@swin/wasm` (or anyone) registered {@link SWIN_ADAM} for the active backend. See {@link Adam}.
 *
 * @example
 * const opt = adam(1e-4);
 * opt.minimize(() => loss(model.forward(x)), false, model.trainableVariables());
 * opt.dispose();
 */
export function adam(
  learningRate = 0.001,
  beta1 = 0.9,
  beta2 = 0.999,
  epsilon: number | null = null,
  opts: { impl?: FusedImpl } = {},
): Adam {
  return new Adam(learningRate, beta1, beta2, epsilon, opts);
}
