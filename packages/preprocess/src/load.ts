/**
 * Images from wherever they are: a file path (Node), a URL, bytes, a `Blob`/`File`, or a browser image source.
 *
 * Encoded images (path, URL, bytes, Blob/File) go through {@link decodeImage}: the same pixels in Node and in
 * the browser (PIL's for PNG, within about 0.15 levels for JPEG). Browser image objects (`HTMLImageElement`, `ImageBitmap`, canvases) are already decoded
 * by the browser, whose JPEG decoder, colour management and premultiplied-alpha canvases can change pixels;
 * they are read with `createImageBitmap(..., { colorSpaceConversion: 'none', premultiplyAlpha: 'none' })` and a
 * 2D canvas' `getImageData`. For timm's pixels, pass the file (`File`/`Blob`/URL) instead.
 */
import { type DecodeOptions, decodeImage, MAX_IMAGE_PIXELS } from './decode.js';
import { PreprocessError, type RGBImage } from './types.js';

/** `{ data, width, height }` with RGBA `data` (`ImageData`, or anything shaped like it). */
export interface ImageDataLike {
  data: Uint8ClampedArray | Uint8Array;
  width: number;
  height: number;
}

/** Everything {@link loadImage} accepts. */
export type ImageSource =
  | string
  | URL
  | Uint8Array
  | ArrayBufferView
  | ArrayBuffer
  | Blob
  | ImageDataLike
  | RGBImage
  | ImageBitmap
  | HTMLImageElement
  | HTMLCanvasElement
  | OffscreenCanvas;

function fail(message: string): never {
  throw new PreprocessError(`loadImage: ${message}`);
}

function isUrlString(s: string): boolean {
  return /^(https?|data|blob|file):/i.test(s);
}

async function fetchBytes(url: string): Promise<Uint8Array> {
  if (url.startsWith('file:')) return readPath(url);
  let res: Response;
  try {
    res = await fetch(url);
  } catch (e) {
    return fail(`could not fetch ${url}: ${(e as Error).message}`);
  }
  if (!res.ok) fail(`could not fetch ${url}: HTTP ${res.status}`);
  return new Uint8Array(await res.arrayBuffer());
}

async function readPath(path: string): Promise<Uint8Array> {
  // a computed specifier keeps bundlers from pulling node:fs into browser builds
  const specifier = 'node:fs/promises';
  let fs: typeof import('node:fs/promises');
  try {
    fs = await import(/* @vite-ignore */ specifier);
  } catch {
    return fail(`'${path}' looks like a file path, which needs Node (in a browser pass a URL, File or Blob)`);
  }
  const target = path.startsWith('file:') ? new URL(path) : path;
  try {
    return new Uint8Array(await fs.readFile(target));
  } catch (e) {
    const code = (e as NodeJS.ErrnoException).code;
    return fail(`cannot read ${path}: ${code === 'ENOENT' ? 'no such file' : (e as Error).message}`);
  }
}

function isImageDataLike(s: unknown): s is ImageDataLike {
  if (s === null || typeof s !== 'object') return false;
  const o = s as Partial<ImageDataLike>;
  return (
    (o.data instanceof Uint8ClampedArray || o.data instanceof Uint8Array) &&
    typeof o.width === 'number' &&
    typeof o.height === 'number'
  );
}

/** RGBA (straight alpha) to RGB, dropping alpha without compositing like PIL's `convert('RGB')`. */
function fromRGBA(src: ImageDataLike, maxPixels: number): RGBImage {
  const { width, height, data } = src;
  if (!Number.isInteger(width) || !Number.isInteger(height) || width < 1 || height < 1) {
    fail(`image size ${width}x${height} is not a positive integer size`);
  }
  if (width * height > maxPixels) fail(`${width}x${height} is over the pixel budget of ${maxPixels}`);
  const n = width * height;
  if (data.length === n * 3 && data instanceof Uint8Array) return { data, width, height };
  if (data.length !== n * 4) {
    fail(
      `pixel data has ${data.length} bytes, expected width*height*4 = ${n * 4} (RGBA) for ${width}x${height}`,
    );
  }
  const out = new Uint8Array(n * 3);
  for (let i = 0; i < n; i++) {
    out[i * 3] = data[i * 4];
    out[i * 3 + 1] = data[i * 4 + 1];
    out[i * 3 + 2] = data[i * 4 + 2];
  }
  return { data: out, width, height };
}

type Drawable = ImageBitmap | HTMLImageElement | HTMLCanvasElement | OffscreenCanvas;

function drawableSize(s: Drawable): [number, number] {
  const img = s as HTMLImageElement;
  if (typeof img.naturalWidth === 'number' && img.naturalWidth > 0)
    return [img.naturalWidth, img.naturalHeight];
  return [s.width, s.height];
}

function isDrawable(s: unknown): s is Drawable {
  const has = (name: string) => typeof (globalThis as Record<string, unknown>)[name] === 'function';
  return (
    (has('ImageBitmap') && s instanceof ImageBitmap) ||
    (has('HTMLImageElement') && s instanceof HTMLImageElement) ||
    (has('HTMLCanvasElement') && s instanceof HTMLCanvasElement) ||
    (has('OffscreenCanvas') && s instanceof OffscreenCanvas)
  );
}

