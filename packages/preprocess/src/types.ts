/** An 8-bit RGB image, channels-last: `data[(y * width + x) * 3 + c]`, `c` = 0 (R), 1 (G), 2 (B). */
export interface RGBImage {
  /** `[height, width, 3]` row-major, length `width * height * 3`. */
  data: Uint8Array;
  width: number;
  height: number;
}

/**
 * A resampling filter of PIL's `Image.resize` (`Image.Resampling.*`): `nearest` (0), `box` (4), `bilinear` (2),
 * `hamming` (5), `bicubic` (3), `lanczos` (1).
 */
export type ResampleFilter = 'nearest' | 'box' | 'bilinear' | 'hamming' | 'bicubic' | 'lanczos';

/** Every {@link ResampleFilter}, in PIL's numbering order. */
export const RESAMPLE_FILTERS: readonly ResampleFilter[] = [
  'nearest',
  'lanczos',
  'bilinear',
  'bicubic',
  'box',
  'hamming',
];

/** Thrown by this package for bad images and bad arguments; the message is one line naming the problem. */
export class PreprocessError extends Error {
  constructor(message: string, options?: { cause?: unknown }) {
    super(message, options);
    this.name = 'PreprocessError';
  }
}

/** Checks that `img` is a well-formed {@link RGBImage}; `fn` names the caller in the error. */
export function checkRGBImage(img: RGBImage, fn: string): void {
  if (img === null || typeof img !== 'object')
    throw new PreprocessError(`${fn}: expected an RGBImage, got ${img}`);
  const { width, height, data } = img;
  if (!Number.isInteger(width) || !Number.isInteger(height) || width < 1 || height < 1) {
    throw new PreprocessError(`${fn}: image size ${width}x${height} is not a positive integer size`);
  }
  if (!(data instanceof Uint8Array) || data.length !== width * height * 3) {
    const got = data instanceof Uint8Array ? `${data.length} bytes` : 'no Uint8Array';
    throw new PreprocessError(
      `${fn}: image data must be a Uint8Array of width*height*3 = ${width * height * 3} bytes (got ${got})`,
    );
  }
}
