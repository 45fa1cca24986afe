/**
 * A minimal legacy (pre-1.6) `torch.save` file written byte by byte, as PyTorch writes it: magic number,
 * protocol, system info, the object pickle, the storage keys, the raw storages. The object is
 * `{'model': OrderedDict(w=tensor([1.5, -2.0])), 'cfg': yacs.config.CfgNode()}`: a training checkpoint whose
 * config needs a global outside the allow-list.
 */
const enc = new TextEncoder();

function bytes(...parts: (number[] | Uint8Array | string)[]): Uint8Array {
  const chunks = parts.map((p) => (typeof p === 'string' ? enc.encode(p) : Uint8Array.from(p)));
  const out = new Uint8Array(chunks.reduce((n, c) => n + c.length, 0));
  let o = 0;
  for (const c of chunks) {
    out.set(c, o);
    o += c.length;
  }
  return out;
}

/** BINUNICODE: 'X' + uint32 LE length + UTF-8. */
function str(s: string): Uint8Array {
  const b = enc.encode(s);
  return bytes([0x58, b.length & 0xff, (b.length >> 8) & 0xff, 0, 0], b);
}

const PROTO2 = [0x80, 0x02];
const MARK = [0x28];
const STOP = '.';

/** The file's bytes; `global` replaces `yacs.config.CfgNode` (module and name). */
export function legacyCheckpointWithRefusedGlobal(
  global: [string, string] = ['yacs.config', 'CfgNode'],
): Uint8Array {
  const magic = bytes(PROTO2, [0x8a, 0x0a, 0x6c, 0xfc, 0x9c, 0x46, 0xf9, 0x20, 0x6a, 0xa8, 0x50, 0x19], STOP);
  const protocol = bytes(PROTO2, [0x4d, 0xe9, 0x03], STOP); // BININT2 1001
  const sysInfo = bytes(PROTO2, '}', MARK, str('little_endian'), [0x88], 'u', STOP); // {'little_endian': True}
  const tensor = bytes(
    'ctorch._utils\n_rebuild_tensor_v2\n',
    MARK,
    // persistent id ('storage', torch.FloatStorage, '0', 'cpu', 2, None)
    MARK,
    str('storage'),
    'ctorch\nFloatStorage\n',
    str('0'),
    str('cpu'),
    [0x4b, 2], // BININT1 2
    'N',
    't',
    'Q', // BINPERSID
    [0x4b, 0], // offset 0
    [0x4b, 2, 0x85], // size (2,)
    [0x4b, 1, 0x85], // stride (1,)
    [0x89], // requires_grad False
    'ccollections\nOrderedDict\n)R', // backward hooks
    't',
    'R',
  );
  const object = bytes(
    PROTO2,
    '}',
    MARK,
    str('model'),
    'ccollections\nOrderedDict\n)R',
    MARK,
    str('w'),
    tensor,
    'u',
    str('cfg'),
    `c${global[0]}\n${global[1]}\n)R`,
    'u',
    STOP,
  );
  const keys = bytes(PROTO2, ']', MARK, str('0'), 'e', STOP);
  const data = new Uint8Array(8 + 8);
  const dv = new DataView(data.buffer);
  dv.setBigInt64(0, 2n, true);
  dv.setFloat32(8, 1.5, true);
  dv.setFloat32(12, -2.0, true);
  return bytes(magic, protocol, sysInfo, object, keys, data);
}
