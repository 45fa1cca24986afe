import { execFileSync } from 'node:child_process';
import { existsSync, readdirSync, readFileSync, statSync } from 'node:fs';
import type { Server } from 'node:http';
import { join, relative } from 'node:path';
import { fileURLToPath } from 'node:url';
import type { Browser, Page } from 'playwright';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { expectations } from '../examples/expectations.js';
import { serve } from '../scripts/serve.mjs';
import { CHROMIUM, launchChromium, recordingTab } from './browser.js';

// Opens EVERY page of the built site in headless Chromium (Debian's, installed by scripts/ensure-system-deps.sh)
// served cross-origin isolated by scripts/serve.mjs, and runs every runnable example and figure on it:
// no console error, no failed request, the declared backend in use, the expected output present.
// The build is reused when docs/.vitepress/dist is newer than every docs and package source (turbo's build
// of @swin/docs makes it in `pnpm test:ci`); otherwise the site is built here first.
const docsDir = fileURLToPath(new URL('..', import.meta.url));
const repoDir = join(docsDir, '..');
const dist = join(docsDir, '.vitepress', 'dist');
const SKIP_DIRS = new Set(['node_modules', 'dist', 'cache', 'api', '.readme-check', '.turbo', 'e2e']);

function newestMtime(dir: string, filter: (f: string) => boolean): number {
  let newest = 0;
  for (const e of readdirSync(dir, { withFileTypes: true })) {
    if (SKIP_DIRS.has(e.name)) continue;
    const p = join(dir, e.name);
    if (e.isDirectory()) newest = Math.max(newest, newestMtime(p, filter));
    else if (filter(p)) newest = Math.max(newest, statSync(p).mtimeMs);
  }
  return newest;
}

function distIsFresh(): boolean {
  const index = join(dist, 'index.html');
  if (!existsSync(index)) return false;
  const built = statSync(index).mtimeMs;
  const docs = newestMtime(docsDir, (f) => !f.endsWith('.test.ts'));
  const packages = newestMtime(join(repoDir, 'packages'), (f) =>
    /\/src\/|README\.md$|package\.json$/.test(f),
  );
  return built >= Math.max(docs, packages);
}

function htmlPages(dir: string): string[] {
  return readdirSync(dir, { withFileTypes: true }).flatMap((e) => {
    const p = join(dir, e.name);
    if (e.isDirectory()) return htmlPages(p);
    if (!e.name.endsWith('.html') || e.name === '404.html') return [];
    const rel = relative(dist, p).replace(/\\/g, '/');
    return [`/${rel.replace(/(^|\/)index\.html$/, '$1').replace(/\.html$/, '')}`];
  });
}

let server: Server | undefined;
let browser: Browser | undefined;
let origin = '';
let pages: string[] = [];

/** Opens a page, recording console errors, page errors and failed or >= 400 requests. */
async function open(path: string): Promise<{ tab: Page; problems: string[] }> {
  const opened = await recordingTab(browser as Browser);
  await opened.tab.goto(`${origin}${path}`, { waitUntil: 'load' });
  return opened;
}

