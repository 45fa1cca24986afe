/**
 * Test helpers: run the `swin` CLI as a child process (tsx with the `@swin/source` condition, like
 * `pnpm swin`), and serve files over http on 127.0.0.1 for the URL paths.
 */
import { spawn } from 'node:child_process';
import { createReadStream, statSync } from 'node:fs';
import { createServer, type Server } from 'node:http';
import { createRequire } from 'node:module';
import type { AddressInfo } from 'node:net';
import { fileURLToPath } from 'node:url';

const require = createRequire(import.meta.url);
const TSX_CLI = require.resolve('tsx/cli');
const BIN = fileURLToPath(new URL('../bin.ts', import.meta.url));

/** What a child run printed and returned. */
export interface RunResult {
  code: number | null;
  stdout: string;
  stderr: string;
}

/** Runs `swin ...args` in a child process (bounded by `timeoutMs`, default 240 s); never rejects on a non-zero exit. */
export function runSwin(args: string[], opts: { cwd?: string; timeoutMs?: number } = {}): Promise<RunResult> {
  return new Promise((resolve, reject) => {
    const env = { ...process.env };
    delete env.SWIN_DEBUG;
    const child = spawn(process.execPath, [TSX_CLI, '--conditions=@swin/source', BIN, ...args], {
      cwd: opts.cwd,
      env,
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    let stdout = '';
    let stderr = '';
    child.stdout.setEncoding('utf8').on('data', (d) => {
      stdout += d;
    });
    child.stderr.setEncoding('utf8').on('data', (d) => {
      stderr += d;
    });
    const timer = setTimeout(() => {
      child.kill('SIGKILL');
      reject(new Error(`swin ${args.join(' ')} timed out\nstdout: ${stdout}\nstderr: ${stderr}`));
    }, opts.timeoutMs ?? 240_000);
    child.on('error', (e) => {
      clearTimeout(timer);
      reject(e);
    });
    child.on('close', (code) => {
      clearTimeout(timer);
      resolve({ code, stdout, stderr });
    });
  });
}

/** A file server on 127.0.0.1: `url(name)` for each served name; `close()` ends it (and any open sockets). */
export interface FileServer {
  url(name: string): string;
  /** Paths requested so far (to check that the CLI really fetched). */
  requests: string[];
  close(): Promise<void>;
}

/**
 * Serves `files` (`/name` -> local path) on an ephemeral port of 127.0.0.1 with `Content-Length`, streamed in
 * chunks so that progress has something to report; any other path is a 404.
 */
export async function serveFiles(files: Record<string, string>): Promise<FileServer> {
  const requests: string[] = [];
  const server: Server = createServer((req, res) => {
    const name = decodeURIComponent((req.url ?? '/').split('?')[0].slice(1));
    requests.push(`/${name}`);
    const path = files[name];
    if (req.method !== 'GET' || path === undefined) {
      res.writeHead(404, { 'content-type': 'text/plain' }).end('not found');
      return;
    }
    res.writeHead(200, {
      'content-type': 'application/octet-stream',
      'content-length': String(statSync(path).size),
    });
    createReadStream(path, { highWaterMark: 64 * 1024 }).pipe(res);
  });
  server.requestTimeout = 60_000;
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(0, '127.0.0.1', () => resolve());
  });
  const { port } = server.address() as AddressInfo;
  return {
    url: (name) => `http://127.0.0.1:${port}/${encodeURIComponent(name)}`,
    requests,
    close: () =>
      new Promise<void>((resolve) => {
        server.closeAllConnections();
        server.close(() => resolve());
      }),
  };
}
