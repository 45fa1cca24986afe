import { NODE_BACKENDS, runReadmeExample, useBackend } from '@swin/testing';
import { describe, expect, it } from 'vitest';

// The README's first example is real code: extracted, pointed at this package's sources, and run.
describe.each(NODE_BACKENDS)('README example on %s', (backend) => {
  it('runs without leaking tensors', async () => {
    await useBackend(backend);
    const { logs, tensorDelta } = await runReadmeExample(
      new URL('.', import.meta.url),
      '@swin/models',
      backend,
    );
    expect(logs[0]).toEqual(['swin_tiny_patch4_window7_224.ms_in1k', [3, 224, 224], 0.9, 'bicubic']);
    expect(logs[1]).toEqual(['pvt_v2_b0 pvt_v2_b1 pvt_v2_b2 pvt_v2_b3 pvt_v2_b4 pvt_v2_b5 pvt_v2_b2_li']);
    expect(logs[2]).toEqual([3, true, [1, 1000]]);
    // only the ops' caches (resampling matrices) may stay
    expect(tensorDelta).toBeLessThanOrEqual(20);
  });
});
