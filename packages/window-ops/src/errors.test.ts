import { tf, useBackend } from '@swin/testing';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
  cropTo,
  cyclicShift,
  padToWindow,
  setWindowOpsCacheCapacity,
  shiftedWindowPartition,
  shiftedWindowReverse,
  windowPartition,
  windowPermutation,
  windowReverse,
} from './index.js';

// Validation runs before any tensor work, so one backend suffices. Arguments are passed through
// `any` to reach the runtime checks that TypeScript would otherwise prevent.
// biome-ignore lint/suspicious/noExplicitAny: deliberately ill-typed calls
type Any = any;

describe('errors name the function, the offending values and what was expected', () => {
  let x: tf.Tensor4D;
  let w: tf.Tensor4D;
  const live: tf.Tensor[] = [];
  const make = <T extends tf.Tensor>(t: T): T => {
    live.push(t);
    return t;
  };
  beforeAll(async () => {
    await useBackend('cpu');
    x = make(tf.zeros([2, 14, 21, 3]) as tf.Tensor4D);
    w = make(tf.zeros([12, 7, 7, 3]) as tf.Tensor4D); // 2 maps of 14x21 in 7x7 windows
  });
  afterAll(() => tf.dispose(live));

  describe('non-4-D or unsupported input', () => {
    const ops: Array<[string, (t: Any) => unknown]> = [
      ['windowPartition', (t) => windowPartition(t, 7)],
      ['windowReverse', (t) => windowReverse(t, 7, 14, 21)],
      ['cyclicShift', (t) => cyclicShift(t, [1, 1])],
      ['padToWindow', (t) => padToWindow(t, 7)],
      ['cropTo', (t) => cropTo(t, 1, 1)],
      ['shiftedWindowPartition', (t) => shiftedWindowPartition(t, 7, 3)],
      ['shiftedWindowReverse', (t) => shiftedWindowReverse(t, 7, 3, 14, 21)],
    ];
    it.each(ops)('%s rejects rank 3 and rank 5', (name, op) => {
      expect(() => op(make(tf.zeros([14, 21, 3])))).toThrow(
        new RegExp(`^${name}: \\w+ must be 4-D \\[.*\\], got rank 3 with shape \\[14, 21, 3\\]$`),
      );
      expect(() => op(make(tf.zeros([1, 1, 14, 21, 3])))).toThrow(
        /got rank 5 with shape \[1, 1, 14, 21, 3\]/,
      );
    });
    it.each(ops)(
      '%s rejects non-tensors, zero-size axes, disposed tensors and string/complex dtypes',
      (name, op) => {
        expect(() => op(null)).toThrow(
          new RegExp(`^${name}: \\w+ must be a tf.Tensor of shape .*, got null$`),
        );
        expect(() => op([[[[1]]]])).toThrow(/must be a tf.Tensor of shape .*, got \[\[\[\[1\]\]\]\]/);
        expect(() => op(make(tf.zeros([0, 14, 21, 3])))).toThrow(
          /has a zero-size axis: shape \[0, 14, 21, 3\]/,
        );
        const disposed = tf.zeros([1, 14, 21, 3]);
        disposed.dispose();
        expect(() => op(disposed)).toThrow(new RegExp(`^${name}: \\w+ has already been disposed$`));
        expect(() => op(make(tf.fill([1, 14, 21, 1], 'a', 'string')))).toThrow(
          /has dtype 'string'; expected one of float32, int32, bool/,
        );
        expect(() => op(make(tf.complex(tf.zeros([1, 14, 21, 1]), tf.zeros([1, 14, 21, 1]))))).toThrow(
          /has dtype 'complex64'/,
        );
      },
    );
  });

  describe('bad windows', () => {
    const ops: Array<[string, (win: Any) => unknown]> = [
      ['windowPartition', (win) => windowPartition(x, win)],
      ['windowReverse', (win) => windowReverse(w, win, 14, 21)],
      ['padToWindow', (win) => padToWindow(x, win)],
      ['shiftedWindowPartition', (win) => shiftedWindowPartition(x, win, 3)],
      ['shiftedWindowReverse', (win) => shiftedWindowReverse(w, win, 3, 14, 21)],
      ['windowPermutation', (win) => windowPermutation(14, 21, win, 3)],
    ];
    it.each(ops)('%s rejects zero, negative, fractional and non-number windows', (name, op) => {
      expect(() => op(0)).toThrow(new RegExp(`^${name}: window must be a positive integer, got 0$`));
      expect(() => op(-7)).toThrow(/window must be a positive integer, got -7/);
      expect(() => op(3.5)).toThrow(/window must be a positive integer, got 3.5/);
      expect(() => op(Number.NaN)).toThrow(/window must be a positive integer, got NaN/);
      expect(() => op([7, 0])).toThrow(/window\[1\] must be a positive integer, got 0/);
      expect(() => op([2.5, 7])).toThrow(/window\[0\] must be a positive integer, got 2.5/);
      expect(() => op('7')).toThrow(/window must be a number or a pair \[height, width\], got "7"/);
      expect(() => op([7])).toThrow(/window must be a number or a pair \[height, width\], got \[7\]/);
      expect(() => op([7, 7, 7])).toThrow(/got \[7, 7, 7\]/);
      expect(() => op(undefined)).toThrow(/got undefined/);
    });
  });

  describe('maps that do not tile into windows', () => {
    it('windowPartition: H or W not a multiple of the window points to padToWindow', () => {
      expect(() => windowPartition(x, 4)).toThrow(
        /^windowPartition: H=14 is not a multiple of window height 4 \(pad with padToWindow first\)$/,
      );
      expect(() => windowPartition(x, [7, 4])).toThrow(
        /^windowPartition: W=21 is not a multiple of window width 4 \(pad with padToWindow first\)$/,
      );
    });
    it('window larger than the map', () => {
      expect(() => windowPartition(x, 28)).toThrow(
        /^windowPartition: window 28x28 is larger than the 14x21 feature map \(clamp the window to the map size, or pad with padToWindow first\)$/,
      );
      expect(() => shiftedWindowPartition(x, [7, 42], 0)).toThrow(
        /window 7x42 is larger than the 14x21 feature map/,
      );
      expect(() => windowReverse(w, 7, 7, 3)).toThrow(
        /^windowReverse: window 7x7 is larger than the 7x3 feature map/,
      );
      expect(() => windowPermutation(4, 4, 8)).toThrow(
        /^windowPermutation: window 8x8 is larger than the 4x4/,
      );
    });
    it('shiftedWindowPartition and windowPermutation check divisibility too', () => {
      expect(() => shiftedWindowPartition(x, 5, 2)).toThrow(
        /^shiftedWindowPartition: H=14 is not a multiple of window height 5/,
      );
      expect(() => windowPermutation(14, 20, 7)).toThrow(
        /^windowPermutation: W=20 is not a multiple of window width 7/,
      );
    });
  });

  describe('windowReverse / shiftedWindowReverse shape mismatches', () => {
    const ops: Array<[string, (win: Any, wins: tf.Tensor4D, H: Any, W: Any) => unknown]> = [
      ['windowReverse', (win, wins, H, W) => windowReverse(wins, win, H, W)],
      ['shiftedWindowReverse', (win, wins, H, W) => shiftedWindowReverse(wins, win, 3, H, W)],
    ];
    it.each(ops)('%s: window count not a multiple of B*nW', (name, op) => {
      const bad = make(tf.zeros([7, 7, 7, 3]) as tf.Tensor4D);
      expect(() => op(7, bad, 14, 21)).toThrow(
        new RegExp(
          `^${name}: got 7 windows, which is not a multiple of nW=6 windows per 14x21 map \\(2x3 grid of 7x7 windows\\); expected B\\*6$`,
        ),
      );
    });
    it.each(ops)('%s: window shape does not match the windows', (name, op) => {
      expect(() => op([7, 3], w, 14, 21)).toThrow(
        new RegExp(
          `^${name}: windows have shape \\[12, 7, 7, 3\\], whose 7x7 window does not match window 7x3$`,
        ),
      );
    });
    it.each(ops)('%s: bad H and W', (name, op) => {
      expect(() => op(7, w, 0, 21)).toThrow(new RegExp(`^${name}: H must be a positive integer, got 0$`));
      expect(() => op(7, w, 14, -21)).toThrow(/W must be a positive integer, got -21/);
      expect(() => op(7, w, 14.5, 21)).toThrow(/H must be a positive integer, got 14.5/);
      expect(() => op(7, w, '14', 21)).toThrow(/H must be a positive integer, got "14"/);
      expect(() => op(7, w, 15, 21)).toThrow(
        /H=15 is not a multiple of window height 7 \(pad with padToWindow first\)/,
      );
    });
  });

  describe('bad shifts', () => {
    const ops: Array<[string, (s: Any) => unknown]> = [
      ['cyclicShift', (s) => cyclicShift(x, s)],
      ['shiftedWindowPartition', (s) => shiftedWindowPartition(x, 7, s)],
      ['shiftedWindowReverse', (s) => shiftedWindowReverse(w, 7, s, 14, 21)],
      ['windowPermutation', (s) => windowPermutation(14, 21, 7, s)],
    ];
    it.each(ops)('%s rejects non-integer shifts', (name, op) => {
      expect(() => op(1.5)).toThrow(new RegExp(`^${name}: shift must be an integer, got 1.5$`));
      expect(() => op([1, Number.POSITIVE_INFINITY])).toThrow(/shift\[1\] must be an integer, got Infinity/);
      expect(() => op([Number.NaN, 1])).toThrow(/shift\[0\] must be an integer, got NaN/);
      expect(() => op([1])).toThrow(/shift must be a number or a pair \[height, width\], got \[1\]/);
      expect(() => op('3')).toThrow(/got "3"/);
    });
  });

  describe('options', () => {
    it('rejects an unknown method', () => {
      expect(() => shiftedWindowPartition(x, 7, 3, { method: 'scatter' as Any })).toThrow(
        /^shiftedWindowPartition: options.method must be 'gather', 'roll' or 'auto', got "scatter"$/,
      );
      expect(() => shiftedWindowReverse(w, 7, 3, 14, 21, { method: 1 as Any })).toThrow(/got 1$/);
    });
    it('setWindowOpsCacheCapacity rejects non-positive capacities', () => {
      expect(() => setWindowOpsCacheCapacity(0)).toThrow(
        /^setWindowOpsCacheCapacity: n must be a positive integer, got 0$/,
      );
      expect(() => setWindowOpsCacheCapacity(2.5)).toThrow(/got 2.5/);
    });
  });

  describe('cropTo', () => {
    it('rejects crops larger than the map and bad sizes', () => {
      expect(() => cropTo(x, 15, 21)).toThrow(
        /^cropTo: cannot crop a 14x21 map to 15x21 \(the crop must not be larger than the map\)$/,
      );
      expect(() => cropTo(x, 14, 22)).toThrow(/cannot crop a 14x21 map to 14x22/);
      expect(() => cropTo(x, 0, 1)).toThrow(/^cropTo: H must be a positive integer, got 0$/);
      expect(() => cropTo(x, 1, 1.5)).toThrow(/^cropTo: W must be a positive integer, got 1.5$/);
    });
  });

  describe('windowPermutation sizes', () => {
    it('rejects non-positive or fractional H and W', () => {
      expect(() => windowPermutation(0, 4, 2)).toThrow(
        /^windowPermutation: H must be a positive integer, got 0$/,
      );
      expect(() => windowPermutation(4, 4.5, 2)).toThrow(
        /^windowPermutation: W must be a positive integer, got 4.5$/,
      );
    });
  });
});
