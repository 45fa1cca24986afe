import { NODE_BACKENDS, useBackend } from '@swin/testing';
import { describe, expect, it } from 'vitest';
import { expectations } from './expectations.js';

// Every docs example runs here on cpu and wasm, with the same `main(log)` the docs page calls.
const examples = import.meta.glob<{ main: (log: (s: string) => void) => Promise<void> }>('./*.ts');
const names = Object.keys(examples)
  .filter((p) => !p.endsWith('.test.ts') && p !== './expectations.ts')
  .map((p) => p.slice(2, -3));

describe.each(NODE_BACKENDS)('docs examples on %s', (backend) => {
  it.each(names)('%s runs and prints what the page promises', async (name) => {
    await useBackend(backend);
    const lines: string[] = [];
    await (await examples[`./${name}.ts`]()).main((s) => lines.push(s));
    const out = lines.join('\n');
    expect(out.length).toBeGreaterThan(0);
    for (const re of expectations[name] ?? []) expect(out).toMatch(re);
  });
  it('every example has expectations', () => {
    expect(names.filter((n) => !(n in expectations))).toEqual([]);
  });
});
