/**
 * The `preprocess-browser` vitest project: runs `src/**\/*.browser.test.ts` of this package (loadImage on
 * `ImageData`, `ImageBitmap`, canvases, `<img>`, Blob/File) in headless Chromium (Playwright driving the
 * system Chromium, never a downloaded one). Meant to sit next to `webgpuBrowserProject` in the root
 * `vitest.config.ts` projects list.
 */
import { resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { playwright } from '@vitest/browser-playwright';
import { defaultClientConditions } from 'vite';
import type { TestProjectInlineConfiguration } from 'vitest/config';

const repoRoot = fileURLToPath(new URL('../..', import.meta.url));

export const preprocessBrowserProject: TestProjectInlineConfiguration = {
  resolve: { conditions: ['@swin/source', ...defaultClientConditions] },
  optimizeDeps: { include: ['fast-png', 'fflate', 'jpeg-js'] },
  test: {
    name: 'preprocess-browser',
    root: resolve(repoRoot, 'packages/preprocess'),
    include: ['src/**/*.browser.test.ts'],
    testTimeout: 120_000,
    browser: {
      enabled: true,
      headless: true,
      screenshotFailures: false,
      provider: playwright({
        launchOptions: {
          executablePath: process.env.CHROMIUM_PATH ?? '/usr/bin/chromium',
          args: ['--no-sandbox', '--disable-quic', '--no-first-run', '--disable-background-networking'],
        },
      }),
      instances: [{ browser: 'chromium' }],
    },
  },
};
