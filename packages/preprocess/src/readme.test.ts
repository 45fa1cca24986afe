import { runReadmeExample, useBackend } from '@swin/testing';
import { expect, it } from 'vitest';

// The README's example is real code: it is extracted, pointed at this package's sources, and run.
it('README example runs and leaks no tensors', async () => {
  await useBackend('cpu');
  const { source, logs, tensorDelta } = await runReadmeExample(
    new URL('.', import.meta.url),
    '@swin/preprocess',
    'cpu',
  );
  expect(source).toContain('evalTransform(img, cfg)');
  // 640x480 -> shorter side floor(224 / 0.9) = 248, longer int(248 * 640 / 480) = 330
  expect(logs[0]).toEqual(['resized to', [330, 248]]);
  expect(logs[1][0]).toEqual([1, 224, 224, 3]);
  expect(logs[1][1]).toBe('float32');
  expect(Number(logs[1][2])).toBeGreaterThan(-2);
  expect(Number(logs[1][2])).toBeLessThan(2);
  expect(tensorDelta).toBe(0);
});
