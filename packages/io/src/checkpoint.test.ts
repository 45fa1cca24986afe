import { readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import * as tf from '@tensorflow/tfjs';
import { describe, expect, it } from 'vitest';
import { checkpointToTensors, parseCheckpoint, rawToTensor } from './checkpoint.js';
import type { RawTensor } from './dtypes.js';
import { CheckpointError } from './errors.js';
import { numberToFloat16Bits, readSafetensorsRaw, writeSafetensors } from './safetensors.js';
import {
  f32Bytes,
  PickleWriter,
  stateDictOps,
  type TestTensor,
  torchLegacy,
  torchZip,
} from './test-utils/pickle-writer.js';

const CKPT_DIR = fileURLToPath(new URL('../../../../shared/fixtures/checkpoints/', import.meta.url));

interface ManifestCase {
  file: string;
  source_fixture: string;
  state_dict_at: string;
  dtype: 'F32' | 'F16' | 'BF16';
  keys: number;
  note: string;
}
const manifest = JSON.parse(readFileSync(`${CKPT_DIR}manifest.json`, 'utf8')) as { cases: ManifestCase[] };

/** Bits of a raw tensor as an array of numbers / bigints (compares NaN payloads too). */
function bits(t: RawTensor): (number | bigint)[] {
  const d = t.data;
  if (d instanceof Float32Array) return Array.from(new Uint32Array(d.buffer, d.byteOffset, d.length));
  if (d instanceof BigInt64Array) return Array.from(d);
  return Array.from(d as Uint16Array);
}

describe('the shared torch.save fixtures', () => {
  for (const c of manifest.cases) {
    it(`${c.file}: ${c.note}`, () => {
      const ckpt = parseCheckpoint(new Uint8Array(readFileSync(CKPT_DIR + c.file)));
      const src = readSafetensorsRaw(new Uint8Array(readFileSync(CKPT_DIR + c.source_fixture)));
      expect(ckpt.format).toBe(c.file.includes('legacy') ? 'torch-legacy' : 'torch-zip');
      expect(ckpt.wrapper).toBe(c.state_dict_at);
      expect(ckpt.refusedGlobals).toEqual([]);
      const want = [...src.tensors.keys()].filter((k) => k.startsWith('state_dict.'));
      expect(Object.keys(ckpt.tensors)).toEqual(want.map((k) => k.slice('state_dict.'.length)));
      expect(want.length).toBe(c.keys);
      for (const k of want) {
        const ref = src.tensors.get(k)!;
        const got = ckpt.tensors[k.slice('state_dict.'.length)];
        expect(got.shape, k).toEqual(ref.shape);
        if (ref.dtype === 'F32') {
          expect(got.dtype, k).toBe(c.dtype);
          if (c.dtype === 'F16') {
            const f = ref.data as Float32Array;
            expect(got.data).toBeInstanceOf(Uint16Array);
            expect(Array.from(got.data as Uint16Array), k).toEqual(
              Array.from(f, (v) => numberToFloat16Bits(v)),
            );
          } else {
            expect(got.data).toBeInstanceOf(Float32Array);
            expect(bits(got), k).toEqual(bits(ref));
          }
        } else {
          expect(got.dtype, k).toBe(ref.dtype);
          expect(bits(got), k).toEqual(bits(ref));
        }
      }
    });
  }

  it('the training checkpoint gives the weights; optimizer state and plain values stay inert data', () => {
    const ckpt = parseCheckpoint(new Uint8Array(readFileSync(`${CKPT_DIR}shunted_64_train.pth`)));
    expect(ckpt.wrapper).toBe('model');
    expect(ckpt.candidates).toEqual(['model']);
    expect(Object.keys(ckpt.extra).sort()).toEqual(['epoch', 'lr_scheduler', 'max_accuracy', 'optimizer']);
    expect(ckpt.extra.epoch).toBe(299);
    expect(ckpt.extra.max_accuracy).toBe(81.2);
    // optimizer tensors are summarised (dtype and shape), never materialised
    const state = (ckpt.extra.optimizer as { state: Record<string, Record<string, unknown>> }).state;
    expect(state['0'].exp_avg).toEqual({ __tensor__: { dtype: 'F32', shape: [64, 3, 7, 7] } });
    expect(JSON.stringify(ckpt.extra).length).toBeLessThan(200_000);
  });

  it('loads into tfjs tensors: floats -> float32, int64 -> int32; nothing leaks', () => {
    const ckpt = parseCheckpoint(new Uint8Array(readFileSync(`${CKPT_DIR}swin_32_f16.pth`)));
    const before = tf.memory().numTensors;
    const ts = checkpointToTensors(ckpt);
    expect(ts.absolute_pos_embed.dtype).toBe('float32');
    expect(ts['layers.0.blocks.0.attn.relative_position_index'].dtype).toBe('int32');
    tf.dispose(Object.values(ts));
    expect(tf.memory().numTensors).toBe(before);
  });
});

const T = (name: string, values: number[], shape: number[]): TestTensor => ({
  name,
  storage: 'FloatStorage',
  data: f32Bytes(values),
  numel: values.length,
  shape,
});

describe('wrappers and prefixes', () => {
  const sd = [T('module.a', [1, 2], [2]), T('module.b.weight', [3], [1])];
  const plainZip = () => {
    const w = new PickleWriter().proto(2);
    stateDictOps(w, sd).stop();
    return torchZip(
      w.bytes(),
      sd.map((t) => t.data),
    );
  };
  const wrapped = (keys: string[]) => {
    const w = new PickleWriter().proto(2).emptyDict().mark();
    for (const k of keys) {
      w.str(k);
      stateDictOps(w, sd);
    }
    w.str('epoch').int(3).setitems().stop();
    return torchZip(
      w.bytes(),
      sd.map((t) => t.data),
    );
  };

  it("strips DDP 'module.' prefixes", () => {
    const c = parseCheckpoint(plainZip());
    expect(Object.keys(c.tensors)).toEqual(['a', 'b.weight']);
    expect(Array.from(c.tensors.a.data as Float32Array)).toEqual([1, 2]);
  });

  it('default order prefers model over state_dict over model_ema; the option picks one', () => {
    const bytes = wrapped(['model_ema', 'state_dict', 'model']);
    const c = parseCheckpoint(bytes);
    expect(c.wrapper).toBe('model');
    expect(c.candidates).toEqual(['model_ema', 'state_dict', 'model']);
    expect(Object.keys(c.extra)).toEqual(['model_ema', 'state_dict', 'epoch']);
    expect(c.extra.epoch).toBe(3);
    expect(parseCheckpoint(bytes, { wrapper: 'model_ema' }).wrapper).toBe('model_ema');
    expect(parseCheckpoint(wrapped(['model_ema', 'state_dict'])).wrapper).toBe('state_dict');
    expect(parseCheckpoint(wrapped(['model_ema'])).wrapper).toBe('model_ema');
    expect(parseCheckpoint(wrapped(['weights_custom'])).wrapper).toBe('weights_custom');
  });

  it('a missing wrapper is an error listing the candidates', () => {
    expect(() => parseCheckpoint(wrapped(['model', 'model_ema']), { wrapper: 'ema' })).toThrow(
      /wrapper 'ema' not found or holds no tensors; state_dict candidates: 'model', 'model_ema'/,
    );
    expect(() => parseCheckpoint(wrapped(['model']), { wrapper: '' })).toThrow(CheckpointError);
    expect(parseCheckpoint(plainZip(), { wrapper: '' }).wrapper).toBe('');
  });

  it('safetensors files come back in their stored dtypes', () => {
    const bytes = writeSafetensors({
      'module.x': { shape: [2], data: new Float64Array([1.5, -2]) },
      y: { shape: [3], data: new Uint8Array([1, 0, 1]), dtype: 'BOOL' },
      z: { shape: [1], data: new BigInt64Array([-5n]) },
    });
    const c = parseCheckpoint(bytes);
    expect(c.format).toBe('safetensors');
    expect(c.tensors.x.dtype).toBe('F64');
    expect(Array.from(c.tensors.x.data as Float64Array)).toEqual([1.5, -2]);
    expect(c.tensors.y.dtype).toBe('BOOL');
    expect(Array.from(c.tensors.z.data as BigInt64Array)).toEqual([-5n]);
  });
});

describe('storages, views and dtypes', () => {
  it('transposed views, offsets and shared storages are gathered into contiguous copies (zip and legacy)', () => {
    // storage 0: 6 floats [0..5]; 'w' = a 2x3 view, 'wt' = its transpose (stride [1,3]), 'tail' = offset 4
    const w = new PickleWriter().proto(2).emptyDict().mark();
    const ops = (name: string, offset: number, size: number[], stride: number[]) => {
      w.str(name).global('torch._utils', '_rebuild_tensor_v2').mark();
      w.mark().str('storage').global('torch', 'FloatStorage').str('0').str('cpu').int(6).tuple().binpersid();
      w.int(offset).mark();
      for (const s of size) w.int(s);
      w.tuple().mark();
      for (const s of stride) w.int(s);
      w.tuple().bool(false).global('collections', 'OrderedDict').tupleN(0).reduce().tuple().reduce();
    };
    ops('w', 0, [2, 3], [3, 1]);
    ops('wt', 0, [3, 2], [1, 3]);
    ops('tail', 4, [2], [1]);
    ops('scalar', 5, [], []);
    w.setitems().stop();
    const storage = f32Bytes([0, 1, 2, 3, 4, 5]);
    for (const bytes of [
      torchZip(w.bytes(), [storage]),
      torchLegacy(w.bytes(), [{ numel: 6, data: storage }]),
    ]) {
      const c = parseCheckpoint(bytes);
      expect(Array.from(c.tensors.w.data as Float32Array)).toEqual([0, 1, 2, 3, 4, 5]);
      expect(Array.from(c.tensors.wt.data as Float32Array)).toEqual([0, 3, 1, 4, 2, 5]);
      expect(c.tensors.wt.shape).toEqual([3, 2]);
      expect(Array.from(c.tensors.tail.data as Float32Array)).toEqual([4, 5]);
      expect(c.tensors.scalar.shape).toEqual([]);
      expect(Array.from(c.tensors.scalar.data as Float32Array)).toEqual([5]);
    }
  });

  it('legacy view metadata, big-endian files, parameters and the torch 2.x rebuild forms', () => {
    // legacy pid with view metadata: ('storage', FloatStorage, '0', 'cpu', 6, ('v', 2, 3))
    const lw = new PickleWriter()
      .proto(2)
      .emptyDict()
      .str('v')
      .global('torch._utils', '_rebuild_tensor_v2')
      .mark();
    lw.mark().str('storage').global('torch', 'FloatStorage').str('0').str('cpu').int(6);
    lw.str('v').int(2).int(3).tupleN(3).tuple().binpersid();
    lw.int(0)
      .mark()
      .int(3)
      .tuple()
      .mark()
      .int(1)
      .tuple()
      .bool(false)
      .none()
      .tuple()
      .reduce()
      .setitem()
      .stop();
    const legacy = parseCheckpoint(
      torchLegacy(lw.bytes(), [{ numel: 6, data: f32Bytes([0, 1, 2, 3, 4, 5]) }]),
    );
    expect(Array.from(legacy.tensors.v.data as Float32Array)).toEqual([2, 3, 4]);

    // big-endian zip (byteorder record 'big')
    const bw = new PickleWriter().proto(2);
    stateDictOps(bw, [
      { name: 'x', storage: 'FloatStorage', data: new Uint8Array(8), numel: 2, shape: [2] },
    ]).stop();
    const be = new Uint8Array(8);
    new DataView(be.buffer).setFloat32(0, 1.5, false);
    new DataView(be.buffer).setFloat32(4, -2, false);
    const big = parseCheckpoint(
      torchZip(bw.bytes(), [be], { 'archive/byteorder': new TextEncoder().encode('big') }),
    );
    expect(Array.from(big.tensors.x.data as Float32Array)).toEqual([1.5, -2]);

    // Parameter wrappers and _rebuild_tensor_v3 over an untyped storage with a dtype
    const args = (w: PickleWriter, storage: string, numel: number) => {
      w.mark().str('storage').global('torch', storage).str('0').str('cpu').int(numel).tuple().binpersid();
      w.int(0).mark().int(2).tuple().mark().int(1).tuple().bool(false).none();
    };
    const fixed = new PickleWriter().proto(2).emptyDict();
    fixed.str('q').global('torch._tensor', '_rebuild_from_type_v2').mark();
    fixed.global('torch._utils', '_rebuild_tensor_v2').global('torch.nn.parameter', 'Parameter').mark();
    args(fixed, 'FloatStorage', 2);
    fixed.tuple().emptyDict().tuple().reduce().setitem();
    fixed.str('h').global('torch._utils', '_rebuild_tensor_v3').mark();
    fixed
      .mark()
      .str('storage')
      .global('torch', 'UntypedStorage')
      .str('1')
      .str('cpu')
      .int(4)
      .tuple()
      .binpersid();
    fixed
      .int(0)
      .mark()
      .int(2)
      .tuple()
      .mark()
      .int(1)
      .tuple()
      .bool(false)
      .none()
      .global('torch', 'float16')
      .tuple()
      .reduce()
      .setitem();
    fixed
      .str('p')
      .global('torch._utils', '_rebuild_parameter')
      .mark()
      .global('torch._utils', '_rebuild_tensor_v2')
      .mark();
    args(fixed, 'FloatStorage', 2);
    fixed.tuple().reduce().bool(true).none().tuple().reduce().setitem().stop();
    const halfs = new Uint8Array(new Uint16Array([0x3c00, 0x4000]).buffer);
    const c = parseCheckpoint(torchZip(fixed.bytes(), [f32Bytes([5, 6]), halfs]));
    expect(c.refusedGlobals).toEqual([]);
    expect(Array.from(c.tensors.q.data as Float32Array)).toEqual([5, 6]);
    expect(Array.from(c.tensors.p.data as Float32Array)).toEqual([5, 6]);
    expect(c.tensors.h.dtype).toBe('F16');
    expect(Array.from(c.tensors.h.data as Uint16Array)).toEqual([0x3c00, 0x4000]);
  });

  it('every storage type maps to its dtype and typed array', () => {
    const cases: [string, TestTensor['data'], number, string, (d: ArrayBufferView) => unknown[]][] = [
      [
        'DoubleStorage',
        new Uint8Array(new Float64Array([1.25, -3]).buffer),
        2,
        'F64',
        (d) => Array.from(d as Float64Array),
      ],
      [
        'HalfStorage',
        new Uint8Array(new Uint16Array([0x3c00, 0xc000]).buffer),
        2,
        'F16',
        (d) => Array.from(d as Uint16Array),
      ],
      [
        'BFloat16Storage',
        new Uint8Array(new Uint16Array([0x3f80, 0x4000]).buffer),
        2,
        'BF16',
        (d) => Array.from(d as Uint16Array),
      ],
      [
        'LongStorage',
        new Uint8Array(new BigInt64Array([-1n, 2n ** 40n]).buffer),
        2,
        'I64',
        (d) => Array.from(d as BigInt64Array),
      ],
      [
        'IntStorage',
        new Uint8Array(new Int32Array([-7, 9]).buffer),
        2,
        'I32',
        (d) => Array.from(d as Int32Array),
      ],
      [
        'ShortStorage',
        new Uint8Array(new Int16Array([-7, 9]).buffer),
        2,
        'I16',
        (d) => Array.from(d as Int16Array),
      ],
      [
        'CharStorage',
        new Uint8Array(new Int8Array([-7, 9]).buffer),
        2,
        'I8',
        (d) => Array.from(d as Int8Array),
      ],
      ['ByteStorage', new Uint8Array([200, 9]), 2, 'U8', (d) => Array.from(d as Uint8Array)],
      ['BoolStorage', new Uint8Array([1, 0]), 2, 'BOOL', (d) => Array.from(d as Uint8Array)],
    ];
    for (const [storage, data, numel, dtype, read] of cases) {
      const w = new PickleWriter().proto(2);
      stateDictOps(w, [{ name: 't', storage, data, numel, shape: [numel] }]).stop();
      const c = parseCheckpoint(torchZip(w.bytes(), [data]));
      expect(c.tensors.t.dtype, storage).toBe(dtype);
      const expected =
        dtype === 'I64'
          ? [-1n, 2n ** 40n]
          : dtype === 'F64'
            ? [1.25, -3]
            : read(
                new (c.tensors.t.data.constructor as new (b: ArrayBuffer) => ArrayBufferView)(
                  data.slice().buffer,
                ),
              );
      expect(read(c.tensors.t.data), storage).toEqual(expected);
    }
  });

  it('rawToTensor: I64 outside int32 is a clear error; BF16/F16 decode exactly; BOOL -> bool', () => {
    expect(() =>
      rawToTensor({ dtype: 'I64', shape: [1], data: new BigInt64Array([2n ** 40n]) }, 'k'),
    ).toThrow(/k: I64 value 1099511627776 at flat index 0 is outside the int32 range/);
    const before = tf.memory().numTensors;
    const a = rawToTensor({ dtype: 'BF16', shape: [2], data: new Uint16Array([0x3f80, 0xc040]) });
    const b = rawToTensor({ dtype: 'F16', shape: [2], data: new Uint16Array([0x3c00, 0x0001]) });
    const c = rawToTensor({ dtype: 'BOOL', shape: [2], data: new Uint8Array([1, 0]) });
    expect(Array.from(a.dataSync())).toEqual([1, -3]);
    expect(Array.from(b.dataSync())).toEqual([1, Math.fround(2 ** -24)]);
    expect(c.dtype).toBe('bool');
    tf.dispose([a, b, c]);
    expect(tf.memory().numTensors).toBe(before);
  });

  it('stride-0 (expanded) views are gathered, but may not allocate far more than the file holds', () => {
    const view = (size: number[], stride: number[], copies = 1) => {
      const w = new PickleWriter().proto(2).emptyDict();
      for (let i = 0; i < copies; i++) {
        w.str(i === 0 ? 'w' : `w${i}`)
          .global('torch._utils', '_rebuild_tensor_v2')
          .mark();
        w.mark()
          .str('storage')
          .global('torch', 'FloatStorage')
          .str('0')
          .str('cpu')
          .int(2)
          .tuple()
          .binpersid();
        w.int(0).mark();
        for (const s of size) w.int(s);
        w.tuple().mark();
        for (const s of stride) w.int(s);
        w.tuple().bool(false).none().tuple().reduce().setitem();
      }
      return torchZip(w.stop().bytes(), [f32Bytes([7, 8])]);
    };
    const c = parseCheckpoint(view([3, 2], [0, 1]));
    expect(Array.from(c.tensors.w.data as Float32Array)).toEqual([7, 8, 7, 8, 7, 8]);
    const t0 = performance.now();
    expect(() => parseCheckpoint(view([1_000_000_000], [0]))).toThrow(
      /would allocate more than 67108864 bytes/,
    );
    expect(() => parseCheckpoint(view([4096, 4096], [0, 0], 5))).toThrow(
      /would take 335544320 bytes from a file of/,
    );
    expect(performance.now() - t0).toBeLessThan(2000);
  });

  it('a view reaching past its storage, a short storage record and a size mismatch are clear errors', () => {
    const w = new PickleWriter()
      .proto(2)
      .emptyDict()
      .str('w')
      .global('torch._utils', '_rebuild_tensor_v2')
      .mark();
    w.mark().str('storage').global('torch', 'FloatStorage').str('0').str('cpu').int(4).tuple().binpersid();
    w.int(2).mark().int(3).tuple().mark().int(1).tuple().bool(false).none().tuple().reduce().setitem().stop();
    expect(() => parseCheckpoint(torchZip(w.bytes(), [f32Bytes([1, 2, 3, 4])]))).toThrow(
      /view \[offset 2, size \(3\), stride \(1\)\] reaches element 4 of a storage of 4 elements/,
    );
    const ok = new PickleWriter().proto(2);
    stateDictOps(ok, [T('a', [1, 2, 3], [3])]).stop();
    expect(() => parseCheckpoint(torchZip(ok.bytes(), [f32Bytes([1, 2])]))).toThrow(
      /storage '0' holds 8 bytes but needs 12/,
    );
    expect(() => parseCheckpoint(torchLegacy(ok.bytes(), [{ numel: 2, data: f32Bytes([1, 2]) }]))).toThrow(
      /legacy: storage ''0'' has 2 elements, its tensors say 3/,
    );
  });
});
