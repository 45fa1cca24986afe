/**
 * A restricted pickle virtual machine (protocols 0-5) in the spirit of `torch.load(weights_only=True)`.
 *
 * Promises, each tested in `pickle.test.ts` / `torch.fuzz.test.ts`:
 * - Nothing is imported, called or executed. A `GLOBAL` / `STACK_GLOBAL` / `INST` names a global; only the
 *   names of the caller's allow-list are ever "called", and each allowed call is a small hand-written,
 *   side-effect-free constructor of plain data (see {@link BUILTIN_CALLS}). Any other global is reported
 *   through `onRefused` and the object built from it becomes an inert {@link Refused} placeholder holding its
 *   arguments, state and items as data.
 * - Every length, count and index is checked against the bytes that remain before anything is allocated or
 *   decoded; truncated or corrupt input raises one-line {@link CheckpointError}s.
 * - Limits on the stack, the mark stack (nesting), the memo and integer sizes; the machine is a loop (no
 *   recursion over untrusted data), linear in the input size.
 */
import { CheckpointError, fail, quote } from './errors.js';

/** A named global (`module.name`); a token until an allowed call gives it meaning. */
export class PyGlobal {
  constructor(
    readonly module: string,
    readonly name: string,
    readonly allowed: boolean,
  ) {}
  get fullName(): string {
    return `${this.module}.${this.name}`;
  }
}

/** A Python dict (or OrderedDict) with its keys in insertion order; keys are primitives or object identities. */
export class PyDict {
  readonly map = new Map<unknown, unknown>();
  /** State given by BUILD (an OrderedDict's `__dict__`, e.g. a state_dict's `_metadata`), kept as data. */
  state: unknown = undefined;
}

/** A Python set or frozenset (items in pickle order). */
export class PySet {
  readonly items: unknown[] = [];
  constructor(readonly frozen: boolean) {}
}

/**
 * The inert stand-in for an object whose class or reducing function is not on the allow-list: nothing was
 * called; its constructor arguments, BUILD state, SETITEMS items and APPENDS items are kept as data.
 */
export class Refused {
  state: unknown = undefined;
  items: PyDict | null = null;
  listItems: unknown[] = [];
  constructor(
    readonly __refused__: string,
    readonly args: unknown[],
  ) {}
}

/** Limits of one unpickling run. */
export interface PickleLimits {
  /** Largest number of memo entries (default 2^22). */
  maxMemo?: number;
  /** Largest stack size (default 2^22). */
  maxStack?: number;
  /** Deepest nesting of MARKs (default 10,000). */
  maxMarks?: number;
  /** Largest LONG1/LONG4 integer in bytes (default 1024). */
  maxLongBytes?: number;
}

/** How the machine resolves globals and persistent ids. */
export interface PickleHooks {
  /** Whether `module.name` is on the allow-list. */
  isAllowed(fullName: string): boolean;
  /** Called once per load of a global that is not allowed (throw here for strict mode). */
  onRefused(fullName: string): void;
  /**
   * Calls an allowed global (only ever invoked when `isAllowed`); returns inert data. `apply` applies a
   * callable value through the machine's own rules (for wrappers such as `_rebuild_from_type_v2`).
   */
  call(g: PyGlobal, args: unknown[], apply: (f: unknown, args: unknown[]) => unknown): unknown;
  /** Resolves a persistent id (BINPERSID / PERSID). */
  persistentLoad(pid: unknown): unknown;
}

const MODULE_ALIASES: Record<string, string> = { __builtin__: 'builtins', copy_reg: 'copyreg' };

/** Python type name of a value, for error messages (never formats the value itself). */
export function pyTypeName(v: unknown): string {
  if (v === null || v === undefined) return 'None';
  if (typeof v === 'boolean') return 'bool';
  if (typeof v === 'number') return Number.isInteger(v) ? 'int' : 'float';
  if (typeof v === 'bigint') return 'int';
  if (typeof v === 'string') return 'str';
  if (v instanceof Uint8Array) return 'bytes';
  if (Array.isArray(v)) return 'tuple/list';
  if (v instanceof PyDict) return 'dict';
  if (v instanceof PySet) return v.frozen ? 'frozenset' : 'set';
  if (v instanceof PyGlobal) return `global ${v.fullName}`;
  if (v instanceof Refused) return `refused ${v.__refused__}`;
  return (v as object).constructor?.name ?? 'object';
}

