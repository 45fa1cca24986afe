import { NODE_BACKENDS, runReadmeExample, useBackend } from '@swin/testing';
import { describe, expect, it } from 'vitest';

// The README's example is real code: it is extracted, pointed at this package's sources, and run.
describe.each(NODE_BACKENDS)('README example on %s', (backend) => {
  it('runs without leaking tensors', async () => {
    await useBackend(backend);
    const { source, logs, tensorDelta } = await runReadmeExample(
      new URL('.', import.meta.url),
      '@swin/backbone',
      backend,
    );
    expect(source).toContain('createBackbone(config)');
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
    expect(tensorDelta).toBeLessThanOrEqual(40);
  });
});
