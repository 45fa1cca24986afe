/**
 * A tiny pickle assembler for tests: builds torch-style checkpoints (zip and legacy) and hostile pickles
 * byte by byte, so the reader is tested against files nobody's Python produced.
 */
import { zipSync } from 'fflate';

/** Appends pickle opcodes; `bytes()` returns the program. */
export class PickleWriter {
  private parts: number[] = [];
  private enc = new TextEncoder();

  raw(...b: number[]): this {
    for (const x of b) this.parts.push(x & 0xff);
    return this;
  }
  proto(p = 2): this {
    return this.raw(0x80, p);
  }
  mark(): this {
    return this.raw(0x28);
  }
  stop(): this {
    return this.raw(0x2e);
  }
  none(): this {
    return this.raw(0x4e);
  }
  bool(v: boolean): this {
    return this.raw(v ? 0x88 : 0x89);
  }
  int(n: number): this {
    if (n >= 0 && n < 256) return this.raw(0x4b, n);
    if (n >= 0 && n < 65536) return this.raw(0x4d, n & 0xff, n >> 8);
    if (n >= -(2 ** 31) && n < 2 ** 31)
      return this.raw(0x4a, n & 0xff, (n >> 8) & 0xff, (n >> 16) & 0xff, (n >>> 24) & 0xff);
    return this.long(BigInt(n));
  }
  long(v: bigint): this {
    const bytes: number[] = [];
    let x = v;
    for (;;) {
      bytes.push(Number(x & 0xffn));
      x >>= 8n;
      if ((x === 0n && !(bytes[bytes.length - 1] & 0x80)) || (x === -1n && bytes[bytes.length - 1] & 0x80))
        break;
    }
    return this.raw(0x8a, bytes.length, ...bytes);
  }
  float(v: number): this {
    const b = new Uint8Array(8);
    new DataView(b.buffer).setFloat64(0, v, false);
    return this.raw(0x47, ...b);
  }
  str(s: string): this {
    const b = this.enc.encode(s);
    if (b.length < 256) return this.raw(0x8c, b.length, ...b);
    return this.raw(
      0x58,
      b.length & 0xff,
      (b.length >> 8) & 0xff,
      (b.length >> 16) & 0xff,
      b.length >>> 24,
      ...b,
    );
  }
  binunicode(s: string): this {
    const b = this.enc.encode(s);
    return this.raw(
      0x58,
      b.length & 0xff,
      (b.length >> 8) & 0xff,
      (b.length >> 16) & 0xff,
      b.length >>> 24,
      ...b,
    );
  }
  bytes_(b: Uint8Array): this {
    return this.raw(0x43, b.length, ...b);
  }
  global(module: string, name: string): this {
    return this.raw(0x63, ...this.enc.encode(`${module}\n${name}\n`));
  }
  stackGlobal(module: string, name: string): this {
    return this.str(module).str(name).raw(0x93);
  }
  inst(module: string, name: string): this {
    return this.raw(0x69, ...this.enc.encode(`${module}\n${name}\n`));
  }
  tuple(): this {
    return this.raw(0x74);
  }
  tupleN(n: 0 | 1 | 2 | 3): this {
    return this.raw([0x29, 0x85, 0x86, 0x87][n]);
  }
  emptyDict(): this {
    return this.raw(0x7d);
  }
  emptyList(): this {
    return this.raw(0x5d);
  }
  setitem(): this {
    return this.raw(0x73);
  }
  setitems(): this {
    return this.raw(0x75);
  }
  appends(): this {
    return this.raw(0x65);
  }
  reduce(): this {
    return this.raw(0x52);
  }
  newobj(): this {
    return this.raw(0x81);
  }
  build(): this {
    return this.raw(0x62);
  }
  binput(i: number): this {
    return this.raw(0x71, i);
  }
  binget(i: number): this {
    return this.raw(0x68, i);
  }
  binpersid(): this {
    return this.raw(0x51);
  }
  bytes(): Uint8Array {
    return Uint8Array.from(this.parts);
  }
}

/** Emits `_rebuild_tensor_v2(...)` with a proper MARK ... TUPLE argument tuple. */
export function tensorV2(
  w: PickleWriter,
  key: string,
  storage: string,
  numel: number,
  offset: number,
  size: number[],
  stride: number[],
): PickleWriter {
  w.global('torch._utils', '_rebuild_tensor_v2');
  w.mark();
  w.mark().str('storage').global('torch', storage).str(key).str('cpu').int(numel).tuple().binpersid();
  w.int(offset);
  w.mark();
  for (const s of size) w.int(s);
  w.tuple();
  w.mark();
  for (const s of stride) w.int(s);
  w.tuple();
  w.bool(false);
  w.global('collections', 'OrderedDict').tupleN(0).reduce();
  w.tuple();
  return w.reduce();
}

/** A tensor spec for the file builders: C-contiguous storage bytes. */
export interface TestTensor {
  name: string;
  storage: string;
  data: Uint8Array;
  numel: number;
  shape: number[];
}

/** `OrderedDict` of the given tensors (each with its own storage key `0`, `1`, ...), left on the stack. */
export function stateDictOps(w: PickleWriter, tensors: TestTensor[]): PickleWriter {
  w.global('collections', 'OrderedDict').tupleN(0).reduce();
  w.mark();
  tensors.forEach((t, i) => {
    const stride: number[] = [];
    let s = 1;
    for (let d = t.shape.length - 1; d >= 0; d--) {
      stride[d] = s;
      s *= t.shape[d];
    }
    w.str(t.name);
    tensorV2(w, String(i), t.storage, t.numel, 0, t.shape, stride);
  });
  return w.setitems();
}

/** A torch zip checkpoint (`archive/data.pkl`, `archive/data/<i>`, `archive/version`), entries stored. */
export function torchZip(
  pkl: Uint8Array,
  storages: Uint8Array[],
  extra: Record<string, Uint8Array> = {},
): Uint8Array {
  const files: Record<string, Uint8Array> = {
    'archive/data.pkl': pkl,
    'archive/byteorder': new TextEncoder().encode('little'),
  };
  storages.forEach((s, i) => {
    files[`archive/data/${i}`] = s;
  });
  files['archive/version'] = new TextEncoder().encode('3\n');
  Object.assign(files, extra);
  return zipSync(files, { level: 0 });
}

/** A legacy torch checkpoint: magic, protocol, sys info, `pkl`, key list, storages (int64 numel + bytes). */
export function torchLegacy(pkl: Uint8Array, storages: { numel: number; data: Uint8Array }[]): Uint8Array {
  const head = new PickleWriter().proto(2).long(0x1950a86a20f9469cfc6cn).stop();
  head.proto(2).int(1001).stop();
  head.proto(2).emptyDict().str('little_endian').bool(true).setitem().stop();
  const keys = new PickleWriter().proto(2).mark();
  for (let i = 0; i < storages.length; i++) keys.str(String(i));
  keys.raw(0x6c).stop();
  const parts: Uint8Array[] = [head.bytes(), pkl, keys.bytes()];
  for (const s of storages) {
    const n = new Uint8Array(8);
    new DataView(n.buffer).setBigInt64(0, BigInt(s.numel), true);
    parts.push(n, s.data);
  }
  const out = new Uint8Array(parts.reduce((a, p) => a + p.length, 0));
  let o = 0;
  for (const p of parts) {
    out.set(p, o);
    o += p.length;
  }
  return out;
}

/** Float32 values as little-endian bytes. */
export function f32Bytes(values: number[]): Uint8Array {
  return new Uint8Array(new Float32Array(values).buffer);
}
