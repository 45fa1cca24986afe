import { readFileSync } from 'node:fs';
import { expect, it } from 'vitest';
import * as array from './array.js';
import * as main from './index.js';

/** Every module reachable from `file` through relative imports, with its bare (package) imports. */
function imports(file: string, seen = new Map<string, string[]>()): Map<string, string[]> {
  if (seen.has(file)) return seen;
  const src = readFileSync(new URL(file, import.meta.url), 'utf8');
  const specs = [...src.matchAll(/^(?:import|export)[^'"]*from '([^']+)'/gm)].map((m) => m[1]);
  seen.set(
    file,
    specs.filter((s) => !s.startsWith('.')),
  );
  for (const s of specs.filter((x) => x.startsWith('./'))) imports(s.replace(/\.js$/, '.ts'), seen);
  return seen;
}

it('the ./array entry reaches no TensorFlow.js module; the main entry adds only evalTransform', () => {
  const graph = imports('./array.ts');
  const packages = [...graph.values()].flat();
  expect(packages.sort()).toEqual(['fast-png', 'fflate', 'jpeg-js']);
  expect(Object.keys(main).filter((k) => !(k in array))).toEqual(['evalTransform']);
});
