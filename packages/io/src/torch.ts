/**
 * PyTorch `torch.save` containers: the zip format of torch >= 1.6 (`<name>/data.pkl`, `<name>/data/<key>`,
 * `<name>/byteorder`, `<name>/version`) and the legacy format (pickled magic number, protocol version, system
 * info, the object pickle, a pickled list of storage keys, then each storage as an int64 element count and
 * its raw bytes, in key order). The object pickle runs in the restricted machine of `pickle.ts` with the
 * allow-list {@link TORCH_ALLOWED}; tensors come back as {@link TensorRef}s that are materialised (bounds-
 * checked gather into a contiguous copy) only when asked for.
 */
import { unzipSync } from 'fflate';
import { ITEM_SIZE, LITTLE_ENDIAN, type RawTensor, swapBytes, type TorchDtype, typedView } from './dtypes.js';
import { fail, quote } from './errors.js';
import {
  BUILTIN_CALLS,
  type PickleHooks,
  type PickleLimits,
  PyDict,
  PyGlobal,
  pyTypeName,
  unpickle,
} from './pickle.js';

/** Storage classes of `torch.save` persistent ids and their dtypes. */
const STORAGE_DTYPES: Record<string, TorchDtype> = {
  DoubleStorage: 'F64',
  FloatStorage: 'F32',
  HalfStorage: 'F16',
  BFloat16Storage: 'BF16',
  LongStorage: 'I64',
  IntStorage: 'I32',
  ShortStorage: 'I16',
  CharStorage: 'I8',
  ByteStorage: 'U8',
  BoolStorage: 'BOOL',
  UntypedStorage: 'U8',
};

/** `torch.<dtype>` globals (used by `_rebuild_tensor_v3` and untyped storages). */
const TORCH_DTYPES: Record<string, TorchDtype> = {
  float64: 'F64',
  double: 'F64',
  float32: 'F32',
  float: 'F32',
  float16: 'F16',
  half: 'F16',
  bfloat16: 'BF16',
  int64: 'I64',
  long: 'I64',
  int32: 'I32',
  int: 'I32',
  int16: 'I16',
  short: 'I16',
  int8: 'I8',
  uint8: 'U8',
  bool: 'BOOL',
};

function storageDtype(g: PyGlobal): TorchDtype | undefined {
  const m = g.module;
  if (m !== 'torch' && m !== 'torch.cuda' && m !== 'torch.storage') return undefined;
  return Object.hasOwn(STORAGE_DTYPES, g.name) ? STORAGE_DTYPES[g.name] : undefined;
}

/** A storage named by a persistent id: `numel` elements of `dtype` starting `elemOffset` elements into `key`. */
export class TorchStorage {
  constructor(
    readonly key: string,
    readonly dtype: TorchDtype,
    readonly numel: number,
    readonly elemOffset: number,
  ) {}
}

/** A tensor as `_rebuild_tensor_v2` describes it: a strided view of a storage. */
export class TensorRef {
  constructor(
    readonly storage: TorchStorage,
    readonly offset: number,
    readonly shape: number[],
    readonly stride: number[],
    readonly dtype: TorchDtype,
  ) {}
  get numel(): number {
    let n = 1;
    for (const d of this.shape) n *= d;
    return n;
  }
}

/** Globals that may be called (each by an inert handler) or appear as tokens. Everything else is refused. */
export const TORCH_ALLOWED: ReadonlySet<string> = new Set([
  ...Object.keys(BUILTIN_CALLS),
  'torch._utils._rebuild_tensor',
  'torch._utils._rebuild_tensor_v2',
  'torch._utils._rebuild_tensor_v3',
  'torch._utils._rebuild_parameter',
  'torch._utils._rebuild_parameter_with_state',
  'torch._tensor._rebuild_from_type_v2',
  'torch.Size',
  'torch.device',
  'torch.Tensor',
  'torch.nn.parameter.Parameter',
  'torch.strided',
  ...Object.keys(STORAGE_DTYPES).flatMap((n) => [`torch.${n}`, `torch.cuda.${n}`]),
  'torch.storage.UntypedStorage',
  ...Object.keys(TORCH_DTYPES).map((n) => `torch.${n}`),
]);

const MAX_RANK = 64;
/** Largest allocation of a view with more elements than its storage (stride 0): 64 MiB. */
const MAX_EXPANDED_BYTES = 64 * 1024 * 1024;

