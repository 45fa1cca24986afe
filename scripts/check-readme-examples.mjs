#!/usr/bin/env node
// Typechecks every ```ts / ```js code block of every package README under strict TypeScript, as a user would
// compile it against the built packages (dist/*.d.ts, no source condition): an example that needs a cast, or
// that drifted from the API, fails here. Blocks marked ```ts no-check (signatures, fragments) are skipped.
// The blocks are written to docs/.readme-check (docs depends on every public package), then `tsc --noEmit`.
// Usage: node scripts/check-readme-examples.mjs   (after `pnpm build`)
import { execFileSync } from 'node:child_process';
import { existsSync, mkdirSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';

const root = resolve(dirname(fileURLToPath(import.meta.url)), '..');
const out = join(root, 'docs', '.readme-check');
rmSync(out, { recursive: true, force: true });
mkdirSync(out, { recursive: true });

const written = [];
for (const dir of readdirSync(join(root, 'packages'))) {
  const readme = join(root, 'packages', dir, 'README.md');
  if (!existsSync(readme)) continue;
  const manifest = JSON.parse(readFileSync(join(root, 'packages', dir, 'package.json'), 'utf8'));
  if (manifest.private) continue;
  const text = readFileSync(readme, 'utf8');
  const re = /^```(ts|js|typescript|javascript)([^\n]*)\n([\s\S]*?)^```/gm;
  let n = 0;
  for (let m = re.exec(text); m; m = re.exec(text)) {
    if (/no-check/.test(m[2])) continue;
    const file = join(out, `${dir}-${n++}.ts`);
    // `export {}` makes every block a module of its own (top-level await, no clashing names)
    writeFileSync(file, `// from packages/${dir}/README.md\n${m[3]}\nexport {};\n`);
    written.push(file);
  }
  if (n === 0) console.warn(`packages/${dir}/README.md has no typechecked example`);
}
writeFileSync(
  join(out, 'tsconfig.json'),
  JSON.stringify(
    {
      extends: '../../tsconfig.base.json',
      compilerOptions: {
        noEmit: true,
        strict: true,
        declaration: false,
        declarationMap: false,
        sourceMap: false,
      },
      include: ['*.ts'],
    },
    null,
    2,
  ),
);
try {
  execFileSync(join(root, 'node_modules', '.bin', 'tsc'), ['-p', join(out, 'tsconfig.json')], {
    cwd: out,
    stdio: 'inherit',
  });
  console.log(`${written.length} README examples typecheck (strict)`);
  rmSync(out, { recursive: true, force: true });
} catch {
  console.error(`README examples do not typecheck: the files are in ${out}`);
  process.exit(1);
}
