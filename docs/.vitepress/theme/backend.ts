// Starts the tfjs backend a page declares, or throws: an example never silently runs somewhere else.
import { withBase } from 'vitepress';

export type BackendName = 'cpu' | 'wasm' | 'webgl' | 'webgpu';

// Every example and figure of a page shares tfjs's global backend: starting one is done once per name, and
// concurrent callers wait for the same start.
const starting = new Map<BackendName, Promise<typeof import('@tensorflow/tfjs')>>();

/** Loads tfjs (with its gradients), registers the declared backend, makes it current and checks it is. */
export async function useDeclaredBackend(name: BackendName): Promise<typeof import('@tensorflow/tfjs')> {
  let start = starting.get(name);
  if (!start) {
    start = startBackend(name);
    starting.set(name, start);
    start.catch(() => starting.delete(name));
  }
  const tf = await start;
  if (tf.getBackend() !== name) {
    // another example switched backends in between: switch back (already initialised, so this cannot fall back)
    if (!(await tf.setBackend(name)) || tf.getBackend() !== name)
      throw new Error(`the ${name} backend failed to start here (tfjs is on ${tf.getBackend()})`);
  }
  return tf;
}

async function startBackend(name: BackendName): Promise<typeof import('@tensorflow/tfjs')> {
  const tf = await import('@tensorflow/tfjs');
  if (name === 'wasm' || name === 'cpu') {
    // @swin/wasm's WebAssembly kernels for attention, GELU, LayerNorm, head split/merge and shifted windows
    const { registerWasmKernels } = await import('@swin/wasm');
    registerWasmKernels();
  }
  if (name === 'wasm') {
    const wasm = await import('@tensorflow/tfjs-backend-wasm');
    // the .wasm binaries are served by the site itself (see .vitepress/config.ts)
    wasm.setWasmPaths(new URL(withBase('/tfjs-wasm/'), window.location.href).href);
    // the site is served cross-origin isolated: tfjs-wasm's threaded build runs on 2 threads (set before it starts)
    if (globalThis.crossOriginIsolated && !tf.findBackend('wasm')) {
      const { setWasmThreads } = await import('@swin/wasm');
      setWasmThreads(2);
    }
  } else if (name === 'webgpu') {
    await import('@tensorflow/tfjs-backend-webgpu');
  }
  let started = false;
  try {
    started = await tf.setBackend(name);
    await tf.ready();
  } catch (e) {
    throw new Error(`the ${name} backend failed to start here: ${e instanceof Error ? e.message : e}`);
  }
  if (!started || tf.getBackend() !== name) {
    throw new Error(
      `the ${name} backend failed to start here (tfjs is on ${tf.getBackend() ?? 'no backend'}); ` +
        'this example does not fall back to another backend',
    );
  }
  return tf;
}
