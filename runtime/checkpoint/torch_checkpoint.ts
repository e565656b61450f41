import { EdgestreamError } from '../errors.js';
import { bfloat16ToFloat, halfToFloat } from '../io/half.js';
import { PickleDict, PickleTuple, unpickle, type PickleObject, type PickleValue } from './pickle.js';
import { ZipArchive, type ZipEntry } from './zip_archive.js';

/**
 * Reads a PyTorch checkpoint saved by `torch.save(state_dict)` (the zip format of torch ≥ 1.6):
 * `<archive>/data.pkl` holds the pickled dict, `<archive>/data/<key>` the raw little-endian storages.
 * Nothing is executed: the pickle is interpreted by `unpickle` with a fixed set of known globals.
 *
 * Bounded by what the pickle declares and the archive holds (docs/command-line.md, Limits): only
 * the entries of tensors that are read are ever inflated, each capped at its storage's declared
 * size; a storage must be exactly as large as its archive entry; a tensor must lie inside its
 * storage without overlapping itself (no stride-0 broadcasting), so no tensor has more elements
 * than the bytes behind it.
 */
export type TorchDtype = 'float32' | 'float64' | 'float16' | 'bfloat16' | 'int64' | 'int32' | 'int16' | 'int8' | 'uint8' | 'bool' | 'complex64' | 'complex128';

export interface TorchTensor {
  readonly dtype: TorchDtype;
  readonly shape: readonly number[];
  /** The values as float32, contiguous row-major. Throws for complex dtypes. */
  toFloat32(): Float32Array;
}

const STORAGE_DTYPES: Record<string, TorchDtype> = {
  FloatStorage: 'float32', DoubleStorage: 'float64', HalfStorage: 'float16', BFloat16Storage: 'bfloat16',
  LongStorage: 'int64', IntStorage: 'int32', ShortStorage: 'int16', CharStorage: 'int8', ByteStorage: 'uint8',
  BoolStorage: 'bool', ComplexFloatStorage: 'complex64', ComplexDoubleStorage: 'complex128',
};
const ITEM: Record<TorchDtype, number> = {
  float32: 4, float64: 8, float16: 2, bfloat16: 2, int64: 8, int32: 4, int16: 2, int8: 1, uint8: 1, bool: 1, complex64: 8, complex128: 16,
};

interface StorageRef extends PickleObject { kind: 'storage'; dtype: TorchDtype; key: string; numel: number }
interface TensorRef extends PickleObject { kind: 'tensor'; storage: StorageRef; offset: number; size: number[]; stride: number[] }

/** The pickle of a state_dict is a few hundred KB; more is not a checkpoint. */
const MAX_PICKLE_BYTES = 64 << 20;

function fail(what: string, message: string, detail?: Record<string, unknown>): never {
  throw new EdgestreamError('E_CHECKPOINT', `${what}: ${message}`, detail);
}

function intList(v: PickleValue, what: string, field: string): number[] {
  if (!(v instanceof PickleTuple) || !v.items.every((x) => typeof x === 'number' && Number.isSafeInteger(x) && x >= 0)) {
    fail(what, `tensor ${field} is not a tuple of non-negative integers`);
  }
  return (v as PickleTuple).items as number[];
}

