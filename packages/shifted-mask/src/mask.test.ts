import { expectNoLeak, listFixtures, loadFixture, NODE_BACKENDS, tf, useBackend } from '@swin/testing';
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import {
  clearShiftedMaskCache,
  MASK_VALUE,
  PAD_REGION,
  paddedSize,
  regionIds,
  regionIdsPadded,
  shiftedWindowMask,
  shiftedWindowMaskArray,
  shiftedWindowMaskPadded,
  shiftedWindowMaskPaddedArray,
} from './index.js';

// ---------------------------------------------------------------------------------------------
// Brute force, transcribed from the official SwinTransformerBlock.__init__ (img_mask with Python
// slices, window_partition, pairwise difference, masked_fill).

/** Python `slice(start, stop)` on a length-`len` axis -> half-open [a, b). `null` = omitted. */
function pySlice(start: number | null, stop: number | null, len: number): [number, number] {
  const norm = (i: number | null, def: number) =>
    i === null ? def : i < 0 ? Math.max(len + i, 0) : Math.min(i, len);
  return [norm(start, 0), norm(stop, len)];
}

/** Official `img_mask` `[H, W]` (with Python's `-0 == 0` slice semantics). */
function officialImgMask(H: number, W: number, wh: number, ww: number, sh: number, sw: number): Int32Array {
  const img = new Int32Array(H * W);
  const hs = [pySlice(0, -wh, H), pySlice(-wh, -sh, H), pySlice(-sh, null, H)];
  const ws = [pySlice(0, -ww, W), pySlice(-ww, -sw, W), pySlice(-sw, null, W)];
  let cnt = 0;
  for (const [h0, h1] of hs) {
    for (const [w0, w1] of ws) {
      for (let y = h0; y < h1; y++) for (let x = w0; x < w1; x++) img[y * W + x] = cnt;
      cnt++;
    }
  }
  return img;
}

/** window_partition of a `[H, W]` label map + `mw[j] - mw[i] != 0 ? -100 : 0`. */
function maskFromImg(img: Int32Array, H: number, W: number, wh: number, ww: number): Float32Array {
  const n = wh * ww;
  const windows: number[][] = [];
  for (let bh = 0; bh < H / wh; bh++)
    for (let bw = 0; bw < W / ww; bw++) {
      const mw: number[] = [];
      for (let a = 0; a < wh; a++) for (let b = 0; b < ww; b++) mw.push(img[(bh * wh + a) * W + bw * ww + b]);
      windows.push(mw);
    }
  const out = new Float32Array(windows.length * n * n);
  windows.forEach((mw, w) => {
    for (let i = 0; i < n; i++)
      for (let j = 0; j < n; j++) out[(w * n + i) * n + j] = mw[j] - mw[i] !== 0 ? -100 : 0;
  });
  return out;
}

function officialMask(H: number, W: number, wh: number, ww: number, sh: number, sw: number): Float32Array {
  return maskFromImg(officialImgMask(H, W, wh, ww, sh, sw), H, W, wh, ww);
}

/** torch.roll(x, shifts=(-sh, -sw)) of a `[H, W]` map: out[r, c] = in[(r + sh) % H, (c + sw) % W]. */
function rollNeg<T extends Int32Array | Uint8Array>(x: T, H: number, W: number, sh: number, sw: number): T {
  const out = x.slice() as T;
  for (let r = 0; r < H; r++)
    for (let c = 0; c < W; c++) out[r * W + c] = x[((r + sh) % H) * W + ((c + sw) % W)];
  return out;
}

// ---------------------------------------------------------------------------------------------

/** Random valid geometry with H, W multiples of the window. */
const geometryArb = fc
  .record({
    wh: fc.integer({ min: 1, max: 7 }),
    ww: fc.integer({ min: 1, max: 7 }),
    kh: fc.integer({ min: 1, max: 4 }),
    kw: fc.integer({ min: 1, max: 4 }),
    fh: fc.double({ min: 0, max: 0.999, noNaN: true }),
    fw: fc.double({ min: 0, max: 0.999, noNaN: true }),
  })
  .map(({ wh, ww, kh, kw, fh, fw }) => ({
    H: wh * kh,
    W: ww * kw,
    wh,
    ww,
    sh: Math.floor(fh * wh),
    sw: Math.floor(fw * ww),
  }));

