/**
 * Browser stand-in for the `node:fs`, `node:path` and `node:url` imports of `@swin/testing` (its fixture
 * loader is Node-only, but its comparison helpers are what the browser tests must share with the Node
 * runner). Aliased in the `webgpu-browser` vitest project only. File access throws: browser tests get
 * fixture bytes through the `readFixture` browser command instead.
 */
function noFs(name: string): never {
  throw new Error(`${name} is not available in the browser (use the readFixture browser command)`);
}
export const existsSync = (_p: string): boolean => false;
export const readdirSync = (): never => noFs('fs.readdirSync');
export const readFileSync = (): never => noFs('fs.readFileSync');
export const writeFileSync = (): never => noFs('fs.writeFileSync');
export const rmSync = (): never => noFs('fs.rmSync');
export const isAbsolute = (p: string): boolean => p.startsWith('/');
export const basename = (p: string): string => p.slice(p.lastIndexOf('/') + 1);
export const dirname = (p: string): string => (p.includes('/') ? p.slice(0, p.lastIndexOf('/')) || '/' : '.');
export const join = (...parts: string[]): string => parts.join('/').replace(/\/+/g, '/');
export const resolve = (...parts: string[]): string => join(...parts);
export const fileURLToPath = (u: string | URL): string => new URL(String(u)).pathname;
export default {
  existsSync,
  readdirSync,
  readFileSync,
  writeFileSync,
  rmSync,
  isAbsolute,
  basename,
  dirname,
  join,
  resolve,
  fileURLToPath,
};
