/** Test-only: run a PVT parity fixture (loaded by @swin/testing) through this package. */
import { type Comparison, compareTensors, type Fixture, type tf, toleranceFor } from '@swin/testing';
import { srAttentionFromKwargs } from '../attention.js';
import { pvtConfigFromKwargs } from '../config.js';
import { disposeIntermediates, PyramidVisionTransformer } from '../pvt-v1.js';
import { PyramidVisionTransformerV2 } from '../pvt-v2.js';

export type { Fixture };

/** Runs a PVT fixture on the current backend; returns the comparison of every expected output. */
export function runFixture(fx: Fixture): (Comparison & { key: string })[] {
  const kw = fx.config['kwargs'] as Record<string, unknown>;
  const x = fx.inputs['input'];
  let outputs: Record<string, tf.Tensor>;
  let cleanup: () => void;
  if (fx.module === 'Attention') {
    const m = srAttentionFromKwargs(kw);
    m.loadStateDict(fx.stateDict);
    const { H, W } = fx.config['forward'] as { H: number; W: number };
    outputs = { output: m.forwardTokens(x as tf.Tensor3D, H, W) };
    cleanup = () => {
      outputs['output'].dispose();
      m.dispose();
    };
  } else {
    const m =
      fx.module === 'PyramidVisionTransformer'
        ? new PyramidVisionTransformer(pvtConfigFromKwargs(1, kw))
        : new PyramidVisionTransformerV2(pvtConfigFromKwargs(2, kw));
    m.loadStateDict(fx.stateDict);
    const out = m.forwardWithIntermediates(x as tf.Tensor4D);
    outputs = out.named;
    cleanup = () => {
      disposeIntermediates(out);
      m.dispose();
    };
  }
  try {
    const tol = toleranceFor(fx.family);
    return Object.keys(fx.expected).map((key) => {
      const a = outputs[key];
      if (!a) throw new Error(`${fx.file}: no output '${key}'`);
      return { key, ...compareTensors(a, fx.expected[key], tol) };
    });
  } finally {
    cleanup();
  }
}
