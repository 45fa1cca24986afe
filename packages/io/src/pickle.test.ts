import { existsSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { parseCheckpoint, toPlainData } from './checkpoint.js';
import { CheckpointError } from './errors.js';
import { type PickleHooks, PyDict, PyGlobal, Refused, unpickle } from './pickle.js';
import {
  f32Bytes,
  PickleWriter,
  stateDictOps,
  type TestTensor,
  torchLegacy,
  torchZip,
} from './test-utils/pickle-writer.js';
import { PYTHON_PICKLES } from './test-utils/python-pickles.js';
import { TORCH_ALLOWED } from './torch.js';

const hex = (h: string) => Uint8Array.from(h.match(/../g)!.map((b) => Number.parseInt(b, 16)));

/** Hooks that record every call and refusal (to prove what ran). */
function recordingHooks() {
  const calls: string[] = [];
  const refused: string[] = [];
  const hooks: PickleHooks = {
    isAllowed: (n) => TORCH_ALLOWED.has(n),
    onRefused: (n) => refused.push(n),
    call: (g) => {
      calls.push(g.fullName);
      throw new Error(`unexpected call of ${g.fullName}`);
    },
    persistentLoad: () => {
      throw new Error('unexpected persistent id');
    },
  };
  return { hooks, calls, refused };
}

describe('pickle machine: CPython 3 pickles of protocols 0-5', () => {
  // OBJ = {'a': [1,-1,255,256,65535,65536,-2**31,2**31,2**63,-2**70,10**30], 'f': [0.5,-1e300,inf],
  //  's': 'héllo ☃\n', 'b': b'\x00\xff', 'ba': bytearray(b'xy'), 'set': {1,2}, 'fs': frozenset({3}),
  //  't': (1,(2,(3,))), 'n': None, 'tf': [True,False], 'shared': [x,x] with x=[7],
  //  'od': OrderedDict([('k',1)]), 3: 'intkey'}
  const expected = {
    a: [1, -1, 255, 256, 65535, 65536, -(2 ** 31), 2 ** 31, 2n ** 63n, -(2n ** 70n), 10n ** 30n],
    f: [0.5, -1e300, Number.POSITIVE_INFINITY],
    s: 'héllo ☃\n',
    b: new Uint8Array([0, 255]),
    ba: new Uint8Array([120, 121]),
    set: [1, 2],
    fs: [3],
    t: [1, [2, [3]]],
    n: null,
    tf: [true, false],
    shared: [[7], [7]],
    od: { k: 1 },
    '3': 'intkey',
  };
  PYTHON_PICKLES.forEach((h, protocol) => {
    it(`protocol ${protocol}: every value, memo sharing and no call of anything outside the builtins`, () => {
      const { hooks, calls, refused } = recordingHooks();
      const { value, end } = unpickle(hex(h), 0, hooks);
      expect(end).toBe(h.length / 2);
      expect(calls).toEqual([]);
      expect(refused).toEqual([]);
      expect(value).toBeInstanceOf(PyDict);
      const shared = (value as PyDict).map.get('shared') as unknown[][];
      expect(shared[0]).toBe(shared[1]); // the memo gives back the same object
      expect(toPlainData(value)).toEqual(expected);
    });
  });
});

/** A zip checkpoint whose top-level dict holds a state_dict under 'model' plus `evil` (written by `emit`). */
function withEvil(emit: (w: PickleWriter) => void, legacy = false): Uint8Array {
  const sd: TestTensor[] = [
    { name: 'w', storage: 'FloatStorage', data: f32Bytes([1, 2]), numel: 2, shape: [2] },
  ];
  const w = new PickleWriter().proto(2).emptyDict().mark().str('model');
  stateDictOps(w, sd);
  w.str('evil');
  emit(w);
  w.setitems().stop();
  return legacy
    ? torchLegacy(w.bytes(), [{ numel: 2, data: sd[0].data }])
    : torchZip(w.bytes(), [sd[0].data]);
}

describe('safety: globals outside the allow-list are never called', () => {
  const dir = mkdtempSync(join(tmpdir(), 'swin-io-'));
  const marker = join(dir, 'pwned');
  const shell = `touch ${marker}`;

  const attacks: [string, (w: PickleWriter) => void, string[]][] = [
    [
      'os.system via GLOBAL + REDUCE',
      (w) => w.global('os', 'system').str(shell).tupleN(1).reduce(),
      ['os.system'],
    ],
    [
      'posix.system via STACK_GLOBAL',
      (w) => w.stackGlobal('posix', 'system').str(shell).tupleN(1).reduce(),
      ['posix.system'],
    ],
    [
      'builtins.eval via NEWOBJ',
      (w) =>
        w
          .global('__builtin__', 'eval')
          .str(`require('fs').writeFileSync('${marker}', '')`)
          .tupleN(1)
          .newobj(),
      ['builtins.eval'],
    ],
    [
      'subprocess.Popen via INST',
      (w) => w.mark().str(shell).inst('subprocess', 'Popen'),
      ['subprocess.Popen'],
    ],
    [
      'nested: getattr(__import__("os"), "system")("...")',
      (w) =>
        w
          .global('builtins', 'getattr')
          .global('builtins', '__import__')
          .str('os')
          .tupleN(1)
          .reduce()
          .str('system')
          .tupleN(2)
          .reduce()
          .str(shell)
          .tupleN(1)
          .reduce(),
      ['builtins.getattr', 'builtins.__import__'],
    ],
    [
      'an allowed builtin applied to a refused class (copyreg._reconstructor)',
      (w) =>
        w
          .global('copy_reg', '_reconstructor')
          .global('os', 'system')
          .global('builtins', 'object')
          .none()
          .tupleN(3)
          .reduce(),
      ['os.system', 'builtins.object'],
    ],
  ];

  for (const legacy of [false, true]) {
    for (const [name, emit, names] of attacks) {
      it(`${legacy ? 'legacy' : 'zip'}: ${name} -> inert placeholder, reported, weights still load`, () => {
        const bytes = withEvil(emit, legacy);
        const c = parseCheckpoint(bytes);
        expect(c.refusedGlobals).toEqual(names);
        expect(Array.from(c.tensors.w.data as Float32Array)).toEqual([1, 2]);
        const evil = c.extra.evil as { __refused__: string; args: unknown[] };
        expect(typeof evil.__refused__).toBe('string');
        expect(names).toContain(evil.__refused__);
        expect(existsSync(marker)).toBe(false);
        expect(() => parseCheckpoint(bytes, { strict: true })).toThrow(
          new RegExp(`refused global ${names[0].replace('.', '\\.')} \\(strict mode`),
        );
      });
    }
  }

  it('the machine never calls a refused global: only placeholders come back', () => {
    const { hooks, calls, refused } = recordingHooks();
    const w = new PickleWriter().proto(2).global('os', 'system').str(shell).tupleN(1).reduce().stop();
    const { value } = unpickle(w.bytes(), 0, hooks);
    expect(calls).toEqual([]);
    expect(refused).toEqual(['os.system']);
    expect(value).toBeInstanceOf(Refused);
    expect((value as Refused).__refused__).toBe('os.system');
    expect((value as Refused).args).toEqual([shell]);
    expect(existsSync(marker)).toBe(false);
    rmSync(dir, { recursive: true, force: true });
  });

  it('a whole file that is a refused object is one clear error', () => {
    const w = new PickleWriter().proto(2).global('os', 'system').str('id').tupleN(1).reduce().stop();
    expect(() => parseCheckpoint(torchZip(w.bytes(), []))).toThrow(
      /no state_dict found|not a dict of tensors/,
    );
  });

  it('allowed torch functions given the wrong arguments fail cleanly (no type confusion)', () => {
    const w = new PickleWriter().proto(2).emptyDict().str('w').global('torch._utils', '_rebuild_tensor_v2');
    w.mark()
      .str('not a storage')
      .int(0)
      .tupleN(0)
      .tupleN(0)
      .bool(false)
      .none()
      .tuple()
      .reduce()
      .setitem()
      .stop();
    expect(() => parseCheckpoint(torchZip(w.bytes(), []))).toThrow(
      /_rebuild_tensor_v2: expected a storage, got str/,
    );
    const g = new PickleWriter().proto(2).global('torch', 'FloatStorage').tupleN(0).reduce().stop();
    expect(() => parseCheckpoint(torchZip(g.bytes(), []))).toThrow(
      /global torch\.FloatStorage cannot be called/,
    );
  });
});

describe('training checkpoints with a pickled yacs config', () => {
  /** `CfgNode` the way pickle protocol 2 writes a dict subclass: NEWOBJ, SETITEMS, BUILD with `__dict__`. */
  function cfgNode(w: PickleWriter, items: () => void, memoClass: boolean): void {
    if (memoClass) w.binget(200);
    else w.global('yacs.config', 'CfgNode').binput(200);
    w.tupleN(0).newobj().mark();
    items();
    w.setitems();
    w.emptyDict().mark().str('__immutable__').bool(false).str('__deprecated_keys__');
    w.global('__builtin__', 'set')
      .emptyList()
      .tupleN(1)
      .reduce()
      .str('__new_allowed__')
      .bool(false)
      .setitems()
      .build();
  }

  it('the config reads as nested plain data; the class is reported, not called; strict refuses it', () => {
    const sd: TestTensor[] = [
      { name: 'head.bias', storage: 'FloatStorage', data: f32Bytes([0.5]), numel: 1, shape: [1] },
    ];
    const w = new PickleWriter().proto(2).emptyDict().mark().str('model');
    stateDictOps(w, sd);
    w.str('config');
    cfgNode(
      w,
      () => {
        w.str('MODEL');
        cfgNode(
          w,
          () => {
            w.str('TYPE').str('swin').str('SWIN');
            cfgNode(
              w,
              () => w.str('EMBED_DIM').int(96).str('DEPTHS').mark().int(2).int(2).int(6).int(2).raw(0x6c),
              true,
            );
          },
          true,
        );
        w.str('DATA');
        cfgNode(w, () => w.str('IMG_SIZE').int(224), true);
      },
      false,
    );
    w.str('epoch').int(299).setitems().stop();
    const bytes = torchZip(w.bytes(), [sd[0].data]);
    const c = parseCheckpoint(bytes);
    expect(c.refusedGlobals).toEqual(['yacs.config.CfgNode']);
    expect(c.extra.config).toEqual({
      MODEL: { TYPE: 'swin', SWIN: { EMBED_DIM: 96, DEPTHS: [2, 2, 6, 2] } },
      DATA: { IMG_SIZE: 224 },
    });
    expect(c.extra.epoch).toBe(299);
    expect(Object.keys(c.tensors)).toEqual(['head.bias']);
    expect(() => parseCheckpoint(bytes, { strict: true })).toThrow(CheckpointError);
    expect(() => parseCheckpoint(bytes, { strict: true })).toThrow(/refused global yacs\.config\.CfgNode/);
  });
});

describe('pickle machine: limits and malformed programs', () => {
  const run = (b: Uint8Array) => unpickle(b, 0, recordingHooks().hooks);
  it('nesting, memo, stack and integer-size limits', () => {
    const deep = new PickleWriter().proto(2);
    for (let i = 0; i < 20_000; i++) deep.mark();
    expect(() => run(deep.bytes())).toThrow(/nesting deeper than 10000 MARKs/);
    const lists = new PickleWriter().proto(2);
    for (let i = 0; i < 200_000; i++) lists.emptyList();
    expect(() => unpickle(lists.bytes(), 0, recordingHooks().hooks, { maxStack: 100_000 })).toThrow(
      /stack exceeds 100000 items/,
    );
    const memo = new PickleWriter().proto(2).none();
    for (let i = 0; i < 300; i++) memo.raw(0x72, i & 0xff, i >> 8, 0, 0);
    expect(() => unpickle(memo.bytes(), 0, recordingHooks().hooks, { maxMemo: 256 })).toThrow(
      /memo exceeds 256 entries/,
    );
    expect(() => run(new PickleWriter().proto(2).raw(0x6a, 0xff, 0xff, 0xff, 0xff).bytes())).toThrow(
      /memo key 4294967295 is missing/,
    );
    expect(() => run(new PickleWriter().proto(2).raw(0x8b, 0, 0, 0, 0x10).bytes())).toThrow(
      /integer of 268435456 bytes/,
    );
    expect(() => run(new PickleWriter().proto(4).raw(0x8d, 0, 0, 0, 0, 0, 0, 0, 0x10).bytes())).toThrow(
      /runs past the end/,
    );
  });

  it('truncations, bad opcodes, underflow and unsupported features are one-line CheckpointErrors', () => {
    const ok = new PickleWriter().proto(2).str('abc').tupleN(1).stop().bytes();
    for (let n = 0; n < ok.length; n++) expect(() => run(ok.subarray(0, n))).toThrow(CheckpointError);
    expect(() => run(Uint8Array.of(0x80, 2, 0xff))).toThrow(/unknown opcode/);
    expect(() => run(Uint8Array.of(0x80, 2, 0x52))).toThrow(/stack underflow/);
    expect(() => run(Uint8Array.of(0x80, 9))).toThrow(/unsupported protocol 9/);
    expect(() => run(Uint8Array.of(0x80, 5, 0x97))).toThrow(/NEXT_BUFFER/);
    expect(() => run(Uint8Array.of(0x80, 2, 0x82, 1))).toThrow(/extension registry/);
    expect(() => run(Uint8Array.of(0x80, 2, 0x4b, 1, 0x4b, 2, 0x52, 0x2e))).toThrow(
      /REDUCE arguments must be a tuple/,
    );
    for (const e of [() => run(Uint8Array.of(0x80, 2, 0x58, 3, 0, 0, 0, 0xff, 0xfe, 0xfd, 0x2e))]) {
      expect(e).toThrow(/not valid UTF-8/);
    }
    try {
      run(Uint8Array.of(0x80, 2, 0x58, 0xff, 0xff, 0xff, 0x7f));
    } catch (e) {
      expect((e as Error).message).not.toContain('\n');
      expect((e as Error).message).toMatch(/^checkpoint: pickle truncated at byte 2 \(opcode 0x58\)/);
    }
  });

  it("keys named '__proto__' stay plain data in tensors and extra", () => {
    const w = new PickleWriter().proto(2).emptyDict().mark().str('model');
    stateDictOps(w, [
      { name: '__proto__', storage: 'FloatStorage', data: f32Bytes([1]), numel: 1, shape: [1] },
    ]);
    w.str('__proto__').emptyDict().str('polluted').bool(true).setitem().setitems().stop();
    const c = parseCheckpoint(torchZip(w.bytes(), [f32Bytes([1])]));
    expect(Object.keys(c.tensors)).toEqual(['__proto__']);
    expect(Object.hasOwn(c.extra, '__proto__')).toBe(true);
    expect(({} as Record<string, unknown>).polluted).toBeUndefined();
    expect((c.extra as Record<string, unknown>).polluted).toBeUndefined();
  });

  it('a global is a token, not a value: module aliases are normalised', () => {
    const { value } = run(new PickleWriter().proto(2).global('__builtin__', 'set').stop().bytes());
    expect(value).toBeInstanceOf(PyGlobal);
    expect((value as PyGlobal).fullName).toBe('builtins.set');
  });
});
