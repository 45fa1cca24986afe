import { NODE_BACKENDS, tf, useBackend } from '@swin/testing';
import fc from 'fast-check';
import { beforeAll, describe, expect, it } from 'vitest';
import {
  cropTo,
  cyclicShift,
  invertPermutation,
  padToWindow,
  shiftedWindowPartition,
  shiftedWindowReverse,
  windowPartition,
  windowPermutation,
  windowReverse,
} from './index.js';
import {
  distinctMap,
  expectBitEqual,
  type Map4,
  refPad,
  refPartition,
  refReverse,
  refRoll,
} from './test-utils/helpers.js';

const RUNS = 40;

/** A feature map that tiles into windows: H = wh*gh, W = ww*gw. */
const geometry = fc.record({
  B: fc.integer({ min: 1, max: 3 }),
  C: fc.integer({ min: 1, max: 3 }),
  wh: fc.integer({ min: 1, max: 4 }),
  ww: fc.integer({ min: 1, max: 4 }),
  gh: fc.integer({ min: 1, max: 4 }),
  gw: fc.integer({ min: 1, max: 4 }),
  seed: fc.integer({ min: 0, max: 1000 }),
});
type Geometry = { B: number; C: number; wh: number; ww: number; gh: number; gw: number; seed: number };
const dims = (g: Geometry) => ({ H: g.wh * g.gh, W: g.ww * g.gw });
/** Shifts of either sign, up to three periods. */
const shiftPair = fc.tuple(fc.integer({ min: -40, max: 40 }), fc.integer({ min: -40, max: 40 }));

const toTensor = (m: Map4) => tf.tensor4d(m.data, m.shape);
/** Window argument in both accepted spellings. */
const windowArg = (wh: number, ww: number) =>
  wh === ww && wh % 2 === 0 ? wh : ([wh, ww] as [number, number]);

/** Reads and disposes `t`. */
function read(t: tf.Tensor): Map4 {
  const out = { shape: t.shape as Map4['shape'], data: Float32Array.from(t.dataSync()) };
  t.dispose();
  return out;
}

