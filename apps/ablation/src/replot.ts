/**
 * Re-renders the plots of a finished (or stopped) study from its results.json:
 *   tsx --conditions=@swin/source apps/ablation/src/replot.ts <out-dir>
 */
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { writePlots } from './plots.js';
import type { RunRecord } from './report.js';

const dir = process.argv[2];
if (!dir) {
  process.stderr.write('usage: replot <dir with results.json>\n');
  process.exit(2);
}
try {
  const { records } = JSON.parse(readFileSync(join(dir, 'results.json'), 'utf8')) as { records: RunRecord[] };
  const files = await writePlots(dir, records);
  process.stdout.write(`wrote ${files.join(', ')} to ${dir}\n`);
} catch (e) {
  process.stderr.write(`replot: ${e instanceof Error ? e.message : e}\n`);
  process.exit(1);
}
