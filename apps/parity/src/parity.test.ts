import { mkdtempSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { readSafetensors, writeSafetensors } from '@swin/io';
import {
  expectNoLeak,
  type Fixture,
  fixturesDir,
  listFixtures,
  loadFixture,
  NODE_BACKENDS,
  tf,
  useBackend,
} from '@swin/testing';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { HANDLERS } from './handlers/index.js';
import { formatResult, formatSummary, type Handler, runFixture } from './runner.js';

const FILES = listFixtures();

/** Family of each fixture, read from the header only (no tensors). */
function familyOf(file: string): string {
  return readSafetensors(new Uint8Array(readFileSync(join(fixturesDir(), file)))).metadata.family;
}

/** Families for which at least one handler matches at least one fixture: every fixture of those must run. */
async function builtFamilies(): Promise<Set<string>> {
  const built = new Set<string>();
  for (const f of FILES) {
    const fx = loadFixture(f);
    try {
      if (HANDLERS.some((h) => h.matches(fx))) built.add(fx.family);
    } finally {
      fx.dispose();
    }
  }
  return built;
}

let BUILT = new Set<string>();
beforeAll(async () => {
  await useBackend('cpu');
  BUILT = await builtFamilies();
});

it('finds fixtures and the data-movement families are built', () => {
  expect(FILES.length).toBeGreaterThan(0);
  for (const fam of ['window_ops', 'rel_pos_index', 'shifted_mask']) expect(BUILT.has(fam), fam).toBe(true);
});

describe.each(NODE_BACKENDS)('parity fixtures on %s', (backend) => {
  it.each(FILES)('%s', async (file) => {
    const r = await runFixture(file, backend);
    const line = formatResult(r);
    if (r.status === 'SKIP') {
      expect(r.reason).toMatch(/^family \S+ not built yet/);
      expect(BUILT.has(familyOf(file)), `${line}: a handler exists for this family but not this case`).toBe(
        false,
      );
      return;
    }
    expect(r.status, line).toBe('PASS');
    expect(r.perOutput.length).toBeGreaterThan(0);
    expect(r.perOutput.every((o) => o.ok)).toBe(true);
  });

  it('runFixture leaks no tensors (one fixture per built family, smallest file)', async () => {
    const smallest = new Map<string, string>();
    for (const f of FILES) {
      const fam = familyOf(f);
      if (!BUILT.has(fam)) continue;
      const cur = smallest.get(fam);
      if (!cur || statSync(join(fixturesDir(), f)).size < statSync(join(fixturesDir(), cur)).size)
        smallest.set(fam, f);
    }
    expect(smallest.size).toBeGreaterThan(0);
    for (const f of smallest.values()) {
      await expectNoLeak(async () => {
        const r = await runFixture(f, backend);
        expect(r.status, formatResult(r)).toBe('PASS');
      }, `runFixture(${f}, ${backend})`);
    }
  });
});

describe('the runner can fail', () => {
  let dir = '';
  beforeAll(() => {
    dir = mkdtempSync(join(tmpdir(), 'swin-parity-'));
  });
  afterAll(() => rmSync(dir, { recursive: true, force: true }));

  /** Copies a fixture with `mutate` applied to its (plain) tensors; returns the new path. */
  function corrupt(
    file: string,
    mutate: (t: Record<string, { shape: number[]; data: Float32Array | Int32Array }>) => void,
  ) {
    const parsed = readSafetensors(new Uint8Array(readFileSync(join(fixturesDir(), file))));
    const plain: Record<string, { shape: number[]; data: Float32Array | Int32Array }> = {};
    for (const [k, e] of parsed.tensors) {
      plain[k] = {
        shape: e.shape,
        data: e.data instanceof Float32Array ? e.data.slice() : Int32Array.from(e.data),
      };
    }
    mutate(plain);
    const path = join(dir, `corrupt_${file}`);
    writeFileSync(path, writeSafetensors(plain, { metadata: parsed.metadata }));
    return path;
  }

  it.each(NODE_BACKENDS)('one ulp in an exact window_ops output FAILs, naming it (%s)', async (backend) => {
    const path = corrupt('window_ops_b1_8x8_w4_s2.safetensors', (t) => {
      const d = t.shifted_partition.data as Float32Array;
      d[17] = Math.fround(d[17] * (1 + 2 ** -20));
    });
    const r = await runFixture(path, backend);
    expect(r.status).toBe('FAIL');
    expect(r.reason).toMatch(/shifted_partition: MISMATCH/);
    expect(r.perOutput.filter((o) => !o.ok).map((o) => o.name)).toEqual(['shifted_partition']);
    expect(r.maxAbs).toBeGreaterThan(0);
    expect(formatResult(r)).toMatch(
      /^FAIL corrupt_window_ops_b1_8x8_w4_s2\.safetensors max_abs=\S+ max_rel=\S+ shifted_partition/,
    );
  });

  it('a wrong relative position index and a flipped mask entry FAIL', async () => {
    await useBackend('cpu');
    const idx = corrupt('rel_pos_index_3x3.safetensors', (t) => {
      (t.output.data as Int32Array)[5] += 1;
    });
    expect((await runFixture(idx, 'cpu')).status).toBe('FAIL');
    const mask = corrupt('shifted_mask_8x8_w4_s2.safetensors', (t) => {
      const d = t.output.data as Float32Array;
      const i = d.indexOf(-100);
      d[i] = 0;
    });
    const r = await runFixture(mask, 'cpu');
    expect(r.status).toBe('FAIL');
    expect(r.maxAbs).toBe(100);
  });

  const fixture = 'window_ops_b1_4x6_w2_s1.safetensors';
  const clones = (fx: Fixture) =>
    Object.fromEntries(Object.entries(fx.expected).map(([k, t]) => [k, tf.clone(t)]));
  const handler = (run: Handler['run']): Handler[] => [{ name: 'fake', matches: () => true, run }];

  it.each(NODE_BACKENDS)(
    'fake handlers: PASS on exact copies, FAIL on every kind of error, nothing leaks (%s)',
    async (backend) => {
      await useBackend(backend);
      const before = tf.memory().numTensors;

      const pass = await runFixture(fixture, backend, { handlers: handler(clones) });
      expect(pass.status, formatResult(pass)).toBe('PASS');
      expect(pass.perOutput.map((o) => o.name).sort()).toEqual([
        'partition',
        'reverse',
        'roll_neg',
        'roll_pos',
        'shifted_partition',
      ]);
      expect(pass.maxAbs).toBe(0);

      // returning the fixture's own tensors must not double-dispose them
      const own = await runFixture(fixture, backend, { handlers: handler((fx) => ({ ...fx.expected })) });
      expect(own.status).toBe('PASS');

      const missing = await runFixture(fixture, backend, {
        handlers: handler((fx) => {
          const out = clones(fx);
          out.roll_pos.dispose();
          delete out.roll_pos;
          return out;
        }),
      });
      expect(missing.status).toBe('FAIL');
      expect(missing.reason).toMatch(/missing output 'roll_pos'/);
      expect(missing.perOutput.find((o) => o.name === 'roll_pos')?.missing).toBe(true);

      const threw = await runFixture(fixture, backend, {
        handlers: handler(() => {
          throw new Error('windowPartition: H=4 is not a multiple of window height 3');
        }),
      });
      expect(threw.status).toBe('FAIL');
      expect(threw.reason).toBe('fake threw: windowPartition: H=4 is not a multiple of window height 3');

      const rejected = await runFixture(fixture, backend, {
        handlers: handler(async () => Promise.reject(new Error('async boom'))),
      });
      expect(rejected.status).toBe('FAIL');
      expect(rejected.reason).toMatch(/async boom/);

      const tolerance = await runFixture('swin_block_8x8_w4_s2.safetensors', backend, {
        handlers: handler((fx) => ({ output: tf.tidy(() => tf.add(fx.expected.output, 2e-4)) })),
      });
      expect(tolerance.status).toBe('FAIL');
      expect(tolerance.maxAbs).toBeGreaterThan(1e-4);
      const within = await runFixture('swin_block_8x8_w4_s2.safetensors', backend, {
        handlers: handler((fx) => ({ output: tf.tidy(() => tf.add(fx.expected.output, 5e-5)) })),
      });
      expect(within.status, formatResult(within)).toBe('PASS');

      const shape = await runFixture(fixture, backend, {
        handlers: handler((fx) => {
          const out = clones(fx);
          out.partition.dispose();
          out.partition = tf.tidy(() => tf.reshape(fx.expected.partition, [-1]));
          return out;
        }),
      });
      expect(shape.status).toBe('FAIL');
      expect(shape.reason).toMatch(/partition: shape mismatch/);

      const skip = await runFixture(fixture, backend, { handlers: [] });
      expect(skip.status).toBe('SKIP');
      expect(skip.reason).toMatch(/^family window_ops not built yet/);
      expect(formatResult(skip)).toMatch(
        /^SKIP window_ops_b1_4x6_w2_s1\.safetensors family window_ops not built yet/,
      );

      const load = await runFixture(join(dir, 'does-not-exist.safetensors'), backend);
      expect(load.status).toBe('FAIL');
      expect(load.reason).toMatch(/could not load fixture/);

      expect(tf.memory().numTensors).toBe(before);
      expect(formatSummary([pass, missing, skip])).toBe('1 passed, 1 failed, 1 skipped');
    },
  );
});