function safeInt(v: unknown, what: string): number {
  if (typeof v !== 'number' || !Number.isSafeInteger(v) || v < 0) {
    fail(
      `${what} must be a non-negative integer, got ${pyTypeName(v)}${typeof v === 'number' ? ` ${v}` : ''}`,
    );
  }
  return v;
}

function intList(v: unknown, what: string): number[] {
  if (!Array.isArray(v)) fail(`${what} must be a tuple of integers, got ${pyTypeName(v)}`);
  if (v.length > MAX_RANK) fail(`${what} has ${v.length} dimensions (more than ${MAX_RANK})`);
  return v.map((d, i) => safeInt(d, `${what}[${i}]`));
}

function rebuildTensor(args: unknown[], name: string, dtypeArg?: unknown): TensorRef {
  const [storage, offsetV, sizeV, strideV] = args;
  if (!(storage instanceof TorchStorage)) fail(`${name}: expected a storage, got ${pyTypeName(storage)}`);
  const offset = safeInt(offsetV, `${name}: storage offset`);
  const shape = intList(sizeV, `${name}: size`);
  const stride = intList(strideV, `${name}: stride`);
  if (stride.length !== shape.length) {
    fail(`${name}: size has ${shape.length} dimensions but stride has ${stride.length}`);
  }
  let dtype = storage.dtype;
  let st = storage;
  if (
    dtypeArg instanceof PyGlobal &&
    dtypeArg.module === 'torch' &&
    Object.hasOwn(TORCH_DTYPES, dtypeArg.name)
  ) {
    const want = TORCH_DTYPES[dtypeArg.name];
    if (want !== dtype) {
      if (storage.dtype !== 'U8') fail(`${name}: dtype ${want} does not match the ${storage.dtype} storage`);
      const item = ITEM_SIZE[want];
      st = new TorchStorage(storage.key, want, Math.floor(storage.numel / item), storage.elemOffset / item);
      if (!Number.isInteger(st.elemOffset)) fail(`${name}: storage offset is not aligned to ${want}`);
      dtype = want;
    }
  }
  let numel = 1;
  let last = offset;
  for (let i = 0; i < shape.length; i++) {
    numel *= shape[i];
    last += (shape[i] - 1) * stride[i];
    if (!Number.isSafeInteger(numel) || !Number.isSafeInteger(last)) fail(`${name}: size is too large`);
  }
  // stride-0 (expanded) views may hold more elements than their storage; bound what such a view may
  // allocate so that a tiny file cannot ask for gigabytes
  if (numel > st.numel && numel * ITEM_SIZE[dtype] > MAX_EXPANDED_BYTES) {
    fail(
      `${name}: a view of ${numel} elements over a storage of ${st.numel} would allocate more than ` +
        `${MAX_EXPANDED_BYTES} bytes (refused: more than the file holds)`,
    );
  }
  if (numel > 0 && last >= st.numel) {
    fail(
      `${name}: view [offset ${offset}, size (${shape.join(',')}), stride (${stride.join(',')})] reaches element ` +
        `${last} of a storage of ${st.numel} elements`,
    );
  }
  return new TensorRef(st, offset, shape, stride, dtype);
}

/** Hooks of the restricted machine for `torch.save` pickles. */
function torchHooks(
  onRefused: (name: string) => void,
  persistentLoad: (pid: unknown) => unknown,
): PickleHooks {
  return {
    isAllowed: (name) => TORCH_ALLOWED.has(name),
    onRefused,
    persistentLoad,
    call(g, args, apply) {
      switch (g.fullName) {
        case 'torch._utils._rebuild_tensor':
        case 'torch._utils._rebuild_tensor_v2':
          return rebuildTensor(args, g.name);
        case 'torch._utils._rebuild_tensor_v3':
          return rebuildTensor(args, g.name, args[6]);
        case 'torch._utils._rebuild_parameter':
        case 'torch._utils._rebuild_parameter_with_state': {
          const t = args[0];
          if (!(t instanceof TensorRef)) fail(`${g.name}: expected a tensor, got ${pyTypeName(t)}`);
          return t;
        }
        case 'torch._tensor._rebuild_from_type_v2': {
          const [func, , fargs] = args;
          if (!Array.isArray(fargs))
            fail(`_rebuild_from_type_v2: arguments must be a tuple, got ${pyTypeName(fargs)}`);
          return apply(func, fargs);
        }
        case 'torch.Size':
          return args.length === 0 ? [] : intList(args[0], 'torch.Size').slice();
        case 'torch.device':
          return args.map((a) => String(typeof a === 'string' || typeof a === 'number' ? a : '')).join(':');
        default:
          fail(`global ${g.fullName} cannot be called`);
      }
    },
  };
}

