/**
 * `swin convert IN OUT.safetensors`: the state_dict found in IN (wrapper chosen like `@swin/io`'s
 * `readCheckpoint`, `module.` stripped) written as safetensors, every tensor in the dtype it is stored in
 * (F16 stays F16, int64 buffers stay I64), bytes unchanged.
 */
import { writeFile } from 'node:fs/promises';
import { writeSafetensors } from '@swin/io';
import { formatMiB } from '../progress.js';
import { type ReadOptions, readWithProgress, warnRefused } from '../runtime.js';

/** Runs `swin convert`. */
export async function convert(input: string, out: string, opts: ReadOptions): Promise<void> {
  if (!out.endsWith('.safetensors')) throw new Error(`output '${out}' must end in .safetensors`);
  const ckpt = await readWithProgress(input, opts);
  warnRefused(ckpt.refusedGlobals);
  const keys = Object.keys(ckpt.tensors);
  if (keys.length === 0) throw new Error(`${input} holds no tensors`);
  const metadata: Record<string, string> = { format: 'pt' };
  const bytes = writeSafetensors(ckpt.tensors, { metadata });
  await writeFile(out, bytes);
  const dtypes = new Map<string, number>();
  for (const t of Object.values(ckpt.tensors)) dtypes.set(t.dtype, (dtypes.get(t.dtype) ?? 0) + 1);
  const dt = [...dtypes].map(([d, n]) => `${d} x${n}`).join(', ');
  const from = ckpt.wrapper === '' ? ckpt.format : `${ckpt.format}, wrapper '${ckpt.wrapper}'`;
  process.stdout.write(
    `wrote ${out}: ${keys.length} tensors (${dt}), ${formatMiB(bytes.length)} from ${from}\n`,
  );
}
