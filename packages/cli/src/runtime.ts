/** TensorFlow.js set-up for the commands that run models, and checkpoint reading with progress. */
import { type Checkpoint, readCheckpoint } from '@swin/io';
import { isUrl } from './args.js';
import { createProgress } from './progress.js';

/**
 * Loads tfjs (all ops and the cpu backend), the wasm backend and the WebAssembly kernels of `@swin/wasm`,
 * then switches to `name`.
 */
export async function initBackend(name: string): Promise<void> {
  const tf = await import('@tensorflow/tfjs');
  await import('@tensorflow/tfjs-backend-wasm');
  const { registerWasmKernels } = await import('@swin/wasm');
  registerWasmKernels();
  // tfjs-node cannot be assumed: silence the "install tfjs-node" banner
  tf.env().set('PROD', true);
  const ok = await tf.setBackend(name);
  if (!ok) throw new Error(`tfjs could not initialise the '${name}' backend`);
  await tf.ready();
}

/** Options common to the commands that read a checkpoint. */
export interface ReadOptions {
  wrapper?: string;
  strict?: boolean;
  quiet?: boolean;
}

/** Reads a checkpoint (path or URL) with a progress bar / lines on stderr named after the source. */
export async function readWithProgress(source: string, opts: ReadOptions): Promise<Checkpoint> {
  const label = isUrl(source) ? `download ${source}` : `read ${source}`;
  const progress = createProgress(label, { enabled: !opts.quiet });
  try {
    const ckpt = await readCheckpoint(source, {
      wrapper: opts.wrapper,
      strict: opts.strict,
      onProgress: (loaded, total) => progress.update(loaded, total),
    });
    progress.stop();
    return ckpt;
  } catch (e) {
    progress.abort();
    throw e;
  }
}

/** `refused globals: a.B, c.d` on stderr (inert placeholders; the weights are unaffected). */
export function warnRefused(refused: readonly string[]): void {
  if (refused.length === 0) return;
  process.stderr.write(
    `swin: refused globals (kept as inert placeholders, nothing was run): ${refused.join(', ')}\n`,
  );
}
