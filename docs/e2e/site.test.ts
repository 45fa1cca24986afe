import { type ChildProcess, execFileSync, spawn } from 'node:child_process';
import { existsSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { chromium } from 'playwright';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';

// Builds the docs site, serves it on 127.0.0.1 and clicks the runnable examples in headless Chromium
// (Debian's, installed by scripts/ensure-system-deps.sh), so the pages' examples are known to run in a browser.
const CHROMIUM = '/usr/bin/chromium';
const docsDir = fileURLToPath(new URL('..', import.meta.url));
const vitepress = join(docsDir, 'node_modules', '.bin', 'vitepress');
const port = 4300 + Math.floor(Math.random() * 500);

let server: ChildProcess | undefined;

async function waitForServer(url: string, ms: number): Promise<void> {
  const end = Date.now() + ms;
  while (Date.now() < end) {
    try {
      if ((await fetch(url)).ok) return;
    } catch {
      // not up yet
    }
    await new Promise((r) => setTimeout(r, 250));
  }
  throw new Error(`docs preview did not come up at ${url}`);
}

describe.runIf(existsSync(CHROMIUM))('docs site in headless Chromium', () => {
  beforeAll(async () => {
    execFileSync(vitepress, ['build', '.'], { cwd: docsDir, stdio: 'pipe' });
    server = spawn(vitepress, ['preview', '.', '--port', String(port), '--host', '127.0.0.1'], {
      cwd: docsDir,
      stdio: 'ignore',
    });
    await waitForServer(`http://127.0.0.1:${port}/`, 30_000);
  });

  afterAll(() => {
    server?.kill();
  });

  it.each([
    ['guide/getting-started', 'window-ops', /roll \+ partition: true/],
    ['guide/getting-started', 'shifted-mask', /window 3: \d+ of 256/],
    ['guide/hybrid-backbones', 'hybrid-backbone', /stage 0/i],
  ])('%s: example %s runs in the page', async (page, name, expected) => {
    const browser = await chromium.launch({
      executablePath: CHROMIUM,
      args: [
        '--no-sandbox',
        '--disable-gpu',
        '--disable-quic',
        '--no-first-run',
        '--disable-background-networking',
        '--disable-component-update',
        '--disable-sync',
      ],
    });
    try {
      const tab = await browser.newPage();
      await tab.goto(`http://127.0.0.1:${port}/${page}`);
      await tab.click(`button[data-example="${name}"]`);
      const out = tab.locator(`pre[data-output="${name}"]`);
      await expect
        .poll(async () => (await out.count()) > 0 && /done in|Error/.test((await out.textContent()) ?? ''), {
          timeout: 120_000,
          interval: 250,
        })
        .toBe(true);
      const text = (await out.textContent()) ?? '';
      expect(text).not.toMatch(/Error/);
      expect(text).toMatch(expected);
    } finally {
      await browser.close();
    }
  });
});
