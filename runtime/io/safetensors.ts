import { EdgestreamError } from '../errors.js';
import { copyBytes } from './bytes.js';
import { bfloat16ToFloat, halfToFloat } from './half.js';

/**
 * The safetensors container: `u64 header length | JSON header | tensor bytes`.
 * Reading validates everything a hostile file could lie about (header length, JSON, dtypes, shapes,
 * offsets, overlaps, holes) before touching tensor data, so allocation is bounded by the file size.
 * Tensors are returned as float32 (F16/BF16/F64 are widened or narrowed) except I8/U8, kept as bytes.
 */
export type SafetensorsDtype = 'F32' | 'F64' | 'F16' | 'BF16' | 'I8' | 'U8' | 'I32';

export interface SafeTensor {
  dtype: SafetensorsDtype;
  shape: number[];
  /** F32/F64/F16/BF16 → Float32Array; I8 → Int8Array; U8 → Uint8Array; I32 → Int32Array. */
  data: Float32Array | Int8Array | Uint8Array | Int32Array;
  /** F64 tensors also keep their full-precision values here (float64 reference paths). */
  f64?: Float64Array;
}

export interface SafetensorsFile {
  metadata: Record<string, string>;
  tensors: Map<string, SafeTensor>;
}

const ITEM: Record<SafetensorsDtype, number> = { F32: 4, F64: 8, F16: 2, BF16: 2, I8: 1, U8: 1, I32: 4 };
/**
 * Limits of what a model file's header can sensibly hold (docs/model-file.md). The largest models
 * the families accept have a few thousand tensors (64 LMUFormer blocks, 256 TTT layers) and at
 * most 100,000 labels: a header of a few MiB. The JSON is scanned against these before it is
 * parsed, because JSON.parse of a hostile header (a million empty tensors, deep nesting) builds
 * tens of bytes of objects per byte of text.
 */
export const SAFETENSORS_LIMITS = {
  maxHeaderBytes: 8 << 20,
  maxTensors: 16_384,
  /** JSON values (objects, arrays, numbers, strings): a tensor entry has at most 16. */
  maxJsonValues: 32 * 16_384,
  /** Nesting: header object → tensor entry → shape/offsets list. */
  maxDepth: 3,
} as const;
const MAX_DIMS = 8;

function bad(what: string, message: string, detail?: Record<string, unknown>): never {
  throw new EdgestreamError('E_MODEL_FORMAT', `${what}: ${message}`, detail);
}

