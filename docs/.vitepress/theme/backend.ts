// Starts the tfjs backend a page declares, or throws: an example never silently runs somewhere else.
import { withBase } from 'vitepress';

export type BackendName = 'cpu' | 'wasm' | 'webgl' | 'webgpu';

/** Loads tfjs (with its gradients), registers the declared backend, makes it current and checks it is. */
export async function useDeclaredBackend(name: BackendName): Promise<typeof import('@tensorflow/tfjs')> {
  const tf = await import('@tensorflow/tfjs');
  if (name === 'wasm') {
    const wasm = await import('@tensorflow/tfjs-backend-wasm');
    // the .wasm binaries are served by the site itself (see .vitepress/config.ts)
    wasm.setWasmPaths(new URL(withBase('/tfjs-wasm/'), window.location.href).href);
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
