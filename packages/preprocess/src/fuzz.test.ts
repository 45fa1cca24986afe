import fc from 'fast-check';
import { encode as encodePng } from 'fast-png';
import { describe, expect, it } from 'vitest';
import { decodeImage } from './decode.js';
import { fromBase64, GOLDEN } from './test-utils/golden.js';
import { PreprocessError } from './types.js';

// Malformed files: whatever happens, decodeImage returns a well-formed image or throws one PreprocessError
// line (no other exception, no hang, no allocation beyond what the bytes can hold).
const SEEDS: Uint8Array[] = [
  ...GOLDEN.png.map((c) => fromBase64(c.png)),
  ...GOLDEN.jpeg.map((c) => fromBase64(c.jpeg)),
  encodePng({
    width: 16,
    height: 8,
    data: new Uint8Array(16 * 8 * 3).map((_, i) => i * 7),
    channels: 3,
    depth: 8,
  }),
];

const mutation = fc.oneof(
  // truncation
  fc.record({ kind: fc.constant('truncate' as const), at: fc.double({ min: 0, max: 1, noNaN: true }) }),
  // bit flips anywhere
  fc.record({
    kind: fc.constant('flip' as const),
    flips: fc.array(fc.tuple(fc.double({ min: 0, max: 1, noNaN: true }), fc.integer({ min: 0, max: 7 })), {
      minLength: 1,
      maxLength: 8,
    }),
  }),
  // a byte set to an extreme value (lying lengths and sizes, fake markers)
  fc.record({
    kind: fc.constant('set' as const),
    at: fc.double({ min: 0, max: 1, noNaN: true }),
    value: fc.constantFrom(0, 1, 0x7f, 0x80, 0xfe, 0xff),
  }),
  // a header byte (sizes, depths, colour types, chunk lengths, SOF fields) set to anything
  fc.record({
    kind: fc.constant('header' as const),
    at: fc.integer({ min: 0, max: 40 }),
    value: fc.integer({ min: 0, max: 255 }),
  }),
);

type Mutation = typeof mutation extends fc.Arbitrary<infer T> ? T : never;

function mutate(seed: Uint8Array, m: Mutation): Uint8Array {
  const b = seed.slice();
  const pos = (x: number) => Math.min(b.length - 1, Math.floor(x * b.length));
  switch (m.kind) {
    case 'truncate':
      return b.subarray(0, Math.floor(m.at * b.length));
    case 'flip':
      for (const [x, bit] of m.flips) b[pos(x)] ^= 1 << bit;
      return b;
    case 'set':
      b[pos(m.at)] = m.value;
      return b;
    case 'header':
      b[Math.min(b.length - 1, m.at)] = m.value;
      return b;
  }
}

describe('decodeImage on malformed files', () => {
  it('returns a valid image or throws one PreprocessError line (10,000 cases)', () => {
    let decoded = 0;
    let refused = 0;
    fc.assert(
      fc.property(fc.integer({ min: 0, max: SEEDS.length - 1 }), mutation, (i, m) => {
        const bytes = mutate(SEEDS[i], m);
        try {
          const img = decodeImage(bytes, { maxPixels: 1 << 20 });
          decoded++;
          return (
            Number.isInteger(img.width) &&
            Number.isInteger(img.height) &&
            img.width > 0 &&
            img.height > 0 &&
            img.data instanceof Uint8Array &&
            img.data.length === img.width * img.height * 3
          );
        } catch (e) {
          refused++;
          if (!(e instanceof PreprocessError)) throw new Error(`not a PreprocessError: ${String(e)}`);
          return e.message.startsWith('decodeImage: ') && !e.message.includes('\n');
        }
      }),
      { numRuns: 10_000, seed: 20261206 },
    );
    // both outcomes occur (bit flips in pixel data of a JPEG still decode; PNG CRCs catch flips)
    expect(decoded).toBeGreaterThan(100);
    expect(refused).toBeGreaterThan(1000);
  });
});
