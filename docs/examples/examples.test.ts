import { NODE_BACKENDS, useBackend } from '@swin/testing';
import { describe, expect, it } from 'vitest';

// Every docs example runs here on cpu and wasm, with the same `main(log)` the docs page calls.
const examples = import.meta.glob<{ main: (log: (s: string) => void) => Promise<void> }>('./*.ts');
const names = Object.keys(examples)
  .filter((p) => !p.endsWith('.test.ts'))
  .map((p) => p.slice(2, -3));

const expectations: Record<string, RegExp[]> = {
  'window-ops': [/padded to \[1,14,21,8\]/, /roll \+ partition: true/, /max \|difference\| = 0$/m],
  'shifted-mask': [/window 0: 0 of 256/, /window 3: \d+ of 256/],
  'use-a-model': [
    /pvt_v2_b0\.in1k: input 3x224x224, crop 0\.9, bicubic/,
    /3\.\d\d M parameters/,
    /logits \[1,1000\], top-1 of random weights: class \d+/,
    /stage 0: \[1,56,56,32\], stride 4, 32 channels/,
    /stage 3: \[1,7,7,256\], stride 32, 256 channels/,
  ],
  'hybrid-backbone': [
    /stage 0 \(shunted\): \[1,16,16,64\], 64 channels, stride 4/,
    /stage 3 \(swin\): \[1,2,2,64\], 64 channels, stride 32/,
    /45x61 input -> stage maps 11x15, 6x8, 3x4, 2x2/,
    /reloaded model identical: true/,
  ],
};

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