/** Options shared by the torch readers. */
export interface TorchReadOptions {
  /** Called with each refused global's name the first time it is loaded (throw here for strict mode). */
  onRefused: (name: string) => void;
  limits?: PickleLimits;
}

/** The parsed object pickle of a torch file and a way to materialise its tensors. */
export interface TorchFile {
  format: 'torch-zip' | 'torch-legacy';
  root: unknown;
  /** Bounds-checked contiguous copy of one tensor in its stored dtype. */
  materialize(refs: TensorRef[]): RawTensor[];
}

/**
 * Contiguous copy of one tensor. `owned`: `src` is a fresh buffer used by this tensor only, which is then
 * returned as it is when the tensor covers it exactly (no second copy of big weights).
 */
function gather(ref: TensorRef, src: Uint8Array, bigEndian: boolean, owned = false): RawTensor {
  const item = ITEM_SIZE[ref.dtype];
  const numel = ref.numel;
  const st = ref.storage;
  const need = (st.elemOffset + st.numel) * item;
  if (src.length < need) {
    fail(`storage '${st.key}' holds ${src.length} bytes but needs ${need} (${st.numel} x ${ref.dtype})`);
  }
  const base = (st.elemOffset + ref.offset) * item;
  const { shape, stride } = ref;
  // C-contiguous (ignoring dimensions of size 1)?
  let contiguous = true;
  let expect = 1;
  for (let i = shape.length - 1; i >= 0; i--) {
    if (shape[i] !== 1 && stride[i] !== expect) contiguous = false;
    expect *= shape[i];
  }
  if (
    owned &&
    contiguous &&
    base === 0 &&
    numel * item === src.length &&
    src.byteOffset === 0 &&
    src.byteLength === src.buffer.byteLength &&
    src.buffer instanceof ArrayBuffer
  ) {
    if (bigEndian === LITTLE_ENDIAN) swapBytes(src, item);
    return { dtype: ref.dtype, shape: ref.shape.slice(), data: typedView(ref.dtype, src.buffer, numel) };
  }
  const buf = new ArrayBuffer(numel * item);
  const out = new Uint8Array(buf);
  if (numel === 0) {
    // nothing to copy
  } else if (contiguous) {
    out.set(src.subarray(base, base + numel * item));
  } else {
    const rank = shape.length;
    const idx = new Array<number>(rank).fill(0);
    const inner = shape[rank - 1];
    const innerStride = stride[rank - 1] * item;
    let o = 0;
    for (;;) {
      let p = base;
      for (let d = 0; d < rank - 1; d++) p += idx[d] * stride[d] * item;
      for (let j = 0; j < inner; j++, p += innerStride) {
        for (let b = 0; b < item; b++) out[o++] = src[p + b];
      }
      let d = rank - 2;
      while (d >= 0) {
        if (++idx[d] < shape[d]) break;
        idx[d] = 0;
        d--;
      }
      if (d < 0) break;
    }
  }
  if (bigEndian === LITTLE_ENDIAN) swapBytes(out, item);
  return { dtype: ref.dtype, shape: ref.shape.slice(), data: typedView(ref.dtype, buf, numel) };
}

function parseStoragePid(pid: unknown, storages: Map<string, TorchStorage>, legacy: boolean): TorchStorage {
  if (!Array.isArray(pid) || pid.length < 5 || pid[0] !== 'storage') {
    fail(`persistent id must be ('storage', type, key, location, numel), got a ${pyTypeName(pid)}`);
  }
  const [, type, keyV, , numelV, view] = pid;
  if (!(type instanceof PyGlobal))
    fail(`persistent id: storage type must be a global, got ${pyTypeName(type)}`);
  const dtype = storageDtype(type);
  if (!dtype) fail(`persistent id: unsupported storage type ${type.fullName}`);
  if (typeof keyV !== 'string' && typeof keyV !== 'number')
    fail(`persistent id: key must be a str, got ${pyTypeName(keyV)}`);
  const key = String(keyV);
  if (key.length > 256) fail('persistent id: key is too long');
  const numel = safeInt(numelV, 'persistent id: storage size');
  let st = storages.get(key);
  if (st) {
    if (st.dtype !== dtype || st.numel !== numel)
      fail(`storage '${quote(key)}' is declared twice with different types or sizes`);
  } else {
    st = new TorchStorage(key, dtype, numel, 0);
    storages.set(key, st);
  }
  if (legacy && view !== undefined && view !== null) {
    if (!Array.isArray(view) || view.length !== 3)
      fail('persistent id: view metadata must be (key, offset, size)');
    const off = safeInt(view[1], 'persistent id: view offset');
    const size = safeInt(view[2], 'persistent id: view size');
    if (off + size > numel)
      fail(`persistent id: view [${off}, ${off + size}) is outside storage of ${numel} elements`);
    return new TorchStorage(key, dtype, size, off);
  }
  return st;
}

