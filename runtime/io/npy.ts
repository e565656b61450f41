import { EdgestreamError } from '../errors.js';
import { copyBytes } from './bytes.js';

/**
 * NumPy `.npy` reading and writing (format versions 1.0, 2.0 and 3.0, little-endian, C order).
 * Values come back as float32 or float64 arrays; integer dtypes are widened to float64.
 * The header is checked against the file length before any allocation, so a hostile header
 * cannot make us allocate more than the file holds.
 */
export interface NpyArray {
  shape: number[];
  dtype: NpyDtype;
  data: Float32Array | Float64Array;
}

export type NpyDtype = '<f4' | '<f8' | '<i4' | '<i8' | '<i2' | '|u1' | '|i1' | '<u2' | '<u4';

const ITEM_SIZE: Record<NpyDtype, number> = {
  '<f4': 4, '<f8': 8, '<i4': 4, '<i8': 8, '<i2': 2, '|u1': 1, '|i1': 1, '<u2': 2, '<u4': 4,
};

const MAGIC = [0x93, 0x4e, 0x55, 0x4d, 0x50, 0x59]; // \x93NUMPY
const MAX_HEADER = 1 << 20;

function fail(message: string, detail?: Record<string, unknown>): never {
  throw new EdgestreamError('E_NPY_FORMAT', message, detail);
}

export function readNpy(bytes: Uint8Array, what = 'npy file'): NpyArray {
  if (bytes.length < 10) fail(`${what}: file is too short to be a .npy file (${bytes.length} bytes)`);
  for (let i = 0; i < MAGIC.length; i++) {
    if (bytes[i] !== MAGIC[i]) fail(`${what}: not a .npy file (bad magic); expected a NumPy array saved with numpy.save`);
  }
  const major = bytes[6]!;
  const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  let headerLen: number;
  let headerStart: number;
  if (major === 1) {
    headerLen = view.getUint16(8, true);
    headerStart = 10;
  } else if (major === 2 || major === 3) {
    if (bytes.length < 12) fail(`${what}: truncated header`);
    headerLen = view.getUint32(8, true);
    headerStart = 12;
  } else {
    fail(`${what}: unsupported .npy format version ${major}`);
  }
  if (headerLen > MAX_HEADER || headerStart + headerLen > bytes.length) {
    fail(`${what}: header length ${headerLen} runs past the end of the file (${bytes.length} bytes); the file is truncated`);
  }
  const header = new TextDecoder(major === 3 ? 'utf-8' : 'latin1').decode(bytes.subarray(headerStart, headerStart + headerLen));
  const descr = /'descr'\s*:\s*'([^']*)'/.exec(header)?.[1];
  const fortran = /'fortran_order'\s*:\s*(True|False)/.exec(header)?.[1];
  const shapeText = /'shape'\s*:\s*\(([^)]*)\)/.exec(header)?.[1];
  if (descr === undefined || fortran === undefined || shapeText === undefined) fail(`${what}: malformed header ${JSON.stringify(header.trim())}`);
  if (fortran === 'True') fail(`${what}: Fortran-order arrays are not supported; save with numpy.ascontiguousarray`);
  const dtype = (descr === '<f4' || descr === '=f4' ? '<f4' : descr === '=f8' ? '<f8' : descr) as NpyDtype;
  if (!(dtype in ITEM_SIZE)) {
    fail(`${what}: dtype ${descr} is not supported; expected little-endian float32 ('<f4') or float64 ('<f8')`, { dtype: descr });
  }
  const shape = shapeText.split(',').map((s) => s.trim()).filter((s) => s.length > 0).map((s) => {
    if (!/^\d+L?$/.test(s)) fail(`${what}: bad shape entry ${JSON.stringify(s)}`);
    return Number.parseInt(s, 10);
  });
  const count = shape.reduce((a, b) => a * b, 1);
  const itemSize = ITEM_SIZE[dtype];
  const dataStart = headerStart + headerLen;
  const expected = count * itemSize;
  if (!Number.isSafeInteger(expected) || bytes.length - dataStart < expected) {
    fail(`${what}: header promises ${shape.join('×') || 'scalar'} ${dtype} (${expected} bytes) but only ${bytes.length - dataStart} bytes follow; the file is truncated`, { shape, dtype });
  }
  const raw = copyBytes(bytes.subarray(dataStart, dataStart + expected)); // aligned, independent of the source
  const dv = new DataView(raw.buffer);
  let data: Float32Array | Float64Array;
  switch (dtype) {
    case '<f4': data = new Float32Array(raw.buffer); break;
    case '<f8': data = new Float64Array(raw.buffer); break;
    default: {
      data = new Float64Array(count);
      for (let i = 0; i < count; i++) {
        const o = i * itemSize;
        switch (dtype) {
          case '<i4': data[i] = dv.getInt32(o, true); break;
          case '<u4': data[i] = dv.getUint32(o, true); break;
          case '<i8': data[i] = Number(dv.getBigInt64(o, true)); break;
          case '<i2': data[i] = dv.getInt16(o, true); break;
          case '<u2': data[i] = dv.getUint16(o, true); break;
          case '|u1': data[i] = dv.getUint8(o); break;
          case '|i1': data[i] = dv.getInt8(o); break;
        }
      }
    }
  }
  return { shape, dtype, data };
}

/** Serialise a float32 or float64 array as a version 1.0 .npy file. */
export function writeNpy(data: Float32Array | Float64Array, shape: readonly number[]): Uint8Array {
  const count = shape.reduce((a, b) => a * b, 1);
  if (count !== data.length) {
    throw new EdgestreamError('E_NPY_FORMAT', `shape ${shape.join('×')} holds ${count} values but the data has ${data.length}`);
  }
  const descr = data instanceof Float32Array ? '<f4' : '<f8';
  const shapeText = shape.length === 1 ? `(${shape[0]},)` : `(${shape.join(', ')})`;
  let header = `{'descr': '${descr}', 'fortran_order': False, 'shape': ${shapeText}, }`;
  const unpadded = 10 + header.length + 1;
  header += ' '.repeat((64 - (unpadded % 64)) % 64) + '\n';
  const out = new Uint8Array(10 + header.length + data.byteLength);
  out.set(MAGIC, 0);
  out[6] = 1;
  out[7] = 0;
  new DataView(out.buffer).setUint16(8, header.length, true);
  for (let i = 0; i < header.length; i++) out[10 + i] = header.charCodeAt(i);
  out.set(new Uint8Array(data.buffer, data.byteOffset, data.byteLength), 10 + header.length);
  return out;
}
