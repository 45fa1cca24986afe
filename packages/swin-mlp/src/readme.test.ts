import { NODE_BACKENDS, runReadmeExample, useBackend } from '@swin/testing';
import { describe, expect, it } from 'vitest';

// The README's example is real code: it is extracted, pointed at this package's sources, and run.
describe.each(NODE_BACKENDS)('README example on %s', (backend) => {
  it('runs, prints the documented values and leaks no tensors', async () => {
    await useBackend(backend);
    const { logs, tensorDelta } = await runReadmeExample(
      new URL('.', import.meta.url),
      '@swin/swin-mlp',
      backend,
    );
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
    expect(tensorDelta).toBe(0);
  });
});
