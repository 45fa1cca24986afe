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
