/**
 * Progress for downloads and long loads, on stderr. A TTY gets a `cli-progress` bar redrawn in place; a pipe or
 * file (CI logs, tests) gets a few plain lines instead: one per 25% step when the total is known, one per 16 MiB
 * otherwise, and a final `done` line. Nothing is written when the reporter is disabled (`--quiet`).
 */
import { Presets, SingleBar } from 'cli-progress';

/** Receives `(loaded, total?)` byte counts, like the `onProgress` callbacks of `@swin/io`. */
export interface ProgressReporter {
  update(loaded: number, total?: number): void;
  /** Ends the bar (or prints the final plain line). Safe to call twice. */
  stop(): void;
  /** Ends without a final line and clears the bar (the load failed: its error is the only line). */
  abort(): void;
}

/** Where progress goes: a writable stream and whether it is a terminal. */
export interface ProgressSink {
  write(text: string): unknown;
  isTTY?: boolean;
}

const MiB = 1024 * 1024;
const UNKNOWN_TOTAL_STEP = 16 * MiB;

/** `1.5 MB`-style size with one decimal (MiB). */
export function formatMiB(bytes: number): string {
  return `${(bytes / MiB).toFixed(1)} MB`;
}

/** Plain-line progress (non-TTY): `label: 50% (1.2 MB / 2.4 MB)` at each 25% step, then `label: done (2.4 MB)`. */
export class LineProgress implements ProgressReporter {
  private nextStep = 25;
  private nextBytes = UNKNOWN_TOTAL_STEP;
  private last = 0;
  private stopped = false;

  constructor(
    private readonly label: string,
    private readonly sink: ProgressSink,
  ) {}

  update(loaded: number, total?: number): void {
    if (this.stopped) return;
    this.last = loaded;
    if (total !== undefined && total > 0) {
      const pct = Math.floor((100 * loaded) / total);
      if (pct >= this.nextStep && pct < 100) {
        while (this.nextStep <= pct) this.nextStep += 25;
        this.sink.write(`${this.label}: ${pct}% (${formatMiB(loaded)} / ${formatMiB(total)})\n`);
      }
    } else if (loaded >= this.nextBytes) {
      while (this.nextBytes <= loaded) this.nextBytes += UNKNOWN_TOTAL_STEP;
      this.sink.write(`${this.label}: ${formatMiB(loaded)}\n`);
    }
  }

  stop(): void {
    if (this.stopped) return;
    this.stopped = true;
    this.sink.write(`${this.label}: done (${formatMiB(this.last)})\n`);
  }

  abort(): void {
    this.stopped = true;
  }
}

/** A `cli-progress` bar on a terminal. The bar starts at the first update (the total may only be known then). */
class BarProgress implements ProgressReporter {
  private bar: SingleBar | null = null;
  private stopped = false;

  constructor(
    private readonly label: string,
    private readonly stream: NodeJS.WritableStream,
  ) {}

  update(loaded: number, total?: number): void {
    if (this.stopped) return;
    const known = total !== undefined && total > 0;
    if (!this.bar) {
      this.bar = new SingleBar(
        {
          stream: this.stream,
          format: known ? `${this.label} [{bar}] {percentage}% | {mb} / {totalMb}` : `${this.label} {mb}`,
          hideCursor: true,
          clearOnComplete: false,
          barsize: 30,
        },
        Presets.shades_classic,
      );
      this.bar.start(known ? total : 0, 0, { mb: formatMiB(0), totalMb: formatMiB(total ?? 0) });
    }
    if (known) this.bar.setTotal(total);
    this.bar.update(loaded, { mb: formatMiB(loaded), totalMb: formatMiB(total ?? 0) });
  }

  stop(): void {
    if (this.stopped) return;
    this.stopped = true;
    this.bar?.stop();
  }

  abort(): void {
    if (this.stopped) return;
    this.stopped = true;
    if (this.bar) {
      this.bar.stop();
      this.stream.write('\x1b[1A\x1b[2K\r');
    }
  }
}

const SILENT: ProgressReporter = { update() {}, stop() {}, abort() {} };

/**
 * A progress reporter for `label` on `stream` (default `process.stderr`): a bar when the stream is a TTY,
 * plain lines otherwise, nothing when `enabled` is false.
 */
export function createProgress(
  label: string,
  opts: { stream?: NodeJS.WritableStream & ProgressSink; enabled?: boolean } = {},
): ProgressReporter {
  if (opts.enabled === false) return SILENT;
  const stream = opts.stream ?? process.stderr;
  return stream.isTTY ? new BarProgress(label, stream) : new LineProgress(label, stream);
}
