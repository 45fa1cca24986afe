/**
 * The `webgpu-browser` vitest project: runs `src/**\/*.browser.test.ts` of this package in headless
 * Chromium (Playwright driving the system Chromium, never a downloaded one) where tfjs gets a WebGPU
 * adapter (SwiftShader when there is no GPU) and WebGL2. Imported by the root `vitest.config.ts`.
 *
 * Fixture bytes are served to the page by the custom browser commands `listFixtures` and `readFixture`
 * (they run in Node and read `$SWIN_FIXTURES` or `<repo>/../shared/fixtures/parity`).
 */
import { readdirSync, readFileSync } from 'node:fs';
import { basename, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { playwright } from '@vitest/browser-playwright';
import { defaultClientConditions } from 'vite';
import type { TestProjectInlineConfiguration } from 'vitest/config';
import type { BrowserCommand } from 'vitest/node';

const repoRoot = fileURLToPath(new URL('../..', import.meta.url));

/** Same rule as `fixturesDir()` of `@swin/testing` (which cannot be imported into a config file). */
function fixturesDir(): string {
  return process.env.SWIN_FIXTURES
    ? resolve(process.env.SWIN_FIXTURES)
    : resolve(repoRoot, '..', 'shared', 'fixtures', 'parity');
}

/** `listFixtures()`: sorted `*.safetensors` file names of the fixtures directory. */
const listFixtures: BrowserCommand<[]> = () =>
  readdirSync(fixturesDir())
    .filter((f) => f.endsWith('.safetensors'))
    .sort();

/** `readFixture(name)`: the file's bytes, base64-encoded (commands exchange JSON). */
const readFixture: BrowserCommand<[name: string]> = (_ctx, name) => {
  if (basename(name) !== name) throw new Error(`readFixture: expected a bare file name, got ${name}`);
  return readFileSync(resolve(fixturesDir(), name)).toString('base64');
};

/** Chromium flags: WebGPU on (SwiftShader without a GPU), no sandbox (CI containers run as root). */
const CHROMIUM_ARGS = [
  '--no-sandbox',
  '--enable-unsafe-webgpu',
  '--disable-quic',
  '--no-first-run',
  '--disable-background-networking',
  '--disable-component-update',
  '--disable-sync',
];

export const webgpuBrowserProject: TestProjectInlineConfiguration = {
  resolve: {
    conditions: ['@swin/source', ...defaultClientConditions],
    alias: {
      '@swin/testing': resolve(repoRoot, 'packages/testing/src/index.ts'),
      // @swin/testing's fixture loader imports these; its comparison helpers are browser-safe
      ...Object.fromEntries(
        ['node:fs', 'node:path', 'node:url'].map((m) => [
          m,
          resolve(repoRoot, 'packages/webgpu/src/test-utils/node-stub.ts'),
        ]),
      ),
    },
  },
  // pre-bundled up front: a dependency discovered mid-run makes Vite reload the page under a running test
  optimizeDeps: {
    include: [
      '@tensorflow/tfjs',
      '@tensorflow/tfjs-core',
      '@tensorflow/tfjs-backend-webgpu',
      '@tensorflow/tfjs-backend-wasm',
      // the zip reader of @swin/io (imported through @swin/testing's fixture loader)
      '@swin/io > fflate',
    ],
  },
  test: {
    name: 'webgpu-browser',
    root: resolve(repoRoot, 'packages/webgpu'),
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
          args: CHROMIUM_ARGS,
        },
      }),
      instances: [{ browser: 'chromium' }],
      commands: { listFixtures, readFixture },
    },
  },
};
