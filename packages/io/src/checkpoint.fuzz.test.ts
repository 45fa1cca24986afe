/**
 * Fuzz suite of the PyTorch reader: >= 10,000 malformed files (truncations, bit flips, bad opcodes, lying
 * sizes, deep nesting, huge memo indices, huge zip entry sizes) must each either parse or throw a
 * CheckpointError (one line), never anything else, and quickly. Deterministic (seeded PRNG).
 */
import { readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { unzipSync } from 'fflate';
import { describe, expect, it } from 'vitest';
import { parseCheckpoint } from './checkpoint.js';
import { CheckpointError } from './errors.js';
import {
  f32Bytes,
  PickleWriter,
  stateDictOps,
  type TestTensor,
  torchLegacy,
  torchZip,
} from './test-utils/pickle-writer.js';

function mulberry32(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

const tensors: TestTensor[] = [
  {
    name: 'module.a.weight',
    storage: 'FloatStorage',
    data: f32Bytes([1, 2, 3, 4, 5, 6]),
    numel: 6,
    shape: [2, 3],
  },
  {
    name: 'module.b',
    storage: 'LongStorage',
    data: new Uint8Array(new BigInt64Array([7n]).buffer),
    numel: 1,
    shape: [],
  },
  {
    name: 'module.c',
    storage: 'HalfStorage',
    data: new Uint8Array(new Uint16Array([0x3c00, 1]).buffer),
    numel: 2,
    shape: [2],
  },
];

/** The object pickle of the base file: {'model': state_dict, 'config': CfgNode-like, 'epoch': 3, ...}. */
function basePickle(): Uint8Array {
  const w = new PickleWriter().proto(2).emptyDict().binput(0).mark().str('model');
  stateDictOps(w, tensors);
  w.binput(1);
  w.str('config').global('yacs.config', 'CfgNode').tupleN(0).newobj().mark().str('A').int(1).setitems();
  w.emptyDict().str('k').global('__builtin__', 'set').emptyList().tupleN(1).reduce().setitem().build();
  w.str('epoch')
    .int(3)
    .str('lr')
    .float(0.001)
    .str('name')
    .binunicode('ab')
    .str('blob')
    .bytes_(Uint8Array.of(1, 2));
  w.str('again').binget(1);
  w.setitems().stop();
  return w.bytes();
}
const PKL = basePickle();
const ZIP = torchZip(
  PKL,
  tensors.map((t) => t.data),
);
const LEGACY = torchLegacy(
  PKL,
  tensors.map((t) => ({ numel: t.numel, data: t.data })),
);

let maxMs = 0;
let parsed = 0;
let rejected = 0;
/** Parses `bytes`: success or a one-line CheckpointError; anything else (or a slow case) fails the test. */
function check(bytes: Uint8Array, label: string): void {
  const t0 = performance.now();
  try {
    parseCheckpoint(bytes);
    parsed++;
  } catch (e) {
    if (!(e instanceof CheckpointError)) {
      throw new Error(
        `${label}: ${e instanceof Error ? `${e.name}: ${e.message}` : String(e)} is not a CheckpointError`,
      );
    }
    if (e.message.includes('\n')) throw new Error(`${label}: multi-line message`);
    rejected++;
  }
  maxMs = Math.max(maxMs, performance.now() - t0);
}

describe('PyTorch reader fuzz (>= 10,000 malformed files, 0 crashes)', () => {
  it('the base files parse', () => {
    for (const b of [ZIP, LEGACY]) {
      const c = parseCheckpoint(b);
      expect(Object.keys(c.tensors)).toEqual(['a.weight', 'b', 'c']);
      expect(c.refusedGlobals).toEqual(['yacs.config.CfgNode']);
    }
  });

  it('every truncation of the zip and legacy files', () => {
    let n = 0;
    for (const base of [ZIP, LEGACY]) {
      for (let len = 0; len < base.length; len++, n++) check(base.subarray(0, len), `truncate ${len}`);
    }
    expect(n).toBeGreaterThan(1800);
  });

  it('random bit flips and byte overwrites (3,000 files)', () => {
    const rnd = mulberry32(1);
    for (let i = 0; i < 3000; i++) {
      const b = (i % 2 ? ZIP : LEGACY).slice();
      const flips = 1 + Math.floor(rnd() * 8);
      for (let f = 0; f < flips; f++) {
        const at = Math.floor(rnd() * b.length);
        if (rnd() < 0.5) b[at] ^= 1 << Math.floor(rnd() * 8);
        else b[at] = Math.floor(rnd() * 256);
      }
      check(b, `flip #${i}`);
    }
  });

  it('bad opcodes and spliced pickles inside valid containers (2,000 files)', () => {
    const rnd = mulberry32(2);
    for (let i = 0; i < 2000; i++) {
      const p = Array.from(PKL);
      const edits = 1 + Math.floor(rnd() * 4);
      for (let e = 0; e < edits; e++) {
        const at = 2 + Math.floor(rnd() * (p.length - 2));
        const r = rnd();
        if (r < 0.4) p[at] = Math.floor(rnd() * 256);
        else if (r < 0.7) p.splice(at, 0, Math.floor(rnd() * 256), Math.floor(rnd() * 256));
        else p.splice(at, 1 + Math.floor(rnd() * 8));
      }
      const pkl = Uint8Array.from(p);
      const data = tensors.map((t) => t.data);
      check(
        i % 2
          ? torchZip(pkl, data)
          : torchLegacy(
              pkl,
              tensors.map((t) => ({ numel: t.numel, data: t.data })),
            ),
        `splice #${i}`,
      );
    }
  });

  it('lying sizes: zip directory counts/offsets/entry sizes, zip64 fields, legacy storage counts, string lengths (1,500 files)', () => {
    const rnd = mulberry32(3);
    const dv = (b: Uint8Array) => new DataView(b.buffer, b.byteOffset, b.byteLength);
    const eocd = ZIP.length - 22;
    expect(dv(ZIP).getUint32(eocd, true)).toBe(0x06054b50);
    const cdOff = dv(ZIP).getUint32(eocd + 16, true);
    const huge = [0xffffffff, 0x7fffffff, 0x80000000, 0xfffffffe, 65535, 1 << 30];
    for (let i = 0; i < 500; i++) {
      const b = ZIP.slice();
      const v = dv(b);
      const pick = huge[Math.floor(rnd() * huge.length)] ?? 0;
      switch (i % 5) {
        case 0: // entry counts
          v.setUint16(eocd + 8, pick & 0xffff, true);
          v.setUint16(eocd + 10, pick & 0xffff, true);
          break;
        case 1: // directory size / offset
          v.setUint32(eocd + (rnd() < 0.5 ? 12 : 16), pick, true);
          break;
        case 2: {
          // a central-directory entry's sizes (compressed / uncompressed) and compression method
          let o = cdOff;
          const skip = Math.floor(rnd() * 5);
          for (let k = 0; k < skip && v.getUint32(o, true) === 0x02014b50; k++) {
            o += 46 + v.getUint16(o + 28, true) + v.getUint16(o + 30, true) + v.getUint16(o + 32, true);
          }
          v.setUint32(o + 20, pick, true);
          v.setUint32(o + 24, pick, true);
          if (rnd() < 0.5) v.setUint16(o + 10, 8, true); // claim deflate with a huge uncompressed size
          break;
        }
        case 3: {
          // a local header's name/extra lengths
          const at = Math.floor(rnd() * (b.length - 40));
          const lh = b.indexOf(0x50, at);
          if (lh >= 0 && lh + 30 < b.length) v.setUint16(lh + 26, pick & 0xffff, true);
          break;
        }
        case 4: {
          // a fake zip64 locator in front of the end record
          const z = new Uint8Array(b.length + 20);
          z.set(b.subarray(0, eocd));
          const zv = dv(z);
          zv.setUint32(eocd, 0x07064b50, true);
          zv.setBigUint64(eocd + 8, BigInt(Math.floor(rnd() * 2 ** 52)), true);
          z.set(b.subarray(eocd), eocd + 20);
          check(z, `zip64 #${i}`);
          continue;
        }
      }
      check(b, `zip size #${i}`);
    }
    // legacy: the int64 element count before each storage
    const legacyDataStart = LEGACY.length - tensors.reduce((a, t) => a + 8 + t.data.length, 0);
    for (let i = 0; i < 500; i++) {
      const b = LEGACY.slice();
      const v = dv(b);
      let o = legacyDataStart;
      const which = i % tensors.length;
      for (let k = 0; k < which; k++) o += 8 + tensors[k].data.length;
      const values = [2n ** 63n - 1n, -1n, 2n ** 40n, 0n, BigInt(Math.floor(rnd() * 1e9))];
      v.setBigInt64(o, values[i % values.length], true);
      check(b, `legacy count #${i}`);
    }
    // string / bytes lengths inside the pickle
    for (let i = 0; i < 500; i++) {
      const len = [0xffffffff, 0x7fffffff, 1 << 20, 4096, Math.floor(rnd() * 2 ** 32)][i % 5];
      const op = [0x58, 0x42, 0x8d, 0x8e, 0x96, 0x54][i % 6];
      const head = [0x80, 4, op, len & 0xff, (len >>> 8) & 0xff, (len >>> 16) & 0xff, len >>> 24];
      if (op === 0x8d || op === 0x8e || op === 0x96) head.push(Math.floor(rnd() * 256), 0, 0, 0);
      check(torchZip(Uint8Array.from([...head, 0x2e]), []), `length #${i}`);
    }
  });

  it('deep nesting, self-references, huge memo indices and garbage with valid magic (1,500 files)', () => {
    const rnd = mulberry32(4);
    for (let i = 0; i < 300; i++) {
      // a few very deep programs (up to 200,000 levels), most shallower
      const depth = 1 + Math.floor(rnd() * (i % 30 === 0 ? 200_000 : 3000));
      const w = new PickleWriter().proto(2);
      if (i % 3 === 0) for (let d = 0; d < depth; d++) w.mark();
      else if (i % 3 === 1) {
        // lists nested `depth` deep: ] ] ] ... a a a
        for (let d = 0; d < depth; d++) w.emptyList();
        for (let d = 1; d < depth; d++) w.raw(0x61);
      } else {
        // a dict that contains itself, deeply wrapped in tuples
        w.emptyDict().binput(0).str('self').binget(0).setitem();
        for (let d = 0; d < Math.min(depth, 5000); d++) w.tupleN(1);
      }
      w.stop();
      const pkl = w.bytes();
      check(i % 2 ? torchZip(pkl, []) : torchLegacy(pkl, []), `nest #${i}`);
    }
    // a state_dict next to a very deep value: weights load, the deep value is cut in `extra`
    const w = new PickleWriter().proto(2).emptyDict().mark().str('model');
    stateDictOps(w, tensors.slice(0, 1));
    w.str('deep');
    for (let d = 0; d < 100_000; d++) w.emptyList();
    for (let d = 1; d < 100_000; d++) w.raw(0x61);
    w.str('loop').emptyList().binput(9).binget(9).raw(0x61).setitems().stop();
    const c = parseCheckpoint(torchZip(w.bytes(), [tensors[0].data]));
    expect(Object.keys(c.tensors)).toEqual(['a.weight']);
    expect(JSON.stringify(c.extra)).toContain('[too deep]');
    expect(JSON.stringify(c.extra.loop)).toBe('["[circular]"]');
    for (let i = 0; i < 600; i++) {
      const idx = Math.floor(rnd() * 2 ** 32);
      const b = [0x80, 2, 0x4e, 0x72, idx & 0xff, (idx >>> 8) & 0xff, (idx >>> 16) & 0xff, idx >>> 24];
      const g = Math.floor(rnd() * 2 ** 32);
      b.push(0x6a, g & 0xff, (g >>> 8) & 0xff, (g >>> 16) & 0xff, g >>> 24, 0x2e);
      check(i % 2 ? torchZip(Uint8Array.from(b), []) : torchLegacy(Uint8Array.from(b), []), `memo #${i}`);
    }
    for (let i = 0; i < 600; i++) {
      const n = 10 + Math.floor(rnd() * 2000);
      const b = new Uint8Array(n);
      for (let k = 0; k < n; k++) b[k] = Math.floor(rnd() * 256);
      const kind = i % 3;
      if (kind === 0) b.set([0x80, 2]);
      else if (kind === 1) b.set([0x50, 0x4b, 3, 4]);
      else b.set([n & 0xff, 0, 0, 0, 0, 0, 0, 0, 0x7b].slice(0, Math.min(9, n)));
      check(b, `garbage #${i}`);
    }
  });

  it('mutations of a real torch.save pickle (swin_32_f16.pth data.pkl, 600 files)', () => {
    const dir = fileURLToPath(new URL('../../../../shared/fixtures/checkpoints/', import.meta.url));
    const files = unzipSync(new Uint8Array(readFileSync(`${dir}swin_32_f16.pth`)));
    const pklName = Object.keys(files).find((n) => n.endsWith('data.pkl'))!;
    const pkl = files[pklName];
    const rnd = mulberry32(5);
    for (let i = 0; i < 600; i++) {
      const b = pkl.slice();
      for (let f = 0; f < 1 + Math.floor(rnd() * 4); f++)
        b[Math.floor(rnd() * b.length)] = Math.floor(rnd() * 256);
      // storages are missing on purpose: a tensor that survives the mutation must fail cleanly too
      check(torchZip(i % 3 === 0 ? b.subarray(0, Math.floor(rnd() * b.length)) : b, []), `real #${i}`);
    }
  });

  it('summary: >= 10,000 files, every one parsed or rejected with a CheckpointError, none slow', () => {
    expect(parsed + rejected).toBeGreaterThanOrEqual(10_000);
    expect(rejected).toBeGreaterThan(parsed);
    // a generous per-file bound for a loaded 2-core machine; files are a few KB
    expect(maxMs).toBeLessThan(2000);
  });
});
