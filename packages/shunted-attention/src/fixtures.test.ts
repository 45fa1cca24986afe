import {
  compareTensors,
  type Fixture,
  listFixtures,
  loadFixture,
  NODE_BACKENDS,
  type tf,
  toleranceFor,
  useBackend,
} from '@swin/testing';
import { beforeAll, describe, expect, it } from 'vitest';
import {
  attentionArgsFromKwargs,
  blockArgsFromKwargs,
  ShuntedAttention,
  ShuntedBlock,
  ShuntedTransformer,
  shuntedConfigFromKwargs,
} from './index.js';

const FIXTURES = listFixtures().filter((f) => f.startsWith('shunted_'));

/** Runs the module a fixture describes; returns actual outputs keyed like the fixture's expected ones. */
function run(fx: Fixture): Record<string, tf.Tensor> {
  const kw = fx.config.kwargs;
  const input = fx.inputs.input;
  if (fx.module === 'Attention') {
    const [dim, opts] = attentionArgsFromKwargs(kw);
    const m = new ShuntedAttention(dim, opts);
    try {
      m.loadStateDict(fx.stateDict);
      return { output: m.forwardTokens(input as tf.Tensor3D, fx.config.forward.H, fx.config.forward.W) };
    } finally {
      m.dispose();
    }
  }
  if (fx.module === 'Block') {
    const [dim, heads, opts] = blockArgsFromKwargs(kw);
    const m = new ShuntedBlock(dim, heads, opts);
    try {
      m.loadStateDict(fx.stateDict);
      return { output: m.forwardTokens(input as tf.Tensor3D, fx.config.forward.H, fx.config.forward.W) };
    } finally {
      m.dispose();
    }
  }
  if (fx.module === 'ShuntedTransformer') {
    const m = new ShuntedTransformer(shuntedConfigFromKwargs(kw));
    try {
      m.loadStateDict(fx.stateDict);
      const o = m.forwardWithIntermediates(input as tf.Tensor4D);
      const out: Record<string, tf.Tensor> = { logits: o.logits, pre_logits: o.preLogits };
      o.embeds.forEach((t, i) => {
        out[`embed.${i}`] = t;
      });
      o.features.forEach((t, i) => {
        out[`features.${i}`] = t;
      });
      return out;
    } finally {
      m.dispose();
    }
  }
  throw new Error(`unexpected module ${fx.module} in ${fx.file}`);
}

describe.each(NODE_BACKENDS)('shunted parity fixtures on %s', (backend) => {
  beforeAll(async () => {
    await useBackend(backend);
  });

  it('finds all 8 shunted fixtures', () => {
    expect(FIXTURES.length).toBe(8);
  });

  it.each(FIXTURES)('%s: every stored output within tolerance', (file) => {
    const fx = loadFixture(file);
    try {
      expect(fx.reference).toContain('OliverRensu/Shunted-Transformer');
      const actual = run(fx);
      try {
        const expectedKeys = Object.keys(fx.expected).sort();
        expect(Object.keys(actual).sort()).toEqual(expectedKeys);
        for (const key of expectedKeys) {
          const c = compareTensors(actual[key], fx.expected[key], toleranceFor(fx.family));
          expect(c.ok, `${file} ${key}: ${c.message}`).toBe(true);
        }
      } finally {
        for (const t of Object.values(actual)) t.dispose();
      }
    } finally {
      fx.dispose();
    }
  });
});
