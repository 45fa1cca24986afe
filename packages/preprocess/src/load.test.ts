import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { pathToFileURL } from 'node:url';
import { encode as encodePng } from 'fast-png';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { loadImage } from './load.js';
import { differingBytes } from './test-utils/golden.js';
import { PreprocessError } from './types.js';

const W = 13;
const H = 7;
const RGBA = new Uint8Array(W * H * 4).map((_, i) => (i * 37 + (i >> 2) * 11) & 255);
const RGB = new Uint8Array(W * H * 3);
for (let i = 0; i < W * H; i++) RGB.set(RGBA.subarray(i * 4, i * 4 + 3), i * 3);
const PNG: Uint8Array<ArrayBuffer> = new Uint8Array(
  encodePng({ width: W, height: H, data: RGBA, channels: 4, depth: 8 }),
);

let dir = '';
let server: Server;
let base = '';

beforeAll(async () => {
  dir = mkdtempSync(join(tmpdir(), 'swin-preprocess-'));
  writeFileSync(join(dir, 'image.png'), PNG);
  server = createServer((req, res) => {
    if (req.url === '/image.png') {
      res.writeHead(200, { 'content-type': 'image/png' });
      res.end(PNG);
    } else {
      res.writeHead(404);
      res.end();
    }
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  base = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
});

afterAll(async () => {
  rmSync(dir, { recursive: true, force: true });
  await new Promise((r) => server.close(r));
});

async function expectLoadError(source: unknown, re: RegExp): Promise<void> {
  const err = await loadImage(source as never).then(
    () => undefined,
    (e: unknown) => e,
  );
  expect(err).toBeInstanceOf(PreprocessError);
  expect((err as Error).message).toMatch(re);
  expect((err as Error).message).not.toContain('\n');
}

describe('loadImage: every source gives the same RGB pixels (alpha dropped, not composited)', () => {
  const sources: [string, () => unknown][] = [
    ['a Node path', () => join(dir, 'image.png')],
    ['a file: URL string', () => pathToFileURL(join(dir, 'image.png')).href],
    ['a URL object (http, 127.0.0.1)', () => new URL(`${base}/image.png`)],
    ['an http URL string', () => `${base}/image.png`],
    ['a Uint8Array', () => PNG],
    ['an ArrayBuffer', () => PNG.slice().buffer],
    ['a Node Buffer', () => Buffer.from(PNG)],
    ['a DataView', () => new DataView(PNG.slice().buffer)],
    ['a Blob', () => new Blob([PNG], { type: 'image/png' })],
    ['a File', () => new File([PNG], 'image.png', { type: 'image/png' })],
    [
      'an ImageData-like (Uint8ClampedArray RGBA)',
      () => ({ data: new Uint8ClampedArray(RGBA), width: W, height: H }),
    ],
    ['an RGBA Uint8Array with width/height', () => ({ data: RGBA, width: W, height: H })],
    ['an RGBImage', () => ({ data: RGB, width: W, height: H })],
  ];
  it.each(sources)('%s', async (_what, make) => {
    const img = await loadImage(make() as never);
    expect([img.width, img.height]).toEqual([W, H]);
    expect(differingBytes(img.data, RGB)).toBe(0);
  });
});

describe('loadImage: bad sources', () => {
  it('a missing file, a 404, an unsupported object, a wrong-sized ImageData, a budget', async () => {
    await expectLoadError(join(dir, 'nope.png'), /^loadImage: cannot read .*nope\.png: no such file$/);
    await expectLoadError(`${base}/missing.png`, /^loadImage: could not fetch .*: HTTP 404$/);
    await expectLoadError(42, /^loadImage: unsupported image source \(number\)/);
    await expectLoadError(null, /^loadImage: unsupported image source \(null\)/);
    await expectLoadError(new Map(), /^loadImage: unsupported image source \(Map\)/);
    await expectLoadError(
      { data: new Uint8ClampedArray(10), width: W, height: H },
      /pixel data has 10 bytes, expected width\*height\*4 = 364/,
    );
    await expectLoadError({ data: new Uint8ClampedArray(0), width: 0, height: 3 }, /0x3 is not a positive/);
    const err = await loadImage(
      { data: new Uint8ClampedArray(RGBA), width: W, height: H },
      { maxPixels: 50 },
    ).catch((e: unknown) => e);
    expect((err as Error).message).toMatch(/13x7 is over the pixel budget of 50/);
  });

  it('a file that is not an image gives the decoder error', async () => {
    writeFileSync(join(dir, 'notes.png'), 'not really a png');
    const err = await loadImage(join(dir, 'notes.png')).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(PreprocessError);
    expect((err as Error).message).toMatch(/^decodeImage: not a PNG or JPEG image/);
  });
});
