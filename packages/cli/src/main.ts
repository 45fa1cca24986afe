/**
 * The `swin` program: argument parsing (commander) and the error policy. Each command's implementation is
 * imported when the command runs, so `swin --help` and `swin list` start without loading TensorFlow.js.
 *
 * Exit codes: 0 success, 1 a failed command (bad file, unknown model, ...: one line on stderr), 2 bad usage
 * (unknown command or option, a bad number).
 */
import { Command, CommanderError, Option } from 'commander';
import { CLI_BACKENDS, parseBackend, parseIntIn } from './args.js';
import { oneLine, UsageError } from './errors.js';

/** Version printed by `swin --version` (kept in step with package.json by the release). */
export const VERSION = '0.0.0';

const EXAMPLES = `
Examples:
  swin inspect swin_tiny_patch4_window7_224.pth
  swin convert pvt_v2_b0.pth pvt_v2_b0.safetensors
  swin classify --model swin_tiny_patch4_window7_224 --weights swin_tiny_patch4_window7_224.pth cat.jpg
  swin classify --weights ablation-results/<run>/best-model shoe.png   (a model trained by pnpm demo)
  swin features --model pvt_v2_b0 --weights pvt_v2_b0.pth cat.jpg --out features.safetensors
  swin list swin_base`;

function weightsOptions(cmd: Command): Command {
  return cmd
    .option(
      '-m, --model <name>',
      'model name (timm or official, with or without a tag: swin_tiny_patch4_window7_224.ms_in1k)',
    )
    .option(
      '-w, --weights <file|url|dir>',
      "checkpoint: .pth/.pt/.bin/.ckpt/.safetensors file, http(s) URL, or hub folder: timm config.json, or a @swin/backbone one such as the ablation's best-model/ (default: the published weights of --model)",
    )
    .option(
      '--wrapper <key>',
      "top-level key holding the state_dict ('model', 'state_dict', 'model_ema', ...)",
    )
    .option('--strict', 'refuse checkpoints that need any global outside the allow-list')
    .addOption(
      new Option('-b, --backend <name>', 'TensorFlow.js backend')
        .choices(CLI_BACKENDS)
        .argParser(parseBackend)
        .default('wasm'),
    )
    .option('-q, --quiet', 'no progress output');
}

/** Builds the commander program (exposed for tests and for embedding). */
export function createProgram(): Command {
  const program = new Command('swin')
    .description(
      'Swin / PVT / Shunted on TensorFlow.js: read PyTorch checkpoints safely, classify images, extract features.',
    )
    .version(VERSION, '-V, --version')
    .showSuggestionAfterError(true)
    .addHelpText('after', EXAMPLES)
    .exitOverride();

  program
    .command('inspect')
    .description(
      'show what a checkpoint holds: format, wrapper, keys/shapes/dtypes, refused globals, family and layout',
    )
    .argument('<file>', 'checkpoint file or http(s) URL')
    .option('--json', 'machine-readable output')
    .option('--wrapper <key>', 'top-level key holding the state_dict')
    .option('--strict', 'refuse checkpoints that need any global outside the allow-list')
    .option('-q, --quiet', 'no progress output')
    .action(async (file: string, opts) => (await import('./commands/inspect.js')).inspect(file, opts));

  program
    .command('convert')
    .description('write the state_dict of a checkpoint as safetensors, every tensor in its stored dtype')
    .argument('<in>', 'checkpoint file or http(s) URL')
    .argument('<out>', 'output .safetensors file')
    .option('--wrapper <key>', 'top-level key holding the state_dict')
    .option('--strict', 'refuse checkpoints that need any global outside the allow-list')
    .option('-q, --quiet', 'no progress output')
    .action(async (input: string, out: string, opts) =>
      (await import('./commands/convert.js')).convert(input, out, opts),
    );

  weightsOptions(
    program
      .command('classify')
      .description(
        "top-k classes of images (the weights' evaluation preprocessing: timm's, or a backbone folder's grayscale/letterbox)",
      )
      .argument('<images...>', 'PNG or JPEG files'),
  )
    .option('-k, --top <k>', 'how many classes per image', parseIntIn(1, 100000), 5)
    .option('--json', 'machine-readable output')
    .action(async (images: string[], opts) =>
      (await import('./commands/classify.js')).classify(images, opts),
    );

  weightsOptions(
    program
      .command('features')
      .description('multi-scale feature maps of one image: shapes and statistics, optionally saved')
      .argument('<image>', 'PNG or JPEG file'),
  )
    .option('-o, --out <file>', 'save the feature maps (features.<i>, NHWC float32) as safetensors')
    .option('--json', 'machine-readable output')
    .action(async (image: string, opts) => (await import('./commands/features.js')).features(image, opts));

  program
    .command('list')
    .description('model names (timm and official), optionally filtered by a substring or a glob (swin*)')
    .argument('[filter]', "substring or glob ('*', '?') of the names to show")
    .option('-p, --pretrained', 'list name.tag for every pretrained configuration')
    .option('--json', 'machine-readable output')
    .action(async (filter: string | undefined, opts) =>
      (await import('./commands/list.js')).list(filter, opts),
    );

  // commander's own errors use "error: ..." lines; keep them on stderr and say where help is
  program.configureOutput({
    outputError: (str, write) => write(`swin: ${str.replace(/^error: /, '')}`),
  });
  for (const c of program.commands) c.exitOverride().configureOutput(program.configureOutput());
  program.showHelpAfterError("(run 'swin --help' for usage)");
  for (const c of program.commands) c.showHelpAfterError(`(run 'swin ${c.name()} --help' for usage)`);
  return program;
}

/**
 * Runs the CLI on `argv` (without the node and script entries) and resolves to the exit code. Never throws:
 * failures are printed as one line `swin: <problem>` on stderr (with `SWIN_DEBUG=1`, the stack too).
 */
export async function runCli(argv: readonly string[]): Promise<number> {
  const program = createProgram();
  if (argv.length === 0) {
    process.stdout.write(program.helpInformation());
    return 0;
  }
  try {
    await program.parseAsync([...argv], { from: 'user' });
    return 0;
  } catch (e) {
    if (e instanceof CommanderError) {
      // help and version are "errors" under exitOverride; their text is already printed
      if (
        e.code === 'commander.helpDisplayed' ||
        e.code === 'commander.version' ||
        e.code === 'commander.help'
      )
        return 0;
      return 2;
    }
    if (process.env.SWIN_DEBUG) console.error(e);
    process.stderr.write(`swin: ${oneLine(e)}\n`);
    return e instanceof UsageError ? 2 : 1;
  }
}
