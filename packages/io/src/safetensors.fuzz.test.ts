/**
 * Fuzz tests: truncated and corrupted real fixture files must either parse or throw SafetensorsError,
 * never anything else (no RangeError/TypeError from a typed-array constructor, no hang, no giant
 * allocation), and every run finishes quickly.
 */
import { readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { readSafetensors, SafetensorsError, writeSafetensors } from './safetensors.js';

const FIXTURES =
  process.env.SWIN_FIXTURES ?? fileURLToPath(new URL('../../../../shared/fixtures/parity', import.meta.url));

/** Small, fast, seeded PRNG (mulberry32). */
function prng(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

type Outcome = 'parsed' | 'rejected';

/** Parses and classifies; any error other than SafetensorsError fails the test with the input's story. */
function attempt(bytes: Uint8Array, story: string): Outcome {
  let file: ReturnType<typeof readSafetensors>;
  try {
    file = readSafetensors(bytes, { maxHeaderBytes: 1 << 20 });
  } catch (e) {
    if (e instanceof SafetensorsError) return 'rejected';
    throw new Error(`${story}: threw ${(e as Error)?.name}: ${(e as Error)?.message}`);
  }
  // whatever parsed must be self-consistent: element counts follow the shapes, bytes fit the file
  let total = 0;
  for (const [key, e] of file.tensors) {
    const numel = e.shape.reduce((a, b) => a * b, 1);
    if (e.data.length !== numel)
      throw new Error(`${story}: '${key}' has ${e.data.length} values for shape [${e.shape}]`);
    total += numel;
  }
  if (total > bytes.length) throw new Error(`${story}: ${total} values decoded from ${bytes.length} bytes`);
  return 'parsed';
}

// A module case with I64 buffers, a tiny data-movement case, and an integer-only case.
const FILES = [
  'swin_block_8x8_w4_s2.safetensors',
  'window_ops_b1_4x6_w2_s1.safetensors',
  'rel_pos_index_2x2.safetensors',
];

function load(name: string): { bytes: Uint8Array; headerEnd: number } {
  const bytes = new Uint8Array(readFileSync(`${FIXTURES}/${name}`));
  const n = Number(new DataView(bytes.buffer).getBigUint64(0, true));
  return { bytes, headerEnd: 8 + n };
}

describe.each(FILES)('fuzz %s', (name) => {
  it('every truncation is rejected with SafetensorsError', () => {
    const { bytes, headerEnd } = load(name);
    const rand = prng(0x5eed ^ bytes.length);
    const t0 = performance.now();
    const lengths = new Set<number>([0, 1, 7, 8, 9, bytes.length - 1]);
    for (let i = 0; i < 8; i++) lengths.add(headerEnd - 1 + i);
    while (lengths.size < Math.min(2000, bytes.length)) lengths.add(Math.floor(rand() * bytes.length));
    for (const len of lengths) {
      expect(attempt(bytes.subarray(0, len), `truncated to ${len} bytes`)).toBe('rejected');
    }
    expect(performance.now() - t0).toBeLessThan(30_000);
  });

  it('random byte corruptions parse or throw SafetensorsError (4000 cases)', () => {
    const { bytes, headerEnd } = load(name);
    const work = bytes.slice();
    const rand = prng(0xc0ffee ^ bytes.length);
    const counts: Record<Outcome, number> = { parsed: 0, rejected: 0 };
    const t0 = performance.now();
    for (let iter = 0; iter < 4000; iter++) {
      const k = 1 + Math.floor(rand() * 8);
      const touched: number[] = [];
      for (let j = 0; j < k; j++) {
        // 3/4 of the hits land in the length prefix + JSON header, where they matter most
        const pos = rand() < 0.75 ? Math.floor(rand() * headerEnd) : Math.floor(rand() * bytes.length);
        touched.push(pos);
        const r = rand();
        // printable JSON-ish characters, digits and arbitrary bytes
        work[pos] =
          r < 0.3 ? '{}[]",:0123456789-.eE '.charCodeAt(Math.floor(rand() * 22)) : Math.floor(rand() * 256);
      }
      counts[attempt(work, `iteration ${iter}, bytes ${touched.join(',')}`)]++;
      for (const pos of touched) work[pos] = bytes[pos];
    }
    expect(counts.parsed + counts.rejected).toBe(4000);
    expect(counts.rejected).toBeGreaterThan(0);
    expect(performance.now() - t0).toBeLessThan(30_000);
  });

  it('random length-prefix values (any uint64) parse or throw SafetensorsError', () => {
    const { bytes } = load(name);
    const work = bytes.slice();
    const dv = new DataView(work.buffer);
    fc.assert(
      fc.property(fc.bigInt({ min: 0n, max: 2n ** 64n - 1n }), (len) => {
        dv.setBigUint64(0, len, true);
        attempt(work, `length prefix ${len}`);
      }),
      { seed: 42, numRuns: 2000 },
    );
    for (const len of [0n, 1n, 2n ** 32n, 2n ** 63n, 2n ** 64n - 1n, BigInt(bytes.length - 8)]) {
      dv.setBigUint64(0, len, true);
      attempt(work, `length prefix ${len}`);
    }
  });

  it('header splices (insertions/deletions inside the JSON) parse or throw SafetensorsError', () => {
    const { bytes, headerEnd } = load(name);
    const rand = prng(0xabcdef ^ bytes.length);
    const header = new TextDecoder().decode(bytes.subarray(8, headerEnd));
    const data = bytes.subarray(headerEnd);
    for (let iter = 0; iter < 500; iter++) {
      const at = Math.floor(rand() * header.length);
      const del = Math.floor(rand() * 6);
      const ins = Array.from(
        { length: Math.floor(rand() * 4) },
        () => '0123456789,-[]{}":e'[Math.floor(rand() * 19)],
      ).join('');
      const text = header.slice(0, at) + ins + header.slice(at + del);
      const json = new TextEncoder().encode(text);
      const file = new Uint8Array(8 + json.length + data.length);
      new DataView(file.buffer).setBigUint64(0, BigInt(json.length), true);
      file.set(json, 8);
      file.set(data, 8 + json.length);
      attempt(file, `splice at ${at}: -${del} +${JSON.stringify(ins)}`);
    }
  });
});

describe('fuzz: arbitrary inputs', () => {
  it('arbitrary byte strings', () => {
    fc.assert(
      fc.property(fc.uint8Array({ maxLength: 256 }), (b) => {
        attempt(b, `bytes ${Array.from(b).join(',')}`);
      }),
      { seed: 1, numRuns: 3000 },
    );
  });

  it('arbitrary JSON headers in valid framing', () => {
    fc.assert(
      fc.property(fc.jsonValue(), fc.uint8Array({ maxLength: 64 }), (header, data) => {
        const json = new TextEncoder().encode(JSON.stringify(header));
        const file = new Uint8Array(8 + json.length + data.length);
        new DataView(file.buffer).setBigUint64(0, BigInt(json.length), true);
        file.set(json, 8);
        file.set(data, 8 + json.length);
        attempt(file, `header ${JSON.stringify(header)}`);
      }),
      { seed: 2, numRuns: 2000 },
    );
  });

  it('structurally plausible headers (random dtype/shape/offsets) parse or throw SafetensorsError', () => {
    const entry = fc.record({
      dtype: fc.constantFrom('F32', 'F16', 'BF16', 'I64', 'I32', 'U8', 'F64', 'X'),
      shape: fc.array(fc.oneof(fc.integer({ min: -2, max: 5 }), fc.constant(2 ** 40)), { maxLength: 4 }),
      data_offsets: fc.tuple(
        fc.integer({ min: -1, max: 80 }),
        fc.oneof(fc.integer({ min: -1, max: 80 }), fc.constant(2 ** 50)),
      ),
    });
    fc.assert(
      fc.property(
        fc.dictionary(fc.string({ maxLength: 4 }), entry, { maxKeys: 4 }),
        fc.integer({ min: 0, max: 80 }),
        (h, n) => {
          const json = new TextEncoder().encode(JSON.stringify(h));
          const file = new Uint8Array(8 + json.length + n);
          new DataView(file.buffer).setBigUint64(0, BigInt(json.length), true);
          file.set(json, 8);
          attempt(file, `header ${JSON.stringify(h)} + ${n} data bytes`);
        },
      ),
      { seed: 3, numRuns: 3000 },
    );
  });

  it('corrupting the data of a written I64-free file never throws (data bytes are not validated)', () => {
    const file = writeSafetensors({ a: { shape: [3], data: new Float32Array([1, 2, 3]) } }, { dtype: 'F16' });
    const rand = prng(9);
    for (let i = 0; i < 200; i++) {
      const w = file.slice();
      w[w.length - 1 - Math.floor(rand() * 6)] = Math.floor(rand() * 256);
      expect(attempt(w, `data corruption ${i}`)).toBe('parsed');
    }
  });
});

describe('fuzz: hostile header structure (nesting, entry counts)', () => {
  /** A file from header text (no data). */
  const file = (text: string) => {
    const json = new TextEncoder().encode(text);
    const out = new Uint8Array(8 + json.length);
    new DataView(out.buffer).setBigUint64(0, BigInt(json.length), true);
    out.set(json, 8);
    return out;
  };
  const entry = '{"dtype":"F32","shape":[0],"data_offsets":[0,0]}';

  it('deep arrays/objects spliced at random places, 1,000 cases: SafetensorsError, never a RangeError', () => {
    const rand = prng(0xdee9);
    const t0 = performance.now();
    for (let i = 0; i < 1000; i++) {
      const depth = 1 + Math.floor(rand() * (i % 10 === 0 ? 200_000 : 200));
      const nested =
        rand() < 0.5
          ? '['.repeat(depth) + ']'.repeat(depth)
          : `${'{"k":'.repeat(depth)}1${'}'.repeat(depth)}`;
      const places = [
        nested,
        `{"t":${nested}}`,
        `{"t":{"dtype":"F32","shape":${nested},"data_offsets":[0,0]}}`,
        `{"__metadata__":{"m":${nested}},"t":${entry}}`,
        `{"t":{"dtype":${nested},"shape":[],"data_offsets":[0,0]}}`,
        `{"t":{"dtype":"F32","shape":[],"data_offsets":${nested}}}`,
      ];
      const text = places[i % places.length];
      const outcome = attempt(file(text), `depth ${depth} at place ${i % places.length}`);
      if (depth > 64) expect(outcome).toBe('rejected');
    }
    expect(performance.now() - t0).toBeLessThan(60_000);
  });

  it('many entries against small limits, 300 cases: rejected exactly above maxEntries', () => {
    const rand = prng(0xe7);
    for (let i = 0; i < 300; i++) {
      const n = Math.floor(rand() * 300);
      const limit = Math.floor(rand() * 300);
      const meta = rand() < 0.5 ? '"__metadata__":{"a":"b"},' : '';
      const body = Array.from({ length: n }, (_, k) => `"t${k}":${entry}`).join(',');
      const bytes = file(`{${meta}${body}}`.replace(',}', '}'));
      let ok: boolean;
      try {
        ok = readSafetensors(bytes, { maxEntries: limit }).tensors.size === n;
      } catch (e) {
        if (!(e instanceof SafetensorsError)) throw e;
        expect((e as Error).message).toMatch(/maxEntries/);
        ok = false;
      }
      expect(ok).toBe(n <= limit);
    }
  });
});