/** Parse the checkpoint into named tensors (data is read lazily, on `toFloat32`). */
export function readTorchCheckpoint(bytes: Uint8Array, what = 'checkpoint'): Map<string, TorchTensor> {
  if (bytes.length < 4 || bytes[0] !== 0x50 || bytes[1] !== 0x4b) {
    if (bytes.length >= 2 && bytes[0] === 0x80) {
      fail(what, 'this is a legacy (pre-1.6, non-zip) PyTorch checkpoint; re-save it with torch.save(..., _use_new_zipfile_serialization=True)');
    }
    fail(what, 'not a PyTorch checkpoint (expected a zip archive written by torch.save)');
  }
  const zip = ZipArchive.open(bytes, what);
  const pkls = zip.names.filter((n) => n === 'data.pkl' || n.endsWith('/data.pkl'));
  if (pkls.length === 0) fail(what, 'no data.pkl in the archive: not a torch.save checkpoint');
  if (pkls.length > 1) fail(what, `the archive holds ${pkls.length} data.pkl entries; a checkpoint has one`);
  const pklName = pkls[0]!;
  const prefix = pklName.slice(0, pklName.length - 'data.pkl'.length);
  const byteorderEntry = zip.entry(`${prefix}byteorder`);
  if (byteorderEntry && new TextDecoder().decode(zip.read(byteorderEntry, 16)).trim() !== 'little') fail(what, 'big-endian checkpoints are not supported');

  /** The archive entry of a storage, checked against the size the pickle declares (nothing is read yet). */
  const storageEntry = (key: string, bytesDeclared: number): ZipEntry => {
    const e = zip.entry(`${prefix}data/${key}`);
    if (!e) fail(what, `storage ${key} referenced by the pickle is missing from the archive (truncated file?)`, { storage: key });
    if (e.size !== bytesDeclared) {
      fail(what, `storage ${key}: the pickle declares ${bytesDeclared} bytes but its archive entry holds ${e.size} (${e.size < bytesDeclared ? 'truncated or overdeclared' : 'oversized entry'})`, { storage: key });
    }
    return e;
  };

  const rebuildTensor = (...args: PickleValue[]): PickleValue => {
    const [storage, offset, size, stride] = args;
    const s = storage as StorageRef;
    if (!s || s.kind !== 'storage') fail(what, 'tensor does not reference a storage');
    if (typeof offset !== 'number' || !Number.isSafeInteger(offset) || offset < 0) fail(what, 'tensor storage offset is invalid');
    const t: TensorRef = { kind: 'tensor', storage: s, offset: offset as number, size: intList(size!, what, 'size'), stride: intList(stride!, what, 'stride') };
    if (t.size.length !== t.stride.length) fail(what, 'tensor size and stride differ in length');
    return t;
  };
  const storageType = (name: string) => (): PickleValue => fail(what, `unexpected call of torch.${name}`);
  const globals: Record<string, (...a: PickleValue[]) => PickleValue> = {
    'collections.OrderedDict': () => new PickleDict(),
    'torch._utils._rebuild_tensor_v2': rebuildTensor,
    'torch._utils._rebuild_parameter': (data) => data!,
    'torch._utils._rebuild_parameter_with_state': (data) => data!,
  };
  for (const name of Object.keys(STORAGE_DTYPES)) globals[`torch.${name}`] = storageType(name);

  const root = unpickle(zip.read(zip.entry(pklName)!, MAX_PICKLE_BYTES), {
    what,
    globals,
    persistentLoad(pid) {
      // ('storage', storage_type, key, location, numel)
      if (!(pid instanceof PickleTuple) || pid.items[0] !== 'storage' || pid.items.length < 5) fail(what, 'unsupported persistent id in pickle');
      const [, type, key, , numel] = (pid as PickleTuple).items;
      // The storage type arrives as the bare GLOBAL `torch.FloatStorage` (never called).
      const qn = (type as PickleObject | null)?.qn;
      const typeName = typeof qn === 'string' && qn.startsWith('torch.') ? qn.slice('torch.'.length) : undefined;
      const dtype = typeName ? STORAGE_DTYPES[typeName] : undefined;
      if (!dtype) fail(what, `unsupported storage type ${String(typeName)}`);
      if (typeof key !== 'string' || typeof numel !== 'number' || !Number.isSafeInteger(numel) || numel < 0) fail(what, 'malformed storage reference');
      storageEntry(key as string, (numel as number) * ITEM[dtype!]);
      return { kind: 'storage', dtype, key, numel } as StorageRef;
    },
  });

  // A state_dict, possibly wrapped as {'state_dict': ...} or {'model': ...} by training scripts.
  let dict = root;
  for (const wrapper of ['state_dict', 'model', 'model_state_dict']) {
    if (dict instanceof PickleDict && dict.map.has(wrapper) && dict.map.get(wrapper) instanceof PickleDict) dict = dict.map.get(wrapper)!;
  }
  if (!(dict instanceof PickleDict)) fail(what, 'the pickle does not hold a state_dict (a dict of tensors)');

  const out = new Map<string, TorchTensor>();
  for (const [name, value] of (dict as PickleDict).map) {
    const t = value as TensorRef | null;
    if (!t || typeof t !== 'object' || t.kind !== 'tensor') continue; // non-tensor entries (e.g. hyper-parameters) are ignored
    const key = String(name);
    checkLayout(t, key, what);
    out.set(key, {
      dtype: t.storage.dtype,
      shape: t.size,
      toFloat32: () => {
        const entry = storageEntry(t.storage.key, t.storage.numel * ITEM[t.storage.dtype]);
        return materialize(t, key, zip.read(entry, entry.size), what);
      },
    });
  }
  return out;
}

