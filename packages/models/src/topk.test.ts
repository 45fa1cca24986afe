import { NODE_BACKENDS, tf, useBackend } from '@swin/testing';
import { describe, expect, it } from 'vitest';
import { IMAGENET_1K_LABELS } from './imagenet-1k.js';
import { labelsFor, topK } from './topk.js';

describe('IMAGENET_1K_LABELS', () => {
  it('has the 1000 names in index order', () => {
    expect(IMAGENET_1K_LABELS).toHaveLength(1000);
    expect(IMAGENET_1K_LABELS[0]).toBe('tench');
    expect(IMAGENET_1K_LABELS[207]).toBe('golden retriever');
    expect(IMAGENET_1K_LABELS[281]).toBe('tabby');
    expect(IMAGENET_1K_LABELS[285]).toBe('Egyptian cat');
    expect(IMAGENET_1K_LABELS[999]).toBe('toilet tissue');
    expect(Object.isFrozen(IMAGENET_1K_LABELS)).toBe(true);
  });
});

describe.each(NODE_BACKENDS)('topK on %s', (backend) => {
  it('returns softmax probabilities of the best classes, best first, without leaks', async () => {
    await useBackend(backend);
    const raw = new Float32Array(2000);
    raw[281] = 5;
    raw[285] = 4;
    raw[1000 + 3] = 2;
    const logits = tf.tensor2d(raw, [2, 1000]);
    const before = tf.memory().numTensors;
    const out = topK(logits, 2);
    expect(tf.memory().numTensors).toBe(before);
    // reference softmax in float64
    const z = 998 + Math.exp(5) + Math.exp(4);
    expect(out[0].map((p) => [p.index, p.label])).toEqual([
      [281, 'tabby'],
      [285, 'Egyptian cat'],
    ]);
    expect(out[0][0].probability).toBeCloseTo(Math.exp(5) / z, 6);
    expect(out[0][1].probability).toBeCloseTo(Math.exp(4) / z, 6);
    expect(out[1][0]).toMatchObject({ index: 3, label: 'tiger shark' });
    logits.dispose();
  });

  it('handles 1-D logits, custom labels, k > C and rejects bad input', async () => {
    await useBackend(backend);
    const l = tf.tensor1d([0, 1, 2]);
    const out = topK(l, 10, { labels: ['a', 'b', 'c'] });
    expect(out).toHaveLength(1);
    expect(out[0].map((p) => p.label)).toEqual(['c', 'b', 'a']);
    expect(out[0].reduce((s, p) => s + p.probability, 0)).toBeCloseTo(1, 6);
    expect(topK(l, 1)[0][0].label).toBe('class 2');
    expect(() => topK(l, 0)).toThrow(/k must be a positive integer/);
    expect(() => topK(l, 1, { labels: ['a'] })).toThrow(/1 labels for 3 classes/);
    const r3 = tf.zeros([1, 1, 3]);
    expect(() => topK(r3, 1)).toThrow(/\[B, C\] or \[C\]/);
    r3.dispose();
    l.dispose();
  });
});

describe('labelsFor', () => {
  it('picks the label names of a pretrained cfg', () => {
    expect(labelsFor({ labelSet: 'imagenet-1k', numClasses: 1000 })).toBe(IMAGENET_1K_LABELS);
    expect(labelsFor({ labelSet: 'imagenet-22k', numClasses: 21841 })).toBeNull();
    expect(labelsFor({ labelSet: 'custom', numClasses: 2, labelNames: ['x', 'y'] })).toEqual(['x', 'y']);
  });
});
