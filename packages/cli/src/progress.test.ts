import { PassThrough } from 'node:stream';
import { describe, expect, it } from 'vitest';
import { createProgress, formatMiB, LineProgress } from './progress.js';

function sink() {
  const out: string[] = [];
  return { out, write: (s: string) => out.push(s), isTTY: false };
}

describe('LineProgress (stderr is not a TTY)', () => {
  it('prints one line per 25% step, then done', () => {
    const s = sink();
    const p = new LineProgress('read a.pth', s);
    const total = 4 * 1024 * 1024;
    for (let n = 0; n <= total; n += 64 * 1024) p.update(n, total);
    p.stop();
    p.stop();
    expect(s.out).toEqual([
      'read a.pth: 25% (1.0 MB / 4.0 MB)\n',
      'read a.pth: 50% (2.0 MB / 4.0 MB)\n',
      'read a.pth: 75% (3.0 MB / 4.0 MB)\n',
      'read a.pth: done (4.0 MB)\n',
    ]);
  });

  it('skips steps that a big jump crosses and prints every 16 MiB without a total', () => {
    const s = sink();
    const p = new LineProgress('x', s);
    p.update(90, 100);
    p.update(95, 100);
    expect(s.out).toEqual(['x: 90% (0.0 MB / 0.0 MB)\n']);
    const u = sink();
    const q = new LineProgress('y', u);
    for (let n = 0; n <= 40 * 1024 * 1024; n += 1024 * 1024) q.update(n);
    expect(u.out).toEqual(['y: 16.0 MB\n', 'y: 32.0 MB\n']);
  });

  it('createProgress: nothing when disabled, lines on a non-TTY stream', () => {
    const s = sink();
    const off = createProgress('z', { stream: s as never, enabled: false });
    off.update(1, 1);
    off.stop();
    expect(s.out).toEqual([]);
    const on = createProgress('z', { stream: s as never });
    expect(on).toBeInstanceOf(LineProgress);
    expect(formatMiB(1.5 * 1024 * 1024)).toBe('1.5 MB');
  });
});

describe('BarProgress (stderr is a TTY)', () => {
  function tty() {
    const s = Object.assign(new PassThrough(), { isTTY: true, columns: 100 });
    let out = '';
    s.on('data', (d) => {
      out += d.toString();
    });
    return { s, text: () => out };
  }

  it('draws a cli-progress bar with percentage and sizes, redrawn in place', async () => {
    const t = tty();
    const p = createProgress('download w.pth', { stream: t.s as never });
    expect(p).not.toBeInstanceOf(LineProgress);
    p.update(0, 2 * 1024 * 1024);
    p.update(2 * 1024 * 1024, 2 * 1024 * 1024);
    p.stop();
    await new Promise((r) => setImmediate(r));
    expect(t.text()).toMatch(/download w\.pth \[[^\]]+\] 100% \| 2\.0 MB \/ 2\.0 MB/);
    expect(t.text()).not.toContain('done (');
  });

  it('abort clears the bar line: the error that follows is the only line left', async () => {
    const t = tty();
    const p = createProgress('read x.pth', { stream: t.s as never });
    p.update(10, 100);
    p.abort();
    p.stop();
    await new Promise((r) => setImmediate(r));
    expect(t.text().endsWith('\x1b[1A\x1b[2K\r')).toBe(true);
  });
});
