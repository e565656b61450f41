import { EdgestreamError } from '../../runtime/errors.js';

/**
 * The bytes stored for one device snapshot: `ESCS` magic, format version 1, a JSON header (input
 * position, writer, time) and the opaque snapshot of the device's pipeline (a Session snapshot,
 * already checksummed by the runtime). Malformed values are `E_SNAPSHOT`.
 *
 *   0..3  "ESCS"   4  version (1)   5..8  header length (u32 LE)   9..  header JSON, then data
 */
const MAGIC = [0x45, 0x53, 0x43, 0x53];
const VERSION = 1;

export interface DeviceSnapshotHeader {
  device: string;
  partition: number;
  /** Stream sequence of the last input applied to this state: replay resumes after it. */
  inputSeq: number;
  /** Member id of the writer. */
  writer: string;
  writtenAt: string;
}

export function encodeDeviceSnapshot(header: DeviceSnapshotHeader, data: Uint8Array): Uint8Array {
  const json = new TextEncoder().encode(JSON.stringify(header));
  const out = new Uint8Array(9 + json.length + data.length);
  out.set(MAGIC, 0);
  out[4] = VERSION;
  new DataView(out.buffer).setUint32(5, json.length, true);
  out.set(json, 9);
  out.set(data, 9 + json.length);
  return out;
}

export function decodeDeviceSnapshot(bytes: Uint8Array, what: string): { header: DeviceSnapshotHeader; data: Uint8Array } {
  const bad = (why: string): never => {
    throw new EdgestreamError('E_SNAPSHOT', `${what}: ${why}`);
  };
  if (bytes.length < 9 || MAGIC.some((b, i) => bytes[i] !== b)) bad('not an edgestream cluster snapshot');
  if (bytes[4] !== VERSION) bad(`snapshot format ${bytes[4]} is not supported (expected ${VERSION})`);
  const len = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength).getUint32(5, true);
  if (9 + len > bytes.length) bad('truncated header');
  let header: DeviceSnapshotHeader;
  try {
    header = JSON.parse(new TextDecoder().decode(bytes.subarray(9, 9 + len))) as DeviceSnapshotHeader;
  } catch {
    return bad('unreadable header');
  }
  if (typeof header.device !== 'string' || !Number.isSafeInteger(header.inputSeq) || !Number.isSafeInteger(header.partition)) bad('incomplete header');
  return { header, data: bytes.slice(9 + len) };
}
