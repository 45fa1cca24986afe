import { expectNoLeak, NODE_BACKENDS, tf, useBackend } from '@swin/testing';
import { describe, expect, it } from 'vitest';
import { BatchNorm2d, Conv2d, DepthwiseConv2d, LayerNorm, Linear, Mlp } from './layers.js';
import { Module, ModuleList, StateDictError } from './module.js';

class Toy extends Module {
  readonly proj = this.child('proj', new Linear(4, 3));
  readonly norm = this.child('norm', new LayerNorm(3, 1e-6));
  readonly convs = this.child(
    'convs',
    new ModuleList([new Conv2d(3, 2, 2, { stride: 2 }), new DepthwiseConv2d(2)]),
  );
  readonly bn = this.child('bn', new BatchNorm2d(2));
  readonly table = this.param('table', [5, 2], (s) => tf.zeros(s));
  constructor() {
    super();
    this.buffer('index', { compute: () => tf.tensor1d([0, 1, 2], 'int32') });
  }
}

const KEYS = [
  'table',
  'proj.weight',
  'proj.bias',
  'norm.weight',
  'norm.bias',
  'convs.0.weight',
  'convs.0.bias',
  'convs.1.weight',
  'convs.1.bias',
  'bn.weight',
  'bn.bias',
  'bn.running_mean',
  'bn.running_var',
];

describe.each(NODE_BACKENDS)('Module on %s', (backend) => {
  it('names parameters with PyTorch keys and converts layouts both ways', async () => {
    await useBackend(backend);
    const m = new Toy();
    expect(m.namedParameters().map(([k]) => k)).toEqual(KEYS);
    const sd = m.stateDict();
    expect(Object.keys(sd).sort()).toEqual([...KEYS, 'index', 'bn.num_batches_tracked'].sort());
    expect(sd['proj.weight'].shape).toEqual([3, 4]); // torch [out, in]
    expect(m.proj.weight.shape).toEqual([4, 3]); // internal [in, out]
    expect(sd['convs.0.weight'].shape).toEqual([2, 3, 2, 2]); // OIHW
    expect(m.convs.at(0).weight.shape).toEqual([2, 2, 3, 2]); // HWIO
    expect(sd['convs.1.weight'].shape).toEqual([2, 1, 3, 3]);
    // A second model loads the first one's state dict and computes the same thing.
    const m2 = new Toy();
    const report = m2.loadStateDict(sd);
    expect(report.loaded).toBe(KEYS.length);
    const w1 = m.proj.weight.dataSync();
    const w2 = m2.proj.weight.dataSync();
    expect(Array.from(w2)).toEqual(Array.from(w1));
    const sd2 = m2.stateDict();
    for (const k of Object.keys(sd))
      expect(Array.from(sd2[k].dataSync())).toEqual(Array.from(sd[k].dataSync()));
    tf.dispose([...Object.values(sd), ...Object.values(sd2)]);
    m.dispose();
    m2.dispose();
  });

  it('strict loading reports missing, unexpected, mismatched keys and wrong buffers together', async () => {
    await useBackend(backend);
    const m = new Toy();
    const sd = m.stateDict();
    const bad: Record<string, tf.Tensor> = { ...sd };
    delete bad['norm.bias'];
    bad['extra.weight'] = tf.zeros([1]);
    bad['proj.weight'] = tf.zeros([4, 3]);
    bad['index'] = tf.tensor1d([0, 2, 1], 'int32');
    let err: unknown;
    try {
      m.loadStateDict(bad);
    } catch (e) {
      err = e;
    }
    expect(err).toBeInstanceOf(StateDictError);
    const msg = (err as Error).message;
    expect(msg).toMatch(/missing keys \(1\): norm\.bias/);
    expect(msg).toMatch(/unexpected keys \(1\): extra\.weight/);
    expect(msg).toMatch(/proj\.weight expected \[3,4\] got \[4,3\]/);
    expect(msg).toMatch(/index: element 1 is 2 but computed 1/);
    const report = m.loadStateDict(bad, { strict: false });
    expect(report.missing).toEqual(['norm.bias']);
    expect(report.loaded).toBe(KEYS.length - 2);
    tf.dispose([...Object.values(sd), bad['extra.weight'], bad['proj.weight'], bad['index']]);
    m.dispose();
  });

  it('layers leak nothing and train/eval propagates', async () => {
    await useBackend(backend);
    const mlp = new Mlp(4, 8, 4, 0.5);
    const x = tf.randomNormal([2, 3, 4]);
    await expectNoLeak(() => mlp.forward(x), 'Mlp.forward');
    const y1 = mlp.forward(x);
    const y2 = mlp.forward(x);
    expect(Array.from(y1.dataSync())).toEqual(Array.from(y2.dataSync()));
    mlp.train();
    expect(mlp.drop.training).toBe(true);
    await expectNoLeak(() => tf.grads((a: tf.Tensor) => tf.sum(mlp.forward(a)))([x]), 'Mlp backward');
    const bn = new BatchNorm2d(4);
    const img = tf.randomNormal([2, 3, 3, 4]) as tf.Tensor4D;
    await expectNoLeak(() => bn.forward(img), 'BatchNorm2d eval');
    bn.train();
    await expectNoLeak(() => bn.forward(img), 'BatchNorm2d train');
    expect(Math.abs(bn.runningMean.dataSync()[0])).toBeGreaterThan(0);
    tf.dispose([x, y1, y2, img]);
    mlp.dispose();
    bn.dispose();
  });

  it('gives clear errors for bad sizes', async () => {
    await useBackend(backend);
    expect(() => new Linear(0, 3)).toThrow(/inFeatures must be a positive integer, got 0/);
    const ln = new LayerNorm(8);
    expect(() => ln.forward(tf.zeros([2, 4]))).toThrow(/LayerNorm\(8\): input's last axis is 4/);
    ln.dispose();
  });
});

describe('Module.dispose', () => {
  it('reaches every descendant through its own dispose()', async () => {
    await useBackend('cpu');
    const released: string[] = [];
    class Cached extends Linear {
      override dispose(): void {
        released.push('cache');
        super.dispose();
      }
    }
    class Outer extends Module {
      readonly inner = this.child('inner', new ModuleList([new Cached(2, 2)]));
    }
    const before = tf.memory().numTensors;
    const m = new Outer();
    m.dispose();
    expect(released).toEqual(['cache']);
    expect(tf.memory().numTensors).toBe(before);
  });
});