export function readSafetensors(bytes: Uint8Array, what = 'model file'): SafetensorsFile {
  if (bytes.length < 8) bad(what, `file is too short (${bytes.length} bytes) to be a safetensors file`);
  const dv = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  const headerLen64 = dv.getBigUint64(0, true);
  if (headerLen64 > BigInt(bytes.length - 8)) {
    bad(what, `header length ${headerLen64} exceeds the file (${bytes.length} bytes): truncated or not a safetensors file`);
  }
  if (headerLen64 > BigInt(SAFETENSORS_LIMITS.maxHeaderBytes)) {
    bad(what, `header of ${headerLen64} bytes is longer than a model file's header can be (at most ${SAFETENSORS_LIMITS.maxHeaderBytes} bytes)`);
  }
  const headerLen = Number(headerLen64);
  const entryCount = scanHeader(bytes.subarray(8, 8 + headerLen), what);
  let header: unknown;
  try {
    header = JSON.parse(new TextDecoder('utf-8', { fatal: true }).decode(bytes.subarray(8, 8 + headerLen)));
  } catch (e) {
    bad(what, `header is not valid JSON (${(e as Error).message})`);
  }
  if (typeof header !== 'object' || header === null || Array.isArray(header)) bad(what, 'header is not a JSON object');
  if (Object.keys(header).length !== entryCount) bad(what, 'header names a tensor twice (or holds a duplicate key)');
  const dataStart = 8 + headerLen;
  const dataLen = bytes.length - dataStart;
  const metadata: Record<string, string> = {};
  const entries: { name: string; dtype: SafetensorsDtype; shape: number[]; begin: number; end: number }[] = [];
  for (const [name, value] of Object.entries(header as Record<string, unknown>)) {
    if (name === '__metadata__') {
      if (typeof value !== 'object' || value === null || Array.isArray(value)) bad(what, '__metadata__ must be an object of strings');
      for (const [k, v] of Object.entries(value as Record<string, unknown>)) {
        if (typeof v !== 'string') bad(what, `__metadata__.${k} must be a string`);
        metadata[k] = v;
      }
      continue;
    }
    const t = value as { dtype?: unknown; shape?: unknown; data_offsets?: unknown };
    if (typeof t !== 'object' || t === null) bad(what, `tensor ${name}: entry is not an object`);
    if (typeof t.dtype !== 'string' || !(t.dtype in ITEM)) bad(what, `tensor ${name}: unsupported dtype ${JSON.stringify(t.dtype)}`, { tensor: name });
    const dtype = t.dtype as SafetensorsDtype;
    if (!Array.isArray(t.shape) || t.shape.length > MAX_DIMS || !t.shape.every((d) => Number.isSafeInteger(d) && d >= 0)) {
      bad(what, `tensor ${name}: shape ${JSON.stringify(t.shape)} is not a list of non-negative integers`, { tensor: name });
    }
    const shape = t.shape as number[];
    const offs = t.data_offsets;
    if (!Array.isArray(offs) || offs.length !== 2 || !offs.every((o) => Number.isSafeInteger(o) && o >= 0)) {
      bad(what, `tensor ${name}: data_offsets ${JSON.stringify(offs)} must be two non-negative integers`, { tensor: name });
    }
    const [begin, end] = offs as [number, number];
    const count = shape.reduce((a, b) => a * b, 1);
    if (end < begin || end > dataLen) bad(what, `tensor ${name}: data_offsets [${begin}, ${end}] run past the data (${dataLen} bytes): file truncated?`, { tensor: name });
    if (end - begin !== count * ITEM[dtype]) {
      bad(what, `tensor ${name}: shape ${shape.join('×')} ${dtype} needs ${count * ITEM[dtype]} bytes but its offsets span ${end - begin}`, { tensor: name });
    }
    entries.push({ name, dtype, shape, begin, end });
  }
  // The spec requires the tensors to tile the data region exactly: no overlap, no hole.
  const sorted = [...entries].sort((a, b) => a.begin - b.begin || a.end - b.end);
  let cursor = 0;
  for (const e of sorted) {
    if (e.begin !== cursor) bad(what, `tensor ${e.name}: data_offsets start at ${e.begin}, expected ${cursor} (overlapping or holed data)`, { tensor: e.name });
    cursor = e.end;
  }
  if (cursor !== dataLen) bad(what, `tensor data ends at ${cursor} but the file has ${dataLen} data bytes`);

  const tensors = new Map<string, SafeTensor>();
  for (const e of entries) {
    const src = bytes.subarray(dataStart + e.begin, dataStart + e.end);
    const count = e.shape.reduce((a, b) => a * b, 1);
    const copy = copyBytes(src); // aligned, detached from the file buffer
    let data: SafeTensor['data'];
    let f64: Float64Array | undefined;
    switch (e.dtype) {
      case 'F32': data = new Float32Array(copy.buffer); break;
      case 'F64': f64 = new Float64Array(copy.buffer); data = Float32Array.from(f64); break;
      case 'I8': data = new Int8Array(copy.buffer); break;
      case 'U8': data = copy; break;
      case 'I32': data = new Int32Array(copy.buffer); break;
      case 'F16': case 'BF16': {
        const u16 = new Uint16Array(copy.buffer);
        const f = new Float32Array(count);
        const convert = e.dtype === 'F16' ? halfToFloat : bfloat16ToFloat;
        for (let i = 0; i < count; i++) f[i] = convert(u16[i]!);
        data = f;
        break;
      }
    }
    tensors.set(e.name, f64 ? { dtype: e.dtype, shape: e.shape, data, f64 } : { dtype: e.dtype, shape: e.shape, data });
  }
  return { metadata, tensors };
}

