// Runs in headless Chromium (a `*.browser.test.ts`: excluded from the Node projects). Browser image sources
// through loadImage: opaque pixels come back unchanged, encoded files decode exactly as in Node.
import { encode as encodePng } from 'fast-png';
import { describe, expect, it } from 'vitest';
import { decodeImage } from './decode.js';
import { loadImage } from './load.js';
import type { RGBImage } from './types.js';

const W = 29;
const H = 17;
const RGBA = new Uint8ClampedArray(W * H * 4);
for (let i = 0; i < W * H; i++)
  RGBA.set([(i * 7) & 255, (i * 13 + 50) & 255, (i * 3 + 100) & 255, 255], i * 4);
const RGB = new Uint8Array(W * H * 3);
for (let i = 0; i < W * H; i++) RGB.set(RGBA.subarray(i * 4, i * 4 + 3), i * 3);
const PNG = new Uint8Array(
  encodePng({ width: W, height: H, data: new Uint8Array(RGBA), channels: 4, depth: 8 }),
);

function same(img: RGBImage): void {
  expect([img.width, img.height]).toEqual([W, H]);
  let diff = 0;
  for (let i = 0; i < RGB.length; i++) if (img.data[i] !== RGB[i]) diff++;
  expect(diff).toBe(0);
}

function canvasWith(kind: 'offscreen' | 'element'): OffscreenCanvas | HTMLCanvasElement {
  const canvas = kind === 'offscreen' ? new OffscreenCanvas(W, H) : document.createElement('canvas');
  canvas.width = W;
  canvas.height = H;
  const ctx = canvas.getContext('2d') as CanvasRenderingContext2D;
  ctx.putImageData(new ImageData(RGBA.slice(), W, H), 0, 0);
  return canvas;
}

describe('loadImage in a browser', () => {
  it('decodes a Blob/File exactly like Node (no browser decoder involved)', async () => {
    same(await loadImage(new Blob([PNG], { type: 'image/png' })));
    same(await loadImage(new File([PNG], 'x.png')));
    same(decodeImage(PNG));
  });

  it('ImageData', async () => {
    same(await loadImage(new ImageData(RGBA.slice(), W, H)));
  });

  it('OffscreenCanvas and HTMLCanvasElement', async () => {
    same(await loadImage(canvasWith('offscreen')));
    same(await loadImage(canvasWith('element')));
  });

  it('a WebGL canvas (no 2D context: read through createImageBitmap)', async () => {
    const canvas = document.createElement('canvas');
    canvas.width = 4;
    canvas.height = 3;
    const gl = canvas.getContext('webgl2', { preserveDrawingBuffer: true });
    expect(gl).not.toBeNull();
    gl?.clearColor(0.2, 0.4, 0.6, 1);
    gl?.clear(gl.COLOR_BUFFER_BIT);
    const img = await loadImage(canvas);
    expect([img.width, img.height]).toEqual([4, 3]);
    expect(Array.from(img.data.subarray(0, 3))).toEqual([51, 102, 153]);
    expect(new Set(img.data).size).toBe(3);
  });

  it('ImageBitmap', async () => {
    const bitmap = await createImageBitmap(new ImageData(RGBA.slice(), W, H));
    same(await loadImage(bitmap));
    bitmap.close();
  });

  it('HTMLImageElement (an opaque PNG: the browser decode matches)', async () => {
    const url = URL.createObjectURL(new Blob([PNG], { type: 'image/png' }));
    try {
      const img = new Image();
      img.src = url;
      same(await loadImage(img)); // not yet loaded: loadImage waits for decode()
      same(await loadImage(url)); // a blob: URL string is fetched and decoded by this package
    } finally {
      URL.revokeObjectURL(url);
    }
  });

  it('a file path has no meaning in a browser: a clear error', async () => {
    const err = await loadImage('photos/cat.png').catch((e: unknown) => e);
    expect((err as Error).message).toMatch(
      /^loadImage: 'photos\/cat\.png' looks like a file path, which needs Node/,
    );
  });
});
