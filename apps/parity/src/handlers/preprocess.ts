/**
 * The `preprocess` family (`../shared/fixtures/preprocess`): a photo through timm's evaluation transform as
 * torchvision 0.14 + PIL 9.4 run it. The handler decodes the fixture's `file` with `@swin/preprocess` and runs
 * the transform; the fixtures README gives the bounds:
 * - `decoded`: exact for PNG; for JPEG (decoders differ) only the mean abs difference is bounded (1.5 levels),
 *   checked here, so the element-wise comparison gets a bound of 255;
 * - `resized` (before the crop): exact (a port of PIL's resampling). For a JPEG the chain starts from the
 *   fixture's own `decoded`, so that the resize is still checked exactly;
 * - `expected` (`[1, S, S, 3]`): max abs difference `<= 1 / (255 * min(std)) + 1e-5` (one 8-bit level).
 */
import { existsSync, readdirSync } from 'node:fs';
import { dirname, join, resolve } from 'node:path';
import {
  decodeImage,
  type EvalTransformConfig,
  evalResize,
  evalTransformArray,
  type ResampleFilter,
  type RGBImage,
} from '@swin/preprocess';
import { type Fixture, fixturesDir, type Tolerance } from '@swin/testing';
import * as tf from '@tensorflow/tfjs-core';
import type { Handler } from '../runner.js';

/** `../shared/fixtures/preprocess`: `SWIN_PREPROCESS_FIXTURES`, else the sibling of the parity fixtures. */
export function preprocessFixturesDir(): string {
  const env = process.env.SWIN_PREPROCESS_FIXTURES;
  return env ? resolve(env) : join(dirname(fixturesDir()), 'preprocess');
}

/** Paths of every `*.safetensors` in {@link preprocessFixturesDir}, sorted (none if the folder is missing). */
export function listPreprocessFixtures(): string[] {
  const dir = preprocessFixturesDir();
  if (!existsSync(dir)) return [];
  return readdirSync(dir)
    .filter((f) => f.endsWith('.safetensors'))
    .sort()
    .map((f) => join(dir, f));
}

/** A bare preprocess fixture name (`preprocess_*.safetensors`) as a path, if it exists there. */
export function findPreprocessFixture(name: string): string | undefined {
  const path = join(preprocessFixturesDir(), name);
  return existsSync(path) ? path : undefined;
}

/** The fixture's `transform` metadata as an `@swin/preprocess` config. */
export function transformConfig(fx: Fixture): EvalTransformConfig {
  const raw = fx.metadata.transform;
  if (raw === undefined) throw new Error(`${fx.file}: no 'transform' metadata`);
  const t = JSON.parse(raw);
  const cfg: EvalTransformConfig = {
    inputSize: t.img_size,
    cropPct: t.crop_pct,
    interpolation: t.interpolation as ResampleFilter,
    mean: t.mean,
    std: t.std,
  };
  // the fixture states the resize it used: a different rule here would be a bug, not a tolerance question
  const scale = Math.floor((t.img_size as number) / cfg.cropPct);
  if (t.scale_size !== undefined && t.scale_size !== scale) {
    throw new Error(
      `${fx.file}: scale_size ${t.scale_size} != floor(${t.img_size} / ${t.crop_pct}) = ${scale}`,
    );
  }
  return cfg;
}

function tensorBytes(fx: Fixture, key: string): Uint8Array {
  const t = fx.expected[key];
  if (!t) throw new Error(`${fx.file}: fixture has no '${key}' tensor`);
  return Uint8Array.from(t.dataSync());
}

function imageOf(fx: Fixture, key: string): RGBImage {
  const t = fx.expected[key];
  if (t?.rank !== 3 || t.shape[2] !== 3) throw new Error(`${fx.file}: '${key}' must be [H, W, 3]`);
  const [height, width] = t.shape as [number, number, number];
  return { data: tensorBytes(fx, key), height, width };
}

function imageTensor(img: RGBImage): tf.Tensor3D {
  return tf.tensor3d(Int32Array.from(img.data), [img.height, img.width, 3], 'int32');
}

/** Mean abs difference of two images of the same size, in 8-bit levels. */
function meanAbsDiff(a: RGBImage, b: RGBImage): number {
  if (a.width !== b.width || a.height !== b.height) return Number.POSITIVE_INFINITY;
  let sum = 0;
  for (let i = 0; i < a.data.length; i++) sum += Math.abs(a.data[i] - b.data[i]);
  return sum / a.data.length;
}

/** Largest mean abs difference accepted between a JPEG decode and PIL's (fixtures README). */
export const JPEG_MEAN_ABS_BOUND = 1.5;

export const preprocessHandler: Handler = {
  name: 'preprocess',
  matches: (fx) => fx.family === 'preprocess',
  inputKeys: ['file'],
  tolerance(fx, output): Tolerance {
    if (output === 'resized') return { exact: true };
    if (output === 'decoded')
      return fx.metadata.format === 'jpeg' ? { abs: 255, rel: Infinity } : { exact: true };
    const std: number[] = JSON.parse(fx.metadata.transform).std;
    return { abs: 1 / (255 * Math.min(...std)) + 1e-5, rel: Number.POSITIVE_INFINITY };
  },
  run(fx) {
    const cfg = transformConfig(fx);
    const decoded = decodeImage(tensorBytes(fx, 'file'));
    let start = decoded;
    if (fx.metadata.format === 'jpeg') {
      const reference = imageOf(fx, 'decoded');
      const mad = meanAbsDiff(decoded, reference);
      if (!(mad <= JPEG_MEAN_ABS_BOUND)) {
        throw new Error(`JPEG decode differs from PIL's by ${mad.toFixed(3)} levels on average (bound 1.5)`);
      }
      start = reference;
    }
    // every array first, then the tensors: a throw leaks nothing
    const resized = evalResize(start, cfg);
    const input = evalTransformArray(start, cfg);
    return {
      decoded: imageTensor(decoded),
      resized: imageTensor(resized),
      expected: tf.tensor4d(input.data, input.shape, 'float32'),
    };
  },
};

export const preprocessHandlers: readonly Handler[] = [preprocessHandler];
