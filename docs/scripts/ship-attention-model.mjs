// Writes the trained model the "How Swin works" attention figure loads (docs/public/attention/fashion-swin.safetensors):
// the best model of an ablation run (apps/ablation: `best-model.safetensors`, weights + backbone config in its
// metadata) re-encoded as F16 (half the bytes; loadBackbone of @swin/backbone reads it back as float32), with the
// run's variant, seed, steps and test accuracy added to the metadata for the page to quote.
// Usage: npx tsx --conditions=@swin/source docs/scripts/ship-attention-model.mjs <ablation run dir>
import { readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { readSafetensors, writeSafetensors } from '@swin/io';

const run = process.argv[2];
if (!run) {
  console.error(
    'usage: ship-attention-model.mjs <ablation run dir with best-model.safetensors and results.json>',
  );
  process.exit(2);
}
const file = readSafetensors(readFileSync(join(run, 'best-model.safetensors')));
const best = JSON.parse(readFileSync(join(run, 'best-model.json'), 'utf8'));
const results = JSON.parse(readFileSync(join(run, 'results.json'), 'utf8'));
const tensors = {};
for (const [key, e] of file.tensors) tensors[key] = { shape: e.shape, data: e.data };
const provenance = {
  variant: best.variant,
  seed: best.seed,
  steps: results.meta.options.steps,
  batch: results.meta.options.batch,
  test_accuracy: best.test_accuracy,
  test_images: results.meta.options.testSize,
  // the output folder is a path of the machine that ran it: not shipped
  command: String(results.meta.command).replace(/--out \S+/, '--out <dir>'),
  date: String(results.meta.started ?? '').slice(0, 10),
};
const bytes = writeSafetensors(tensors, {
  dtype: 'F16',
  metadata: { ...file.metadata, provenance: JSON.stringify(provenance) },
});
const out = new URL('../public/attention/fashion-swin.safetensors', import.meta.url);
writeFileSync(out, bytes);
console.log(
  `wrote docs/public/attention/fashion-swin.safetensors (${bytes.length} bytes): ${JSON.stringify(provenance)}`,
);
