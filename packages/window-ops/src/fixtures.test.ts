import { type Fixture, loadFixture, NODE_BACKENDS, tf, useBackend } from '@swin/testing';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
  cyclicShift,
  shiftedWindowPartition,
  shiftedWindowReverse,
  windowPartition,
  windowPermutation,
  windowReverse,
} from './index.js';
import { expectBitEqual } from './test-utils/helpers.js';

// Golden outputs of the official window_partition / window_reverse / torch.roll (see the fixtures'
// `layouts` metadata); data movement must reproduce them bit for bit.
const FIXTURES = ['window_ops_b1_4x6_w2_s1', 'window_ops_b1_8x8_w4_s2', 'window_ops_b1_14x21_w7_s3'];

interface Config {
  B: number;
  H: number;
  W: number;
  C: number;
  window_size: number;
  shift_size: number;
  num_windows_per_image: number;
}

interface FixtureTensor {
  shape: number[];
  data: Float32Array;
}

/** A fixture tensor (input or expected output) read back as plain values. */
function fixtureTensor(f: Fixture, key: string): FixtureTensor {
  const t = f.inputs[key] ?? f.expected[key];
  if (!t) throw new Error(`fixture ${f.file} has no tensor '${key}'`);
  return { shape: t.shape, data: t.dataSync() as Float32Array };
}

const toTensor = (t: FixtureTensor) => tf.tensor4d(t.data, t.shape as [number, number, number, number]);

function check(actual: tf.Tensor, expected: FixtureTensor, label: string): void {
  try {
    expectBitEqual({ shape: actual.shape, data: actual.dataSync() }, expected, label);
  } finally {
    actual.dispose();
  }
}

describe.each(NODE_BACKENDS)('window_ops parity fixtures on %s', (backend) => {
  beforeAll(async () => {
    await useBackend(backend);
  });

  describe.each(FIXTURES)('%s', (name) => {
    let fx: Fixture;
    let cfg: Config;
    beforeAll(() => {
      fx = loadFixture(`${name}.safetensors`);
      cfg = fx.config as Config;
    });
    afterAll(() => fx.dispose());

    it('has the documented layout and config', () => {
      expect(fx.metadata['family']).toBe('window_ops');
      const layouts = JSON.parse(fx.metadata['layouts']) as Record<string, string>;
      expect(Object.keys(layouts).sort()).toEqual(
        [
          'input',
          'partition',
          'reverse',
          'reverse_input',
          'roll_neg',
          'roll_pos',
          'shifted_partition',
        ].sort(),
      );
      expect(fixtureTensor(fx, 'input').shape).toEqual([cfg.B, cfg.H, cfg.W, cfg.C]);
      expect(fixtureTensor(fx, 'partition').shape[0]).toBe(cfg.B * cfg.num_windows_per_image);
    });

    it('windowPartition(input) == partition', () => {
      const x = toTensor(fixtureTensor(fx, 'input'));
      check(windowPartition(x, cfg.window_size), fixtureTensor(fx, 'partition'), `${name} partition`);
      check(windowPartition(x, [cfg.window_size, cfg.window_size]), fixtureTensor(fx, 'partition'), 'pair');
      x.dispose();
    });

    it('windowReverse(reverse_input) == reverse', () => {
      const w = toTensor(fixtureTensor(fx, 'reverse_input'));
      check(windowReverse(w, cfg.window_size, cfg.H, cfg.W), fixtureTensor(fx, 'reverse'), `${name} reverse`);
      w.dispose();
    });

    it('cyclicShift(input, -s) == roll_neg and cyclicShift(input, +s) == roll_pos', () => {
      const x = toTensor(fixtureTensor(fx, 'input'));
      const s = cfg.shift_size;
      check(cyclicShift(x, [-s, -s]), fixtureTensor(fx, 'roll_neg'), `${name} roll_neg`);
      check(cyclicShift(x, [s, s]), fixtureTensor(fx, 'roll_pos'), `${name} roll_pos`);
      // torch.roll is periodic: shifting by s +/- k*size is the same.
      check(
        cyclicShift(x, [s - 3 * cfg.H, s + 2 * cfg.W]),
        fixtureTensor(fx, 'roll_pos'),
        'roll_pos mod size',
      );
      x.dispose();
    });

    it.each(['gather', 'roll', 'auto'] as const)(
      'shiftedWindowPartition (%s) == shifted_partition',
      (method) => {
        const x = toTensor(fixtureTensor(fx, 'input'));
        const out = shiftedWindowPartition(x, cfg.window_size, cfg.shift_size, { method });
        check(out, fixtureTensor(fx, 'shifted_partition'), `${name} shifted_partition (${method})`);
        x.dispose();
      },
    );

    it.each(['gather', 'roll', 'auto'] as const)('shiftedWindowReverse (%s) recovers input', (method) => {
      const w = toTensor(fixtureTensor(fx, 'shifted_partition'));
      const out = shiftedWindowReverse(w, cfg.window_size, cfg.shift_size, cfg.H, cfg.W, { method });
      check(out, fixtureTensor(fx, 'input'), `${name} shiftedWindowReverse(shifted_partition) (${method})`);
      w.dispose();
    });

    it('shiftedWindowReverse(partition(roll_pos)) with shift s == roll(roll_pos, +s)', () => {
      // window_reverse of the partition of roll_neg rolled back by +s gives the input (Swin block order).
      const rn = toTensor(fixtureTensor(fx, 'roll_neg'));
      const windows = windowPartition(rn, cfg.window_size);
      check(
        shiftedWindowReverse(windows, cfg.window_size, cfg.shift_size, cfg.H, cfg.W),
        fixtureTensor(fx, 'input'),
        'rev',
      );
      tf.dispose([rn, windows]);
    });

    it('windowPermutation gathers input tokens into shifted_partition', () => {
      const input = fixtureTensor(fx, 'input');
      const expected = fixtureTensor(fx, 'shifted_partition');
      const perm = windowPermutation(cfg.H, cfg.W, cfg.window_size, cfg.shift_size);
      const C = cfg.C;
      const out = new Float32Array(input.data.length);
      for (let b = 0; b < cfg.B; b++)
        for (let j = 0; j < perm.length; j++)
          for (let c = 0; c < C; c++)
            out[(b * perm.length + j) * C + c] = input.data[(b * perm.length + perm[j]) * C + c];
      expectBitEqual({ shape: expected.shape, data: out }, expected, `${name} windowPermutation`);
    });
  });
});
