import { existsSync, readdirSync, readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';

// The package pages of the site are the packages' own README.md files (what npm shows), so the two can't drift.
export const REPO = 'https://github.com/swin-js/swin';
const packagesDir = fileURLToPath(new URL('../../packages/', import.meta.url));

export interface PackageInfo {
  /** Directory name under packages/, also the page slug: /packages/<dir>. */
  dir: string;
  /** npm name, e.g. @swin/nn. */
  name: string;
  description: string;
  readme: string;
}

/** Every public package (not "private") that has a README, sorted by directory name. */
export function publicPackages(): PackageInfo[] {
  return readdirSync(packagesDir, { withFileTypes: true })
    .filter((d) => d.isDirectory() && existsSync(`${packagesDir}${d.name}/package.json`))
    .map((d) => {
      const manifest = JSON.parse(readFileSync(`${packagesDir}${d.name}/package.json`, 'utf8'));
      const readmePath = `${packagesDir}${d.name}/README.md`;
      return {
        dir: d.name,
        name: manifest.name as string,
        private: manifest.private === true,
        description: (manifest.description as string) ?? '',
        readme: existsSync(readmePath) ? readFileSync(readmePath, 'utf8') : '',
      };
    })
    .filter((p) => !p.private)
    .map(({ private: _private, ...p }) => p)
    .sort((a, b) => a.dir.localeCompare(b.dir));
}

/**
 * README links are relative to the package folder on GitHub. On the site: a sibling package (`../io`) is its
 * page, the docs folder (`../../docs/x.md`) is the site page, anything else in the repository is its GitHub URL.
 */
export function rewriteReadmeLinks(readme: string, dir: string): string {
  return readme.replace(/\]\((?!https?:|#|mailto:)([^)\s]+)\)/g, (_m, target: string) => {
    const [path, hash = ''] = target.split('#');
    const anchor = hash ? `#${hash}` : '';
    const sibling = /^\.\.\/([\w-]+)\/?(README\.md)?$/.exec(path);
    if (sibling && existsSync(`${packagesDir}${sibling[1]}/package.json`))
      return `](/packages/${sibling[1]}${anchor})`;
    const docs = /^\.\.\/\.\.\/docs\/(.+?)(\.md)?$/.exec(path);
    if (docs) return `](/${docs[1]}${anchor})`;
    const url = new URL(path, `${REPO}/blob/main/packages/${dir}/`).href;
    return `](${url}${anchor})`;
  });
}
