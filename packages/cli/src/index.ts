/**
 * `@swin/cli`: the `swin` command. Run it as `swin <command>` (the package's `bin`), or embed it with
 * {@link runCli}. The command implementations are exported for programs that want their reports as data.
 */
export { CLI_BACKENDS, type CliBackend, isUrl, parseBackend, parseIntIn } from './args.js';
export { type Detection, detectFamily } from './detect.js';
export { oneLine, UsageError } from './errors.js';
export { createProgram, runCli, VERSION } from './main.js';
export {
  createProgress,
  formatMiB,
  LineProgress,
  type ProgressReporter,
  type ProgressSink,
} from './progress.js';
