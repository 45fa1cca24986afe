import { publicPackages, rewriteReadmeLinks } from './readmes.js';

// One page per public package, its content the package's README.md (VitePress dynamic routes).
export default {
  watch: ['../../packages/*/README.md', '../../packages/*/package.json'],
  paths() {
    return publicPackages().map((p) => ({
      params: { pkg: p.dir, title: p.name },
      content: `${rewriteReadmeLinks(p.readme, p.dir)}\n\n[API reference of \`${p.name}\`](/api/${p.dir})\n`,
    }));
  },
};