function latin1Encode(s: string): Uint8Array {
  const out = new Uint8Array(s.length);
  for (let i = 0; i < s.length; i++) {
    const c = s.charCodeAt(i);
    if (c > 0xff) fail(`_codecs.encode: character U+${c.toString(16)} is not latin-1`);
    out[i] = c;
  }
  return out;
}

function iterableItems(v: unknown, what: string): unknown[] {
  if (Array.isArray(v)) return v;
  if (v instanceof PySet) return v.items;
  if (v instanceof PyDict) return [...v.map.keys()];
  fail(`${what}: expected a list, tuple or set, got ${pyTypeName(v)}`);
}

/**
 * Inert constructors of the allowed Python builtins (plain data in, plain data out; nothing else runs).
 * `copyreg._reconstructor` / `copyreg.__newobj__` apply their class through the machine's own rules, so a
 * class outside the allow-list still becomes a {@link Refused} placeholder.
 */
export const BUILTIN_CALLS: Record<
  string,
  (args: unknown[], apply: (f: unknown, a: unknown[]) => unknown) => unknown
> = {
  'collections.OrderedDict': (args) => {
    const d = new PyDict();
    if (args.length === 0) return d;
    if (args.length !== 1) fail(`collections.OrderedDict: expected 0 or 1 arguments, got ${args.length}`);
    if (args[0] instanceof PyDict) {
      for (const [k, v] of args[0].map) d.map.set(k, v);
      return d;
    }
    for (const pair of iterableItems(args[0], 'collections.OrderedDict')) {
      if (!Array.isArray(pair) || pair.length !== 2)
        fail('collections.OrderedDict: items must be (key, value) pairs');
      d.map.set(pair[0], pair[1]);
    }
    return d;
  },
  'builtins.set': (args) => {
    const s = new PySet(false);
    if (args.length > 0) for (const x of iterableItems(args[0], 'builtins.set')) s.items.push(x);
    return s;
  },
  'builtins.frozenset': (args) => {
    const s = new PySet(true);
    if (args.length > 0) for (const x of iterableItems(args[0], 'builtins.frozenset')) s.items.push(x);
    return s;
  },
  'builtins.bytearray': (args) => {
    if (args.length === 0) return new Uint8Array(0);
    const a = args[0];
    if (a instanceof Uint8Array) return a.slice();
    if (typeof a === 'string') return latin1Encode(a);
    fail(`builtins.bytearray: unsupported argument ${pyTypeName(a)}`);
  },
  '_codecs.encode': (args) => {
    const [s, enc] = args;
    if (typeof s !== 'string') fail(`_codecs.encode: expected a str, got ${pyTypeName(s)}`);
    const e = typeof enc === 'string' ? enc.toLowerCase() : 'utf-8';
    if (e === 'latin1' || e === 'latin-1' || e === 'iso-8859-1') return latin1Encode(s);
    if (e === 'utf-8' || e === 'utf8') return new TextEncoder().encode(s);
    fail(`_codecs.encode: unsupported encoding ${quote(String(enc))}`);
  },
  'copyreg._reconstructor': (args, apply) => {
    if (args.length < 1) fail('copyreg._reconstructor: missing class');
    const r = apply(args[0], []);
    if (r instanceof Refused || r instanceof PyDict) r.state = args[2];
    return r;
  },
  'copyreg.__newobj__': (args, apply) => {
    if (args.length < 1) fail('copyreg.__newobj__: missing class');
    return apply(args[0], args.slice(1));
  },
};

