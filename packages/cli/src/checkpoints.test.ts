/**
 * `swin inspect` and `swin convert` as child processes on the 8 `torch.save` files of
 * ../shared/fixtures/checkpoints (their manifest says what each holds), on a checkpoint that needs a refused
 * global, and on bad files.
 */
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { numberToFloat16Bits, parseCheckpoint, type RawTensor } from '@swin/io';
import { fixturesDir } from '@swin/testing';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { InspectReport } from './commands/inspect.js';
import { legacyCheckpointWithRefusedGlobal } from './test-utils/pickle.js';
import { runSwin } from './test-utils/run.js';

const CKPT_DIR = resolve(fixturesDir(), '..', 'checkpoints');
interface Case {
  file: string;
  source_fixture: string;
  state_dict_at: string;
  dtype: 'F32' | 'F16';
  keys: number;
}
const CASES: Case[] = JSON.parse(readFileSync(join(CKPT_DIR, 'manifest.json'), 'utf8')).cases;
const FAMILY: Record<string, string> = {
  swin: 'swin',
  pvt_v2: 'pvt-v2',
  pvt_v1: 'pvt-v1',
  shunted: 'shunted',
};
const familyOf = (file: string) => FAMILY[file.replace(/_\d+_.*$/, '')];

let dir = '';
beforeAll(() => {
  dir = mkdtempSync(join(tmpdir(), 'swin-cli-ckpt-'));
});
afterAll(() => rmSync(dir, { recursive: true, force: true }));

const bytesOf = (t: RawTensor) => new Uint8Array(t.data.buffer, t.data.byteOffset, t.data.byteLength);

/** The fixture's `state_dict.*` tensors as stored (F32 / I64). */
function fixtureStateDict(c: Case): Record<string, RawTensor> {
  const fx = parseCheckpoint(new Uint8Array(readFileSync(resolve(CKPT_DIR, c.source_fixture))));
  const out: Record<string, RawTensor> = {};
  for (const [k, t] of Object.entries(fx.tensors)) if (k.startsWith('state_dict.')) out[k.slice(11)] = t;
  return out;
}

describe('swin inspect', () => {
  it.each(CASES.map((c) => [c.file, c] as const))(
    '%s --json: format, wrapper, family, keys',
    async (_, c) => {
      const r = await runSwin(['inspect', '--json', '--quiet', join(CKPT_DIR, c.file)]);
      expect(r.stderr).toBe('');
      expect(r.code).toBe(0);
      const rep = JSON.parse(r.stdout) as InspectReport;
      expect(rep.format).toBe(c.file.includes('legacy') ? 'torch-legacy' : 'torch-zip');
      expect(rep.wrapper).toBe(c.state_dict_at);
      expect(rep.candidates).toEqual(c.state_dict_at === '' ? [] : [c.state_dict_at]);
      expect(rep.family).toBe(familyOf(c.file));
      expect(rep.layout).toBe(rep.family === 'swin' ? 'microsoft' : 'official');
      expect(rep.tensorCount).toBe(c.keys);
      expect(rep.refusedGlobals).toEqual([]);
      const fx = fixtureStateDict(c);
      expect(rep.tensors.map((t) => t.key).sort()).toEqual(Object.keys(fx).sort());
      for (const t of rep.tensors) {
        expect(t.shape, t.key).toEqual(fx[t.key].shape);
        const want = fx[t.key].dtype === 'F32' ? c.dtype : fx[t.key].dtype;
        expect(t.dtype, t.key).toBe(want);
      }
      if (c.file === 'shunted_64_train.pth')
        expect(rep.extraKeys).toEqual(expect.arrayContaining(['optimizer', 'epoch']));
    },
  );

  it('prints a readable summary and a key/dtype/shape table', async () => {
    const r = await runSwin(['inspect', join(CKPT_DIR, 'swin_32_model_key.pth')]);
    expect(r.code).toBe(0);
    expect(r.stdout).toMatch(/^format: +torch-zip$/m);
    expect(r.stdout).toMatch(/^wrapper: +'model'$/m);
    expect(r.stdout).toMatch(/^family: +swin \(microsoft layout\)$/m);
    expect(r.stdout).toMatch(/^tensors: +72 \(70,588 values, 286,448 bytes; F32 x68, I64 x4\)$/m);
    expect(r.stdout).toMatch(/^refused globals: none$/m);
    expect(r.stdout).toMatch(/^layers\.0\.blocks\.0\.attn\.qkv\.weight +F32 +\[48, 16\]$/m);
    // stderr is not a TTY here: plain progress lines, no bar
    expect(r.stderr).toMatch(/^read .*swin_32_model_key\.pth: done \(0\.3 MB\)\n$/);
  });
});