// ---------------------------------------------------------------------------------------------------
// zip

interface ZipEntryInfo {
  name: string;
  size: number;
  originalSize: number;
  compression: number;
}

/**
 * Checks the end-of-central-directory record (zip or zip64) against the file before fflate walks it:
 * directory offset and size inside the file and the entry count at most what the directory can hold.
 */
function checkZipDirectory(d: Uint8Array): void {
  const dv = new DataView(d.buffer, d.byteOffset, d.byteLength);
  const len = d.length;
  let e = len - 22;
  const stop = Math.max(0, len - 65557 - 22);
  while (e >= stop && !(e >= 0 && dv.getUint32(e, true) === 0x06054b50)) e--;
  if (e < stop || e < 0) fail('zip: no end-of-central-directory record (file truncated or not a zip)');
  let count = Math.max(dv.getUint16(e + 8, true), dv.getUint16(e + 10, true));
  let cdSize = dv.getUint32(e + 12, true);
  let cdOff = dv.getUint32(e + 16, true);
  if (e >= 20 && dv.getUint32(e - 20, true) === 0x07064b50) {
    const z = dv.getBigUint64(e - 12, true);
    if (z > BigInt(len - 56)) fail('zip: zip64 end-of-central-directory offset is outside the file');
    const ze = Number(z);
    if (dv.getUint32(ze, true) === 0x06064b50) {
      const c = dv.getBigUint64(ze + 32, true);
      const s = dv.getBigUint64(ze + 40, true);
      const o = dv.getBigUint64(ze + 48, true);
      if (c > BigInt(len) || s > BigInt(len) || o > BigInt(len))
        fail('zip: zip64 directory runs past the end of the file');
      count = Math.max(count, Number(c), dv.getUint32(ze + 32, true));
      cdSize = Number(s);
      cdOff = Number(o);
    }
  }
  if (cdOff + cdSize > len)
    fail(`zip: central directory [${cdOff}, ${cdOff + cdSize}) runs past the end (${len} bytes)`);
  if (count * 46 > cdSize) fail(`zip: ${count} entries cannot fit a central directory of ${cdSize} bytes`);
}

function zipEntries(d: Uint8Array, want: (e: ZipEntryInfo) => boolean): Record<string, Uint8Array> {
  const maxOut = d.length;
  try {
    return unzipSync(d, {
      filter: (f) => {
        if (!want(f)) return false;
        if (f.compression !== 0 && f.compression !== 8)
          fail(`zip: entry ${quote(f.name)} uses unsupported compression ${f.compression}`);
        if (f.size > d.length)
          fail(`zip: entry ${quote(f.name)} claims ${f.size} bytes, more than the file's ${d.length}`);
        if (
          f.compression === 8 &&
          f.originalSize > Math.min(1032 * f.size + 1024, 2 ** 31 - 1, 64 * maxOut + 1024)
        ) {
          fail(
            `zip: entry ${quote(f.name)} claims an uncompressed size of ${f.originalSize} bytes (lying size)`,
          );
        }
        return true;
      },
    });
  } catch (e) {
    if ((e as Error).name === 'CheckpointError') throw e;
    fail(`zip: ${(e as Error).message}`);
  }
}

