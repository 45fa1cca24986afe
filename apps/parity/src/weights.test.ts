/**
 * `pnpm parity --weights`: the 8 shared PyTorch checkpoints (../shared/fixtures/checkpoints, written by
 * `torch.save`) reproduce their source fixtures on cpu and wasm when the fixture runs with the checkpoint's
 * weights instead of its own state_dict; wrong weights FAIL.
 */
import { spawnSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { type RawTensor, readCheckpoint, writeSafetensors } from '@swin/io';
import { expectNoLeak, fixturesDir, NODE_BACKENDS } from '@swin/testing';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { formatResult, runFixture } from './runner.js';
import { floatPrecision, loadWeights, REDUCED_PRECISION_REL, weightsFromCheckpoint } from './weights.js';

const CKPT_DIR = resolve(fixturesDir(), '..', 'checkpoints');
interface Case {
  file: string;
  source_fixture: string;
  state_dict_at: string;
  dtype: 'F32' | 'F16' | 'BF16';
}
const CASES: Case[] = JSON.parse(readFileSync(join(CKPT_DIR, 'manifest.json'), 'utf8')).cases;
const fixtureOf = (c: Case) => resolve(CKPT_DIR, c.source_fixture);

it('the manifest lists the 8 shared checkpoints', () => {
  expect(CASES.length).toBe(8);
});

describe.each(NODE_BACKENDS)('parity --weights on %s', (backend) => {
  it.each(CASES.map((c) => [c.file, c] as const))('%s reproduces its source fixture', async (_, c) => {
    const weights = await loadWeights(join(CKPT_DIR, c.file));
    expect(weights.description).toContain(`${c.dtype} weights`);
    const r = await runFixture(fixtureOf(c), backend, { weights });
    const line = formatResult(r);
    expect(r.status, line).toBe('PASS');
    expect(r.weights).toBe(c.file);
    expect(r.perOutput.length).toBeGreaterThan(0);
    if (c.dtype === 'F32') {
      // full README section 7 tolerance: the weights are the fixture's own, bit for bit
      expect(r.tolerance, line).toBeUndefined();
      expect(r.maxAbs, line).toBeLessThanOrEqual(1e-4);
    } else {
      expect(r.tolerance?.rel).toBe(REDUCED_PRECISION_REL[c.dtype]);
      // rounding the weights to F16 does move the outputs (else this case would test nothing)
      expect(r.maxRel, line).toBeGreaterThan(1e-5);
      console.log(`${backend} ${line}`);
    }
  });
});

describe('parity --weights can fail', () => {
  let dir = '';
  beforeAll(() => {
    dir = mkdtempSync(join(tmpdir(), 'swin-parity-weights-'));
  });
  afterAll(() => rmSync(dir, { recursive: true, force: true }));

  it('one weight changed by 1% FAILs, the fixture own weights are not used', async () => {
    const ckpt = await readCheckpoint(join(CKPT_DIR, 'swin_32_plain.pth'));
    const key = 'layers.1.blocks.1.attn.qkv.weight';
    const t = ckpt.tensors[key];
    const data = (t.data as Float32Array).slice();
    data[3] = data[3] * 1.01 + 0.01;
    const changed: RawTensor = { ...t, data };
    const r = await runFixture(fixtureOf(CASES[0]), 'cpu', {
      weights: weightsFromCheckpoint('changed.pth', {
        ...ckpt,
        tensors: { ...ckpt.tensors, [key]: changed },
      }),
    });
    expect(r.status, formatResult(r)).toBe('FAIL');
    expect(r.reason).toMatch(/logits/);
  });

  it('weights of another model FAIL with the missing keys named; no tensors leak', async () => {
    const weights = await loadWeights(join(CKPT_DIR, 'pvt_v2_64_plain.pth'));
    await expectNoLeak(async () => {
      const r = await runFixture(fixtureOf(CASES[0]), 'cpu', { weights });
      expect(r.status).toBe('FAIL');
      expect(r.reason).toMatch(/patch_embed\.proj\.weight|missing|unexpected/);
    }, 'runFixture with wrong weights');
  });

  it('floatPrecision: the lowest float dtype decides, integer buffers do not count', () => {
    const f = (dtype: RawTensor['dtype']): RawTensor => ({ dtype, shape: [1], data: new Uint8Array(8) });
    expect(floatPrecision({ a: f('F32'), b: f('I64') })).toBe('F32');
    expect(floatPrecision({ a: f('F32'), b: f('F16') })).toBe('F16');
    expect(floatPrecision({ a: f('F16'), b: f('BF16') })).toBe('BF16');
  });

  it('`pnpm parity --weights` from the command line: a safetensors copy of a checkpoint PASSes on wasm', () => {
    // the checkpoint converted to safetensors by @swin/io's writer: "any supported format" for --weights
    return readCheckpoint(join(CKPT_DIR, 'swin_32_f16.pth')).then((ckpt) => {
      const st = join(dir, 'swin_32_f16.safetensors');
      writeFileSync(st, writeSafetensors(ckpt.tensors));
      const tsx = createRequire(import.meta.url).resolve('tsx/cli');
      const cli = fileURLToPath(new URL('./cli.ts', import.meta.url));
      const run = spawnSync(
        process.execPath,
        [tsx, '--conditions=@swin/source', cli, '--backend', 'wasm', '--weights', st, fixtureOf(CASES[0])],
        { encoding: 'utf8', timeout: 240_000 },
      );
      expect(run.stderr).toBe('');
      expect(run.status, run.stdout).toBe(0);
      expect(run.stdout).toMatch(/^weights swin_32_f16\.safetensors: safetensors, 72 tensors, F16 weights$/m);
      expect(run.stdout).toMatch(
        /^PASS swin_model_32_p2_ape\.safetensors max_abs=\S+ max_rel=\S+ weights=swin_32_f16\.safetensors tolerance=rel<=1\.00e-2$/m,
      );
      expect(run.stdout).toMatch(/^1 passed, 0 failed, 0 skipped$/m);
    });
  });
});