describe('swin convert', () => {
  it.each(CASES.map((c) => [c.file, c] as const))('%s: read back bit-exact, dtypes kept', async (_, c) => {
    const out = join(dir, c.file.replace(/\.pth$/, '.safetensors'));
    const r = await runSwin(['convert', '-q', join(CKPT_DIR, c.file), out]);
    expect(r.stderr).toBe('');
    expect(r.code).toBe(0);
    expect(r.stdout).toMatch(new RegExp(`^wrote .+: ${c.keys} tensors`));
    const back = parseCheckpoint(new Uint8Array(readFileSync(out)));
    expect(back.format).toBe('safetensors');
    expect(back.metadata).toEqual({ format: 'pt' });
    const fx = fixtureStateDict(c);
    expect(Object.keys(back.tensors).sort()).toEqual(Object.keys(fx).sort());
    for (const [k, want] of Object.entries(fx)) {
      const got = back.tensors[k];
      expect(got.shape, k).toEqual(want.shape);
      if (want.dtype === 'F32' && c.dtype === 'F16') {
        // the file stores the weights as float16 (torch's .half(): round to nearest even); kept as F16 bits
        expect(got.dtype, k).toBe('F16');
        const f32 = want.data as Float32Array;
        const expected = Uint16Array.from(f32, (v) => numberToFloat16Bits(v));
        expect(Buffer.from(bytesOf(got)).equals(Buffer.from(bytesOf({ ...want, data: expected }))), k).toBe(
          true,
        );
      } else {
        expect(got.dtype, k).toBe(want.dtype);
        expect(Buffer.from(bytesOf(got)).equals(Buffer.from(bytesOf(want))), k).toBe(true);
      }
    }
  });

  it('a checkpoint that needs a global outside the allow-list: converted, the global named on stderr', async () => {
    const ckpt = join(dir, 'train_with_cfg.pth');
    writeFileSync(ckpt, legacyCheckpointWithRefusedGlobal());
    const out = join(dir, 'train_with_cfg.safetensors');
    const r = await runSwin(['convert', '-q', ckpt, out]);
    expect(r.code).toBe(0);
    expect(r.stderr.trim()).toBe(
      'swin: refused globals (kept as inert placeholders, nothing was run): yacs.config.CfgNode',
    );
    const back = parseCheckpoint(new Uint8Array(readFileSync(out)));
    expect(Object.keys(back.tensors)).toEqual(['w']);
    expect(Array.from(back.tensors.w.data as Float32Array)).toEqual([1.5, -2]);
    const ins = await runSwin(['inspect', '-q', ckpt]);
    expect(ins.stdout).toMatch(/^refused globals: yacs\.config\.CfgNode$/m);
    expect(ins.stdout).toMatch(/^format: +torch-legacy$/m);
    // --strict refuses it: one line naming the global
    const strict = await runSwin(['convert', '-q', '--strict', ckpt, join(dir, 'strict.safetensors')]);
    expect(strict.code).toBe(1);
    expect(strict.stderr).toMatch(/^swin: .*yacs\.config\.CfgNode.*\n$/);
  });

  it('a wrapper that is not there: one line listing the candidates', async () => {
    const r = await runSwin([
      'convert',
      '--wrapper',
      'model_ema',
      join(CKPT_DIR, 'swin_32_model_key.pth'),
      join(dir, 'x.safetensors'),
    ]);
    expect(r.code).toBe(1);
    expect(r.stderr).toMatch(/^swin: .*model_ema.*model.*\n$/);
  });

  it('bad files: exit 1, ONE line naming the problem, no stack trace', async () => {
    const good = readFileSync(join(CKPT_DIR, 'swin_32_plain.pth'));
    const legacy = readFileSync(join(CKPT_DIR, 'swin_32_legacy.pth'));
    const bad: Record<string, Uint8Array> = {
      'truncated.pth': good.subarray(0, 3000),
      'truncated_legacy.pth': legacy.subarray(0, legacy.length - 100),
      'text.pth': new TextEncoder().encode('this is not a checkpoint\n'),
      'empty.pth': new Uint8Array(0),
    };
    const cases = Object.keys(bad).map((n) => join(dir, n));
    for (const [n, b] of Object.entries(bad)) writeFileSync(join(dir, n), b);
    cases.push(join(dir, 'does-not-exist.pth'));
    for (const path of cases) {
      const r = await runSwin(['convert', path, join(dir, 'never.safetensors')]);
      expect(r.code, path).toBe(1);
      expect(r.stdout, path).toBe('');
      const lines = r.stderr.split('\n').filter((l) => l !== '');
      expect(lines.length, `${path}: ${r.stderr}`).toBe(1);
      expect(lines[0], path).toMatch(/^swin: \S/);
      expect(lines[0], path).not.toMatch(/\bat .*:\d+:\d+/);
    }
    expect(() => readFileSync(join(dir, 'never.safetensors'))).toThrow();
  });
});
