// Serves the built site (docs/.vitepress/dist) the way it must be deployed: cross-origin isolated
// (COOP same-origin + COEP require-corp, CORP same-origin on every file), so SharedArrayBuffer and the threaded
// tfjs-wasm build work. `vitepress preview` cannot set headers, hence this small server (no dependencies).
// Usage: node scripts/serve.mjs [--port 4173] [--host 127.0.0.1]
import { createReadStream, existsSync, statSync } from 'node:fs';
import { createServer } from 'node:http';
import { extname, join, normalize } from 'node:path';
import { fileURLToPath } from 'node:url';

export const ISOLATION_HEADERS = {
  'Cross-Origin-Opener-Policy': 'same-origin',
  'Cross-Origin-Embedder-Policy': 'require-corp',
  'Cross-Origin-Resource-Policy': 'same-origin',
};

const TYPES = {
  '.html': 'text/html; charset=utf-8',
  '.js': 'text/javascript; charset=utf-8',
  '.mjs': 'text/javascript; charset=utf-8',
  '.css': 'text/css; charset=utf-8',
  '.json': 'application/json',
  '.svg': 'image/svg+xml',
  '.png': 'image/png',
  '.jpg': 'image/jpeg',
  '.woff2': 'font/woff2',
  '.wasm': 'application/wasm',
  '.txt': 'text/plain; charset=utf-8',
  '.xml': 'application/xml',
};

/** Resolves a URL path to a file of `root` (clean URLs: `/a/b` -> `/a/b.html` or `/a/b/index.html`). */
function resolveFile(root, urlPath) {
  const clean = normalize(decodeURIComponent(urlPath)).replace(/^(\.\.[/\\])+/, '');
  for (const candidate of [clean, `${clean}.html`, join(clean, 'index.html')]) {
    const f = join(root, candidate);
    if (f.startsWith(root) && existsSync(f) && statSync(f).isFile()) return f;
  }
  return null;
}

/** Starts the server; resolves to the http.Server once listening. */
export function serve({ root, port = 4173, host = '127.0.0.1' }) {
  const server = createServer((req, res) => {
    const url = new URL(req.url ?? '/', 'http://localhost');
    const file = resolveFile(root, url.pathname);
    for (const [k, v] of Object.entries(ISOLATION_HEADERS)) res.setHeader(k, v);
    if (!file) {
      res.statusCode = 404;
      const notFound = join(root, '404.html');
      res.setHeader('Content-Type', TYPES['.html']);
      if (existsSync(notFound)) createReadStream(notFound).pipe(res);
      else res.end('not found');
      return;
    }
    res.setHeader('Content-Type', TYPES[extname(file)] ?? 'application/octet-stream');
    res.setHeader('Cache-Control', 'no-cache');
    createReadStream(file).pipe(res);
  });
  return new Promise((resolvePromise, reject) => {
    server.once('error', reject);
    server.listen(port, host, () => resolvePromise(server));
  });
}

if (process.argv[1] && fileURLToPath(import.meta.url) === process.argv[1]) {
  const arg = (name, fallback) => {
    const i = process.argv.indexOf(name);
    return i > 0 ? process.argv[i + 1] : fallback;
  };
  const root = fileURLToPath(new URL('../.vitepress/dist/', import.meta.url));
  if (!existsSync(root)) {
    console.error('docs/.vitepress/dist does not exist: run `pnpm --filter @swin/docs build` first');
    process.exit(1);
  }
  const port = Number(arg('--port', '4173'));
  const host = arg('--host', '127.0.0.1');
  await serve({ root, port, host });
  console.log(`built site served cross-origin isolated at http://${host}:${port}/`);
}
