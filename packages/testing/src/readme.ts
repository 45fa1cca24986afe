import { readFileSync, rmSync, writeFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import * as tf from '@tensorflow/tfjs';

/** What running a README example produced. */
export interface ReadmeRun {
  /** The extracted example source. */
  source: string;
  /** Arguments of every `console.log` call, in order. */
  logs: unknown[][];
  /** `tf.memory().numTensors` after minus before the run. */
  tensorDelta: number;
}

/**
 * Runs the first fenced ```ts block of a package README as real code: it is written next to the package's
 * sources with `from '<packageName>'` pointed at `./index.js`, imported, and its `console.log` output captured.
 * `srcDirUrl` is the package's `src/` folder (`new URL('.', import.meta.url)` in a test beside the sources).
 */
export async function runReadmeExample(srcDirUrl: URL, packageName: string, tag: string): Promise<ReadmeRun> {
  const readme = readFileSync(fileURLToPath(new URL('../README.md', srcDirUrl)), 'utf8');
  const source = /```ts\n([\s\S]*?)```/.exec(readme)?.[1] ?? '';
  if (!source.includes(`from '${packageName}'`)) {
    throw new Error(`runReadmeExample: the README's ts example does not import from '${packageName}'`);
  }
  const file = fileURLToPath(new URL(`./__readme_example_${tag}__.ts`, srcDirUrl));
  writeFileSync(file, source.replaceAll(`from '${packageName}'`, "from './index.js'"));
  const before = tf.memory().numTensors;
  const logs: unknown[][] = [];
  const log = console.log;
  console.log = (...a: unknown[]) => logs.push(a);
  try {
    await import(/* @vite-ignore */ file);
  } finally {
    console.log = log;
    rmSync(file, { force: true });
  }
  return { source, logs, tensorDelta: tf.memory().numTensors - before };
}
