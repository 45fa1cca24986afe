import * as tf from '@tensorflow/tfjs';
import '@tensorflow/tfjs-backend-wasm';
import { registerWasmKernels } from '@swin/wasm';

// Silence tfjs's "install tfjs-node" banner (tfjs-node cannot be installed here; wasm is the fast backend).
tf.env().set('PROD', true);

// The WebAssembly kernels of @swin/wasm for 'wasm' and 'cpu': every test, fixture and benchmark in Node
// runs the fast paths of @swin/nn (tests of the generic tfjs paths pass impl 'tf' or unregister them).
registerWasmKernels();

/** Backends every numeric test runs on in Node. */
export const NODE_BACKENDS = ['cpu', 'wasm'] as const;
export type NodeBackend = (typeof NODE_BACKENDS)[number];

/**
 * Switches tfjs to `name` and waits until it is ready. Importing this module registers the full
 * tfjs op/gradient set (`@tensorflow/tfjs`), the wasm backend and the kernels of `@swin/wasm`.
 */
export async function useBackend(name: string): Promise<void> {
  if (tf.getBackend() !== name) {
    const ok = await tf.setBackend(name);
    if (!ok) throw new Error(`tfjs backend '${name}' could not be initialised`);
  }
  await tf.ready();
}

export { tf };