/** Random geometry with arbitrary H, W (padding needed). */
const paddedArb = fc
  .record({
    H: fc.integer({ min: 1, max: 20 }),
    W: fc.integer({ min: 1, max: 20 }),
    wh: fc.integer({ min: 1, max: 7 }),
    ww: fc.integer({ min: 1, max: 7 }),
    fh: fc.double({ min: 0, max: 0.999, noNaN: true }),
    fw: fc.double({ min: 0, max: 0.999, noNaN: true }),
  })
  .map(({ H, W, wh, ww, fh, fw }) => ({ H, W, wh, ww, sh: Math.floor(fh * wh), sw: Math.floor(fw * ww) }));

describe('shiftedWindowMaskArray / regionIds (plain JS)', () => {
  it('equals the brute-force official algorithm; symmetric, zero diagonal, values in {0, -100}', () => {
    fc.assert(
      fc.property(geometryArb, ({ H, W, wh, ww, sh, sw }) => {
        const m = shiftedWindowMaskArray(H, W, [wh, ww], [sh, sw]);
        expect(Array.from(m)).toEqual(Array.from(officialMask(H, W, wh, ww, sh, sw)));
        const n = wh * ww;
        const nW = (H / wh) * (W / ww);
        expect(m.length).toBe(nW * n * n);
        const bad: string[] = [];
        for (let w = 0; w < nW; w++)
          for (let i = 0; i < n; i++) {
            if (m[(w * n + i) * n + i] !== 0) bad.push(`diag w${w} i${i}`);
            for (let j = 0; j < n; j++) {
              const v = m[(w * n + i) * n + j];
              if (v !== 0 && v !== MASK_VALUE) bad.push(`value ${v} at w${w} ${i},${j}`);
              if (m[(w * n + j) * n + i] !== v) bad.push(`asymmetric w${w} ${i},${j}`);
            }
          }
        expect(bad).toEqual([]);
      }),
      { numRuns: 200 },
    );
  });

  it('shift 0 gives all zeros', () => {
    fc.assert(
      fc.property(geometryArb, ({ H, W, wh, ww }) => {
        expect(shiftedWindowMaskArray(H, W, [wh, ww], 0).every((v) => v === 0)).toBe(true);
      }),
    );
  });

  it('masks exactly the pairs that were not contiguous before the cyclic shift', () => {
    // Independent characterisation: in the rolled map, row r holds original row (r + sh) % H; a
    // token "wrapped" along h iff r >= H - sh. Two tokens of one window may attend to each other iff
    // they have the same wrap status along both axes.
    fc.assert(
      fc.property(geometryArb, ({ H, W, wh, ww, sh, sw }) => {
        const m = shiftedWindowMaskArray(H, W, [wh, ww], [sh, sw]);
        const n = wh * ww;
        const nWw = W / ww;
        const bad: string[] = [];
        for (let w = 0; w < (H / wh) * nWw; w++) {
          const [bh, bw] = [Math.floor(w / nWw), w % nWw];
          const wrap = (t: number) => {
            const r = bh * wh + Math.floor(t / ww);
            const c = bw * ww + (t % ww);
            return [r >= H - sh, c >= W - sw];
          };
          for (let i = 0; i < n; i++)
            for (let j = 0; j < n; j++) {
              const [a, b] = [wrap(i), wrap(j)];
              const want = a[0] === b[0] && a[1] === b[1] ? 0 : MASK_VALUE;
              if (m[(w * n + i) * n + j] !== want) bad.push(`w${w} ${i},${j}`);
            }
        }
        expect(bad).toEqual([]);
      }),
      { numRuns: 100 },
    );
  });

  it('regionIds is the official img_mask (rolled frame) and rolls back in the original frame', () => {
    fc.assert(
      fc.property(geometryArb, ({ H, W, wh, ww, sh, sw }) => {
        const ids = regionIds(H, W, [wh, ww], [sh, sw]);
        expect(ids.length).toBe(H * W);
        if (sh > 0 && sw > 0)
          expect(Array.from(ids)).toEqual(Array.from(officialImgMask(H, W, wh, ww, sh, sw)));
        // the mask built from the ids equals the official mask for every shift (also per-axis 0)
        expect(Array.from(maskFromImg(ids, H, W, wh, ww))).toEqual(
          Array.from(officialMask(H, W, wh, ww, sh, sw)),
        );
        const orig = regionIds(H, W, [wh, ww], [sh, sw], { frame: 'original' });
        expect(Array.from(rollNeg(orig, H, W, sh, sw))).toEqual(Array.from(ids));
        for (const v of ids) expect(v >= 0 && v < 9).toBe(true);
      }),
    );
  });

  it('has 9 distinct regions when both shifts are positive and the map has >= 2 windows per axis', () => {
    expect(new Set(regionIds(14, 21, 7, 3)).size).toBe(9);
    expect(new Set(regionIds(8, 8, 4, [2, 0])).size).toBe(3);
  });
});

