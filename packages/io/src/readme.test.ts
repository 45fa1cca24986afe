import { runReadmeExample, useBackend } from '@swin/testing';
import { describe, expect, it } from 'vitest';

// The README's first example is real code: it is extracted, pointed at this package's sources, and run.
describe('README example', () => {
  it('runs, prints what its comments say, and leaks no tensor', async () => {
    await useBackend('cpu');
    const { logs, tensorDelta } = await runReadmeExample(new URL('.', import.meta.url), '@swin/io', 'cpu');
    expect(logs[0]).toEqual(['safetensors', ['head.weight', 'head.bias']]);
    expect(logs[1]).toEqual(['F16']);
    expect(Array.from(logs[2][0] as Float32Array)).toEqual([1, -2]);
    expect(tensorDelta).toBe(0);
  });
});
