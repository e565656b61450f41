import { unzipSync } from 'fflate';
import { EdgestreamError } from '../errors.js';
import { bfloat16ToFloat, halfToFloat } from '../io/half.js';
import { PickleDict, PickleTuple, unpickle, type PickleObject, type PickleValue } from './pickle.js';

/**
 * Reads a PyTorch checkpoint saved by `torch.save(state_dict)` (the zip format of torch ≥ 1.6):
 * `<archive>/data.pkl` holds the pickled dict, `<archive>/data/<key>` the raw little-endian storages.
 * Nothing is executed: the pickle is interpreted by `unpickle` with a fixed set of known globals.
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
  let files: Record<string, Uint8Array>;
  try {
    files = unzipSync(bytes);
  } catch (e) {
    fail(what, `the zip archive is damaged or truncated (${(e as Error).message})`);
  }
  const pklName = Object.keys(files).find((n) => n === 'data.pkl' || n.endsWith('/data.pkl'));
  if (!pklName) fail(what, 'no data.pkl in the archive: not a torch.save checkpoint');
  const prefix = pklName.slice(0, pklName.length - 'data.pkl'.length);
  const byteorder = files[`${prefix}byteorder`];
  if (byteorder && new TextDecoder().decode(byteorder).trim() !== 'little') fail(what, 'big-endian checkpoints are not supported');

  const storageBytes = (key: string): Uint8Array => {
    const b = files[`${prefix}data/${key}`];
    if (!b) fail(what, `storage ${key} referenced by the pickle is missing from the archive (truncated file?)`);
    return b;
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

  const root = unpickle(files[pklName]!, {
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
      if (typeof key !== 'string' || typeof numel !== 'number') fail(what, 'malformed storage reference');
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
    const numel = t.size.reduce((a, b) => a * b, 1);
    if (numel > 0) {
      const last = t.offset + t.size.reduce((acc, d, i) => acc + (d - 1) * t.stride[i]!, 0);
      if (last >= t.storage.numel) fail(what, `tensor ${String(name)} reaches past its storage (${last} ≥ ${t.storage.numel})`, { key: name });
    }
    out.set(String(name), {
      dtype: t.storage.dtype,
      shape: t.size,
      toFloat32: () => materialize(t, String(name), storageBytes(t.storage.key), what),
    });
  }
  return out;
}

function materialize(t: TensorRef, name: string, raw: Uint8Array, what: string): Float32Array {
  const dtype = t.storage.dtype;
  const item = ITEM[dtype];
  if (dtype === 'complex64' || dtype === 'complex128') fail(what, `tensor ${name} is complex; it cannot be used as float32`, { key: name });
  if (raw.length < t.storage.numel * item) fail(what, `storage of ${name} holds ${raw.length} bytes, needs ${t.storage.numel * item}: truncated`, { key: name });
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