describe.runIf(existsSync(CHROMIUM))('docs site in headless Chromium', () => {
  beforeAll(async () => {
    if (!distIsFresh()) execFileSync('pnpm', ['run', 'build'], { cwd: docsDir, stdio: 'pipe' });
    pages = htmlPages(dist).sort();
    server = await serve({ root: dist, port: 0, host: '127.0.0.1' });
    const addr = server.address();
    if (!addr || typeof addr === 'string') throw new Error('server has no port');
    origin = `http://127.0.0.1:${addr.port}`;
    browser = await launchChromium();
  });

  afterAll(async () => {
    await browser?.close();
    server?.close();
  });

  it('the site has its pages: guide, one per public package, API reference, benchmarks', () => {
    for (const p of [
      '/',
      '/guide/getting-started',
      '/guide/how-swin-works',
      '/packages/nn',
      '/api/',
      '/benchmarks',
    ])
      expect(pages).toContain(p);
    expect(pages).not.toContain('/benchmark-results');
    const packageDirs = readdirSync(join(repoDir, 'packages')).filter((d) => {
      const f = join(repoDir, 'packages', d, 'package.json');
      return existsSync(f) && !JSON.parse(readFileSync(f, 'utf8')).private;
    });
    for (const d of packageDirs) {
      expect(pages).toContain(`/packages/${d}`);
      expect(pages).toContain(`/api/${d}`);
    }
  });

  it('every page opens with a title, cross-origin isolated, with no console error and no failed request', async () => {
    const failures: string[] = [];
    for (const path of pages) {
      const { tab, problems } = await open(path);
      try {
        const h1 = (await tab.locator('h1').first().textContent({ timeout: 10_000 }))?.trim() ?? '';
        if (!h1) problems.push('no <h1> title');
        if (!(await tab.evaluate(() => window.crossOriginIsolated)))
          problems.push('not cross-origin isolated');
        // let charts and figures start (they log errors to the console on failure)
        await tab.waitForTimeout(100);
      } catch (e) {
        problems.push(String(e));
      } finally {
        await tab.close();
      }
      for (const p of problems) failures.push(`${path}: ${p}`);
    }
    expect(failures).toEqual([]);
    expect(pages.length).toBeGreaterThan(25);
  });

  it('every runnable example runs on its declared backend and prints what it promises', async () => {
    const seen: string[] = [];
    for (const path of pages.filter((p) => !p.startsWith('/api/'))) {
      const { tab, problems } = await open(path);
      try {
        const buttons = tab.locator('button[data-example]');
        const n = await buttons.count();
        for (let i = 0; i < n; i++) {
          const button = buttons.nth(i);
          const name = (await button.getAttribute('data-example')) ?? '';
          const declared = (await button.getAttribute('data-backend')) ?? '';
          await button.click();
          const out = tab.locator(`pre[data-output="${name}"]`);
          await expect
            .poll(
              async () => (await out.count()) > 0 && (await out.getAttribute('data-status')) !== 'running',
              {
                timeout: 180_000,
                interval: 250,
              },
            )
            .toBe(true);
          const text = (await out.textContent()) ?? '';
          expect(await out.getAttribute('data-status'), `${path} ${name}:\n${text}`).toBe('done');
          expect(await out.getAttribute('data-used-backend'), `${path} ${name}`).toBe(declared);
          expect(text).toContain(`on the ${declared} backend`);
          for (const re of expectations[name] ?? []) expect(text, `${path} ${name}`).toMatch(re);
          seen.push(name);
        }
      } finally {
        await tab.close();
      }
      expect(problems, path).toEqual([]);
    }
    expect(new Set(seen)).toEqual(new Set(Object.keys(expectations)));
  });

  it('the figures of "How Swin works" are computed in the page on wasm', async () => {
    const { tab, problems } = await open('/guide/how-swin-works');
    try {
      const expected: Record<string, RegExp> = {
        windows: /windowPartition\(cyclicShift\(x, -28\), 56\): \[16,56,56,3\] from x \[1,224,224,3\]/,
        mask: /shiftedWindowMask\(14, 14, 7, 3\): \[4,49,49\]; window 3 \(outlined\): \d+ of 2401 pairs masked/,
        relpos: /relativePositionIndexArray\(7\): \[49, 49\] into a table \[169, 3\]/,
        pyramid:
          /forwardFeatures\(\[1,224,224,3\]\) -> \[1,56,56,96\] \[1,28,28,192\] \[1,14,14,384\] \[1,7,7,768\]/,
        // the trained model's shifted block; the default query sits in a window that wraps around the edges
        attention:
          /block 1 \(SW-MSA, shift 2\): attentionProbs\(x\) -> \[4,2,16,16\]; query token \(1, 6\) in window 3, head 0: top key \(\d, \d\) 0\.\d{3}, 12 of 16 keys masked\. Fashion-MNIST test image #0 \(Ankle boot\); the model \(trained on Fashion-MNIST, \d+ steps, \d+\.\d% on \d+ test images\) says [\w /-]+ \(\d+%\)/,
      };
      for (const [kind, re] of Object.entries(expected)) {
        const fig = tab.locator(`figure[data-figure="${kind}"]`);
        await fig.scrollIntoViewIfNeeded();
        await expect
          .poll(async () => fig.getAttribute('data-status'), { timeout: 180_000, interval: 250 })
          .toMatch(/done|failed/);
        const error = await fig.locator('[data-figure-error]').count();
        expect(error ? await fig.locator('[data-figure-error]').textContent() : '', kind).toBe('');
        expect(await fig.getAttribute('data-used-backend')).toBe('wasm');
        expect(await fig.locator('[data-figure-info]').textContent()).toMatch(re);
      }
      // attention: clicking a token makes it the query (token (3, 3): the centre window of the shifted
      // layout, nothing masked); head 1 redraws too
      const attention = tab.locator('figure[data-figure="attention"]');
      const info = attention.locator('[data-figure-info]');
      await attention
        .locator('canvas')
        .first()
        .click({ position: { x: 3 * 32 + 16, y: 3 * 32 + 16 } });
      await expect
        .poll(async () => (await info.textContent()) ?? '', { timeout: 60_000, interval: 250 })
        .toMatch(
          /query token \(3, 3\) in window 0, head 0: top key \(\d, \d\) 0\.\d{3}, 0 of 16 keys masked/,
        );
      await attention.locator('select').nth(2).selectOption('1');
      await expect
        .poll(async () => (await info.textContent()) ?? '', { timeout: 60_000, interval: 250 })
        .toMatch(/query token \(3, 3\) in window 0, head 1:/);
      expect(await attention.getAttribute('data-status')).toBe('done');
    } finally {
      await tab.close();
    }
    expect(problems).toEqual([]);
  });

  it('the benchmark charts draw the tables', async () => {
    const { tab, problems } = await open('/benchmarks');
    try {
      const charts = tab.locator('figure[data-chart]');
      expect(await charts.count()).toBe(4);
      for (let i = 0; i < 4; i++) {
        const size = await charts
          .nth(i)
          .locator('canvas')
          .evaluate((c: HTMLCanvasElement) => c.width * c.height);
        expect(size).toBeGreaterThan(0);
        expect(await charts.nth(i).locator('.error').count()).toBe(0);
      }
    } finally {
      await tab.close();
    }
    expect(problems).toEqual([]);
  });

  // The live ablation page (guide/ablation): a short training run in the Web Worker completes, both charts
  // hold data, the numbers appear in the table, the --full results load, and the page logs no console error.
  it('the ablation page trains two variants live in its worker, draws both charts and shows the accuracies', async () => {
    const { tab, problems } = await open('/guide/ablation');
    try {
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
      // served cross-origin isolated: the worker ran tfjs-wasm's threaded build with half the cores, at least 2
      // (setWasmThreads; tfjs alone sizes its pool to 1 thread on a 2-core machine), and the status says so
      const [isolated, cores] = await tab.evaluate(() => [
        self.crossOriginIsolated,
        navigator.hardwareConcurrency,
      ]);
      expect(isolated).toBe(true);
      const threads = Math.min(4, Math.max(2, Math.floor(Number(cores) / 2)));
      expect(await status.getAttribute('data-threads')).toBe(String(threads));
      expect(await status.textContent()).toMatch(new RegExp(` on wasm, ${threads} threads$`));
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
    } finally {
      await tab.close();
    }
    expect(problems).toEqual([]);
  }, 300_000);
});