/**
 * A tensor must lie inside its storage and must not overlap itself: sorted by stride, each
 * dimension's stride must step past everything the smaller ones span. Then its elements are
 * distinct storage elements, so a few stored bytes can never stand for gigabytes of weights.
 */
function checkLayout(t: TensorRef, key: string, what: string): void {
  let numel = 1;
  for (const d of t.size) {
    numel *= d;
    if (!Number.isSafeInteger(numel)) fail(what, `tensor ${key} has shape [${t.size.join(', ')}]: too many elements`, { key });
  }
  if (numel === 0) return;
  const dims = t.size.map((size, i) => ({ size, stride: t.stride[i]! })).filter((d) => d.size > 1).sort((a, b) => a.stride - b.stride);
  let span = 1; // elements from the first to one past the last, over the dimensions so far
  for (const d of dims) {
    if (d.stride < span) {
      fail(what, `tensor ${key} has shape [${t.size.join(', ')}] and strides [${t.stride.join(', ')}]: its elements overlap (stride 0 or overlapping views); re-save the state_dict with contiguous tensors`, { key });
    }
    span = d.stride * (d.size - 1) + span;
  }
  if (numel > t.storage.numel || t.offset + span > t.storage.numel) {
    fail(what, `tensor ${key} (shape [${t.size.join(', ')}], offset ${t.offset}) reaches past its storage of ${t.storage.numel} elements`, { key });
  }
}

function materialize(t: TensorRef, name: string, raw: Uint8Array, what: string): Float32Array {
  const dtype = t.storage.dtype;
  const item = ITEM[dtype];
  if (dtype === 'complex64' || dtype === 'complex128') fail(what, `tensor ${name} is complex; it cannot be used as float32`, { key: name });
  const dv = new DataView(raw.buffer, raw.byteOffset, raw.byteLength);
  const read = (i: number): number => {
    const o = i * item;
    switch (dtype) {
      case 'float32': return dv.getFloat32(o, true);
      case 'float64': return dv.getFloat64(o, true);
      case 'float16': return halfToFloat(dv.getUint16(o, true));
      case 'bfloat16': return bfloat16ToFloat(dv.getUint16(o, true));
      case 'int64': return Number(dv.getBigInt64(o, true));
      case 'int32': return dv.getInt32(o, true);
      case 'int16': return dv.getInt16(o, true);
      case 'int8': return dv.getInt8(o);
      default: return dv.getUint8(o);
    }
  };
  const numel = t.size.reduce((a, b) => a * b, 1);
  const out = new Float32Array(numel);
  const nd = t.size.length;
  const idx = new Array<number>(nd).fill(0);
  for (let n = 0; n < numel; n++) {
    let src = t.offset;
    for (let d = 0; d < nd; d++) src += idx[d]! * t.stride[d]!;
    out[n] = read(src);
    for (let d = nd - 1; d >= 0; d--) {
      if (++idx[d]! < t.size[d]!) break;
      idx[d] = 0;
    }
  }
  return out;
}
