import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { basename, join } from 'node:path';
import { expectNoLeak, loadFixture, NODE_BACKENDS, useBackend } from '@swin/testing';
import jpeg from 'jpeg-js';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { listPreprocessFixtures } from './handlers/preprocess.js';
import { formatResult, runFixture } from './runner.js';

const FILES = listPreprocessFixtures();
const names = FILES.map((f) => basename(f));

beforeAll(async () => {
  await useBackend('cpu');
});

it('finds the preprocess fixtures', () => {
  expect(names.length).toBeGreaterThanOrEqual(4);
  expect(names.every((n) => n.startsWith('preprocess_'))).toBe(true);
});

describe.each(NODE_BACKENDS)('preprocess fixtures on %s', (backend) => {
  it.each(FILES.map((f) => [basename(f), f]))('%s', async (_name, path) => {
    const r = await runFixture(path, backend);
    expect(r.status, formatResult(r)).toBe('PASS');
    expect(r.handler).toBe('preprocess');
    // `file` is the input; the three stages are compared, decoded and resized exactly
    expect(r.perOutput.map((o) => o.name).sort()).toEqual(['decoded', 'expected', 'resized']);
    for (const o of r.perOutput) expect(o.maxAbs, o.name).toBe(0);
  });
});

describe('the preprocess family can fail', () => {
  let dir = '';
  const source = FILES.find((f) => f.includes('camera')) ?? FILES[0];
  beforeAll(() => {
    dir = mkdtempSync(join(tmpdir(), 'swin-parity-pre-'));
  });
  afterAll(() => rmSync(dir, { recursive: true, force: true }));

  type Plain = Record<string, { shape: number[]; data: Float32Array | Int32Array }>;

  /**
   * A safetensors file of `tensors` (`expected` as F32, the images and bytes as U8 like the real fixtures),
   * written here so that the test does not depend on which package holds the safetensors writer.
   */
  function writeFixture(path: string, tensors: Plain, metadata: Record<string, string>): void {
    const header: Record<string, unknown> = { __metadata__: metadata };
    const blobs: Uint8Array[] = [];
    let offset = 0;
    for (const [key, t] of Object.entries(tensors)) {
      const bytes =
        t.data instanceof Float32Array ? new Uint8Array(t.data.buffer.slice(0)) : Uint8Array.from(t.data);
      header[key] = {
        dtype: t.data instanceof Float32Array ? 'F32' : 'U8',
        shape: t.shape,
        data_offsets: [offset, offset + bytes.length],
      };
      blobs.push(bytes);
      offset += bytes.length;
    }
    let json = JSON.stringify(header);
    json += ' '.repeat((8 - (json.length % 8)) % 8);
    const out = new Uint8Array(8 + json.length + offset);
    new DataView(out.buffer).setBigUint64(0, BigInt(json.length), true);
    out.set(new TextEncoder().encode(json), 8);
    let o = 8 + json.length;
    for (const b of blobs) {
      out.set(b, o);
      o += b.length;
    }
    writeFileSync(path, out);
  }

  /** Copies the fixture with `mutate` applied to its (plain) tensors and `metadata` merged in; returns the path. */
  function corrupt(tag: string, mutate: (t: Plain) => void, metadata: Record<string, string> = {}): string {
    const fx = loadFixture(source);
    const plain: Plain = {};
    try {
      for (const [k, t] of Object.entries(fx.expected)) {
        const data = t.dataSync();
        plain[k] = {
          shape: t.shape,
          data: k === 'expected' ? Float32Array.from(data) : Int32Array.from(data),
        };
      }
    } finally {
      fx.dispose();
    }
    mutate(plain);
    const path = join(dir, `${tag}_${basename(source)}`);
    writeFixture(path, plain, { ...fx.metadata, ...metadata });
    return path;
  }

  it('one level off in one pixel of `resized` FAILs (exact)', async () => {
    const path = corrupt('resized', (t) => {
      const d = t.resized.data;
      d[1000] = d[1000] === 255 ? 254 : d[1000] + 1;
    });
    const r = await runFixture(path, 'cpu');
    expect(r.status).toBe('FAIL');
    expect(r.perOutput.filter((o) => !o.ok).map((o) => o.name)).toEqual(['resized']);
  });

  it('`expected` is held to one 8-bit level: half a level passes, one and a half fail', async () => {
    const level = 1 / (255 * 0.225); // max over channels of one level after Normalize
    const shift = (by: number) => (t: Plain) => {
      const d = t.expected.data as Float32Array;
      d[7] += by * level;
    };
    const ok = await runFixture(corrupt('half', shift(0.5)), 'cpu');
    expect(ok.status, formatResult(ok)).toBe('PASS');
    expect(ok.maxAbs).toBeGreaterThan(1e-3); // looser than the 1e-4 of the model families, as the README says
    const bad = await runFixture(corrupt('oneandhalf', shift(1.5)), 'cpu');
    expect(bad.status).toBe('FAIL');
    expect(bad.reason).toMatch(/^expected: MISMATCH/);
  });

  /** The fixture with its `file` replaced by a JPEG of `decoded` (metadata format 'jpeg'). */
  function asJpeg(tag: string, quality: number): string {
    return corrupt(
      tag,
      (t) => {
        const [height, width] = t.decoded.shape;
        const rgba = new Uint8Array(width * height * 4).fill(255);
        for (let i = 0; i < width * height; i++) {
          for (let c = 0; c < 3; c++) rgba[i * 4 + c] = t.decoded.data[i * 3 + c];
        }
        const file = jpeg.encode({ data: rgba, width, height }, quality).data;
        t.file = { shape: [file.length], data: Int32Array.from(file) };
      },
      { format: 'jpeg' },
    );
  }

  it("a JPEG fixture: decoded is held to the mean bound, resized/expected stay exact from PIL's decode", async () => {
    const good = await runFixture(asJpeg('jpeg95', 95), 'cpu');
    expect(good.status, formatResult(good)).toBe('PASS');
    const decoded = good.perOutput.find((o) => o.name === 'decoded');
    expect(decoded?.maxAbs).toBeGreaterThan(0); // lossy, so not exact: the mean bound applies
    expect(good.perOutput.find((o) => o.name === 'resized')?.maxAbs).toBe(0);
    const bad = await runFixture(asJpeg('jpeg3', 3), 'cpu');
    expect(bad.status).toBe('FAIL');
    expect(bad.reason).toMatch(/JPEG decode differs from PIL's by [\d.]+ levels on average \(bound 1\.5\)/);
  });

  it('a truncated image file FAILs with the decoder error, leaking nothing', async () => {
    const path = corrupt('truncated', (t) => {
      t.file = { shape: [5000], data: t.file.data.slice(0, 5000) };
    });
    await expectNoLeak(async () => {
      const r = await runFixture(path, 'cpu');
      expect(r.status).toBe('FAIL');
      expect(r.reason).toMatch(/^preprocess threw: decodeImage: truncated PNG/);
    }, 'truncated preprocess fixture');
  });
});
