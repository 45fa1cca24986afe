import { execFileSync, spawnSync } from 'node:child_process';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';
import { PRESETS, parseCli, UsageError } from './args.js';
import { FULL_VARIANTS, QUICK_VARIANTS } from './variants.js';

const here = dirname(fileURLToPath(import.meta.url));
const main = join(here, 'main.ts');
const tsx = (args: string[]) =>
  spawnSync(process.execPath, ['--import', 'tsx', '--conditions=@swin/source', main, ...args], {
    encoding: 'utf8',
    cwd: here,
  });

describe('ablation CLI arguments', () => {
  it('quick defaults, --full preset, explicit flags override, a leading -- is ignored', () => {
    const q = parseCli([], new Date('2026-12-06T17:00:00Z'));
    if ('help' in q || 'list' in q) throw new Error('unexpected');
    expect(q.variants).toEqual(QUICK_VARIANTS);
    expect(q.seeds).toEqual([1]);
    expect(q.steps).toBe(PRESETS.quick.steps);
    expect(q.out).toBe('ablation-results/2026-12-06T17-00-00Z');
    const f = parseCli(['--', '--full', '--steps', '50', '--seed', '7']);
    if ('help' in f || 'list' in f) throw new Error('unexpected');
    expect(f.variants).toEqual(FULL_VARIANTS);
    expect(f.seeds).toEqual([7, 8, 9]);
    expect(f.steps).toBe(50);
    expect(f.testSize).toBe(10000);
    expect(parseCli(['--help'])).toEqual({ help: true });
    expect(parseCli(['-h'])).toEqual({ help: true });
  });

  it.each([
    [['--steps', 'abc'], /--steps must be an integer/],
    [['--steps', '0'], /--steps must be an integer in 1\.\./],
    [['--steps', '1.5'], /--steps must be an integer/],
    [['--batch', '-3'], /--batch/],
    [['--seeds', ''], /--seeds must be an integer/],
    [['--test-size', '10001'], /--test-size must be an integer in 1\.\.10000/],
    [['--lr', 'x'], /--lr must be a number/],
    [['--lr', '0'], /--lr must be a number/],
    [['--backend', 'webgl'], /--backend must be wasm or cpu/],
    [['--variants', 'swin,nope'], /unknown variant 'nope'/],
    [['--bogus'], /Unknown option '--bogus'/],
  ])('rejects %j', (argv, re) => {
    expect(() => parseCli(argv)).toThrow(UsageError);
    expect(() => parseCli(argv)).toThrow(re);
  });

  it('the command: --help prints usage (exit 0), a bad number exits 2 with one clear line', () => {
    const help = execFileSync(
      process.execPath,
      ['--import', 'tsx', '--conditions=@swin/source', main, '--help'],
      {
        encoding: 'utf8',
        cwd: here,
      },
    );
    expect(help).toMatch(/^Usage: ablation \[options\]/);
    expect(help).toContain('--full');
    const bad = tsx(['--steps', 'abc']);
    expect(bad.status).toBe(2);
    expect(bad.stderr).toContain("ablation: --steps must be an integer in 1..1000000, got 'abc'");
    expect(bad.stdout).toBe('');
  }, 60_000);
});
