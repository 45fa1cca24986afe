/** Storage dtypes of PyTorch checkpoints and safetensors files that this package reads. */
export type TorchDtype = 'F64' | 'F32' | 'F16' | 'BF16' | 'I64' | 'I32' | 'I16' | 'I8' | 'U8' | 'BOOL';

/**
 * One tensor exactly as stored: a contiguous C-order (row-major) copy in the stored dtype. F32 ->
 * Float32Array, F64 -> Float64Array, F16/BF16 -> Uint16Array (the raw bits), I64 -> BigInt64Array, I32 ->
 * Int32Array, I16 -> Int16Array, I8 -> Int8Array, U8 and BOOL -> Uint8Array. `shape` `[]` is a scalar.
 */
export interface RawTensor {
  dtype: TorchDtype;
  shape: number[];
  data: ArrayBufferView;
}

/** Bytes per element of each dtype. */
export const ITEM_SIZE: Readonly<Record<TorchDtype, number>> = {
  F64: 8,
  F32: 4,
  F16: 2,
  BF16: 2,
  I64: 8,
  I32: 4,
  I16: 2,
  I8: 1,
  U8: 1,
  BOOL: 1,
};

/** True when this machine stores numbers little-endian (every current browser and Node platform). */
export const LITTLE_ENDIAN = new Uint8Array(new Uint32Array([1]).buffer)[0] === 1;

/**
 * Typed array of `dtype` over `bytes` (which must be a fresh, aligned copy of `n * itemSize` bytes that the
 * caller owns).
 */
export function typedView(dtype: TorchDtype, buf: ArrayBuffer, n: number): ArrayBufferView {
  switch (dtype) {
    case 'F64':
      return new Float64Array(buf, 0, n);
    case 'F32':
      return new Float32Array(buf, 0, n);
    case 'F16':
    case 'BF16':
      return new Uint16Array(buf, 0, n);
    case 'I64':
      return new BigInt64Array(buf, 0, n);
    case 'I32':
      return new Int32Array(buf, 0, n);
    case 'I16':
      return new Int16Array(buf, 0, n);
    case 'I8':
      return new Int8Array(buf, 0, n);
    case 'U8':
    case 'BOOL':
      return new Uint8Array(buf, 0, n);
  }
}

/** Reverses the byte order of every `itemSize`-byte element of `u8` in place. */
export function swapBytes(u8: Uint8Array, itemSize: number): void {
  if (itemSize === 1) return;
  for (let i = 0; i + itemSize <= u8.length; i += itemSize) {
    for (let a = i, b = i + itemSize - 1; a < b; a++, b--) {
      const t = u8[a];
      u8[a] = u8[b];
      u8[b] = t;
    }
  }
}
