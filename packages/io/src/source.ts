/**
 * Weights from anywhere: a path (Node), an http(s) URL (fetch, streamed, progress, Cache Storage in the
 * browser), a `File` / `Blob`, an `ArrayBuffer` or a `Uint8Array`. Platform-neutral: Node modules are loaded
 * only through a dynamic import when a path is given.
 */
import { type Checkpoint, type ParseCheckpointOptions, parseCheckpoint } from './checkpoint.js';
import { fail, quote } from './errors.js';

/** Where weights come from: a path in Node, an http(s) URL, or the bytes themselves. */
export type CheckpointSource = string | URL | Uint8Array | ArrayBuffer | Blob;

/** Options of {@link loadBytes}. */
export interface LoadBytesOptions {
  /** Called as bytes arrive (`total` when known: Content-Length, file or Blob size). */
  onProgress?: (loaded: number, total?: number) => void;
  /** Browser: keep URL downloads in Cache Storage (`caches`, cache `swin-io-weights`) and reuse them. Default true. */
  cache?: boolean;
  /** Largest download / file accepted, in bytes (default 8 GiB). */
  maxBytes?: number;
  /** Aborts a download. */
  signal?: AbortSignal;
}

/** Options of {@link readCheckpoint}: parsing options plus loading options. */
export interface ReadCheckpointOptions extends ParseCheckpointOptions {
  onProgress?: (loaded: number, total?: number) => void;
  cache?: boolean;
  signal?: AbortSignal;
}

/** Name of the Cache Storage cache used for downloaded weights. */
export const WEIGHTS_CACHE = 'swin-io-weights';

const DEFAULT_MAX = 8 * 1024 ** 3;
const CHUNK = 16 * 1024 * 1024;

function isHttp(s: string): boolean {
  return /^https?:\/\//i.test(s);
}

function isNode(): boolean {
  const p = (globalThis as { process?: { versions?: { node?: string } } }).process;
  return typeof p?.versions?.node === 'string';
}

/** Reads a whole stream, checking `maxBytes` as it goes. */
async function readStream(
  stream: ReadableStream<Uint8Array>,
  total: number | undefined,
  max: number,
  what: string,
  onProgress?: (loaded: number, total?: number) => void,
): Promise<Uint8Array> {
  const reader = stream.getReader();
  const chunks: Uint8Array[] = [];
  let loaded = 0;
  for (;;) {
    let r: ReadableStreamReadResult<Uint8Array>;
    try {
      r = await reader.read();
    } catch (e) {
      const cause = (e as { cause?: { message?: string } }).cause?.message;
      fail(`${what} failed after ${loaded} bytes: ${(e as Error).message}${cause ? ` (${cause})` : ''}`);
    }
    const { done, value } = r;
    if (done) break;
    loaded += value.length;
    if (loaded > max) {
      await reader.cancel().catch(() => {});
      fail(`${what}: more than maxBytes ${max} bytes`);
    }
    chunks.push(value);
    onProgress?.(loaded, total);
  }
  if (chunks.length === 1) return chunks[0];
  const out = new Uint8Array(loaded);
  let o = 0;
  for (const c of chunks) {
    out.set(c, o);
    o += c.length;
  }
  return out;
}

async function fetchBytes(url: string, opts: LoadBytesOptions, max: number): Promise<Uint8Array> {
  const what = `GET ${url}`;
  type CacheLike = {
    match(u: string): Promise<Response | undefined>;
    put(u: string, r: Response): Promise<void>;
  };
  const cachesApi = (globalThis as { caches?: { open(name: string): Promise<CacheLike> } }).caches;
  let cache: CacheLike | undefined;
  if (opts.cache !== false && cachesApi) {
    try {
      cache = await cachesApi.open(WEIGHTS_CACHE);
      const hit = await cache.match(url);
      if (hit?.ok && hit.body) {
        const len = Number(hit.headers.get('content-length'));
        return await readStream(
          hit.body,
          Number.isFinite(len) && len > 0 ? len : undefined,
          max,
          what,
          opts.onProgress,
        );
      }
    } catch {
      cache = undefined; // an unusable cache is not an error: download instead
    }
  }
  let res: Response;
  try {
    res = await fetch(url, { signal: opts.signal });
  } catch (e) {
    const cause = (e as { cause?: { message?: string } }).cause?.message;
    fail(`${what} failed: ${(e as Error).message}${cause ? ` (${cause})` : ''}`);
  }
  if (!res.ok) {
    await res.body?.cancel().catch(() => {});
    fail(`${what} failed: HTTP ${res.status}${res.statusText ? ` ${res.statusText}` : ''}`);
  }
  const lenHeader = res.headers.get('content-length');
  const encoded = (res.headers.get('content-encoding') ?? 'identity') !== 'identity';
  const total = lenHeader !== null && /^\d+$/.test(lenHeader) && !encoded ? Number(lenHeader) : undefined;
  if (total !== undefined && total > max) {
    await res.body?.cancel().catch(() => {});
    fail(`${what}: Content-Length ${total} exceeds maxBytes ${max}`);
  }
  let bytes: Uint8Array;
  if (res.body) bytes = await readStream(res.body, total, max, what, opts.onProgress);
  else {
    bytes = new Uint8Array(await res.arrayBuffer());
    opts.onProgress?.(bytes.length, bytes.length);
  }
  if (total !== undefined && bytes.length !== total) {
    fail(`${what}: received ${bytes.length} bytes but Content-Length said ${total} (connection cut?)`);
  }
  if (cache) {
    try {
      const copy = bytes.slice();
      await cache.put(url, new Response(copy, { headers: { 'content-length': String(copy.length) } }));
    } catch {
      // quota or private mode: keep going without the cache
    }
  }
  return bytes;
}

