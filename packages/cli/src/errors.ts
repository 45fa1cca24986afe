/**
 * Errors as the CLI prints them: ONE line naming the problem, no stack trace (set `SWIN_DEBUG=1` for the
 * stack). Node's own file errors are reworded (`ENOENT` -> `no such file: <path>`).
 */

/** An error of the CLI itself (bad usage found after parsing, e.g. a missing `--model`); exit code 2. */
export class UsageError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'UsageError';
  }
}

const FS_CODES: Record<string, string> = {
  ENOENT: 'no such file',
  EISDIR: 'is a directory',
  EACCES: 'permission denied',
  ENOTDIR: 'not a directory',
  EEXIST: 'already exists',
};

/** The one-line message of any thrown value. */
export function oneLine(e: unknown): string {
  let msg: string;
  if (e instanceof Error) {
    const code = (e as NodeJS.ErrnoException).code;
    const path = (e as NodeJS.ErrnoException).path;
    if (code && FS_CODES[code] && path) msg = `${FS_CODES[code]}: ${path}`;
    else msg = e.message || e.name;
  } else msg = String(e);
  const first = msg.split(/\r?\n/).find((l) => l.trim() !== '') ?? 'unknown error';
  return first.trim();
}