describe('padded variants (plain JS)', () => {
  it('paddedSize rounds up to multiples of the window', () => {
    expect(paddedSize(14, 21, 7)).toEqual([14, 21]);
    expect(paddedSize(15, 20, [4, 7])).toEqual([16, 21]);
    expect(paddedSize(3, 3, 7)).toEqual([7, 7]);
  });

  it('equals shiftedWindowMask when H and W are multiples (both padding modes)', () => {
    fc.assert(
      fc.property(geometryArb, ({ H, W, wh, ww, sh, sw }) => {
        const plain = Array.from(shiftedWindowMaskArray(H, W, [wh, ww], [sh, sw]));
        for (const padding of ['isolate', 'reference'] as const) {
          expect(Array.from(shiftedWindowMaskPaddedArray(H, W, [wh, ww], [sh, sw], { padding }))).toEqual(
            plain,
          );
          expect(Array.from(regionIdsPadded(H, W, [wh, ww], [sh, sw], { padding }))).toEqual(
            Array.from(regionIds(H, W, [wh, ww], [sh, sw])),
          );
        }
      }),
    );
  });

  it("'reference' equals the official labelling on the padded Hp x Wp map (Swin detection BasicLayer)", () => {
    fc.assert(
      fc.property(paddedArb, ({ H, W, wh, ww, sh, sw }) => {
        const Hp = Math.ceil(H / wh) * wh;
        const Wp = Math.ceil(W / ww) * ww;
        expect(paddedSize(H, W, [wh, ww])).toEqual([Hp, Wp]);
        const m = shiftedWindowMaskPaddedArray(H, W, [wh, ww], [sh, sw], { padding: 'reference' });
        expect(Array.from(m)).toEqual(Array.from(officialMask(Hp, Wp, wh, ww, sh, sw)));
      }),
      { numRuns: 200 },
    );
  });

  it("'isolate' (default) separates padding from real tokens and keeps the reference mask among real tokens", () => {
    fc.assert(
      fc.property(paddedArb, ({ H, W, wh, ww, sh, sw }) => {
        const Hp = Math.ceil(H / wh) * wh;
        const Wp = Math.ceil(W / ww) * ww;
        const n = wh * ww;
        // padding flags in the original padded frame, then rolled like the features are
        const pad = new Uint8Array(Hp * Wp);
        for (let y = 0; y < Hp; y++) for (let x = 0; x < Wp; x++) pad[y * Wp + x] = y >= H || x >= W ? 1 : 0;
        const rolledPad = rollNeg(pad, Hp, Wp, sh, sw);
        const ref = officialMask(Hp, Wp, wh, ww, sh, sw);
        const m = shiftedWindowMaskPaddedArray(H, W, [wh, ww], [sh, sw]);
        expect(m.length).toBe(ref.length);
        const nWw = Wp / ww;
        const bad: string[] = [];
        for (let w = 0; w < m.length / (n * n); w++) {
          const [bh, bw] = [Math.floor(w / nWw), w % nWw];
          const isPad = (t: number) =>
            rolledPad[(bh * wh + Math.floor(t / ww)) * Wp + bw * ww + (t % ww)] === 1;
          for (let i = 0; i < n; i++)
            for (let j = 0; j < n; j++) {
              const k = (w * n + i) * n + j;
              // padding vs real: masked; real vs real: as the reference; padding vs padding: one region
              const want = isPad(i) !== isPad(j) ? MASK_VALUE : !isPad(i) ? ref[k] : 0;
              if (m[k] !== want) bad.push(`w${w} ${i},${j}: ${m[k]} != ${want}`);
              if (m[(w * n + j) * n + i] !== m[k]) bad.push(`asymmetric w${w} ${i},${j}`);
            }
          for (let i = 0; i < n; i++) if (m[(w * n + i) * n + i] !== 0) bad.push(`diag w${w} ${i}`);
        }
        expect(bad).toEqual([]);
        // the region map labels exactly the padding positions with PAD_REGION
        const ids = regionIdsPadded(H, W, [wh, ww], [sh, sw]);
        for (let k = 0; k < Hp * Wp; k++) expect(ids[k] === PAD_REGION).toBe(rolledPad[k] === 1);
        const orig = regionIdsPadded(H, W, [wh, ww], [sh, sw], { frame: 'original' });
        for (let k = 0; k < Hp * Wp; k++) expect(orig[k] === PAD_REGION).toBe(pad[k] === 1);
      }),
      { numRuns: 200 },
    );
  });

  it("'isolate' masks padding even with shift 0; 'reference' is all zeros then", () => {
    const iso = shiftedWindowMaskPaddedArray(5, 6, 4, 0);
    expect(iso.some((v) => v === MASK_VALUE)).toBe(true);
    expect(shiftedWindowMaskPaddedArray(5, 6, 4, 0, { padding: 'reference' }).every((v) => v === 0)).toBe(
      true,
    );
  });
});

