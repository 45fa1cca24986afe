import { readFileSync, rmSync, writeFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { NODE_BACKENDS, tf, useBackend } from '@swin/testing';
import { describe, expect, it } from 'vitest';

// The README's example is real code: it is extracted, pointed at this package's sources, and run.
const readme = readFileSync(fileURLToPath(new URL('../README.md', import.meta.url)), 'utf8');
const example = /```ts\n([\s\S]*?)```/.exec(readme)?.[1] ?? '';

describe.each(NODE_BACKENDS)('README example on %s', (backend) => {
  it('runs, prints the documented values and leaks no tensors', async () => {
    await useBackend(backend);
    expect(example).toContain("from '@swin/swin-mlp'");
    const file = fileURLToPath(new URL(`./__readme_example_${backend}__.ts`, import.meta.url));
    writeFileSync(file, example.replace("from '@swin/swin-mlp'", "from './index.js'"));
    const before = tf.memory().numTensors;
    const logs: unknown[][] = [];
    const log = console.log;
    console.log = (...a: unknown[]) => logs.push(a);
    try {
      await import(/* @vite-ignore */ file);
    } finally {
      console.log = log;
      rmSync(file, { force: true });
    }
    expect(logs[0]).toEqual(['20.4M params']);
    // 64x64 input, patch 4: stage maps 16, 8, 4, 2 -> windows 8/0 8/4, 8/0 8/0 (clamped, 8x8 map), 4/0, 2/0
    expect(logs[1]).toEqual([['8/0 8/4', '8/0 8/0', '4/0 4/0', '2/0 2/0']]);
    expect(String(logs[2][0])).toMatch(/^[\d.]+ MMACs$/);
    expect(logs[2][1]).toBe(true);
    expect(logs[3]).toEqual([
      [2, 10],
      [
        [2, 16, 16, 24],
        [2, 8, 8, 48],
        [2, 4, 4, 96],
        [2, 2, 2, 192],
      ],
    ]);
    expect(logs[4]).toEqual([true, [4 * 64, 64, 1]]);
    expect(logs[5]).toEqual([[1, 20, 30, 32]]);
    expect(logs[6]).toEqual([true]);
    expect(tf.memory().numTensors - before).toBe(0);
  });
});
