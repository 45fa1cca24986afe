import { type ChildProcess, execFileSync, spawn } from 'node:child_process';
import { existsSync, readFileSync } from 'node:fs';
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

  // The live ablation page (guide/ablation): a short training run in the Web Worker completes, both charts
  // hold data, the numbers appear in the table, the --full results load, and the page logs no console error.
  it('trains two variants live in the worker, draws both charts and shows the accuracies', async () => {
    const browser = await chromium.launch({
      executablePath: CHROMIUM,
      args: [
        '--no-sandbox',
        '--disable-gpu',
        '--disable-quic',
        '--no-first-run',
        '--disable-background-networking',
      ],
    });
    const errors: string[] = [];
    try {
      const tab = await browser.newPage();
      // a failed load is reported by URL (the console line has none); the browser's own favicon probe is no error
      tab.on('console', (m) => {
        if (m.type() === 'error' && !m.text().startsWith('Failed to load resource')) errors.push(m.text());
      });
      tab.on('response', (r) => {
        if (r.status() >= 400 && !r.url().endsWith('/favicon.ico')) errors.push(`${r.status()} ${r.url()}`);
      });
      tab.on('pageerror', (e) => errors.push(String(e)));
      await tab.goto(`http://127.0.0.1:${port}/guide/ablation`);
      await tab.locator('input[data-variant="swin"]').waitFor();
      // pick exactly swin and global
      for (const box of await tab.locator('input[data-variant]').all()) {
        const name = await box.getAttribute('data-variant');
        if ((await box.isChecked()) !== (name === 'swin' || name === 'global')) await box.click();
      }
      await tab.fill('[data-testid="ablation-steps"]', '6');
      await tab.fill('[data-testid="ablation-test-size"]', '100');
      await tab.click('[data-testid="ablation-train"]');
      const status = tab.locator('[data-testid="ablation-status"]');
      await expect
        .poll(async () => (await status.textContent()) ?? '', { timeout: 240_000, interval: 500 })
        .toMatch(/^(done|error)/);
      expect(await status.textContent()).toMatch(/^done: 2 run\(s\)/);
      const rows = tab.locator('[data-testid="ablation-row"]');
      expect(await rows.count()).toBe(2);
      for (const acc of await tab.locator('td[data-accuracy]').all()) {
        const a = Number(await acc.getAttribute('data-accuracy'));
        expect(a).toBeGreaterThanOrEqual(0);
        expect(a).toBeLessThanOrEqual(1);
        expect(await acc.textContent()).toMatch(/^\d+\.\d% ± 0\.0 \(n=1\)$/);
      }
      // Chart.js holds one line per run with every step, and one bar per variant
      expect(await tab.locator('[data-testid="ablation-loss-chart"]').getAttribute('data-points')).toBe(
        '6,6',
      );
      expect(await tab.locator('[data-testid="ablation-acc-chart"]').getAttribute('data-labels')).toBe(
        'swin,global',
      );
      const pixels = await tab
        .locator('[data-testid="ablation-acc-chart"]')
        .evaluate((c: HTMLCanvasElement) => {
          const d = c.getContext('2d')?.getImageData(0, 0, c.width, c.height).data ?? [];
          let n = 0;
          for (let i = 3; i < d.length; i += 4) if (d[i] > 0) n++;
          return n;
        });
      expect(pixels).toBeGreaterThan(1000);
      // the last --full run's published results: every variant of the file in the table and the charts
      const published = join(docsDir, 'public', 'ablation', 'results.json');
      if (existsSync(published)) {
        const full = JSON.parse(readFileSync(published, 'utf8')) as { summary: { variant: string }[] };
        await tab.click('[data-testid="ablation-load-full"]');
        await expect
          .poll(async () => (await status.textContent()) ?? '', { timeout: 30_000, interval: 250 })
          .toMatch(/^--full run of \d{4}-\d\d-\d\d: \d+ runs/);
        expect(await rows.count()).toBe(full.summary.length);
        expect(await tab.locator('[data-testid="ablation-acc-chart"]').getAttribute('data-labels')).toBe(
          full.summary.map((r) => r.variant).join(','),
        );
      }
      await tab
        .screenshot({ path: join(docsDir, '.vitepress', 'cache', 'ablation-e2e.png'), fullPage: true })
        .catch(() => {});
      expect(errors).toEqual([]);
    } finally {
      await browser.close();
    }
  }, 300_000);
});