/**
 * One pass over the header text, without allocating: refuses what JSON.parse would turn into far
 * more memory than the text (too many entries or values, deep nesting) and returns the number of
 * top-level entries (to detect duplicate names, which JSON.parse would silently merge).
 * Malformed JSON is left to JSON.parse to report.
 */
function scanHeader(text: Uint8Array, what: string): number {
  const L = SAFETENSORS_LIMITS;
  let depth = 0;
  let values = 0;
  let entries = 0;
  let inString = false;
  let topLevelEmpty = true;
  for (let i = 0; i < text.length; i++) {
    const c = text[i]!;
    if (inString) {
      if (c === 0x5c) i++; // backslash: skip the escaped character
      else if (c === 0x22) inString = false;
      continue;
    }
    switch (c) {
      case 0x22: // "
        inString = true;
        if (depth === 1 && topLevelEmpty) { entries = 1; topLevelEmpty = false; }
        break;
      case 0x7b: case 0x5b: // { [
        if (++depth > L.maxDepth) bad(what, `header JSON is nested more than ${L.maxDepth} levels deep; a safetensors header is an object of tensor entries`);
        values++;
        break;
      case 0x7d: case 0x5d: // } ]
        depth--;
        break;
      case 0x2c: // ,
        values++;
        if (depth === 1 && ++entries > L.maxTensors + 1) bad(what, `header declares more than ${L.maxTensors} tensors; no model file holds that many`);
        break;
    }
    if (values > L.maxJsonValues) bad(what, `header holds more than ${L.maxJsonValues} JSON values; a model file's header has far fewer`);
  }
  return entries;
}

export interface TensorToWrite {
  shape: readonly number[];
  data: Float32Array | Float64Array | Int8Array | Uint8Array | Int32Array;
}

function dtypeOf(data: TensorToWrite['data']): SafetensorsDtype {
  if (data instanceof Float32Array) return 'F32';
  if (data instanceof Float64Array) return 'F64';
  if (data instanceof Int8Array) return 'I8';
  if (data instanceof Int32Array) return 'I32';
  return 'U8';
}

/** Serialise tensors (in insertion order) and string metadata into safetensors bytes. */
export function writeSafetensors(tensors: ReadonlyMap<string, TensorToWrite>, metadata: Record<string, string>): Uint8Array {
  const header: Record<string, unknown> = { __metadata__: metadata };
  let offset = 0;
  for (const [name, t] of tensors) {
    const count = t.shape.reduce((a, b) => a * b, 1);
    if (count !== t.data.length) throw new EdgestreamError('E_MODEL_FORMAT', `tensor ${name}: shape ${t.shape.join('×')} does not match ${t.data.length} values`);
    header[name] = { dtype: dtypeOf(t.data), shape: [...t.shape], data_offsets: [offset, offset + t.data.byteLength] };
    offset += t.data.byteLength;
  }
  const json = new TextEncoder().encode(JSON.stringify(header));
  const headerBytes = new Uint8Array(json.length + ((8 - (json.length % 8)) % 8)).fill(0x20); // pad with spaces
  headerBytes.set(json);
  const out = new Uint8Array(8 + headerBytes.length + offset);
  new DataView(out.buffer).setBigUint64(0, BigInt(headerBytes.length), true);
  out.set(headerBytes, 8);
  let p = 8 + headerBytes.length;
  for (const t of tensors.values()) {
    out.set(new Uint8Array(t.data.buffer, t.data.byteOffset, t.data.byteLength), p);
    p += t.data.byteLength;
  }
  return out;
}
