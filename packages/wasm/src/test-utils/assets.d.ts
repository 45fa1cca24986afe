// vite's `?url` imports (the browser test gives tfjs-backend-wasm the URLs of its .wasm files)
declare module '*.wasm?url' {
  const url: string;
  export default url;
}
