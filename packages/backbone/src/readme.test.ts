import { readFileSync, rmSync, writeFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { NODE_BACKENDS, tf, useBackend } from '@swin/testing';
import { describe, expect, it } from 'vitest';

// The README's example is real code: it is extracted, pointed at this package's sources, and run.
const readme = readFileSync(fileURLToPath(new URL('../README.md', import.meta.url)), 'utf8');
const example = /```ts\n([\s\S]*?)```/.exec(readme)?.[1] ?? '';

describe.each(NODE_BACKENDS)('README example on %s', (backend) => {
  it('runs without leaking tensors', async () => {
    await useBackend(backend);
    expect(example).toContain('createBackbone(config)');
    const file = fileURLToPath(new URL(`./__readme_example_${backend}__.ts`, import.meta.url));
    writeFileSync(file, example.replace("from '@swin/backbone'", "from './index.js'"));
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
    expect(String(logs[0][0])).toMatch(/^\d+ parameters, [\d.]+ MMACs at 64x64$/);
    expect(logs[1]).toEqual([
      [
        [2, 11, 15, 64],
        [2, 6, 8, 32],
        [2, 3, 4, 48],
        [2, 2, 2, 64],
      ],
      [2, 10],
    ]);
    // only the ops' caches (window masks, index tensors, resampling matrices) stay
    expect(tf.memory().numTensors - before).toBeLessThanOrEqual(40);
  });
});