const OP = {
  MARK: 0x28,
  STOP: 0x2e,
  POP: 0x30,
  POP_MARK: 0x31,
  DUP: 0x32,
  FLOAT: 0x46,
  INT: 0x49,
  BININT: 0x4a,
  BININT1: 0x4b,
  LONG: 0x4c,
  BININT2: 0x4d,
  NONE: 0x4e,
  PERSID: 0x50,
  BINPERSID: 0x51,
  REDUCE: 0x52,
  STRING: 0x53,
  BINSTRING: 0x54,
  SHORT_BINSTRING: 0x55,
  UNICODE: 0x56,
  BINUNICODE: 0x58,
  APPEND: 0x61,
  BUILD: 0x62,
  GLOBAL: 0x63,
  DICT: 0x64,
  EMPTY_DICT: 0x7d,
  APPENDS: 0x65,
  GET: 0x67,
  BINGET: 0x68,
  INST: 0x69,
  LONG_BINGET: 0x6a,
  LIST: 0x6c,
  EMPTY_LIST: 0x5d,
  OBJ: 0x6f,
  PUT: 0x70,
  BINPUT: 0x71,
  LONG_BINPUT: 0x72,
  SETITEM: 0x73,
  TUPLE: 0x74,
  EMPTY_TUPLE: 0x29,
  SETITEMS: 0x75,
  BINFLOAT: 0x47,
  PROTO: 0x80,
  NEWOBJ: 0x81,
  EXT1: 0x82,
  EXT2: 0x83,
  EXT4: 0x84,
  TUPLE1: 0x85,
  TUPLE2: 0x86,
  TUPLE3: 0x87,
  NEWTRUE: 0x88,
  NEWFALSE: 0x89,
  LONG1: 0x8a,
  LONG4: 0x8b,
  BINBYTES: 0x42,
  SHORT_BINBYTES: 0x43,
  SHORT_BINUNICODE: 0x8c,
  BINUNICODE8: 0x8d,
  BINBYTES8: 0x8e,
  EMPTY_SET: 0x8f,
  ADDITEMS: 0x90,
  FROZENSET: 0x91,
  NEWOBJ_EX: 0x92,
  STACK_GLOBAL: 0x93,
  MEMOIZE: 0x94,
  FRAME: 0x95,
  BYTEARRAY8: 0x96,
  NEXT_BUFFER: 0x97,
  READONLY_BUFFER: 0x98,
} as const;

const utf8 = new TextDecoder('utf-8', { fatal: true });

/** Decodes a little-endian two's-complement integer of `n` bytes (Python's LONG1/LONG4 encoding). */
function decodeLong(b: Uint8Array): number | bigint {
  const n = b.length;
  if (n === 0) return 0;
  if (n <= 6) {
    let v = 0;
    for (let i = n - 1; i >= 0; i--) v = v * 256 + b[i];
    if (b[n - 1] & 0x80) v -= 2 ** (8 * n);
    return v;
  }
  let hex = '';
  for (let i = n - 1; i >= 0; i--) hex += b[i].toString(16).padStart(2, '0');
  let v = BigInt(`0x${hex}`);
  if (b[n - 1] & 0x80) v -= 1n << BigInt(8 * n);
  return v >= BigInt(Number.MIN_SAFE_INTEGER) && v <= BigInt(Number.MAX_SAFE_INTEGER) ? Number(v) : v;
}

function parseIntLine(s: string, what: string): number | bigint {
  const t = s.endsWith('L') ? s.slice(0, -1) : s;
  if (!/^[+-]?\d{1,4000}$/.test(t)) fail(`${what}: bad integer literal ${quote(s)}`);
  const v = BigInt(t);
  return v >= BigInt(Number.MIN_SAFE_INTEGER) && v <= BigInt(Number.MAX_SAFE_INTEGER) ? Number(v) : v;
}

