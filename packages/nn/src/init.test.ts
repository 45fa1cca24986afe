import { tf, useBackend } from '@swin/testing';
import { describe, expect, it } from 'vitest';
import { kaimingUniform, nextInitSeed, normal, setInitSeed, truncNormal, withInitSeed } from './init.js';
import { Conv2d, LayerNorm, Linear } from './layers.js';
import { Module } from './module.js';

class Tiny extends Module {
  readonly a = this.child('a', new Linear(8, 16));
  readonly n = this.child('n', new LayerNorm(16));
  readonly c = this.child('c', new Conv2d(3, 4, 3));
  forward() {}
}

function weights(m: Module): number[][] {
  return m.namedParameters().map(([, v]) => Array.from(v.dataSync()));
}

function build(seed: number): number[][] {
  const m = withInitSeed(seed, () => new Tiny());
  const w = weights(m);
  m.dispose();
  return w;
}

describe('seeded initialisation', () => {
  useBackend('cpu');
  it('the same seed gives bit-identical weights, a different seed different ones', () => {
    const a = build(3);
    const b = build(3);
    const c = build(4);
    expect(a).toEqual(b);
    expect(a[0]).not.toEqual(c[0]);
    expect(a[4]).not.toEqual(c[4]); // conv weight (kaiming uniform)
  });

  it('each initialiser is seeded: truncNormal, normal, kaimingUniform', () => {
    for (const init of [truncNormal(0.02), normal(1), kaimingUniform(9)]) {
      const x = withInitSeed(11, () => init([64]));
      const y = withInitSeed(11, () => init([64]));
      expect(Array.from(x.dataSync())).toEqual(Array.from(y.dataSync()));
      tf.dispose([x, y]);
    }
  });

  it('unseeded initialisation still varies and withInitSeed restores the previous state', () => {
    expect(nextInitSeed()).toBeUndefined();
    const x = truncNormal(1)([32]);
    const y = truncNormal(1)([32]);
    expect(Array.from(x.dataSync())).not.toEqual(Array.from(y.dataSync()));
    tf.dispose([x, y]);
    setInitSeed(5);
    const first = nextInitSeed();
    withInitSeed(6, () => nextInitSeed());
    const second = nextInitSeed();
    setInitSeed(5);
    expect(nextInitSeed()).toBe(first);
    expect(nextInitSeed()).toBe(second);
    setInitSeed(null);
    expect(nextInitSeed()).toBeUndefined();
  });

  it('restores the state when fn throws, and rejects bad seeds and async functions', () => {
    expect(() =>
      withInitSeed(1, () => {
        throw new Error('boom');
      }),
    ).toThrow('boom');
    expect(nextInitSeed()).toBeUndefined();
    expect(() => setInitSeed(-1)).toThrow(/non-negative safe integer/);
    expect(() => setInitSeed(1.5)).toThrow(/non-negative safe integer/);
    expect(() => withInitSeed(Number.NaN, () => 0)).toThrow(/withInitSeed: seed/);
    expect(() => withInitSeed(1, async () => 0)).toThrow(/synchronous/);
    expect(nextInitSeed()).toBeUndefined();
  });
});
