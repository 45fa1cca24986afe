import { listFixtures, loadFixture, NODE_BACKENDS, useBackend } from '@swin/testing';
import { beforeAll, describe, expect, it } from 'vitest';
import { runFixture } from './test-utils/run.js';

const FIXTURES = [
  'pvt_sra_attention_sr1_4x4',
  'pvt_sra_attention_sr2_5x7_floor',
  'pvt_sra_attention_sr4_8x8',
  'pvt_v2_attention_linear_8x8',
  'pvt_v2_attention_sr1_4x4',
  'pvt_v2_attention_sr2_8x8',
  'pvt_v2_attention_sr4_8x8_epsprobe',
  'pvt_v1_model_32_epsprobe',
  'pvt_v1_model_32_run_32x48_posinterp',
  'pvt_v1_model_64',
  'pvt_v2_li_model_64',
  'pvt_v2_model_64',
  'pvt_v2_model_64_epsprobe',
];

describe.each(NODE_BACKENDS)('PVT parity fixtures on %s', (backend) => {
  beforeAll(async () => {
    await useBackend(backend);
  });

  it('covers every pvt_* fixture', () => {
    expect(
      listFixtures()
        .filter((f) => f.startsWith('pvt_'))
        .map((f) => f.replace('.safetensors', '')),
    ).toEqual([...FIXTURES].sort());
  });

  it.each(FIXTURES)('%s: every stored output within tolerance', (name) => {
    const fx = loadFixture(`${name}.safetensors`);
    try {
      const results = runFixture(fx);
      expect(results.length).toBeGreaterThan(0);
      for (const r of results) expect(r.ok, `${name} ${r.key}: ${r.message}`).toBe(true);
    } finally {
      fx.dispose();
    }
  });
});
