/**
 * The `wasm-browser` vitest project: runs `src/**\/*.browser.test.ts` of this package in headless Chromium
 * (Playwright driving the system Chromium, never a downloaded one) on a CROSS-ORIGIN-ISOLATED page (the
 * test server sends COOP/COEP/CORP headers), so tfjs-wasm loads its threaded build and the kernels' heap is
 * a shared `WebAssembly.Memory`. Imported by the root `vitest.config.ts`.
 */
import { resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { playwright } from '@vitest/browser-playwright';
import { defaultClientConditions } from 'vite';
import type { TestProjectInlineConfiguration } from 'vitest/config';

const repoRoot = fileURLToPath(new URL('../..', import.meta.url));

/** Headers that make every page of the test server cross-origin isolated (SharedArrayBuffer, threads). */
const ISOLATION_HEADERS = {
  'Cross-Origin-Opener-Policy': 'same-origin',
  'Cross-Origin-Embedder-Policy': 'require-corp',
  'Cross-Origin-Resource-Policy': 'same-origin',
};

export const wasmBrowserProject: TestProjectInlineConfiguration = {
  resolve: { conditions: ['@swin/source', ...defaultClientConditions], dedupe: ['@tensorflow/tfjs-core'] },
  server: { headers: ISOLATION_HEADERS },
  // pre-bundled up front: a dependency discovered mid-run makes Vite reload the page under a running test
  optimizeDeps: {
    include: ['@tensorflow/tfjs', '@tensorflow/tfjs-core', '@tensorflow/tfjs-backend-wasm'],
  },
  test: {
    name: 'wasm-browser',
    root: resolve(repoRoot, 'packages/wasm'),
    include: ['src/**/*.browser.test.ts'],
    testTimeout: 300_000,
    hookTimeout: 300_000,
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