/** Parses the quoted Python string literal of a protocol-0 STRING opcode (common escapes only). */
function parseStringLiteral(s: string): string {
  if (s.length < 2 || (s[0] !== "'" && s[0] !== '"') || s[s.length - 1] !== s[0]) {
    fail(`STRING: argument must be quoted, got ${quote(s)}`);
  }
  const body = s.slice(1, -1);
  let out = '';
  for (let i = 0; i < body.length; i++) {
    const c = body[i];
    if (c !== '\\') {
      out += c;
      continue;
    }
    const d = body[++i];
    const simple: Record<string, string> = {
      n: '\n',
      t: '\t',
      r: '\r',
      '\\': '\\',
      "'": "'",
      '"': '"',
      '0': '\0',
    };
    if (d !== undefined && Object.hasOwn(simple, d)) out += simple[d];
    else if (d === 'x' && /^[0-9a-fA-F]{2}$/.test(body.slice(i + 1, i + 3))) {
      out += String.fromCharCode(Number.parseInt(body.slice(i + 1, i + 3), 16));
      i += 2;
    } else fail(`STRING: unsupported escape in ${quote(s)}`);
  }
  return out;
}

/** Decodes the raw-unicode-escape argument of a protocol-0 UNICODE opcode. */
function parseRawUnicode(s: string): string {
  return s.replace(/\\u([0-9a-fA-F]{4})|\\U([0-9a-fA-F]{8})/g, (_m, u4: string, u8: string) => {
    const cp = Number.parseInt(u4 ?? u8, 16);
    if (cp > 0x10ffff) fail('UNICODE: code point out of range');
    return String.fromCodePoint(cp);
  });
}

/**
 * Runs one pickle starting at `start` of `data` and returns its value and the offset after its STOP opcode
 * (legacy torch files hold several pickles back to back).
 *
 * @throws CheckpointError on malformed input, exceeded limits, or a refusal raised by `hooks.onRefused`
 */
