/**
 * `pnpm parity [--backend cpu|wasm|webgl|webgpu] [--verbose] [--weights CKPT] [<file.safetensors>...]`
 *
 * With `--weights CKPT` (a `.pth`/`.bin`/`.safetensors` checkpoint, read by `@swin/io`), the named fixtures
 * run with the checkpoint's weights instead of their own `state_dict.*` tensors.
 *
 * Runs golden fixtures (default: every fixture in `fixturesDir()`) and prints one line per file
 * (`PASS|FAIL|SKIP <file> ...`), then `N passed, M failed, K skipped`. Exit code 1 if any failed,
 * 2 on a usage or backend error.
 */
import { existsSync } from 'node:fs';
import { isAbsolute, resolve } from 'node:path';
import { fixturesDir, listFixtures, tf } from '@swin/testing';
import { HANDLERS } from './handlers/index.js';
import { findPreprocessFixture, listPreprocessFixtures } from './handlers/preprocess.js';
import {
  type FixtureResult,
  formatNumber,
  formatResult,
  formatSummary,
  type Handler,
  type RunOptions,
  runFixture,
} from './runner.js';
import { loadWeights, type WeightsOverride } from './weights.js';

const BACKENDS = ['cpu', 'wasm', 'webgl', 'webgpu'] as const;
const USAGE = `usage: pnpm parity [--backend ${BACKENDS.join('|')}] [--verbose] [--weights CKPT [--wrapper KEY]] [<file.safetensors>...]
  Runs the parity fixtures (default: every *.safetensors in ${fixturesDir()}).
  A bare file name is looked up in the current directory, then in the fixtures directory.
  --weights CKPT runs the given fixtures with the weights of CKPT (.pth/.pt/.bin/.ckpt/.safetensors or an
  http(s) URL) instead of their own state_dict; F16/BF16 weights are compared with a relaxed relative bound.`;

interface Args {
  backend: string;
  verbose: boolean;
  files: string[];
  weights?: string;
  wrapper?: string;
}

function parseArgs(argv: string[]): Args {
  const args: Args = { backend: 'cpu', verbose: false, files: [] };
  for (let i = 0; i < argv.length; i++) {
    const a = argv[i];
    if (a === '--') {
      args.files.push(...argv.slice(i + 1));
      break;
    } else if (a === '--backend' || a === '-b') {
      const v = argv[++i];
      if (v === undefined) throw new Error(`${a} needs a value`);
      args.backend = v;
    } else if (a.startsWith('--backend=')) args.backend = a.slice('--backend='.length);
    else if (a === '--weights' || a === '--wrapper') {
      const v = argv[++i];
      if (v === undefined || v.startsWith('-')) throw new Error(`${a} needs a value`);
      args[a === '--weights' ? 'weights' : 'wrapper'] = v;
    } else if (a.startsWith('--weights=')) args.weights = a.slice('--weights='.length);
    else if (a.startsWith('--wrapper=')) args.wrapper = a.slice('--wrapper='.length);
    else if (a === '--verbose' || a === '-v') args.verbose = true;
    else if (a === '--help' || a === '-h') {
      console.log(USAGE);
      process.exit(0);
    } else if (a.startsWith('-')) throw new Error(`unknown option ${a}`);
    else args.files.push(a);
  }
  if (args.weights !== undefined && args.files.length === 0) {
    throw new Error('--weights needs the fixtures to run with them (e.g. swin_model_32_p2_ape.safetensors)');
  }
  if (args.wrapper !== undefined && args.weights === undefined) throw new Error('--wrapper needs --weights');
  if (!(BACKENDS as readonly string[]).includes(args.backend)) {
    throw new Error(`unknown backend '${args.backend}' (expected one of ${BACKENDS.join(', ')})`);
  }
  return args;
}

/** Paths are taken relative to the directory pnpm was started in (INIT_CWD), bare names may be fixtures. */
function resolveFile(arg: string): string {
  const base = process.env.INIT_CWD ?? process.cwd();
  if (isAbsolute(arg)) return arg;
  const local = resolve(base, arg);
  if (existsSync(local)) return local;
  if (!arg.includes('/') && !arg.includes('\\'))
    return findPreprocessFixture(arg) ?? resolve(fixturesDir(), arg);
  return local;
}

