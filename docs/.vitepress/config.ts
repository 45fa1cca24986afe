import { defineConfig } from 'vitepress';

export default defineConfig({
  title: '@swin',
  description: 'Composable vision-attention packages on TensorFlow.js: Swin, Swin-MLP, Shunted, PVT.',
  base: '/',
  cleanUrls: true,
  themeConfig: {
    nav: [
      { text: 'Guide', link: '/guide/getting-started' },
      { text: 'Packages', link: '/packages/window-ops' },
      { text: 'Benchmarks', link: '/benchmarks' },
      { text: 'Parity', link: '/parity' },
    ],
    sidebar: [
      {
        text: 'Guide',
        items: [
          { text: 'Getting started', link: '/guide/getting-started' },
          { text: 'Loading checkpoints', link: '/guide/checkpoints' },
          { text: 'Hybrid backbones', link: '/guide/hybrid-backbones' },
          { text: 'Training', link: '/guide/training' },
          { text: 'Ablation study (live)', link: '/guide/ablation' },
        ],
      },
      {
        text: 'Packages',
        items: [
          { text: '@swin/window-ops', link: '/packages/window-ops' },
          { text: '@swin/rel-pos-bias', link: '/packages/rel-pos-bias' },
          { text: '@swin/shifted-mask', link: '/packages/shifted-mask' },
          { text: '@swin/nn', link: '/packages/nn' },
          { text: '@swin/swin-core', link: '/packages/swin-core' },
          { text: '@swin/swin-mlp', link: '/packages/swin-mlp' },
          { text: '@swin/shunted-attention', link: '/packages/shunted-attention' },
          { text: '@swin/pvt', link: '/packages/pvt' },
          { text: '@swin/backbone', link: '/packages/backbone' },
        ],
      },
      {
        text: 'Reference',
        items: [
          { text: 'Parity with PyTorch', link: '/parity' },
          { text: 'Benchmarks', link: '/benchmarks' },
        ],
      },
    ],
  },
  vite: {
    // Resolve workspace packages to their TypeScript sources (no build needed for `docs:dev`).
    resolve: { conditions: ['@swin/source'] },
    optimizeDeps: { exclude: ['@tensorflow/tfjs-backend-wasm'] },
    worker: { format: 'es' }, // the ablation page's training worker is an ES module
  },
});