describe.each(NODE_BACKENDS)('window-ops properties on %s', (backend) => {
  beforeAll(async () => {
    await useBackend(backend);
  });

  it('windowPartition matches the loop reference and windowReverse inverts it', () => {
    fc.assert(
      fc.property(geometry, (g) => {
        const { H, W } = dims(g);
        const ref = distinctMap([g.B, H, W, g.C], g.seed);
        const x = toTensor(ref);
        const windows = windowPartition(x, windowArg(g.wh, g.ww));
        expectBitEqual(read(tf.clone(windows)), refPartition(ref, g.wh, g.ww), 'partition');
        expectBitEqual(read(windowReverse(windows, windowArg(g.wh, g.ww), H, W)), ref, 'reverse(partition)');
        tf.dispose([x, windows]);
      }),
      { numRuns: RUNS },
    );
  });

  it('windowReverse matches the loop reference and windowPartition inverts it', () => {
    fc.assert(
      fc.property(geometry, (g) => {
        const { H, W } = dims(g);
        const ref = distinctMap([g.B * g.gh * g.gw, g.wh, g.ww, g.C], g.seed);
        const w = toTensor(ref);
        const map = windowReverse(w, [g.wh, g.ww], H, W);
        expectBitEqual(read(tf.clone(map)), refReverse(ref, g.wh, g.ww, H, W), 'reverse');
        expectBitEqual(read(windowPartition(map, [g.wh, g.ww])), ref, 'partition(reverse)');
        tf.dispose([w, map]);
      }),
      { numRuns: RUNS },
    );
  });

  it('cyclicShift equals torch.roll semantics, is undone by the opposite shift and composes additively', () => {
    fc.assert(
      fc.property(geometry, shiftPair, shiftPair, (g, [dh, dw], [eh, ew]) => {
        const { H, W } = dims(g);
        const ref = distinctMap([g.B, H, W, g.C], g.seed);
        const x = toTensor(ref);
        const y = cyclicShift(x, [dh, dw]);
        expectBitEqual(read(tf.clone(y)), refRoll(ref, dh, dw), `roll (${dh}, ${dw})`);
        expectBitEqual(read(cyclicShift(y, [-dh, -dw])), ref, 'roll back');
        const z = cyclicShift(y, [eh, ew]);
        expectBitEqual(read(z), refRoll(ref, dh + eh, dw + ew), 'additive');
        if (dh === dw) expectBitEqual(read(cyclicShift(x, dh)), refRoll(ref, dh, dh), 'scalar shift');
        tf.dispose([x, y]);
      }),
      { numRuns: RUNS },
    );
  });

  it.each(['gather', 'roll', 'auto'] as const)(
    'shiftedWindowPartition (%s) is bit-equal to roll then partition',
    (method) => {
      fc.assert(
        fc.property(geometry, shiftPair, (g, [sh, sw]) => {
          const { H, W } = dims(g);
          const ref = distinctMap([g.B, H, W, g.C], g.seed);
          const x = toTensor(ref);
          const fused = read(shiftedWindowPartition(x, windowArg(g.wh, g.ww), [sh, sw], { method }));
          const unfused = windowPartition(cyclicShift(x, [-sh, -sw]), [g.wh, g.ww]);
          expectBitEqual(fused, read(unfused), 'fused vs unfused');
          expectBitEqual(fused, refPartition(refRoll(ref, -sh, -sw), g.wh, g.ww), 'fused vs loops');
          x.dispose();
        }),
        { numRuns: RUNS },
      );
    },
  );

  it.each(['gather', 'roll', 'auto'] as const)(
    'shiftedWindowReverse (%s) is bit-equal to reverse then roll back',
    (method) => {
      fc.assert(
        fc.property(geometry, shiftPair, (g, [sh, sw]) => {
          const { H, W } = dims(g);
          const ref = distinctMap([g.B * g.gh * g.gw, g.wh, g.ww, g.C], g.seed);
          const w = toTensor(ref);
          const fused = read(shiftedWindowReverse(w, windowArg(g.wh, g.ww), [sh, sw], H, W, { method }));
          const unfused = cyclicShift(windowReverse(w, [g.wh, g.ww], H, W), [sh, sw]);
          expectBitEqual(fused, read(unfused), 'fused vs unfused');
          expectBitEqual(fused, refRoll(refReverse(ref, g.wh, g.ww, H, W), sh, sw), 'fused vs loops');
          w.dispose();
        }),
        { numRuns: RUNS },
      );
    },
  );

  it('shiftedWindowReverse inverts shiftedWindowPartition (scalar shift, as Swin blocks use it)', () => {
    fc.assert(
      fc.property(geometry, fc.integer({ min: 0, max: 3 }), (g, s) => {
        const { H, W } = dims(g);
        const ref = distinctMap([g.B, H, W, g.C], g.seed);
        const x = toTensor(ref);
        const windows = shiftedWindowPartition(x, [g.wh, g.ww], s);
        expect(windows.shape).toEqual([g.B * g.gh * g.gw, g.wh, g.ww, g.C]);
        expectBitEqual(read(shiftedWindowReverse(windows, [g.wh, g.ww], s, H, W)), ref, 'round trip');
        tf.dispose([x, windows]);
      }),
      { numRuns: RUNS },
    );
  });

  it('the fused ops move int32 and bool data the same way', () => {
    fc.assert(
      fc.property(geometry, shiftPair, (g, [sh, sw]) => {
        const { H, W } = dims(g);
        const ref = distinctMap([g.B, H, W, g.C], g.seed);
        const ints = tf.tensor4d(
          Int32Array.from(ref.data, (v) => Math.floor(v)),
          ref.shape,
          'int32',
        );
        const fused = shiftedWindowPartition(ints, [g.wh, g.ww], [sh, sw]);
        expect(fused.dtype).toBe('int32');
        const unfused = windowPartition(cyclicShift(ints, [-sh, -sw]), [g.wh, g.ww]);
        expect(Array.from(fused.dataSync())).toEqual(Array.from(unfused.dataSync()));
        const back = shiftedWindowReverse(fused, [g.wh, g.ww], [sh, sw], H, W);
        expect(Array.from(back.dataSync())).toEqual(Array.from(ints.dataSync()));
        const bools = tf.greater(ints, 0);
        const fb = shiftedWindowPartition(bools as tf.Tensor4D, [g.wh, g.ww], [sh, sw]);
        const ub = windowPartition(cyclicShift(bools as tf.Tensor4D, [-sh, -sw]), [g.wh, g.ww]);
        expect(fb.dtype).toBe('bool');
        expect(Array.from(fb.dataSync())).toEqual(Array.from(ub.dataSync()));
        tf.dispose([ints, fused, unfused, back, bools, fb, ub]);
      }),
      { numRuns: 15 },
    );
  });

  it('padToWindow pads bottom/right with zeros to a multiple of the window; cropTo undoes it', () => {
    const anyMap = fc.record({
      B: fc.integer({ min: 1, max: 2 }),
      H: fc.integer({ min: 1, max: 11 }),
      W: fc.integer({ min: 1, max: 11 }),
      C: fc.integer({ min: 1, max: 3 }),
      wh: fc.integer({ min: 1, max: 7 }),
      ww: fc.integer({ min: 1, max: 7 }),
      seed: fc.integer({ min: 0, max: 1000 }),
    });
    fc.assert(
      fc.property(anyMap, (m) => {
        const ref = distinctMap([m.B, m.H, m.W, m.C], m.seed);
        const x = toTensor(ref);
        const { padded, padH, padW, H, W } = padToWindow(x, [m.wh, m.ww]);
        expect([H, W]).toEqual([m.H, m.W]);
        expect(padH).toBe(Math.ceil(m.H / m.wh) * m.wh - m.H);
        expect(padW).toBe(Math.ceil(m.W / m.ww) * m.ww - m.W);
        expect(padH).toBeLessThan(m.wh);
        expect(padW).toBeLessThan(m.ww);
        expect(padded).not.toBe(x);
        expectBitEqual(read(tf.clone(padded)), refPad(ref, padH, padW), 'padded');
        // The padded map is now partitionable, and the round trip through windows and cropTo is exact.
        const windows = windowPartition(padded, [m.wh, m.ww]);
        const back = windowReverse(windows, [m.wh, m.ww], m.H + padH, m.W + padW);
        expectBitEqual(read(cropTo(back, H, W)), ref, 'cropTo(reverse(partition(pad)))');
        tf.dispose([x, padded, windows, back]);
      }),
      { numRuns: RUNS },
    );
  });

  it('cropTo keeps the top-left corner', () => {
    const ref = distinctMap([2, 5, 6, 3], 7);
    const x = toTensor(ref);
    const out = read(cropTo(x, 3, 4));
    expect(out.shape).toEqual([2, 3, 4, 3]);
    for (let b = 0; b < 2; b++)
      for (let h = 0; h < 3; h++)
        for (let w = 0; w < 4; w++)
          for (let c = 0; c < 3; c++)
            expect(out.data[((b * 3 + h) * 4 + w) * 3 + c]).toBe(ref.data[((b * 5 + h) * 6 + w) * 3 + c]);
    x.dispose();
  });
});