/** A URL as is; a path like {@link resolveFile}, a bare name also in the shared `checkpoints` fixtures. */
function resolveWeights(arg: string): string {
  if (/^https?:\/\//i.test(arg)) return arg;
  const local = resolveFile(arg);
  if (existsSync(local) || arg.includes('/') || arg.includes('\\')) return local;
  const shared = resolve(fixturesDir(), '..', 'checkpoints', arg);
  return existsSync(shared) ? shared : local;
}

async function initBackend(name: string): Promise<void> {
  if (name === 'webgpu' && !tf.findBackendFactory('webgpu')) {
    // Node: navigator.gpu from Dawn (the `webgpu` npm package), then the tfjs backend and the fused Swin kernels
    const { setupNodeWebGPU, registerSwinWebGPUKernels } = await import('@swin/webgpu');
    await setupNodeWebGPU();
    const pkg = '@tensorflow/tfjs-backend-webgpu';
    try {
      await import(/* @vite-ignore */ pkg);
    } catch (e) {
      throw new Error(`${pkg} is not installed or failed to load (${(e as Error).message})`);
    }
    registerSwinWebGPUKernels();
  }
  let ok = false;
  try {
    ok = await tf.setBackend(name);
  } catch (e) {
    throw new Error((e as Error).message);
  }
  if (!ok) throw new Error(`tfjs could not initialise the '${name}' backend in this environment`);
  await tf.ready();
}

/**
 * On webgpu, tfjs's synchronous read-back (which the comparison uses) goes through an OffscreenCanvas that
 * Node lacks: hand the runner host copies of the outputs instead.
 */
function withHostOutputs(h: Handler): Handler {
  return {
    ...h,
    async run(fx) {
      const out = await h.run(fx);
      const owned = new Set<tf.Tensor>(Object.values({ ...fx.stateDict, ...fx.inputs, ...fx.expected }));
      const copies: Record<string, tf.Tensor> = {};
      for (const [k, t] of Object.entries(out)) {
        copies[k] = tf.tensor(await t.data(), t.shape, t.dtype);
        if (!owned.has(t) && !t.isDisposed) t.dispose();
      }
      return copies;
    },
  };
}

async function main(): Promise<number> {
  let args: Args;
  try {
    args = parseArgs(process.argv.slice(2));
  } catch (e) {
    console.error(`error: ${(e as Error).message}\n${USAGE}`);
    return 2;
  }
  try {
    await initBackend(args.backend);
  } catch (e) {
    const hint =
      args.backend === 'webgl' || args.backend === 'webgpu'
        ? ' (it needs a browser or a GPU; in Node use cpu or wasm)'
        : '';
    console.error(`error: backend '${args.backend}' unavailable: ${(e as Error).message}${hint}`);
    return 2;
  }
  const files =
    args.files.length > 0
      ? args.files.map(resolveFile)
      : [...listFixtures().map((f) => resolve(fixturesDir(), f)), ...listPreprocessFixtures()];
  if (files.length === 0) {
    console.error(`error: no fixtures found in ${fixturesDir()}`);
    return 2;
  }
  let weights: WeightsOverride | undefined;
  if (args.weights !== undefined) {
    const src = resolveWeights(args.weights);
    try {
      weights = await loadWeights(src, { wrapper: args.wrapper });
    } catch (e) {
      console.error(`error: could not read weights ${args.weights}: ${(e as Error).message}`);
      return 2;
    }
    console.log(`weights ${weights.label}: ${weights.description}`);
  }
  const results: FixtureResult[] = [];
  const opts: RunOptions = args.backend === 'webgpu' ? { handlers: HANDLERS.map(withHostOutputs) } : {};
  if (weights) opts.weights = weights;
  for (const file of files) {
    const r = await runFixture(file, args.backend, opts);
    results.push(r);
    console.log(formatResult(r));
    if (args.verbose) {
      for (const o of r.perOutput) {
        console.log(
          `    ${o.ok ? 'ok  ' : 'FAIL'} ${o.name} max_abs=${formatNumber(o.maxAbs)} max_rel=${formatNumber(o.maxRel)}` +
            (o.ok ? '' : ` ${o.message}`),
        );
      }
      if (r.status !== 'SKIP') console.log(`    (${r.handler ?? 'no handler'}, ${r.ms.toFixed(0)} ms)`);
    }
  }
  console.log(formatSummary(results));
  return results.some((r) => r.status === 'FAIL') ? 1 : 0;
}

main().then(
  (code) => {
    process.exitCode = code;
  },
  (e) => {
    console.error(e);
    process.exitCode = 2;
  },
);
