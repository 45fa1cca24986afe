#!/usr/bin/env node
// Publish-readiness of every public workspace package (packages/*, not "private"), checked on what would
// actually be published: each package is packed with `pnpm pack` (its `prepack` builds it), then
//   - the packed manifest has no `workspace:` range, no `@swin/source` export condition, and every internal
//     dependency range is satisfied by that package's current version;
//   - LICENSE (the root's Apache-2.0 text), README.md and the metadata fields are there;
//   - every source map's `sources` resolve to files inside the tarball;
//   - publint finds no error or warning, and @arethetypeswrong/cli (profile esm-only: these packages are ESM
//     only) finds no problem.
// `--fix` adds the LICENSE copy and the metadata (repository, homepage, bugs, keywords, files, prepack,
// publishConfig.exports) to packages that lack them, e.g. a new package; it never overwrites a field that is set.
// Usage: node scripts/check-packages.mjs [--fix] [--no-pack] [package-dir-name ...]
import { execFileSync } from 'node:child_process';
import {
  copyFileSync,
  existsSync,
  mkdtempSync,
  readdirSync,
  readFileSync,
  rmSync,
  writeFileSync,
} from 'node:fs';
import { createRequire } from 'node:module';
import { tmpdir } from 'node:os';
import { dirname, join, posix, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { gunzipSync } from 'node:zlib';

const root = resolve(dirname(fileURLToPath(import.meta.url)), '..');
const require = createRequire(import.meta.url);
// Placeholder until the project has its public home: change REPO in one place when it moves.
const REPO = 'https://github.com/swin-js/swin';

const SOURCE_CONDITION = '@swin/source';

const args = process.argv.slice(2);
const fix = args.includes('--fix');
const pack = !args.includes('--no-pack');
const only = args.filter((a) => !a.startsWith('--'));

const licenseText = readFileSync(join(root, 'LICENSE'), 'utf8');
const dirs = readdirSync(join(root, 'packages'), { withFileTypes: true })
  .filter((d) => d.isDirectory() && existsSync(join(root, 'packages', d.name, 'package.json')))
  .map((d) => d.name)
  .filter((n) => only.length === 0 || only.includes(n));

const manifests = new Map();
for (const top of ['packages', 'apps']) {
  for (const d of readdirSync(join(root, top), { withFileTypes: true })) {
    const f = join(root, top, d.name, 'package.json');
    if (d.isDirectory() && existsSync(f)) {
      const m = JSON.parse(readFileSync(f, 'utf8'));
      manifests.set(m.name, m);
    }
  }
}

/** Strips the source condition from an exports map (recursively), keeping key order. */
function publishedExports(exp) {
  if (typeof exp !== 'object' || exp === null) return exp;
  const out = {};
  for (const [k, v] of Object.entries(exp)) if (k !== SOURCE_CONDITION) out[k] = publishedExports(v);
  return out;
}

function expectedFields(dir, m) {
  const short = m.name.replace(/^@swin\//, '');
  return {
    repository: { type: 'git', url: `git+${REPO}.git`, directory: `packages/${dir}` },
    homepage: `${REPO}/tree/main/packages/${dir}#readme`,
    bugs: { url: `${REPO}/issues` },
    keywords: ['swin-transformer', 'vision-transformer', 'tensorflowjs', 'tfjs', short],
  };
}

const FILES = [
  'dist',
  'src',
  '!src/**/*.test.ts',
  '!src/test-utils',
  '!src/testdata',
  'README.md',
  'LICENSE',
];

function applyFix(dir, m) {
  let changed = false;
  for (const [k, v] of Object.entries(expectedFields(dir, m))) {
    if (m[k] === undefined) {
      m[k] = v;
      changed = true;
    }
  }
  for (const f of FILES) {
    m.files ??= [];
    if (!m.files.includes(f)) {
      m.files.push(f);
      changed = true;
    }
  }
  m.scripts ??= {};
  if (!m.scripts.prepack && m.scripts.build) {
    m.scripts.prepack = 'pnpm run build';
    changed = true;
  }
  m.publishConfig ??= {};
  if (m.publishConfig.access === undefined) {
    m.publishConfig.access = 'public';
    changed = true;
  }
  const pub = publishedExports(m.exports);
  if (m.exports && JSON.stringify(m.publishConfig.exports) !== JSON.stringify(pub)) {
    m.publishConfig.exports = pub;
    changed = true;
  }
  return changed;
}

/** Minimal tar reader (ustar, as npm/pnpm write it): path -> bytes. */
function untar(buf) {
  const files = new Map();
  let off = 0;
  let longName = null;
  while (off + 512 <= buf.length) {
    const header = buf.subarray(off, off + 512);
    if (header.every((b) => b === 0)) break;
    const str = (a, b) => header.subarray(a, b).toString('utf8').replace(/\0.*$/s, '');
    let name = str(0, 100);
    const prefix = str(345, 500);
    if (prefix) name = `${prefix}/${name}`;
    const size = Number.parseInt(str(124, 136).trim() || '0', 8);
    const type = String.fromCharCode(header[156]);
    const body = buf.subarray(off + 512, off + 512 + size);
    if (type === 'L') longName = body.toString('utf8').replace(/\0.*$/s, '');
    else {
      if (longName) name = longName;
      longName = null;
      if (type === '0' || type === '\0') files.set(name.replace(/^package\//, ''), body);
    }
    off += 512 + Math.ceil(size / 512) * 512;
  }
  return files;
}

function satisfies(version, range) {
  // enough semver for the ranges pnpm writes for workspace: deps (exact, ^x.y.z, ~x.y.z)
  const parse = (v) => v.split('.').map((n) => Number.parseInt(n, 10));
  const [a, b, c] = parse(version);
  const m = /^([\^~]?)(\d+)\.(\d+)\.(\d+)$/.exec(range);
  if (!m) return false;
  const [x, y, z] = [m[2], m[3], m[4]].map(Number);
  const ge = a > x || (a === x && (b > y || (b === y && c >= z)));
  if (!ge) return false;
  if (m[1] === '') return a === x && b === y && c === z;
  if (m[1] === '~') return a === x && b === y;
  if (x > 0) return a === x;
  if (y > 0) return a === 0 && b === y;
  return a === 0 && b === 0 && c === z;
}

const problems = [];
const report = (pkg, msg) => problems.push(`${pkg}: ${msg}`);
const tmp = mkdtempSync(join(tmpdir(), 'swin-pack-'));

try {
  for (const dir of dirs) {
    const pkgDir = join(root, 'packages', dir);
    const manifestPath = join(pkgDir, 'package.json');
    const m = JSON.parse(readFileSync(manifestPath, 'utf8'));
    if (m.private) continue;
    if (fix) {
      if (applyFix(dir, m)) writeFileSync(manifestPath, `${JSON.stringify(m, null, 2)}\n`);
      if (
        !existsSync(join(pkgDir, 'LICENSE')) ||
        readFileSync(join(pkgDir, 'LICENSE'), 'utf8') !== licenseText
      )
        copyFileSync(join(root, 'LICENSE'), join(pkgDir, 'LICENSE'));
    }
    const name = m.name;
    if (m.license !== 'Apache-2.0') report(name, `license is ${m.license}, expected Apache-2.0`);
    if (!existsSync(join(pkgDir, 'LICENSE')) || readFileSync(join(pkgDir, 'LICENSE'), 'utf8') !== licenseText)
      report(name, 'LICENSE missing or not the root Apache-2.0 text (run with --fix)');
    if (!existsSync(join(pkgDir, 'README.md'))) report(name, 'README.md missing');
    for (const k of ['description', 'repository', 'homepage', 'bugs', 'keywords'])
      if (m[k] === undefined) report(name, `package.json has no "${k}" (run with --fix)`);
    if (!m.scripts?.prepack) report(name, 'no "prepack" script: a pack without a build ships no dist/');
    if (!pack) continue;

    const out = execFileSync('pnpm', ['pack', '--json', '--pack-destination', tmp], {
      cwd: pkgDir,
      encoding: 'utf8',
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    const tarball = JSON.parse(out.slice(out.indexOf('{'))).filename;
    const tgzPath = resolve(pkgDir, tarball);
    const files = untar(gunzipSync(readFileSync(tgzPath)));
    const packed = JSON.parse(files.get('package.json').toString('utf8'));

    const packedText = JSON.stringify(packed);
    if (packedText.includes('workspace:')) report(name, 'packed manifest still has a workspace: range');
    if (packedText.includes(SOURCE_CONDITION))
      report(name, `packed manifest still has the "${SOURCE_CONDITION}" condition (unshipped sources)`);
    for (const field of ['dependencies', 'peerDependencies', 'optionalDependencies']) {
      for (const [dep, range] of Object.entries(packed[field] ?? {})) {
        const local = manifests.get(dep);
        if (!local) continue;
        if (local.private) report(name, `${field} has the private package ${dep}`);
        else if (!satisfies(local.version, range))
          report(
            name,
            `${field}.${dep} is "${range}", which ${local.version} (the workspace version) does not satisfy`,
          );
      }
    }
    for (const f of ['LICENSE', 'README.md']) if (!files.has(f)) report(name, `${f} not in the tarball`);
    if (![...files.keys()].some((f) => f.startsWith('dist/'))) report(name, 'no dist/ in the tarball');
    for (const [f, body] of files) {
      if (!f.endsWith('.map')) continue;
      const map = JSON.parse(body.toString('utf8'));
      for (const s of map.sources ?? []) {
        const target = posix.normalize(posix.join(posix.dirname(f), map.sourceRoot ?? '', s));
        if (!files.has(target)) report(name, `${f} points to ${s}, which is not in the tarball`);
      }
    }

    const { publint } = await import(require.resolve('publint'));
    const { formatMessage } = await import(require.resolve('publint/utils'));
    const tgz = readFileSync(tgzPath);
    const tarballBytes = tgz.buffer.slice(tgz.byteOffset, tgz.byteOffset + tgz.byteLength);
    const lint = await publint({ pack: { tarball: tarballBytes }, strict: true });
    for (const msg of lint.messages)
      report(name, `publint ${msg.type}: ${formatMessage(msg, packed) ?? msg.code}`);

    try {
      execFileSync(
        join(root, 'node_modules', '.bin', 'attw'),
        [tgzPath, '--profile', 'esm-only', '--format', 'ascii'],
        { cwd: root, encoding: 'utf8', stdio: ['ignore', 'pipe', 'pipe'] },
      );
    } catch (e) {
      report(name, `@arethetypeswrong/cli:\n${e.stdout}${e.stderr}`);
    }
    console.log(`checked ${name} (${files.size} files packed)`);
  }
} finally {
  rmSync(tmp, { recursive: true, force: true });
}

if (problems.length > 0) {
  console.error(`\n${problems.length} problem(s):\n${problems.map((p) => `- ${p}`).join('\n')}`);
  process.exit(1);
}
console.log(`all ${dirs.length} packages ready to publish`);