export function unpickle(
  data: Uint8Array,
  start: number,
  hooks: PickleHooks,
  limits: PickleLimits = {},
): { value: unknown; end: number } {
  const maxMemo = limits.maxMemo ?? 1 << 22;
  const maxStack = limits.maxStack ?? 1 << 22;
  const maxMarks = limits.maxMarks ?? 10_000;
  const maxLongBytes = limits.maxLongBytes ?? 1024;
  const len = data.length;
  const dv = new DataView(data.buffer, data.byteOffset, data.byteLength);
  let pos = start;
  let stack: unknown[] = [];
  const metastack: unknown[][] = [];
  const memo = new Map<number, unknown>();
  let op = 0;
  let opAt = 0;
  let depthTotal = 0; // items on all stacks

  const where = () => `at byte ${opAt} (opcode 0x${op.toString(16).padStart(2, '0')})`;
  const need = (n: number) => {
    if (n > len - pos) fail(`pickle truncated ${where()}: needs ${n} more bytes, ${len - pos} left`);
  };
  const u8 = () => {
    need(1);
    return data[pos++];
  };
  const u16 = () => {
    need(2);
    const v = dv.getUint16(pos, true);
    pos += 2;
    return v;
  };
  const u32 = () => {
    need(4);
    const v = dv.getUint32(pos, true);
    pos += 4;
    return v;
  };
  const i32 = () => {
    need(4);
    const v = dv.getInt32(pos, true);
    pos += 4;
    return v;
  };
  const u64 = () => {
    need(8);
    const v = dv.getBigUint64(pos, true);
    pos += 8;
    if (v > BigInt(len - pos))
      fail(`pickle ${where()}: length ${v} runs past the end (${len - pos} bytes left)`);
    return Number(v);
  };
  const bytes = (n: number) => {
    need(n);
    const b = data.subarray(pos, pos + n);
    pos += n;
    return b;
  };
  const line = () => {
    const nl = data.indexOf(0x0a, pos);
    if (nl < 0) fail(`pickle truncated ${where()}: missing end of line`);
    const b = data.subarray(pos, nl);
    pos = nl + 1;
    let s = '';
    for (let i = 0; i < b.length; i++) s += String.fromCharCode(b[i]);
    return s;
  };
  const str = (b: Uint8Array) => {
    try {
      return utf8.decode(b);
    } catch {
      fail(`pickle ${where()}: string is not valid UTF-8`);
    }
  };
  const push = (v: unknown) => {
    if (++depthTotal > maxStack) fail(`pickle ${where()}: stack exceeds ${maxStack} items`);
    stack.push(v);
  };
  const pop = (): unknown => {
    if (stack.length === 0) fail(`pickle ${where()}: stack underflow`);
    depthTotal--;
    return stack.pop();
  };
  const top = (): unknown => {
    if (stack.length === 0) fail(`pickle ${where()}: stack underflow`);
    return stack[stack.length - 1];
  };
  const popMark = (): unknown[] => {
    const items = stack;
    const prev = metastack.pop();
    if (prev === undefined) fail(`pickle ${where()}: no MARK on the stack`);
    stack = prev;
    return items;
  };
  const memoPut = (idx: number) => {
    const v = top();
    if (!memo.has(idx) && memo.size >= maxMemo) fail(`pickle ${where()}: memo exceeds ${maxMemo} entries`);
    memo.set(idx, v);
  };
  const memoGet = (idx: number) => {
    if (!memo.has(idx)) fail(`pickle ${where()}: memo key ${idx} is missing`);
    push(memo.get(idx));
  };
  const findGlobal = (moduleRaw: string, name: string): PyGlobal => {
    const module = MODULE_ALIASES[moduleRaw] ?? moduleRaw;
    const full = `${module}.${name}`;
    if (module.length > 200 || name.length > 200) fail(`pickle ${where()}: global name too long`);
    const allowed = hooks.isAllowed(full);
    if (!allowed) hooks.onRefused(full);
    return new PyGlobal(module, name, allowed);
  };
  const apply = (f: unknown, args: unknown[]): unknown => {
    if (f instanceof PyGlobal) {
      if (!f.allowed) return new Refused(f.fullName, args);
      const builtin = Object.hasOwn(BUILTIN_CALLS, f.fullName) ? BUILTIN_CALLS[f.fullName] : undefined;
      if (builtin) return builtin(args, apply);
      return hooks.call(f, args, apply);
    }
    if (f instanceof Refused) return new Refused(f.__refused__, args);
    fail(`pickle ${where()}: cannot call a ${pyTypeName(f)}`);
  };
  const asArgs = (v: unknown, what: string): unknown[] => {
    if (!Array.isArray(v)) fail(`pickle ${where()}: ${what} arguments must be a tuple, got ${pyTypeName(v)}`);
    return v;
  };
  const setItems = (target: unknown, kv: unknown[]) => {
    if (kv.length % 2 !== 0) fail(`pickle ${where()}: odd number of items for a dict`);
    let d: PyDict;
    if (target instanceof PyDict) d = target;
    else if (target instanceof Refused) {
      if (!target.items) target.items = new PyDict();
      d = target.items;
    } else fail(`pickle ${where()}: cannot set items on a ${pyTypeName(target)}`);
    for (let i = 0; i < kv.length; i += 2) d.map.set(kv[i], kv[i + 1]);
  };
  const appendItems = (target: unknown, items: unknown[]) => {
    if (Array.isArray(target)) for (const it of items) target.push(it);
    else if (target instanceof Refused) for (const it of items) target.listItems.push(it);
    else fail(`pickle ${where()}: cannot append to a ${pyTypeName(target)}`);
  };

  if (start >= len) fail(`pickle at byte ${start}: no data (file truncated)`);
  for (;;) {
    if (pos >= len) fail(`pickle truncated at byte ${pos}: no STOP opcode`);
    opAt = pos;
    op = data[pos++];
    switch (op) {
      case OP.PROTO: {
        const p = u8();
        if (p > 5) fail(`pickle ${where()}: unsupported protocol ${p}`);
        break;
      }
      case OP.FRAME:
        u64();
        break;
      case OP.STOP: {
        const value = pop();
        return { value, end: pos };
      }
      case OP.MARK:
        if (metastack.length >= maxMarks) fail(`pickle ${where()}: nesting deeper than ${maxMarks} MARKs`);
        metastack.push(stack);
        stack = [];
        break;
      case OP.POP:
        if (stack.length > 0) pop();
        else depthTotal -= popMark().length;
        break;
      case OP.POP_MARK:
        depthTotal -= popMark().length;
        break;
      case OP.DUP:
        push(top());
        break;
      case OP.NONE:
        push(null);
        break;
      case OP.NEWTRUE:
        push(true);
        break;
      case OP.NEWFALSE:
        push(false);
        break;
      case OP.BININT:
        push(i32());
        break;
      case OP.BININT1:
        push(u8());
        break;
      case OP.BININT2:
        push(u16());
        break;
      case OP.LONG1:
      case OP.LONG4: {
        const n = op === OP.LONG1 ? u8() : i32();
        if (n < 0) fail(`pickle ${where()}: negative LONG4 length ${n}`);
        if (n > maxLongBytes) fail(`pickle ${where()}: integer of ${n} bytes exceeds ${maxLongBytes}`);
        push(decodeLong(bytes(n)));
        break;
      }
      case OP.INT: {
        const s = line();
        if (s === '00') push(false);
        else if (s === '01') push(true);
        else push(parseIntLine(s, 'INT'));
        break;
      }
      case OP.LONG:
        push(parseIntLine(line(), 'LONG'));
        break;
      case OP.FLOAT: {
        const s = line().trim().toLowerCase();
        const special: Record<string, number> = {
          inf: Number.POSITIVE_INFINITY,
          '+inf': Number.POSITIVE_INFINITY,
          '-inf': Number.NEGATIVE_INFINITY,
          nan: Number.NaN,
        };
        const v = Object.hasOwn(special, s) ? special[s] : s === '' ? Number.NaN : Number(s);
        if (Number.isNaN(v) && s !== 'nan') fail(`pickle ${where()}: bad float literal ${quote(s)}`);
        push(v);
        break;
      }
      case OP.BINFLOAT: {
        need(8);
        push(dv.getFloat64(pos, false));
        pos += 8;
        break;
      }
      case OP.SHORT_BINUNICODE:
        push(str(bytes(u8())));
        break;
      case OP.BINUNICODE:
        push(str(bytes(u32())));
        break;
      case OP.BINUNICODE8:
        push(str(bytes(u64())));
        break;
      case OP.UNICODE:
        push(parseRawUnicode(line()));
        break;
      case OP.STRING:
        push(parseStringLiteral(line()));
        break;
      case OP.BINSTRING:
      case OP.SHORT_BINSTRING: {
        const n = op === OP.SHORT_BINSTRING ? u8() : i32();
        if (n < 0) fail(`pickle ${where()}: negative BINSTRING length`);
        const b = bytes(n);
        let s = '';
        for (let i = 0; i < b.length; i++) s += String.fromCharCode(b[i]);
        push(s);
        break;
      }
      case OP.SHORT_BINBYTES:
        push(bytes(u8()).slice());
        break;
      case OP.BINBYTES:
        push(bytes(u32()).slice());
        break;
      case OP.BINBYTES8:
      case OP.BYTEARRAY8:
        push(bytes(u64()).slice());
        break;
      case OP.NEXT_BUFFER:
        fail(`pickle ${where()}: out-of-band buffers (NEXT_BUFFER) are not supported`);
        break;
      case OP.READONLY_BUFFER:
        top();
        break;
      case OP.EMPTY_TUPLE:
        push([]);
        break;
      case OP.TUPLE1:
        push([pop()]);
        break;
      case OP.TUPLE2: {
        const b = pop();
        const a = pop();
        push([a, b]);
        break;
      }
      case OP.TUPLE3: {
        const c = pop();
        const b = pop();
        const a = pop();
        push([a, b, c]);
        break;
      }
      case OP.TUPLE:
      case OP.LIST: {
        const items = popMark();
        depthTotal -= items.length;
        push(items);
        break;
      }
      case OP.EMPTY_LIST:
        push([]);
        break;
      case OP.EMPTY_DICT:
        push(new PyDict());
        break;
      case OP.DICT: {
        const items = popMark();
        depthTotal -= items.length;
        const d = new PyDict();
        setItems(d, items);
        push(d);
        break;
      }
      case OP.EMPTY_SET:
        push(new PySet(false));
        break;
      case OP.FROZENSET: {
        const items = popMark();
        depthTotal -= items.length;
        const s = new PySet(true);
        for (const x of items) s.items.push(x);
        push(s);
        break;
      }
      case OP.ADDITEMS: {
        const items = popMark();
        depthTotal -= items.length;
        const s = top();
        if (!(s instanceof PySet)) fail(`pickle ${where()}: ADDITEMS on a ${pyTypeName(s)}`);
        for (const it of items) s.items.push(it);
        break;
      }
      case OP.APPEND: {
        const v = pop();
        appendItems(top(), [v]);
        break;
      }
      case OP.APPENDS: {
        const items = popMark();
        depthTotal -= items.length;
        appendItems(top(), items);
        break;
      }
      case OP.SETITEM: {
        const v = pop();
        const k = pop();
        setItems(top(), [k, v]);
        break;
      }
      case OP.SETITEMS: {
        const items = popMark();
        depthTotal -= items.length;
        setItems(top(), items);
        break;
      }
      case OP.GET:
        memoGet(Number(parseIntLine(line(), 'GET')));
        break;
      case OP.BINGET:
        memoGet(u8());
        break;
      case OP.LONG_BINGET:
        memoGet(u32());
        break;
      case OP.PUT:
        memoPut(Number(parseIntLine(line(), 'PUT')));
        break;
      case OP.BINPUT:
        memoPut(u8());
        break;
      case OP.LONG_BINPUT:
        memoPut(u32());
        break;
      case OP.MEMOIZE:
        memoPut(memo.size);
        break;
      case OP.GLOBAL: {
        const module = line();
        const name = line();
        push(findGlobal(module, name));
        break;
      }
      case OP.STACK_GLOBAL: {
        const name = pop();
        const module = pop();
        if (typeof module !== 'string' || typeof name !== 'string') {
          fail(
            `pickle ${where()}: STACK_GLOBAL needs two strings, got ${pyTypeName(module)}, ${pyTypeName(name)}`,
          );
        }
        push(findGlobal(module, name));
        break;
      }
      case OP.INST: {
        const module = line();
        const name = line();
        const args = popMark();
        depthTotal -= args.length;
        push(apply(findGlobal(module, name), args));
        break;
      }
      case OP.OBJ: {
        const args = popMark();
        depthTotal -= args.length;
        if (args.length === 0) fail(`pickle ${where()}: OBJ without a class`);
        push(apply(args[0], args.slice(1)));
        break;
      }
      case OP.REDUCE: {
        const args = asArgs(pop(), 'REDUCE');
        push(apply(pop(), args));
        break;
      }
      case OP.NEWOBJ: {
        const args = asArgs(pop(), 'NEWOBJ');
        push(apply(pop(), args));
        break;
      }
      case OP.NEWOBJ_EX: {
        const kwargs = pop();
        const args = asArgs(pop(), 'NEWOBJ_EX');
        const r = apply(pop(), args);
        if (r instanceof Refused && kwargs instanceof PyDict && kwargs.map.size > 0) r.state = kwargs;
        push(r);
        break;
      }
      case OP.BUILD: {
        const state = pop();
        const inst = top();
        if (inst instanceof Refused || inst instanceof PyDict) inst.state = state;
        // other objects: Python would set attributes; the data model here has none, so the state is dropped
        break;
      }
      case OP.PERSID:
        push(hooks.persistentLoad(line()));
        break;
      case OP.BINPERSID:
        push(hooks.persistentLoad(pop()));
        break;
      case OP.EXT1:
      case OP.EXT2:
      case OP.EXT4:
        fail(`pickle ${where()}: extension registry codes (EXT1/2/4) are not supported`);
        break;
      default:
        fail(`pickle ${where()}: unknown opcode`);
    }
  }
}

export { CheckpointError };