describe('windowPermutation / invertPermutation', () => {
  it('is a permutation whose gather equals roll then partition, and invertPermutation inverts it', () => {
    fc.assert(
      fc.property(geometry, shiftPair, (g, [sh, sw]) => {
        const { H, W } = dims(g);
        const perm = windowPermutation(H, W, [g.wh, g.ww], [sh, sw]);
        expect(perm).toBeInstanceOf(Int32Array);
        expect([...perm].sort((a, b) => a - b)).toEqual(Array.from({ length: H * W }, (_, i) => i));
        // Gathering a one-channel map of token ids reproduces the loop reference of roll + partition.
        const ids: Map4 = { shape: [1, H, W, 1], data: Float32Array.from({ length: H * W }, (_, i) => i) };
        expect(Array.from(perm)).toEqual(Array.from(refPartition(refRoll(ids, -sh, -sw), g.wh, g.ww).data));
        const inv = invertPermutation(perm);
        for (let j = 0; j < perm.length; j++) expect(inv[perm[j]]).toBe(j);
      }),
      { numRuns: RUNS },
    );
  });

  it('defaults to no shift and returns a fresh array each call', () => {
    const a = windowPermutation(4, 6, 2);
    const b = windowPermutation(4, 6, 2, 0);
    expect(a).not.toBe(b);
    expect(Array.from(a)).toEqual(Array.from(b));
    expect(Array.from(a.subarray(0, 8))).toEqual([0, 1, 6, 7, 2, 3, 8, 9]);
  });

  it('invertPermutation rejects non-permutations', () => {
    expect(() => invertPermutation([0, 0, 1])).toThrow(
      /invertPermutation: perm is not a permutation of 0..2: entry 1 is 0/,
    );
    expect(() => invertPermutation([0, 3, 1])).toThrow(/entry 1 is 3/);
  });
});
