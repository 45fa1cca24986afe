import { readFileSync } from 'node:fs';

// The benchmark tables of benchmark-results.md (the numbers of real `pnpm bench` runs, with their commands),
// parsed at build time so the charts draw exactly the numbers the tables print.
export interface BenchTable {
  /** The "## ..." heading above the table. */
  section: string;
  headers: string[];
  rows: string[][];
}
declare const data: BenchTable[];

export { data };

export default {
  watch: ['./benchmark-results.md'],
  load(files: string[]): BenchTable[] {
    const text = readFileSync(files[0] ?? new URL('./benchmark-results.md', import.meta.url), 'utf8');
    const tables: BenchTable[] = [];
    let section = '';
    let current: BenchTable | null = null;
    const cells = (line: string) =>
      line
        .trim()
        .replace(/^\||\|$/g, '')
        .split('|')
        .map((c) => c.trim());
    for (const line of text.split('\n')) {
      if (line.startsWith('## ')) section = line.slice(3).trim();
      if (!line.trim().startsWith('|')) {
        current = null;
        continue;
      }
      if (!current) {
        current = { section, headers: cells(line), rows: [] };
        tables.push(current);
      } else if (!/^\|[\s|:-]+\|$/.test(line.trim())) current.rows.push(cells(line));
    }
    return tables;
  },
};
