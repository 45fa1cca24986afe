/** `swin list [filter]`: the model names of the registry of `@swin/models`. */
import { listModels } from '@swin/models';

/** Runs `swin list`. */
export async function list(
  filter: string | undefined,
  opts: { json?: boolean; pretrained?: boolean },
): Promise<void> {
  const names = listModels(filter, { pretrained: opts.pretrained === true });
  if (opts.json) process.stdout.write(`${JSON.stringify(names)}\n`);
  else if (names.length > 0) process.stdout.write(`${names.join('\n')}\n`);
  if (names.length === 0 && filter !== undefined)
    process.stderr.write(`swin: no model name matches '${filter}'\n`);
}
