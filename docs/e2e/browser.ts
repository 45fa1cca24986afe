// What the docs' browser tests share: Debian's Chromium (installed by scripts/ensure-system-deps.sh, never
// downloaded) launched headless, and a tab that records everything a visitor would see go wrong.
import { type Browser, chromium, type Page } from 'playwright';

export const CHROMIUM = '/usr/bin/chromium';

/** Launches headless Chromium with no network chatter of its own (no updates, sync or QUIC probes). */
export function launchChromium(): Promise<Browser> {
  return chromium.launch({
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
}

/** A new tab whose console errors, page errors and failed or >= 400 requests land in `problems`. */
export async function recordingTab(browser: Browser): Promise<{ tab: Page; problems: string[] }> {
  const tab = await browser.newPage();
  const problems: string[] = [];
  tab.on('console', (m) => {
    if (m.type() === 'error') problems.push(`console error: ${m.text()}`);
  });
  tab.on('pageerror', (e) => problems.push(`page error: ${e.message}`));
  tab.on('requestfailed', (r) => problems.push(`request failed: ${r.url()} (${r.failure()?.errorText})`));
  tab.on('response', (r) => {
    if (r.status() >= 400) problems.push(`HTTP ${r.status()}: ${r.url()}`);
  });
  return { tab, problems };
}
