/** Argument parsers shared by the commands: they throw commander's `InvalidArgumentError` with a clear reason. */
import { InvalidArgumentError } from 'commander';

/** Backends the CLI can run models on in Node. */
export const CLI_BACKENDS = ['cpu', 'wasm'] as const;
export type CliBackend = (typeof CLI_BACKENDS)[number];

/** A whole number in `[min, max]`, written in decimal digits only (`5`, not `5.0`, `0x5`, `5abc` or `1e3`). */
export function parseIntIn(min: number, max: number): (value: string) => number {
  return (value: string) => {
    if (!/^\d+$/.test(value.trim())) throw new InvalidArgumentError(`'${value}' is not a whole number.`);
    const n = Number(value.trim());
    if (n < min || n > max) throw new InvalidArgumentError(`${n} is out of range (${min}..${max}).`);
    return n;
  };
}

/** `cpu` or `wasm`. */
export function parseBackend(value: string): CliBackend {
  if (!(CLI_BACKENDS as readonly string[]).includes(value)) {
    throw new InvalidArgumentError(`unknown backend '${value}' (expected ${CLI_BACKENDS.join(' or ')}).`);
  }
  return value as CliBackend;
}

/** True for an `http:` / `https:` URL (weights and images are otherwise paths). */
export function isUrl(s: string): boolean {
  return /^https?:\/\//i.test(s);
}
