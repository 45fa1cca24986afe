/** Raised for every malformed, truncated, unsupported or refused checkpoint. The message is one line. */
export class CheckpointError extends Error {
  constructor(message: string) {
    super(message.replace(/[\r\n]+/g, ' '));
    this.name = 'CheckpointError';
  }
}

/** Throws a {@link CheckpointError} with the `checkpoint: ` prefix. */
export function fail(message: string): never {
  throw new CheckpointError(`checkpoint: ${message}`);
}

/** A short, safe rendering of an untrusted string for error messages (no recursion, bounded length). */
export function quote(s: string, max = 60): string {
  const cut = s.length > max ? `${s.slice(0, max)}...` : s;
  return `'${cut.replace(/[^\x20-\x7e]/g, '?')}'`;
}
