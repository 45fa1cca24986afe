import { NODE_BACKENDS, useBackend } from '@swin/testing';
import { beforeAll, describe, expect, it } from 'vitest';
import { loadFixture } from './test-utils/fixtures.js';
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

  it.each(FIXTURES)('%s: every stored output within tolerance', (name) => {
    const fx = loadFixture(name);
    const results = runFixture(fx);
    const expected = [...fx.file.tensors.keys()].filter((k) => k !== 'input' && !k.startsWith('state_dict.'));
    expect(results.map((r) => r.key).sort()).toEqual(expected.sort());
    for (const r of results) {
      expect(
        r.ok,
        `${name} ${r.key}: max err ${r.maxAbsErr} (max expected ${r.maxAbsExpected}, at ${r.worstIndex})`,
      ).toBe(true);
    }
  });
});
