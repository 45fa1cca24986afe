// Saves the figures of the built site's "How Swin works" page as PNGs (docs/public/figures/*.png) for the
// repository README, which cannot run code: the same pictures, computed by the packages in headless Chromium.
// Usage (after `pnpm --filter @swin/docs build`): node docs/scripts/figures-to-png.mjs
import { mkdirSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { chromium } from 'playwright';
import { serve } from './serve.mjs';

const dist = fileURLToPath(new URL('../.vitepress/dist/', import.meta.url));
const out = fileURLToPath(new URL('../public/figures/', import.meta.url));
mkdirSync(out, { recursive: true });
const server = await serve({ root: dist, port: 0 });
const { port } = server.address();
const browser = await chromium.launch({
  executablePath: '/usr/bin/chromium',
  args: ['--no-sandbox', '--disable-gpu'],
});
try {
  const tab = await browser.newPage({ viewport: { width: 1280, height: 900 } });
  await tab.goto(`http://127.0.0.1:${port}/guide/how-swin-works`);
  for (const kind of ['windows', 'mask', 'relpos', 'attention', 'pyramid']) {
    const fig = tab.locator(`figure[data-figure="${kind}"]`);
    await fig.scrollIntoViewIfNeeded();
    await tab.waitForFunction(
      (k) => /done|failed/.test(document.querySelector(`figure[data-figure="${k}"]`)?.dataset.status ?? ''),
      kind,
      { timeout: 180_000 },
    );
    if ((await fig.getAttribute('data-status')) !== 'done') throw new Error(`figure ${kind} failed`);
    await fig.screenshot({ path: `${out}${kind}.png` });
    console.log(`wrote docs/public/figures/${kind}.png`);
  }
} finally {
  await browser.close();
  server.close();
}