const fixtureNames = listFixtures()
  .filter((f) => f.startsWith('shifted_mask_'))
  .map((f) => f.slice(0, -'.safetensors'.length));

describe.each(NODE_BACKENDS)('shiftedWindowMask on %s', (backend) => {
  it('finds the four shifted_mask fixtures', () => {
    expect(fixtureNames.length).toBe(4);
  });

  it.each(fixtureNames)('matches fixture %s exactly', async (name) => {
    await useBackend(backend);
    const fx = loadFixture(`${name}.safetensors`);
    const cfg = fx.config as {
      kwargs: { input_resolution: [number, number] };
      derived: { window_size: number; shift_size: number };
    };
    const [H, W] = cfg.kwargs.input_resolution;
    const { window_size: ws, shift_size: ss } = cfg.derived;
    const expected = { shape: fx.expected.output.shape, data: fx.expected.output.dataSync() };
    fx.dispose();
    const got = shiftedWindowMask(H, W, ws, ss);
    expect(got.dtype).toBe('float32');
    expect(got.shape).toEqual(expected.shape);
    expect(Array.from(await got.data())).toEqual(Array.from(expected.data));
    const padded = shiftedWindowMaskPadded(H, W, ws, ss);
    expect(Array.from(await padded.data())).toEqual(Array.from(expected.data));
    expect(Array.from(shiftedWindowMaskArray(H, W, [ws, ws], [ss, ss]))).toEqual(Array.from(expected.data));
    tf.dispose([got, padded]);
  });

  it('tensor equals the brute force for random geometries (property)', async () => {
    await useBackend(backend);
    await fc.assert(
      fc.asyncProperty(geometryArb, async ({ H, W, wh, ww, sh, sw }) => {
        const t = shiftedWindowMask(H, W, [wh, ww], [sh, sw]);
        expect(t.shape).toEqual([(H / wh) * (W / ww), wh * ww, wh * ww]);
        expect(Array.from(await t.data())).toEqual(Array.from(officialMask(H, W, wh, ww, sh, sw)));
        t.dispose();
      }),
      { numRuns: 40 },
    );
  });

  it('padded tensor equals the array variant', async () => {
    await useBackend(backend);
    for (const padding of ['isolate', 'reference'] as const) {
      const t = shiftedWindowMaskPadded(13, 10, [4, 3], [2, 1], { padding });
      expect(t.shape).toEqual([4 * 4, 12, 12]);
      expect(Array.from(await t.data())).toEqual(
        Array.from(shiftedWindowMaskPaddedArray(13, 10, [4, 3], [2, 1], { padding })),
      );
      t.dispose();
    }
  });

  it('returns caller-owned handles on a cached buffer: disposing or tidying them keeps the cache', async () => {
    await useBackend(backend);
    const a = shiftedWindowMask(8, 8, 4, 2);
    a.dispose();
    const b = shiftedWindowMask(8, 8, 4, 2);
    expect(Array.from(await b.data())).toEqual(Array.from(officialMask(8, 8, 4, 4, 2, 2)));
    b.dispose();
    clearShiftedMaskCache();
    shiftedWindowMask(8, 8, 4, 2).dispose();
    const before = tf.memory().numTensors;
    tf.tidy(() => {
      shiftedWindowMask(8, 8, 4, 2);
      shiftedWindowMaskPadded(7, 7, 4, 2);
    });
    // the padded mask was built (and kept) inside the tidy: one new cached tensor, nothing else
    expect(tf.memory().numTensors).toBe(before + 1);
    const c = shiftedWindowMaskPadded(7, 7, 4, 2);
    expect(c.isDisposed).toBe(false);
    expect(Array.from(await c.data())).toEqual(Array.from(shiftedWindowMaskPaddedArray(7, 7, 4, 2)));
    c.dispose();
  });

  it('leaks nothing', async () => {
    await useBackend(backend);
    await expectNoLeak(() => shiftedWindowMask(14, 21, 7, 3), 'shiftedWindowMask');
    await expectNoLeak(() => shiftedWindowMaskPadded(15, 19, 7, 3), 'shiftedWindowMaskPadded');
    await expectNoLeak(
      () => shiftedWindowMaskPadded(15, 19, 7, 3, { padding: 'reference' }),
      'shiftedWindowMaskPadded reference',
    );
  });

  it('cache is bounded and clearShiftedMaskCache releases everything', async () => {
    await useBackend(backend);
    clearShiftedMaskCache();
    const base = tf.memory().numTensors;
    for (let k = 1; k <= 50; k++) shiftedWindowMask(2 * k, 4, 2, 1).dispose();
    const grown = tf.memory().numTensors - base;
    expect(grown).toBeGreaterThan(0);
    expect(grown).toBeLessThanOrEqual(32);
    clearShiftedMaskCache();
    expect(tf.memory().numTensors).toBe(base);
    const t = shiftedWindowMask(4, 4, 2, 1);
    expect(Array.from(t.dataSync())).toEqual(Array.from(officialMask(4, 4, 2, 2, 1, 1)));
    t.dispose();
  });

  it('rejects bad geometry with clear errors', async () => {
    await useBackend(backend);
    expect(() => shiftedWindowMask(8, 8, 4, 4)).toThrow(
      /shiftedWindowMask: shift height 4 must be smaller than window height 4/,
    );
    expect(() => shiftedWindowMask(8, 8, [4, 2], [1, 2])).toThrow(
      /shift width 2 must be smaller than window width 2/,
    );
    expect(() => shiftedWindowMask(6, 8, 8, 2)).toThrow(
      /shiftedWindowMask: window height 8 exceeds map height H=6/,
    );
    expect(() => shiftedWindowMask(8, 6, 8, 2)).toThrow(/window width 8 exceeds map width W=6/);
    expect(() => shiftedWindowMask(14, 8, 4, 2)).toThrow(
      /shiftedWindowMask: H=14 is not a multiple of window height 4 \(use shiftedWindowMaskPadded\)/,
    );
    expect(() => shiftedWindowMask(8, 10, 4, 2)).toThrow(/W=10 is not a multiple of window width 4/);
    expect(() => shiftedWindowMask(8.5, 8, 4, 2)).toThrow(/H=8.5 must be an integer >= 1/);
    expect(() => shiftedWindowMask(8, 8, 4, -1)).toThrow(/shift=-1 must be an integer >= 0/);
    expect(() => shiftedWindowMask(8, 8, [4, 2.5] as [number, number], 1)).toThrow(/window\[1\]=2.5/);
    expect(() => shiftedWindowMask(8, 8, [4] as unknown as number, 1)).toThrow(
      /must be a number or a \[height, width\] pair/,
    );
    expect(() => shiftedWindowMaskPadded(0, 8, 4, 1)).toThrow(/shiftedWindowMaskPadded: H=0/);
    expect(() => shiftedWindowMaskPadded(5, 5, 4, 4)).toThrow(
      /shift height 4 must be smaller than window height 4/,
    );
    expect(() => shiftedWindowMaskPadded(5, 5, 4, 1, { padding: 'zero' as unknown as 'isolate' })).toThrow(
      /padding="zero" must be 'isolate' or 'reference'/,
    );
    expect(() => regionIds(8, 8, 3, 1)).toThrow(/regionIds: H=8 is not a multiple of window height 3/);
  });
});
