import { type ChildProcess, spawn } from 'node:child_process';
import { existsSync } from 'node:fs';
import { createRequire } from 'node:module';
import { createServer } from 'node:net';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import type { Browser } from 'playwright';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { expectations } from '../examples/expectations.js';
import { CHROMIUM, launchChromium, recordingTab } from './browser.js';

// `pnpm --filter @swin/docs dev` (what the README advertises) must run the examples as the built site does:
// starts `vitepress dev` on 127.0.0.1 at a free port with a cold dependency cache (--force: Vite pre-bundles
// tfjs and its wasm backend again, as on a fresh clone), opens the getting-started page in its own headless
// Chromium and runs its wasm example: cross-origin isolated, on the declared backend, the promised output,
// no console error and no failed request. The dev script's TypeDoc step is skipped (the API pages are not
// needed here).
const docsDir = fileURLToPath(new URL('..', import.meta.url));
const vitepressBin = join(
  createRequire(import.meta.url).resolve('vitepress/package.json'),
  '..',
  'bin',
  'vitepress.js',
);
const PAGE = '/guide/getting-started';
const EXAMPLE = 'use-a-model';

function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const s = createServer();
    s.once('error', reject);
    s.listen(0, '127.0.0.1', () => {
      const addr = s.address();
      s.close(() => (addr && typeof addr !== 'string' ? resolve(addr.port) : reject(new Error('no port'))));
    });
  });
}

let dev: ChildProcess | undefined;
let browser: Browser | undefined;
let origin = '';
let devLog = '';

describe.runIf(existsSync(CHROMIUM))('docs in `vitepress dev`', () => {
  beforeAll(async () => {
    const port = await freePort();
    origin = `http://127.0.0.1:${port}`;
    dev = spawn(
      process.execPath,
      [vitepressBin, 'dev', '.', '--host', '127.0.0.1', '--port', String(port), '--strictPort', '--force'],
      { cwd: docsDir, stdio: ['ignore', 'pipe', 'pipe'], env: { ...process.env, NO_COLOR: '1' } },
    );
    const child = dev;
    await new Promise<void>((resolve, reject) => {
      const timer = setTimeout(() => reject(new Error(`vitepress dev did not start:\n${devLog}`)), 90_000);
      const onData = (d: Buffer) => {
        devLog += d.toString();
        if (devLog.includes(`${origin}/`)) {
          clearTimeout(timer);
          resolve();
        }
      };
      child.stdout?.on('data', onData);
      child.stderr?.on('data', onData);
      child.once('exit', (code) => {
        clearTimeout(timer);
        reject(new Error(`vitepress dev exited with ${code}:\n${devLog}`));
      });
    });
    browser = await launchChromium();
  });

  afterAll(async () => {
    await browser?.close();
    if (dev && dev.exitCode === null) {
      const exited = new Promise((r) => dev?.once('exit', r));
      dev.kill('SIGTERM');
      await Promise.race([exited, new Promise((r) => setTimeout(r, 5_000))]);
      if (dev.exitCode === null) dev.kill('SIGKILL');
    }
  });

  it(`${PAGE} runs its wasm example cross-origin isolated, with no console error`, async () => {
    const { tab, problems } = await recordingTab(browser as Browser);
    try {
      await tab.goto(`${origin}${PAGE}`, { waitUntil: 'load', timeout: 60_000 });
      expect(await tab.locator('h1').first().textContent()).toMatch(/\w/);
      expect(await tab.evaluate(() => window.crossOriginIsolated)).toBe(true);
      const button = tab.locator(`button[data-example="${EXAMPLE}"]`);
      expect(await button.getAttribute('data-backend')).toBe('wasm');
      await button.click();
      const out = tab.locator(`pre[data-output="${EXAMPLE}"]`);
      await expect
        .poll(
          async () => (await out.count()) > 0 && (await out.getAttribute('data-status')) !== 'running',
          {
            timeout: 90_000,
            interval: 250,
          },
          `${problems.join('\n')}\n${devLog}`,
        )
        .toBe(true);
      const text = (await out.textContent()) ?? '';
      expect(await out.getAttribute('data-status'), text).toBe('done');
      expect(await out.getAttribute('data-used-backend')).toBe('wasm');
      expect(text).toContain('on the wasm backend');
      for (const re of expectations[EXAMPLE]) expect(text).toMatch(re);
      // the threaded tfjs-wasm build (cross-origin isolated) was the one loaded
      expect(await tab.evaluate(() => performance.getEntriesByType('resource').map((e) => e.name))).toEqual(
        expect.arrayContaining([expect.stringMatching(/tfjs-backend-wasm-threaded-simd\.wasm$/)]),
      );
    } finally {
      await tab.close();
    }
    expect(problems, devLog).toEqual([]);
  }, 150_000);
});
