import { readFileSync } from 'node:fs';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { fileURLToPath, pathToFileURL } from 'node:url';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { CheckpointError } from './errors.js';
import { loadBytes, readCheckpoint, WEIGHTS_CACHE } from './source.js';

const FILE = fileURLToPath(
  new URL('../../../../shared/fixtures/checkpoints/swin_32_plain.pth', import.meta.url),
);
const BYTES = new Uint8Array(readFileSync(FILE));

/** Fast byte equality (vitest's deep equality walks typed arrays element by element). */
function same(a: Uint8Array, b: Uint8Array): boolean {
  return a.length === b.length && Buffer.compare(a, b) === 0;
}

let server: Server;
let base = '';
const hits: string[] = [];

beforeAll(async () => {
  server = createServer((req, res) => {
    hits.push(req.url ?? '');
    const path = new URL(req.url ?? '/', 'http://x').pathname;
    if (path === '/swin.pth') {
      res.writeHead(200, {
        'content-length': String(BYTES.length),
        'content-type': 'application/octet-stream',
      });
      // several writes so that the client sees several chunks
      const step = 50_000;
      let o = 0;
      const pump = () => {
        while (o < BYTES.length) {
          const ok = res.write(BYTES.subarray(o, o + step));
          o += step;
          if (!ok) return void res.once('drain', pump);
        }
        res.end();
      };
      pump();
    } else if (path === '/chunked.pth') {
      res.writeHead(200); // no content-length: chunked transfer
      res.write(BYTES.subarray(0, 1000));
      res.end(BYTES.subarray(1000));
    } else if (path === '/cut.pth') {
      res.writeHead(200, { 'content-length': String(BYTES.length) });
      res.write(BYTES.subarray(0, 1000), () => res.destroy());
    } else if (path === '/big.pth') {
      res.writeHead(200, { 'content-length': String(10 ** 12) });
      res.end();
    } else {
      res.writeHead(404, 'Not Found');
      res.end('nope');
    }
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  base = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
});

afterAll(async () => {
  server.closeAllConnections();
  await new Promise<void>((resolve) => server.close(() => resolve()));
});

describe('loadBytes / readCheckpoint from a URL (local server on 127.0.0.1)', () => {
  it('streams with progress callbacks and parses the checkpoint', async () => {
    const progress: [number, number | undefined][] = [];
    const ckpt = await readCheckpoint(`${base}/swin.pth`, { onProgress: (l, t) => progress.push([l, t]) });
    expect(Object.keys(ckpt.tensors).length).toBe(72);
    expect(progress.length).toBeGreaterThan(1);
    expect(progress[progress.length - 1]).toEqual([BYTES.length, BYTES.length]);
    for (let i = 1; i < progress.length; i++) expect(progress[i][0]).toBeGreaterThan(progress[i - 1][0]);
    // a URL object works the same
    const b = await loadBytes(new URL(`${base}/chunked.pth`));
    expect(same(b, BYTES)).toBe(true);
  });

  it('an HTTP error is one clear line with the status', async () => {
    const e = await readCheckpoint(`${base}/missing.pth`).catch((x: unknown) => x as Error);
    expect(e).toBeInstanceOf(CheckpointError);
    expect((e as Error).message).toBe(`checkpoint: GET ${base}/missing.pth failed: HTTP 404 Not Found`);
    await expect(loadBytes(`${base}/big.pth`, { maxBytes: 1e6 })).rejects.toThrow(
      /Content-Length 1000000000000 exceeds maxBytes 1000000/,
    );
    await expect(loadBytes(`${base}/cut.pth`)).rejects.toThrow(CheckpointError);
    await expect(loadBytes(`${base}/chunked.pth`, { maxBytes: 2000 })).rejects.toThrow(
      /more than maxBytes 2000/,
    );
  });

  it('uses Cache Storage when the platform has it (second load does not hit the network)', async () => {
    const store = new Map<string, Response>();
    const opened: string[] = [];
    const g = globalThis as { caches?: unknown };
    g.caches = {
      open: async (name: string) => {
        opened.push(name);
        return {
          match: async (u: string) => store.get(u)?.clone(),
          put: async (u: string, r: Response) => void store.set(u, r),
        };
      },
    };
    try {
      const url = `${base}/swin.pth?cached`;
      const before = hits.length;
      const a = await loadBytes(url);
      const b = await loadBytes(url);
      expect(hits.length - before).toBe(1);
      expect(same(b, a)).toBe(true);
      expect(opened).toEqual([WEIGHTS_CACHE, WEIGHTS_CACHE]);
      await loadBytes(url, { cache: false });
      expect(hits.length - before).toBe(2);
    } finally {
      delete g.caches;
    }
  });
});

describe('loadBytes from paths, Blobs and buffers', () => {
  it('a path, a file: URL, a Blob, an ArrayBuffer and a Uint8Array give the same bytes', async () => {
    const progress: number[] = [];
    expect(same(await loadBytes(FILE, { onProgress: (l) => progress.push(l) }), BYTES)).toBe(true);
    expect(progress[progress.length - 1]).toBe(BYTES.length);
    expect(same(await loadBytes(pathToFileURL(FILE)), BYTES)).toBe(true);
    expect(same(await loadBytes(new Blob([BYTES])), BYTES)).toBe(true);
    expect(same(await loadBytes(BYTES.slice().buffer), BYTES)).toBe(true);
    expect(await loadBytes(BYTES)).toBe(BYTES);
    const ckpt = await readCheckpoint(new Blob([BYTES]));
    expect(ckpt.format).toBe('torch-zip');
  });

  it('a missing file and a bad source are clear errors', async () => {
    await expect(loadBytes('/definitely/not/here.pth')).rejects.toThrow(
      /cannot read '\/definitely\/not\/here.pth': no such file/,
    );
    await expect(loadBytes(42 as unknown as string)).rejects.toThrow(/unsupported source \[object Number\]/);
    await expect(loadBytes(new URL('ftp://x/y'))).rejects.toThrow(/unsupported URL scheme 'ftp:'/);
    await expect(loadBytes(FILE, { maxBytes: 10 })).rejects.toThrow(/more than maxBytes 10/);
  });
});
