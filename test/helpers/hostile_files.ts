import { readFileBytes } from '../../runtime/io/files.js';
import { join } from 'node:path';
import { ROOT } from './paths.js';

/** The shipped keyword model (an LMUFormer with an audio front end): the base of hostile edits. */
export const DEMO_MODEL = join(ROOT, 'models/lmuformer/demo/kws35.safetensors');
export const demoModelBytes = (): Uint8Array => readFileBytes(DEMO_MODEL);

export type Header = Record<string, any>;

/** A safetensors file's JSON header. */
export function readHeader(bytes: Uint8Array): Header {
  const n = Number(new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength).getBigUint64(0, true));
  return JSON.parse(new TextDecoder().decode(bytes.subarray(8, 8 + n))) as Header;
}

/** Rewrite a safetensors file's JSON header (the tensor data is kept as is). */
export function withHeader(bytes: Uint8Array, edit: (h: Header) => void): Uint8Array {
  const n = Number(new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength).getBigUint64(0, true));
  const header = readHeader(bytes);
  edit(header);
  const json = new TextEncoder().encode(JSON.stringify(header));
  const out = new Uint8Array(8 + json.length + bytes.length - 8 - n);
  new DataView(out.buffer).setBigUint64(0, BigInt(json.length), true);
  out.set(json, 8);
  out.set(bytes.subarray(8 + n), 8 + json.length);
  return out;
}

/** Edit one JSON-encoded metadata field (`frontend`, `config`, …) of a model file. */
export function withMetadataJson(bytes: Uint8Array, field: string, edit: (v: any) => any): Uint8Array {
  return withHeader(bytes, (h) => {
    const v = JSON.parse(h.__metadata__[field]);
    const r = edit(v);
    h.__metadata__[field] = JSON.stringify(r === undefined ? v : r);
  });
}

/** Overwrite float32 element `index` of tensor `name` in a safetensors file. */
export function withF32(bytes: Uint8Array, name: string, index: number, value: number): Uint8Array {
  const out = new Uint8Array(bytes); // a copy (Buffer.slice would share memory)
  const dv = new DataView(out.buffer);
  const n = Number(dv.getBigUint64(0, true));
  const t = readHeader(bytes)[name];
  if (!t || t.dtype !== 'F32') throw new Error(`no F32 tensor ${name}`);
  dv.setFloat32(8 + n + t.data_offsets[0] + 4 * index, value, true);
  return out;
}

/** Set every float32 element of tensor `name` to `value`. */
export function fillF32(bytes: Uint8Array, name: string, value: number): Uint8Array {
  const out = new Uint8Array(bytes);
  const dv = new DataView(out.buffer);
  const n = Number(dv.getBigUint64(0, true));
  const t = readHeader(bytes)[name];
  if (!t || t.dtype !== 'F32') throw new Error(`no F32 tensor ${name}`);
  for (let o = t.data_offsets[0]; o < t.data_offsets[1]; o += 4) dv.setFloat32(8 + n + o, value, true);
  return out;
}