function context2d(w: number, h: number): OffscreenCanvasRenderingContext2D | CanvasRenderingContext2D {
  const opts = { willReadFrequently: true } as const;
  if (typeof OffscreenCanvas === 'function') {
    const ctx = new OffscreenCanvas(w, h).getContext('2d', opts);
    if (ctx) return ctx;
  }
  if (typeof document !== 'undefined') {
    const canvas = document.createElement('canvas');
    canvas.width = w;
    canvas.height = h;
    const ctx = canvas.getContext('2d', opts) as CanvasRenderingContext2D | null;
    if (ctx) return ctx;
  }
  return fail('no 2D canvas is available to read the image pixels');
}

async function fromDrawable(s: Drawable, maxPixels: number): Promise<RGBImage> {
  if (typeof HTMLImageElement === 'function' && s instanceof HTMLImageElement && !s.complete) {
    try {
      await s.decode();
    } catch {
      fail('the <img> element failed to load or decode');
    }
  }
  const [w, h] = drawableSize(s);
  if (!(w > 0 && h > 0)) fail(`the image source has a zero size (${w}x${h}); is it loaded?`);
  if (w * h > maxPixels) fail(`${w}x${h} is over the pixel budget of ${maxPixels}`);
  try {
    return await readPixels(s, w, h, maxPixels);
  } catch (e) {
    if (e instanceof PreprocessError) throw e;
    const name = e instanceof Error ? e.name : '';
    const why = e instanceof Error ? e.message.split('\n')[0] : String(e);
    const hint = name === 'SecurityError' ? ' (a cross-origin image needs CORS to be read)' : '';
    return fail(`could not read the image's pixels: ${why}${hint}`);
  }
}

/** The RGB pixels of a browser image source of size `w` x `h`, through a 2D canvas. */
async function readPixels(s: Drawable, w: number, h: number, maxPixels: number): Promise<RGBImage> {
  // a canvas 2D context can hand out its pixels directly
  const canvas = s as HTMLCanvasElement | OffscreenCanvas;
  if (
    typeof canvas.getContext === 'function' &&
    !(typeof ImageBitmap === 'function' && s instanceof ImageBitmap)
  ) {
    const ctx = canvas.getContext('2d') as CanvasRenderingContext2D | null;
    if (ctx) return fromRGBA(ctx.getImageData(0, 0, w, h), maxPixels);
  }
  let bitmap: ImageBitmap | undefined;
  let toDraw: CanvasImageSource = s;
  if (typeof createImageBitmap === 'function') {
    bitmap = await createImageBitmap(s, { colorSpaceConversion: 'none', premultiplyAlpha: 'none' });
    toDraw = bitmap;
  }
  try {
    const ctx = context2d(w, h);
    ctx.drawImage(toDraw, 0, 0);
    return fromRGBA(ctx.getImageData(0, 0, w, h), maxPixels);
  } finally {
    if (bitmap !== undefined && bitmap !== s) bitmap.close();
  }
}

/**
 * Loads an image as 8-bit RGB from:
 * - a file path (Node only; `node:fs` is imported on demand) or a `file:`/`http(s):`/`data:`/`blob:` URL string
 *   or `URL` (fetched);
 * - PNG/JPEG bytes (`Uint8Array`, `Buffer`, other views, `ArrayBuffer`) or a `Blob`/`File`: decoded by
 *   {@link decodeImage} (PIL's pixels for PNG, within about 0.15 levels on average for JPEG);
 * - an `ImageData` or any `{ data: Uint8ClampedArray | Uint8Array /* RGBA *\/, width, height }` (alpha dropped),
 *   or an {@link RGBImage} (returned as is);
 * - in a browser: `HTMLImageElement`, `ImageBitmap`, `HTMLCanvasElement`, `OffscreenCanvas` (read through a 2D
 *   canvas; see the module comment for why these can differ from PIL's pixels).
 *
 * @param opts `maxPixels`: pixel budget checked before decoding (default {@link MAX_IMAGE_PIXELS}).
 * @returns `{ data, width, height }`, `data` `[height, width, 3]` uint8.
 * @throws {PreprocessError} naming the problem (unreadable path, failed fetch, bad image, unknown source type).
 */
export async function loadImage(source: ImageSource, opts: DecodeOptions = {}): Promise<RGBImage> {
  const maxPixels = opts.maxPixels ?? MAX_IMAGE_PIXELS;
  if (typeof source === 'string') {
    const bytes = isUrlString(source) ? await fetchBytes(source) : await readPath(source);
    return decodeImage(bytes, opts);
  }
  if (source instanceof URL) return decodeImage(await fetchBytes(source.href), opts);
  if (source instanceof ArrayBuffer || ArrayBuffer.isView(source)) return decodeImage(source, opts);
  if (typeof Blob === 'function' && source instanceof Blob) {
    return decodeImage(new Uint8Array(await source.arrayBuffer()), opts);
  }
  if (isImageDataLike(source)) return fromRGBA(source, maxPixels);
  if (isDrawable(source)) return fromDrawable(source, maxPixels);
  const what =
    source === null ? 'null' : typeof source === 'object' ? source.constructor?.name : typeof source;
  return fail(
    `unsupported image source (${what}); pass a path, URL, bytes, Blob/File, ImageData, ImageBitmap, ` +
      'HTMLImageElement or canvas',
  );
}
