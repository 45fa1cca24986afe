/**
 * webgl / webgpu (and with `--browser` every backend): serves `page.html` (bundling the bench) with vite on
 * 127.0.0.1 and drives headless Chromium with playwright-core (the system Chromium; no browser is
 * downloaded). The page is cross-origin isolated (COOP/COEP headers), so tfjs-wasm loads its threaded
 * build; each wasm thread count gets its own page load (threads are fixed when the backend initialises).
 */
import { fileURLToPath } from 'node:url';
import type { BenchRecord } from './records.js';
import type { Log } from './runner.js';
import type { SuitePlan } from './suite.js';

/** Flags that work as root in a container; WebGPU falls back to SwiftShader without a GPU. */
export const CHROMIUM_FLAGS = [
  '--no-sandbox',
  '--disable-quic',
  '--no-first-run',
  '--disable-background-networking',
  '--disable-component-update',
  '--disable-sync',
  '--enable-unsafe-webgpu',
];

/** Headers that make the page cross-origin isolated (`crossOriginIsolated`, SharedArrayBuffer, threads). */
export const ISOLATION_HEADERS = {
  'Cross-Origin-Opener-Policy': 'same-origin',
  'Cross-Origin-Embedder-Policy': 'require-corp',
  'Cross-Origin-Resource-Policy': 'same-origin',
};

/**
 * Runs `plans` in headless Chromium. `threads`: wasm thread counts, one page load each (the other backends
 * run on the first page only); null = one page with tfjs's default.
 */
export async function runInBrowser(
  plans: SuitePlan[],
  chromiumPath: string,
  log: Log,
  threads: number[] | null = null,
): Promise<BenchRecord[]> {
  const { createServer, defaultClientConditions } = await import('vite');
  const { chromium } = await import('playwright-core');
  const root = fileURLToPath(new URL('..', import.meta.url));
  const server = await createServer({
    root,
    configFile: false,
    logLevel: 'warn',
    clearScreen: false,
    server: {
      host: '127.0.0.1',
      port: 0,
      strictPort: false,
      hmr: false,
      watch: null,
      headers: ISOLATION_HEADERS,
    },
    resolve: { conditions: ['@swin/source', ...defaultClientConditions], dedupe: ['@tensorflow/tfjs-core'] },
    optimizeDeps: {
      entries: ['page.html'],
      include: [
        '@tensorflow/tfjs',
        '@tensorflow/tfjs-core',
        '@tensorflow/tfjs-backend-webgpu',
        '@tensorflow/tfjs-backend-wasm',
      ],
    },
  });
  const records: BenchRecord[] = [];
  let browser: Awaited<ReturnType<typeof chromium.launch>> | null = null;
  try {
    await server.listen();
    const url = server.resolvedUrls?.local[0];
    if (!url) throw new Error('vite did not report a local URL');
    log(`browser: serving ${url}page.html, launching ${chromiumPath}`);
    browser = await chromium.launch({ executablePath: chromiumPath, headless: true, args: CHROMIUM_FLAGS });
    const counts: (number | null)[] = threads ?? [null];
    for (const [i, t] of counts.entries()) {
      const todo = plans.filter((p) => p.backend === 'wasm' || i === 0);
      if (todo.length === 0) continue;
      const page = await browser.newPage();
      page.on('console', (m) => {
        const text = m.text();
        if (text.startsWith('[vite]') || text.includes('GL Driver Message')) return;
        log(`[page] ${text}`);
      });
      page.on('pageerror', (e) => log(`[page error] ${e.message}`));
      await page.goto(`${url}page.html${t === null ? '' : `?threads=${t}`}`);
      await page.waitForFunction(() => window.__swinBench !== undefined, null, { timeout: 180_000 });
      const info = await page.evaluate(() => window.__swinBench!.info);
      log(
        `browser: page${t === null ? '' : ` for ${t} thread(s)`}: crossOriginIsolated=${info.crossOriginIsolated}` +
          `, hardwareConcurrency=${info.hardwareConcurrency}`,
      );
      for (const plan of todo) {
        log(`browser: running ${plan.backend}`);
        const recs = await page.evaluate((p) => window.__swinBench!.run(p), {
          ...plan,
          environment: 'browser' as const,
        });
        records.push(...recs);
      }
      await page.close();
    }
  } finally {
    await browser?.close().catch(() => {});
    await server.close().catch(() => {});
  }
  return records;
}
