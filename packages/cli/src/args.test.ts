import { InvalidArgumentError } from 'commander';
import { describe, expect, it } from 'vitest';
import { isUrl, parseBackend, parseIntIn } from './args.js';
import { oneLine } from './errors.js';

describe('argument parsers', () => {
  it('parseIntIn accepts decimal digits in range only', () => {
    const p = parseIntIn(1, 10);
    expect(p('5')).toBe(5);
    for (const bad of ['0', '11', '5.0', '1e1', '0x5', '5abc', '-1', '']) {
      expect(() => p(bad), bad).toThrow(InvalidArgumentError);
    }
  });
  it('parseBackend and isUrl', () => {
    expect(parseBackend('wasm')).toBe('wasm');
    expect(() => parseBackend('webgl')).toThrow(/unknown backend 'webgl'/);
    expect(isUrl('http://127.0.0.1:80/a.pth')).toBe(true);
    expect(isUrl('HTTPS://x/y')).toBe(true);
    expect(isUrl('./http/a.pth')).toBe(false);
  });
  it('oneLine keeps the first line and rewords file errors', () => {
    expect(oneLine(new Error('bad header\n  at x'))).toBe('bad header');
    const e = Object.assign(new Error('ENOENT: no such file or directory'), {
      code: 'ENOENT',
      path: 'a.pth',
    });
    expect(oneLine(e)).toBe('no such file: a.pth');
    expect(oneLine('plain')).toBe('plain');
  });
});
