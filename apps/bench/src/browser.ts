/**
 * webgl / webgpu: serves `page.html` (bundling the bench) with vite on 127.0.0.1 and drives headless
 * Chromium with playwright-core (the system Chromium; no browser is downloaded).
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

export async function runInBrowser(
  plans: SuitePlan[],
  chromiumPath: string,
  log: Log,
): Promise<BenchRecord[]> {
  const { createServer, defaultClientConditions } = await import('vite');
  const { chromium } = await import('playwright-core');
  const root = fileURLToPath(new URL('..', import.meta.url));
  const server = await createServer({
    root,
    configFile: false,
    logLevel: 'warn',
    clearScreen: false,
    server: { host: '127.0.0.1', port: 0, strictPort: false, hmr: false, watch: null },
    resolve: { conditions: ['@swin/source', ...defaultClientConditions], dedupe: ['@tensorflow/tfjs-core'] },
    optimizeDeps: {
      entries: ['page.html'],
      include: ['@tensorflow/tfjs', '@tensorflow/tfjs-core', '@tensorflow/tfjs-backend-webgpu'],
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
    const page = await browser.newPage();
    page.on('console', (m) => {
      const text = m.text();
      if (text.startsWith('[vite]') || text.includes('GL Driver Message')) return;
      log(`[page] ${text}`);
    });
    page.on('pageerror', (e) => log(`[page error] ${e.message}`));
    await page.goto(`${url}page.html`);
    await page.waitForFunction(() => window.__swinBench !== undefined, null, { timeout: 180_000 });
    for (const plan of plans) {
      log(`browser: running ${plan.backend}`);
      const recs = await page.evaluate((p) => window.__swinBench!.run(p), plan);
      records.push(...recs);
    }
  } finally {
    await browser?.close().catch(() => {});
    await server.close().catch(() => {});
  }
  return records;
}
