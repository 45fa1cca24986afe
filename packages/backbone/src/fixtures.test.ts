import { pvtConfigFromKwargs } from '@swin/pvt';
import {
  type OfficialShuntedKwargs,
  resolveShuntedConfig,
  shuntedConfigFromKwargs,
} from '@swin/shunted-attention';
import { swinConfigFromOfficial } from '@swin/swin-core';
import { swinMlpConfigFromKwargs } from '@swin/swin-mlp';
import {
  compareTensors,
  type Fixture,
  listFixtures,
  loadFixture,
  NODE_BACKENDS,
  tf,
  toleranceFor,
  useBackend,
} from '@swin/testing';
import { describe, expect, it } from 'vitest';
import type { BackboneConfig } from './config.js';
import { createBackbone, disposeOutputs } from './model.js';
import {
  convertPresetStateDict,
  pvtToBackboneConfig,
  shuntedToBackboneConfig,
  swinMlpToBackboneConfig,
  swinToBackboneConfig,
} from './presets.js';

/**
 * The golden outputs of the official PyTorch models, reproduced by backbones built from the equivalent
 * configs with the fixtures' official weights renamed by the preset key maps.
 */
const MODEL_FAMILIES = ['swin_model', 'swin_mlp_model', 'shunted_model', 'pvt_v1_model', 'pvt_v2_model'];
/** A preset of each family: only its key map is used. */
const KEYMAP_PRESET: Record<string, string> = {
  swin_model: 'swin_tiny_patch4_window7_224',
  swin_mlp_model: 'swin_mlp_base_patch4_window7_224',
  shunted_model: 'shunted_t',
  pvt_v1_model: 'pvt_tiny',
  pvt_v2_model: 'pvt_v2_b0',
};

function backboneConfigOf(fx: Fixture): BackboneConfig {
  const kw = fx.config.kwargs as Record<string, unknown>;
  switch (fx.family) {
    case 'swin_model':
      return swinToBackboneConfig(swinConfigFromOfficial(kw));
    case 'swin_mlp_model':
      return swinMlpToBackboneConfig(swinMlpConfigFromKwargs(kw));
    case 'shunted_model':
      return shuntedToBackboneConfig(
        resolveShuntedConfig(shuntedConfigFromKwargs(kw as OfficialShuntedKwargs)),
      );
    case 'pvt_v1_model':
      return pvtToBackboneConfig(pvtConfigFromKwargs(1, kw));
    default:
      return pvtToBackboneConfig(pvtConfigFromKwargs(2, kw));
  }
}

/** Every model fixture of the official code (timm-layout Swin is the package's own concern). */
const models = listFixtures()
  .map((f) => f.replace('.safetensors', ''))
  .filter((f) => /_model_/.test(f) && !f.startsWith('timm_'));

describe.each(NODE_BACKENDS)('official model fixtures as backbones on %s', (backend) => {
  it('finds the model fixtures', () => {
    expect(models.length).toBeGreaterThanOrEqual(10);
  });

  it.each(models)('%s: logits, pre_logits, features, embeds', async (name) => {
    await useBackend(backend);
    const fx = loadFixture(`${name}.safetensors`);
    try {
      expect(MODEL_FAMILIES).toContain(fx.family);
      if (fx.family === 'swin_model' && (fx.config.kwargs as { ape?: boolean }).ape) {
        // absolute_pos_embed (bicubic resizing) has no backbone equivalent: a clear error, not a wrong model
        expect(() => backboneConfigOf(fx)).toThrow(/ape .* has no backbone equivalent/);
        return;
      }
      const model = createBackbone(backboneConfigOf(fx));
      try {
        model.loadStateDict(convertPresetStateDict(KEYMAP_PRESET[fx.family], fx.stateDict));
        const x = fx.inputs.input as tf.Tensor4D;
        const out = model.forwardWithIntermediates(x);
        const tol = toleranceFor(fx.family);
        const check = (key: string, actual: tf.Tensor) => {
          const c = compareTensors(actual, fx.expected[key], tol);
          expect(c.ok, `${name} ${key}: ${c.message}`).toBe(true);
        };
        check('logits', out.logits);
        check('pre_logits', out.preLogits);
        let compared = 2;
        out.features.forEach((f, i) => {
          const key = `features.${i}`;
          if (!fx.expected[key]) return;
          compared++;
          if (fx.family === 'pvt_v1_model' && i === out.features.length - 1) {
            // the reference keeps the last stage as tokens with the class token first
            const [B, h, w, C] = f.shape;
            const tokens = tf.concat(
              [tf.reshape(out.clsToken as tf.Tensor, [B, 1, C]), tf.reshape(f, [B, h * w, C])],
              1,
            );
            check(key, tokens);
            tokens.dispose();
          } else check(key, f);
        });
        out.embeds.forEach((e, i) => {
          const key = fx.expected[`embed.${i}`]
            ? `embed.${i}`
            : i === 0 && fx.expected.embed
              ? 'embed'
              : null;
          if (!key) return;
          compared++;
          check(key, e);
        });
        expect(compared).toBeGreaterThanOrEqual(2 + out.features.length);
        disposeOutputs(out);
      } finally {
        model.dispose();
      }
    } finally {
      fx.dispose();
    }
  });
});
