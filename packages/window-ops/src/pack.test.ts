/**
 * Pack-and-install test: builds the package, packs it with npm into a temp dir outside the workspace,
 * installs the tarball with its peer dependency and the cpu backend from the npm registry into a fresh
 * ES-module project, and runs the README example there. The example is extracted from README.md, so the
 * README and this test cannot drift. Needs the npm registry (about a minute on a cold cache).
 */
import { execFileSync } from 'node:child_process';
import { mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import ts from 'typescript';
import { afterAll, describe, expect, it } from 'vitest';

const pkgDir = resolve(dirname(fileURLToPath(import.meta.url)), '..');
const readme = readFileSync(join(pkgDir, 'README.md'), 'utf8');

/** The body of the first fenced block with this info string that follows `after` (if given). */
function fencedBlock(markdown: string, lang: string, after = ''): string {
  const start = after ? markdown.indexOf(after) : 0;
  if (start < 0) throw new Error(`README.md has no '${after}'`);
  const m = new RegExp('^```' + lang + '\\n([\\s\\S]*?)^```$', 'm').exec(markdown.slice(start));
  if (!m) throw new Error(`README.md has no \`\`\`${lang} block${after ? ` after '${after}'` : ''}`);
  return m[1];
}

function run(cmd: string, args: string[], cwd: string, timeout = 180_000): string {
  try {
    return execFileSync(cmd, args, {
      cwd,
      timeout,
      encoding: 'utf8',
      stdio: ['ignore', 'pipe', 'pipe'],
      env: {
        ...process.env,
        npm_config_audit: 'false',
        npm_config_fund: 'false',
        npm_config_update_notifier: 'false',
      },
    });
  } catch (e) {
    const err = e as { stdout?: string; stderr?: string; message: string };
    throw new Error(
      `${cmd} ${args.join(' ')} failed in ${cwd}:\n${err.message}\n${err.stdout ?? ''}\n${err.stderr ?? ''}`,
    );
  }
}

describe('pack and install', () => {
  const work = mkdtempSync(join(tmpdir(), 'swin-window-ops-pack-'));
  afterAll(() => rmSync(work, { recursive: true, force: true }));

  it('the README example imports only tfjs-core, the cpu backend and this package', () => {
    const example = fencedBlock(readme, 'ts');
    const imports = [...example.matchAll(/from '([^']+)'|import '([^']+)'/g)].map((m) => m[1] ?? m[2]);
    expect(new Set(imports)).toEqual(
      new Set(['@tensorflow/tfjs-core', '@tensorflow/tfjs-backend-cpu', '@swin/window-ops']),
    );
  });

  it('builds, packs, installs from the tarball and runs the README example', () => {
    run('npx', ['tsc', '-p', 'tsconfig.build.json'], pkgDir);

    const packDir = join(work, 'pack');
    const appDir = join(work, 'app');
    run('mkdir', ['-p', packDir, appDir], work);
    const packed = JSON.parse(
      run('npm', ['pack', '--json', '--pack-destination', packDir], pkgDir),
    ) as Array<{
      filename: string;
      files: Array<{ path: string }>;
    }>;
    const files = packed[0].files.map((f) => f.path).sort();
    // The build output, its sources (the source maps point to them), README, LICENSE and package.json:
    // no tests or test helpers.
    expect(files).toContain('dist/index.js');
    expect(files).toContain('dist/index.d.ts');
    expect(files).toContain('README.md');
    expect(files).toContain('LICENSE');
    expect(files).toContain('src/index.ts');
    expect(
      files.filter((f) => !/^(dist\/.*|src\/[\w-]+\.ts|README\.md|LICENSE|package\.json)$/.test(f)),
    ).toEqual([]);
    expect(files.filter((f) => /test/.test(f))).toEqual([]);
    const tarball = join(packDir, readdirSync(packDir).find((f) => f.endsWith('.tgz'))!);

    writeFileSync(
      join(appDir, 'package.json'),
      JSON.stringify({ name: 'app', private: true, type: 'module' }, null, 2),
    );
    run(
      'npm',
      [
        'install',
        '--no-audit',
        '--no-fund',
        tarball,
        '@tensorflow/tfjs-core@4.22.0',
        '@tensorflow/tfjs-backend-cpu@4.22.0',
      ],
      appDir,
    );
    const installed = JSON.parse(
      readFileSync(join(appDir, 'node_modules/@swin/window-ops/package.json'), 'utf8'),
    );
    expect(installed.dependencies ?? {}).toEqual({});
    expect(Object.keys(installed.peerDependencies)).toEqual(['@tensorflow/tfjs-core']);

    // the README example is TypeScript (type-checked by scripts/check-readme-examples.mjs): run its JavaScript
    const js = ts.transpileModule(fencedBlock(readme, 'ts'), {
      compilerOptions: { module: ts.ModuleKind.ESNext, target: ts.ScriptTarget.ES2022 },
    }).outputText;
    writeFileSync(join(appDir, 'example.mjs'), js);
    const out = run('node', ['example.mjs'], appDir, 60_000);

    // The printed output is exactly the README's "Output:" block...
    expect(out.trim()).toBe(fencedBlock(readme, 'text', 'Output:').trim());
    // ...whose key lines follow from the definitions: on a 4x6 map of token ids h*6 + w, window 0 covers
    // (0,0) (0,1) (1,0) (1,1); after rolling by -1 on both axes it holds (1,1) (1,2) (2,1) (2,2).
    expect(out).toContain('window 0 0 1 6 7\n');
    expect(out).toContain('shifted window 0 7 8 13 14\n');
    expect(out).toContain('padded 1x8x8x3 padH 3 padW 1\n');
    expect(out).toContain('tensors left 0');
  }, 240_000);
});