/** Reads a torch >= 1.6 zip checkpoint. */
export function readTorchZip(d: Uint8Array, opts: TorchReadOptions): TorchFile {
  checkZipDirectory(d);
  const names: string[] = [];
  zipEntries(d, (e) => {
    if (names.length < 1_000_000) names.push(e.name);
    return false;
  });
  const pkl = names.find(
    (n) => n === 'data.pkl' || (n.endsWith('/data.pkl') && n.indexOf('/') === n.length - 9),
  );
  if (pkl === undefined) fail('zip: no <name>/data.pkl record: not a torch.save checkpoint');
  const prefix = pkl.slice(0, -'data.pkl'.length);
  const meta = zipEntries(d, (e) => e.name === pkl || e.name === `${prefix}byteorder`);
  const pklBytes = meta[pkl];
  if (!pklBytes) fail('zip: data.pkl could not be read');
  let bigEndian = false;
  const bo = meta[`${prefix}byteorder`];
  if (bo) {
    const s = String.fromCharCode(...bo.subarray(0, 16)).trim();
    if (s === 'big') bigEndian = true;
    else if (s !== 'little') fail(`zip: unknown byteorder ${quote(s)}`);
  }
  const storages = new Map<string, TorchStorage>();
  const hooks = torchHooks(opts.onRefused, (pid) => parseStoragePid(pid, storages, false));
  const { value } = unpickle(pklBytes, 0, hooks, opts.limits);
  return {
    format: 'torch-zip',
    root: value,
    materialize(refs) {
      const wanted = new Set(refs.map((r) => `${prefix}data/${r.storage.key}`));
      const files = zipEntries(d, (e) => wanted.has(e.name));
      const uses = new Map<string, number>();
      for (const r of refs) uses.set(r.storage.key, (uses.get(r.storage.key) ?? 0) + 1);
      return refs.map((r) => {
        const src = files[`${prefix}data/${r.storage.key}`];
        if (!src) fail(`zip: storage record '${quote(r.storage.key)}' is missing`);
        // fflate returns a fresh copy per entry: a storage used by one tensor only is handed over as is
        return gather(r, src, bigEndian, uses.get(r.storage.key) === 1);
      });
    },
  };
}

// ---------------------------------------------------------------------------------------------------
// legacy

const LEGACY_MAGIC = 0x1950a86a20f9469cfc6cn;

/** Reads a legacy (pre-1.6, non-zip) torch checkpoint. */
export function readTorchLegacy(d: Uint8Array, opts: TorchReadOptions): TorchFile {
  const plain = torchHooks(opts.onRefused, () => fail('legacy header: unexpected persistent id'));
  let r = unpickle(d, 0, plain, opts.limits);
  if (r.value !== LEGACY_MAGIC) fail('legacy: wrong magic number (not a torch.save file)');
  r = unpickle(d, r.end, plain, opts.limits);
  if (r.value !== 1001)
    fail(
      `legacy: unsupported protocol version ${typeof r.value === 'number' ? r.value : pyTypeName(r.value)}`,
    );
  r = unpickle(d, r.end, plain, opts.limits);
  const sysInfo = r.value;
  let bigEndian = false;
  if (sysInfo instanceof PyDict) {
    const le = sysInfo.map.get('little_endian');
    if (le === false) bigEndian = true;
  }
  const storages = new Map<string, TorchStorage>();
  const hooks = torchHooks(opts.onRefused, (pid) => parseStoragePid(pid, storages, true));
  r = unpickle(d, r.end, hooks, opts.limits);
  const root = r.value;
  r = unpickle(d, r.end, plain, opts.limits);
  const keys = r.value;
  if (!Array.isArray(keys)) fail(`legacy: storage key list must be a list, got ${pyTypeName(keys)}`);
  const dv = new DataView(d.buffer, d.byteOffset, d.byteLength);
  const spans = new Map<string, Uint8Array>();
  let pos = r.end;
  for (const k of keys) {
    const key = String(k);
    const st = storages.get(key);
    if (!st) fail(`legacy: storage key '${quote(key)}' is not used by any tensor`);
    if (pos + 8 > d.length) fail(`legacy: storage '${quote(key)}' truncated: its size field is missing`);
    const n = dv.getBigInt64(pos, true);
    pos += 8;
    if (n !== BigInt(st.numel))
      fail(`legacy: storage '${quote(key)}' has ${n} elements, its tensors say ${st.numel}`);
    const bytes = st.numel * ITEM_SIZE[st.dtype];
    if (bytes > d.length - pos)
      fail(`legacy: storage '${quote(key)}' truncated: needs ${bytes} bytes, ${d.length - pos} left`);
    spans.set(key, d.subarray(pos, pos + bytes));
    pos += bytes;
  }
  return {
    format: 'torch-legacy',
    root,
    materialize(refs) {
      return refs.map((ref) => {
        const src = spans.get(ref.storage.key);
        if (!src) fail(`legacy: storage '${quote(ref.storage.key)}' has no data`);
        return gather(ref, src, bigEndian);
      });
    },
  };
}
