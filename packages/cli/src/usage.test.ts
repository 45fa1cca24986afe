/** The CLI's usage surface, run as a child process: help, unknown commands and options, bad numbers. */
import { describe, expect, it } from 'vitest';
import { runSwin } from './test-utils/run.js';

describe('swin usage', () => {
  it('--help lists every command and exits 0', async () => {
    const r = await runSwin(['--help']);
    expect(r.code).toBe(0);
    for (const c of ['inspect', 'convert', 'classify', 'features', 'list'])
      expect(r.stdout).toContain(`  ${c} `);
    expect(r.stderr).toBe('');
  });

  it('an unknown command, an unknown option and a bad number exit 2 with a clear message and no stack', async () => {
    const cmd = await runSwin(['clasify', 'x.png']);
    expect(cmd.code).toBe(2);
    expect(cmd.stderr).toMatch(/^swin: unknown command 'clasify'/);
    expect(cmd.stderr).toContain('Did you mean classify?');
    const opt = await runSwin(['inspect', '--jsn', 'a.pth']);
    expect(opt.code).toBe(2);
    expect(opt.stderr).toMatch(/^swin: unknown option '--jsn'/);
    const num = await runSwin(['classify', '--model', 'm', '--top', '5x', 'a.png']);
    expect(num.code).toBe(2);
    expect(num.stderr).toMatch(/'5x' is not a whole number/);
    const back = await runSwin(['classify', '--model', 'm', '--backend', 'webgl', 'a.png']);
    expect(back.code).toBe(2);
    expect(back.stderr).toMatch(/webgl/);
    for (const r of [cmd, opt, num, back]) expect(r.stderr).not.toMatch(/\n\s+at /);
  });

  it('classify without --model and --weights is a usage error; a name without published weights says so', async () => {
    const r = await runSwin(['classify', 'a.png']);
    expect(r.code).toBe(2);
    expect(r.stderr.trim()).toBe('swin: give --model NAME, --weights FILE|URL|DIR, or both');
    const s = await runSwin(['classify', '--model', 'shunted_t', 'a.png']);
    expect(s.code).toBe(1);
    expect(s.stderr.trim().split('\n')).toHaveLength(1);
    expect(s.stderr).toMatch(/^swin: .*shunted_t.*/);
  });
});
