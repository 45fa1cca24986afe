/**
 * Node only: WebGPU for tfjs-backend-webgpu through the `webgpu` npm package (Dawn's `dawn.node`).
 */

/** Options of {@link setupNodeWebGPU}. */
export interface NodeWebGPUOptions {
  /**
   * Vulkan ICD manifest to try when the default drivers give no adapter (a machine without a GPU), unless
   * `VK_ICD_FILENAMES` is already set. Default: SwiftShader from Debian's chromium package.
   */
  fallbackIcd?: string;
}

const DEFAULT_FALLBACK_ICD = '/usr/lib/chromium/vk_swiftshader_icd.json';

interface DawnModule {
  create(flags: string[]): { requestAdapter(): Promise<unknown> };
  globals: Record<string, unknown>;
}

/**
 * Makes `navigator.gpu` available in Node from the `webgpu` npm package (install it next to this package),
 * so that `@tensorflow/tfjs-backend-webgpu`, imported AFTER this call, registers a working 'webgpu'
 * backend. Does nothing when `navigator.gpu` already exists (browsers, Deno).
 *
 * Without a GPU, Dawn needs a software Vulkan driver: SwiftShader ships with Debian's chromium
 * (`fallbackIcd`), and the Vulkan loader `libvulkan.so.1` must be loadable (Debian package `libvulkan1`,
 * or start Node with `LD_LIBRARY_PATH=/usr/lib/chromium`). Numbers measured this way are correctness
 * checks only (software rendering).
 *
 * @throws Error naming what is missing when the package cannot be loaded or no adapter is found.
 */
export async function setupNodeWebGPU(options: NodeWebGPUOptions = {}): Promise<void> {
  const g = globalThis as { navigator?: { gpu?: unknown } };
  if (g.navigator?.gpu) return;
  const pkg = 'webgpu';
  let dawn: DawnModule;
  try {
    dawn = (await import(/* @vite-ignore */ pkg)) as DawnModule;
  } catch (e) {
    throw new Error(
      `setupNodeWebGPU: the '${pkg}' npm package could not be loaded (${(e as Error).message})`,
    );
  }
  let gpu = dawn.create([]);
  if (!(await gpu.requestAdapter())) {
    const { existsSync } = await import('node:fs');
    const icd = options.fallbackIcd ?? DEFAULT_FALLBACK_ICD;
    if (process.env.VK_ICD_FILENAMES === undefined && existsSync(icd)) {
      process.env.VK_ICD_FILENAMES = icd;
      gpu = dawn.create([]);
    }
    if (!(await gpu.requestAdapter())) {
      throw new Error(
        'setupNodeWebGPU: Dawn found no WebGPU adapter. Without a GPU it needs the Vulkan loader ' +
          '(Debian: apt-get install libvulkan1, or start with LD_LIBRARY_PATH=/usr/lib/chromium) and a ' +
          `software driver (VK_ICD_FILENAMES=${icd}, from the chromium package); ` +
          `VK_ICD_FILENAMES is ${process.env.VK_ICD_FILENAMES ?? 'unset'}`,
      );
    }
  }
  Object.assign(globalThis, dawn.globals);
  Object.defineProperty(globalThis, 'navigator', {
    value: { ...(g.navigator ?? {}), gpu },
    configurable: true,
    writable: true,
  });
}
