/**
 * Bytes from a checkpoint source (Node path, http(s) URL, `URL`, bytes, `Blob`) and the checkpoint they hold.
 *
 * TEMPORARY: `@swin/io` is getting `readCheckpoint(source)` / `loadBytes(source)` (CONTRACTS.md); until they
 * land, this module reads the bytes itself and parses them with `@swin/io`'s `parseCheckpoint`. Swap the two
 * functions below for io's and delete the rest once they exist.
 */
import { type Checkpoint, parseCheckpoint } from '@swin/io';

/** Where weights can come from: a path (Node), an http(s) URL, bytes or a `Blob`/`File`. */
export type CheckpointSource = string | URL | Uint8Array | ArrayBuffer | Blob;

/** Progress callback: bytes so far and the total when known. */
export type Progress = (loaded: number, total?: number) => void;

async function fetchBytes(url: string, onProgress?: Progress): Promise<Uint8Array> {
  const res = await fetch(url);
  if (!res.ok) throw new Error(`${url}: HTTP ${res.status} ${res.statusText}`.trim());
  const len = Number(res.headers.get('content-length'));
  const total = Number.isFinite(len) && len > 0 ? len : undefined;
  if (!res.body) {
    const b = new Uint8Array(await res.arrayBuffer());
    onProgress?.(b.length, total ?? b.length);
    return b;
  }
  const chunks: Uint8Array[] = [];
  let loaded = 0;
  const reader = res.body.getReader();
  for (;;) {
    const { done, value } = await reader.read();
    if (done) break;
    chunks.push(value);
    loaded += value.length;
    onProgress?.(loaded, total);
  }
  const out = new Uint8Array(loaded);
  let o = 0;
  for (const c of chunks) {
    out.set(c, o);
    o += c.length;
  }
  return out;
}

/** The bytes of `source` (a Node path is read with `node:fs`; URLs are fetched, streamed, with progress). */
export async function loadSourceBytes(
  source: CheckpointSource,
  opts: { onProgress?: Progress } = {},
): Promise<Uint8Array> {
  if (source instanceof Uint8Array) return source;
  if (source instanceof ArrayBuffer) return new Uint8Array(source);
  if (typeof Blob !== 'undefined' && source instanceof Blob)
    return new Uint8Array(await source.arrayBuffer());
  const s = source instanceof URL ? source.href : (source as string);
  if (/^https?:\/\//i.test(s)) return fetchBytes(s, opts.onProgress);
  if (typeof process === 'undefined' || !process.versions?.node) return fetchBytes(s, opts.onProgress);
  const { readFile } = await import(/* @vite-ignore */ 'node:fs/promises');
  const b = new Uint8Array(await readFile(s));
  opts.onProgress?.(b.length, b.length);
  return b;
}

/** Reads and parses a checkpoint (safetensors, torch zip, torch legacy) from `source`. */
export async function readCheckpointFrom(
  source: CheckpointSource,
  opts: { wrapper?: string; strict?: boolean; onProgress?: Progress } = {},
): Promise<Checkpoint> {
  const bytes = await loadSourceBytes(source, opts.onProgress ? { onProgress: opts.onProgress } : {});
  return parseCheckpoint(bytes, {
    ...(opts.wrapper !== undefined ? { wrapper: opts.wrapper } : {}),
    ...(opts.strict !== undefined ? { strict: opts.strict } : {}),
  });
}
