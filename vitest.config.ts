import { existsSync, readdirSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { defineConfig } from 'vitest/config';
import { preprocessBrowserProject } from './packages/preprocess/vitest.browser.js';
import { wasmBrowserProject } from './packages/wasm/vitest.browser.js';
import { webgpuBrowserProject } from './packages/webgpu/vitest.browser.js';

// One vitest project per workspace package/app. Workspace packages resolve to their TypeScript
// sources through the custom export condition "@swin/source", so tests need no build step.
const dirs = ['packages', 'apps'].flatMap((top) =>
  readdirSync(top, { withFileTypes: true })
    .filter((d) => d.isDirectory() && existsSync(`${top}/${d.name}/src`))
    .map((d) => ({ dir: `${top}/${d.name}`, name: d.name, include: ['src/**/*.test.ts'] })),
);
// The docs' runnable examples run in Node too, so the pages cannot show broken code.
dirs.push({ dir: 'docs', name: 'docs', include: ['examples/**/*.test.ts', 'e2e/**/*.test.ts'] });

export default defineConfig({
  test: {
    projects: [
      ...dirs.map(({ dir, name, include }) => ({
        extends: true,
        resolve: {
          conditions: ['@swin/source'],
          // @swin/nn cannot declare @swin/testing (which depends on it) without a cycle.
          alias: {
            '@swin/testing': fileURLToPath(new URL('packages/testing/src/index.ts', import.meta.url)),
          },
        },
        ssr: { resolve: { conditions: ['@swin/source'] } },
        test: {
          name,
          root: dir,
          include,
          // browser tests run in the webgpu-browser project below
          exclude: ['**/node_modules/**', '**/*.browser.test.ts'],
          environment: 'node' as const,
          testTimeout: 300_000,
          hookTimeout: 300_000,
        },
      })),
      // headless Chromium (WebGPU via SwiftShader, WebGL2): packages/webgpu/src/**/*.browser.test.ts
      webgpuBrowserProject,
      // headless Chromium: packages/preprocess/src/**/*.browser.test.ts (loadImage on browser image sources)
      preprocessBrowserProject,
      // headless Chromium, cross-origin isolated: packages/wasm/src/**/*.browser.test.ts (threaded tfjs-wasm)
      wasmBrowserProject,
    ],
  },
});
