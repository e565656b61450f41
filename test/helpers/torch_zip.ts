import { deflateRawSync, constants } from 'node:zlib';
import { crc32 } from 'node:zlib';

/**
 * Hand-built PyTorch checkpoints for hostile-input tests: a ZIP writer whose every field can lie
 * and a pickle writer for state_dicts, so tests can make what torch.save never would.
 */
export interface ZipInput {
  name: string;
  /** The bytes as stored in the archive (already deflated when method is 8). */
  data: Uint8Array;
  method?: 0 | 8;
  /** Declared uncompressed size (default: data.length for stored entries). */
  size?: number;
  /** Declared CRC (default: computed from `raw` or from stored data). */
  crc?: number;
  /** Uncompressed bytes, for the CRC of deflated entries. */
  raw?: Uint8Array;
}

export function zipArchive(entries: ZipInput[], options: { declaredCount?: number } = {}): Uint8Array {
  const enc = new TextEncoder();
  const parts: Uint8Array[] = [];
  const central: Uint8Array[] = [];
  let offset = 0;
  for (const e of entries) {
    const name = enc.encode(e.name);
    const method = e.method ?? 0;
    const size = e.size ?? (e.raw ? e.raw.length : e.data.length);
    const crc = e.crc ?? crc32(e.raw ?? e.data);
    const local = new Uint8Array(30 + name.length);
    const l = new DataView(local.buffer);
    l.setUint32(0, 0x04034b50, true);
    l.setUint16(4, 20, true);
    l.setUint16(8, method, true);
    l.setUint32(14, crc, true);
    l.setUint32(18, e.data.length, true);
    l.setUint32(22, size, true);
    l.setUint16(26, name.length, true);
    local.set(name, 30);
    const cd = new Uint8Array(46 + name.length);
    const c = new DataView(cd.buffer);
    c.setUint32(0, 0x02014b50, true);
    c.setUint16(4, 20, true);
    c.setUint16(6, 20, true);
    c.setUint16(10, method, true);
    c.setUint32(16, crc, true);
    c.setUint32(20, e.data.length, true);
    c.setUint32(24, size, true);
    c.setUint16(28, name.length, true);
    c.setUint32(42, offset, true);
    cd.set(name, 46);
    parts.push(local, e.data);
    central.push(cd);
    offset += local.length + e.data.length;
  }
  const cdSize = central.reduce((n, p) => n + p.length, 0);
  const eocd = new Uint8Array(22);
  const d = new DataView(eocd.buffer);
  d.setUint32(0, 0x06054b50, true);
  const count = options.declaredCount ?? entries.length;
  d.setUint16(8, Math.min(count, 0xffff), true);
  d.setUint16(10, Math.min(count, 0xffff), true);
  d.setUint32(12, cdSize, true);
  d.setUint32(16, offset, true);
  return concat([...parts, ...central, eocd]);
}

/** A deflate stream of `mib` MiB of zeros, built without holding them: full-flush blocks repeat. */
export function deflatedZeros(mib: number): Uint8Array {
  zeroBlock ??= deflateRawSync(new Uint8Array(1 << 20), { finishFlush: constants.Z_FULL_FLUSH, level: 9 });
  const block = zeroBlock;
  return concat([...Array.from({ length: mib }, () => block), Uint8Array.of(0x03, 0x00)]);
}
let zeroBlock: Uint8Array | undefined;

export function concat(parts: Uint8Array[]): Uint8Array {
  const out = new Uint8Array(parts.reduce((n, p) => n + p.length, 0));
  let o = 0;
  for (const p of parts) { out.set(p, o); o += p.length; }
  return out;
}

/** One tensor of a state_dict pickle. */
export interface PickledTensor {
  name: string;
  storage: string;
  storageType?: string;
  /** Elements the storage declares. */
  storageNumel: number;
  offset?: number;
  size: number[];
  stride: number[];
}

/** Pickle (protocol 2) of an OrderedDict of `_rebuild_tensor_v2` calls, as torch.save writes it. */
export function pickleStateDict(tensors: PickledTensor[]): Uint8Array {
  const out: number[] = [0x80, 0x02];
  const enc = new TextEncoder();
  const str = (s: string): void => { const b = enc.encode(s); out.push(0x58, ...u32(b.length), ...b); };
  const int = (v: number): void => {
    if (v >= 0 && v < 2 ** 31) out.push(0x4a, ...u32(v));
    else { const b = new DataView(new ArrayBuffer(8)); b.setBigInt64(0, BigInt(v), true); out.push(0x8a, 8, ...new Uint8Array(b.buffer)); }
  };
  const global = (module: string, name: string): void => { out.push(0x63, ...enc.encode(`${module}\n${name}\n`)); };
  const tuple = (items: number[]): void => { out.push(0x28); items.forEach(int); out.push(0x74); };
  global('collections', 'OrderedDict');
  out.push(0x29, 0x52); // EMPTY_TUPLE, REDUCE
  out.push(0x28); // MARK (SETITEMS)
  for (const t of tensors) {
    str(t.name);
    global('torch._utils', '_rebuild_tensor_v2');
    out.push(0x28); // MARK args
    out.push(0x28); // MARK pid
    str('storage');
    global('torch', t.storageType ?? 'FloatStorage');
    str(t.storage);
    str('cpu');
    int(t.storageNumel);
    out.push(0x74, 0x51); // TUPLE, BINPERSID
    int(t.offset ?? 0);
    tuple(t.size);
    tuple(t.stride);
    out.push(0x89); // False (requires_grad)
    global('collections', 'OrderedDict');
    out.push(0x29, 0x52); // backward hooks: OrderedDict()
    out.push(0x74, 0x52); // TUPLE, REDUCE
  }
  out.push(0x75, 0x2e); // SETITEMS, STOP
  return Uint8Array.from(out);
}

function u32(v: number): number[] {
  return [v & 0xff, (v >>> 8) & 0xff, (v >>> 16) & 0xff, (v >>> 24) & 0xff];
}

/** Contiguous row-major strides of a shape. */
export function contiguous(shape: readonly number[]): number[] {
  const s = new Array<number>(shape.length).fill(1);
  for (let i = shape.length - 2; i >= 0; i--) s[i] = s[i + 1]! * shape[i + 1]!;
  return s;
}

/** A checkpoint archive: `archive/data.pkl`, `archive/byteorder`, `archive/data/<key>` (stored). */
export function torchCheckpoint(tensors: PickledTensor[], storages: Map<string, Uint8Array>, extra: ZipInput[] = []): Uint8Array {
  return zipArchive([
    { name: 'archive/data.pkl', data: pickleStateDict(tensors) },
    { name: 'archive/byteorder', data: new TextEncoder().encode('little') },
    ...[...storages].map(([k, data]) => ({ name: `archive/data/${k}`, data })),
    ...extra,
  ]);
}