async function readPath(path: string, opts: LoadBytesOptions, max: number): Promise<Uint8Array> {
  if (!isNode())
    fail(`cannot read the path ${quote(path)} here: pass a URL, File, Blob or bytes in the browser`);
  const spec = 'node:fs/promises';
  const fs = (await import(/* @vite-ignore */ spec)) as typeof import('node:fs/promises');
  let fh: Awaited<ReturnType<typeof fs.open>>;
  try {
    fh = await fs.open(path, 'r');
  } catch (e) {
    const code = (e as { code?: string }).code;
    fail(
      `cannot read ${quote(path, 200)}: ${code === 'ENOENT' ? 'no such file' : (code ?? (e as Error).message)}`,
    );
  }
  try {
    const { size } = await fh.stat();
    if (size > max) fail(`${quote(path, 200)} is ${size} bytes, more than maxBytes ${max}`);
    const out = new Uint8Array(size);
    let o = 0;
    while (o < size) {
      const { bytesRead } = await fh.read(out, o, Math.min(CHUNK, size - o), o);
      if (bytesRead === 0) fail(`${quote(path, 200)} shrank while being read`);
      o += bytesRead;
      opts.onProgress?.(o, size);
    }
    if (size === 0) opts.onProgress?.(0, 0);
    return out;
  } catch (e) {
    if ((e as Error).name === 'CheckpointError') throw e;
    fail(`cannot read ${quote(path, 200)}: ${(e as Error).message}`);
  } finally {
    await fh.close();
  }
}

/**
 * Loads the bytes of a weights file from a path (Node), an http(s) URL (streamed with progress; cached in
 * Cache Storage in the browser), a `File`/`Blob`, an `ArrayBuffer` or a `Uint8Array` (returned as is).
 *
 * @throws CheckpointError naming the source: missing file, HTTP status, size over `maxBytes`, cut download
 */
export async function loadBytes(source: CheckpointSource, opts: LoadBytesOptions = {}): Promise<Uint8Array> {
  const max = opts.maxBytes ?? DEFAULT_MAX;
  if (source instanceof Uint8Array) return source;
  if (source instanceof ArrayBuffer) return new Uint8Array(source);
  if (typeof Blob !== 'undefined' && source instanceof Blob) {
    if (source.size > max) fail(`Blob of ${source.size} bytes exceeds maxBytes ${max}`);
    const name = (source as { name?: string }).name;
    return readStream(
      source.stream(),
      source.size,
      max,
      name ? `file ${quote(name)}` : 'Blob',
      opts.onProgress,
    );
  }
  if (source instanceof URL) {
    if (source.protocol === 'file:') {
      const spec = 'node:url';
      const { fileURLToPath } = (await import(/* @vite-ignore */ spec)) as typeof import('node:url');
      return readPath(fileURLToPath(source), opts, max);
    }
    if (source.protocol === 'http:' || source.protocol === 'https:')
      return fetchBytes(source.href, opts, max);
    fail(`unsupported URL scheme ${quote(source.protocol)}`);
  }
  if (typeof source === 'string') {
    if (isHttp(source)) return fetchBytes(source, opts, max);
    if (source.startsWith('file:')) return loadBytes(new URL(source), opts);
    return readPath(source, opts, max);
  }
  fail(
    `unsupported source ${Object.prototype.toString.call(source)}: pass a path, URL, Blob, ArrayBuffer or Uint8Array`,
  );
}

/**
 * Loads and parses a weights file (safetensors, torch zip, legacy torch) from any {@link CheckpointSource}.
 * Same result and errors as `parseCheckpoint`, plus the loading errors of {@link loadBytes}.
 */
export async function readCheckpoint(
  source: CheckpointSource,
  opts: ReadCheckpointOptions = {},
): Promise<Checkpoint> {
  const bytes = await loadBytes(source, {
    onProgress: opts.onProgress,
    cache: opts.cache,
    maxBytes: opts.maxBytes,
    signal: opts.signal,
  });
  return parseCheckpoint(bytes, opts);
}
