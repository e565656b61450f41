import { createHash } from 'node:crypto';
import { EdgestreamError } from '../errors.js';
import type { StreamState } from './state.js';

/**
 * Session snapshot format, version 1 (all little-endian):
 *
 *   0   4  magic "ESSN"
 *   4   2  format version (1)
 *   6   2  flags (bit 0: stream ended)
 *   8  16  model fingerprint (first 16 bytes of the model's SHA-256)
 *  24   4  f32 state length      28  4  f64 state length
 *  32   8  frames in (f64)       40  8  frames out (f64)
 *  48   …  f64 state, then f32 state
 *  end-8 8 checksum: first 8 bytes of SHA-256 over everything before it
 */
const MAGIC = 0x4e535345; // "ESSN" read as little-endian u32
const VERSION = 1;
const HEADER = 48;

export interface SnapshotContent {
  fingerprint: Uint8Array;
  state: StreamState;
  ended: boolean;
  framesIn: number;
  framesOut: number;
}

function checksum(bytes: Uint8Array): Uint8Array {
  return createHash('sha256').update(bytes).digest().subarray(0, 8);
}

export function encodeSnapshot(s: SnapshotContent): Uint8Array {
  const size = HEADER + s.state.f64.length * 8 + s.state.f32.length * 4 + 8;
  const out = new Uint8Array(size);
  const dv = new DataView(out.buffer);
  dv.setUint32(0, MAGIC, true);
  dv.setUint16(4, VERSION, true);
  dv.setUint16(6, s.ended ? 1 : 0, true);
  out.set(s.fingerprint.subarray(0, 16), 8);
  dv.setUint32(24, s.state.f32.length, true);
  dv.setUint32(28, s.state.f64.length, true);
  dv.setFloat64(32, s.framesIn, true);
  dv.setFloat64(40, s.framesOut, true);
  let p = HEADER;
  out.set(new Uint8Array(s.state.f64.buffer, s.state.f64.byteOffset, s.state.f64.byteLength), p);
  p += s.state.f64.byteLength;
  out.set(new Uint8Array(s.state.f32.buffer, s.state.f32.byteOffset, s.state.f32.byteLength), p);
  p += s.state.f32.byteLength;
  out.set(checksum(out.subarray(0, p)), p);
  return out;
}

export function decodeSnapshot(bytes: Uint8Array, fingerprint: Uint8Array, sizes: { f32: number; f64: number }): SnapshotContent {
  const bad = (m: string): never => { throw new EdgestreamError('E_SNAPSHOT', m); };
  if (!(bytes instanceof Uint8Array) || bytes.length < HEADER + 8) bad('snapshot is too short to be an edgestream session snapshot');
  const dv = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  if (dv.getUint32(0, true) !== MAGIC) bad('not an edgestream session snapshot (bad magic)');
  const version = dv.getUint16(4, true);
  if (version !== VERSION) bad(`snapshot format version ${version} is not supported (this runtime reads version ${VERSION})`);
  const n32 = dv.getUint32(24, true);
  const n64 = dv.getUint32(28, true);
  const expected = HEADER + n64 * 8 + n32 * 4 + 8;
  if (bytes.length !== expected) bad(`snapshot is ${bytes.length} bytes, its header says ${expected}: truncated or damaged`);
  const body = bytes.subarray(0, expected - 8);
  const sum = checksum(body);
  for (let i = 0; i < 8; i++) if (sum[i] !== bytes[expected - 8 + i]) bad('snapshot checksum does not match: the data is damaged');
  for (let i = 0; i < 16; i++) {
    if (bytes[8 + i] !== fingerprint[i]) bad('snapshot was taken from a session of a different model');
  }
  if (n32 !== sizes.f32 || n64 !== sizes.f64) bad(`snapshot state sizes (${n32}, ${n64}) do not fit this model (${sizes.f32}, ${sizes.f64})`);
  const f64 = new Float64Array(n64);
  const f32 = new Float32Array(n32);
  new Uint8Array(f64.buffer).set(bytes.subarray(HEADER, HEADER + n64 * 8));
  new Uint8Array(f32.buffer).set(bytes.subarray(HEADER + n64 * 8, HEADER + n64 * 8 + n32 * 4));
  return {
    fingerprint: bytes.slice(8, 24),
    state: { f32, f64 },
    ended: (dv.getUint16(6, true) & 1) === 1,
    framesIn: dv.getFloat64(32, true),
    framesOut: dv.getFloat64(40, true),
  };
}
