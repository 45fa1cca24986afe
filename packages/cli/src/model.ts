/**
 * Model loading shared by `classify` and `features`: a name and/or weights (file, URL, hub folder) through
 * `@swin/models`' `loadPretrained`, with progress on stderr.
 */
import { defaultWeights, loadPretrained } from '@swin/models';
import { isUrl } from './args.js';
import { oneLine, UsageError } from './errors.js';
import { createProgress } from './progress.js';
import { initBackend, warnRefused } from './runtime.js';

/** Options shared by the model commands. */
export interface ModelOptions {
  model?: string;
  weights?: string;
  wrapper?: string;
  strict?: boolean;
  backend: string;
  quiet?: boolean;
}

/** Initialises the backend, then loads the model (the caller disposes `model`). */
export async function loadModel(opts: ModelOptions) {
  if (!opts.model && !opts.weights) {
    throw new UsageError('give --model NAME, --weights FILE|URL|DIR, or both');
  }
  // without --weights: the published weights of the name's tag (timm's hub repository, else the release URL)
  const src = opts.weights ?? defaultWeights(opts.model as string);
  await initBackend(opts.backend);
  const label = isUrl(src) || src.startsWith('hf-hub:') ? `download ${src}` : `read ${src}`;
  const progress = createProgress(label, { enabled: !opts.quiet });
  let loaded: Awaited<ReturnType<typeof loadPretrained>>;
  try {
    loaded = await loadPretrained(opts.model ?? null, {
      weights: src,
      wrapper: opts.wrapper,
      strictPickle: opts.strict,
      onProgress: (n, total) => progress.update(n, total),
      warn: (message) => process.stderr.write(`swin: warning: ${oneLine(message)}\n`),
    });
    progress.stop();
  } catch (e) {
    progress.abort();
    throw e;
  }
  warnRefused(loaded.refusedGlobals ?? []);
  return loaded;
}
