import { EdgestreamError } from '../../runtime/errors.js';
import type { StreamOriginState } from './stream_origin.js';
import { encodeSnapshot, parseSnapshot, type StreamSnapshot } from './stream_snapshots.js';

/** File magic of a device's cluster state: "ESCD" then a format version byte. */
const MAGIC = [0x45, 0x53, 0x43, 0x44];
const VERSION = 1;

/** Where a keyword stream resumes: the first chunk the next owner runs again, and what it needs to continue there. */
export interface AudioResumePoint {
  /** Event ids of the continuing stream. */
  origin: StreamOriginState | null;
  /** Stream time (ms) of that first chunk (senders without timestamps: counted from the stream's start). */
  streamMs: number;
  /** When the chunk before it was stored (a pause longer than `audio.idleMs` before it starts a new stream). */
  previousStoredAt: number | null;
  /**
   * Stream time (ms) from which the next owner publishes events again: the last owner had decided
   * (and published) every event ending before it. Earlier events of the restarted pipeline are
   * dropped: its state has not converged there yet and it may decide them differently.
   */
  decideFromMs: number;
}

/**
 * Everything a cluster worker hands over for one device, in the device's snapshot: the command
 * state (listening, threshold), what the retained state reports, where its keyword stream resumes,
 * and its sensor stream's state (TTT fast weights) as in a snapshot file.
 */
export interface ClusterDeviceState {
  device: string;
  /** Stream sequence of the last input reflected here (commands, sensor frames); audio after `audio` is run again. */
  throughSeq: number;
  listening: boolean;
  threshold: number | null;
  lastKeyword: string | null;
  lastScore: number | null;
  lastTs: string | null;
  audio: AudioResumePoint | null;
  sensor: StreamSnapshot | null;
}

type Header = Omit<ClusterDeviceState, 'sensor'>;

/** Layout: magic "ESCD", version, u32 LE header length, the JSON header, then the sensor stream snapshot (stream_snapshots.ts layout) if any. */
export function encodeDeviceState(s: ClusterDeviceState): Uint8Array {
  const { sensor, ...rest } = s;
  const header = Buffer.from(JSON.stringify(rest satisfies Header), 'utf8');
  const body = sensor ? encodeSnapshot(sensor) : Buffer.alloc(0);
  const out = Buffer.alloc(9 + header.length + body.length);
  out.set(MAGIC, 0);
  out[4] = VERSION;
  out.writeUInt32LE(header.length, 5);
  out.set(header, 9);
  out.set(body, 9 + header.length);
  return out;
}

/** Parse a device's cluster state; `E_MODEL_FORMAT` names what is wrong (the device then starts fresh). */
export function decodeDeviceState(bytes: Uint8Array, device: string): ClusterDeviceState {
  if (bytes.length < 9 || MAGIC.some((m, i) => bytes[i] !== m)) throw new EdgestreamError('E_MODEL_FORMAT', 'not an edgestream device state (bad magic)');
  if (bytes[4] !== VERSION) throw new EdgestreamError('E_MODEL_FORMAT', `device state version ${bytes[4]} is not supported (expected ${VERSION})`);
  const n = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength).getUint32(5, true);
  if (9 + n > bytes.length) throw new EdgestreamError('E_MODEL_FORMAT', `device state header of ${n} bytes runs past the end`);
  let header: Header;
  try {
    header = JSON.parse(Buffer.from(bytes.subarray(9, 9 + n)).toString('utf8')) as Header;
  } catch {
    throw new EdgestreamError('E_MODEL_FORMAT', 'device state header is not JSON');
  }
  if (header === null || typeof header !== 'object' || header.device !== device) throw new EdgestreamError('E_MODEL_FORMAT', `device state is for ${String((header as { device?: unknown })?.device)}, not ${device}`);
  const rest = bytes.subarray(9 + n);
  return { ...header, sensor: rest.length > 0 ? parseSnapshot(rest, device) : null };
}
