import { Worker } from 'node:worker_threads';
import type { SpawnWorker } from '../pool.js';

/** The kernel pool's workers in Node (tests): `worker_threads` running the inline source with `eval`. */
export const spawnNodeWorker: SpawnWorker = (source, onMessage, onError) => {
  const w = new Worker(source, { eval: true });
  w.on('message', onMessage);
  w.on('error', (e) => onError(e.message));
  // a worker sleeping in Atomics.wait must not keep the test process alive
  w.unref();
  return {
    postMessage: (m) => w.postMessage(m),
    terminate: () => void w.terminate(),
  };
};
