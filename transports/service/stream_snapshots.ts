import { mkdirSync, readFileSync, renameSync, statSync, writeFileSync, openSync, fsyncSync, closeSync } from 'node:fs';
import { join } from 'node:path';
import type { Logger } from 'pino';
import { EdgestreamError } from '../../runtime/errors.js';
import type { StreamOriginState } from './stream_origin.js';

/** File magic of a stream snapshot: "ESSN" then a format version byte. */
const MAGIC = [0x45, 0x53, 0x53, 0x4e];
const VERSION = 1;
/** A snapshot file larger than this is not read (state of one stream; hostile or corrupt otherwise). */
export const MAX_SNAPSHOT_BYTES = 64 * 2 ** 20;

/** What a snapshot file says about the stream besides its session state. */
export interface StreamSnapshotHeader {
  device: string;
  /** The model the state belongs to (the session snapshot checks the exact weights too). */
  model: string;
  /** `seq` of the last frame the state includes (if senders number frames), and frames pushed. */
  lastSeq: number | null;
  frames: number;
  /** Where the stream began (event ids of replayed/restored streams). */
  origin: StreamOriginState | null;
  savedAt: string;
}

export interface StreamSnapshot {
  header: StreamSnapshotHeader;
  /** `Session.snapshot()` bytes (versioned, checksummed). */
  session: Uint8Array;
}

/**
 * Per-device stream snapshots in a directory, one file per device (`<device>.snapshot`), written
 * atomically (a temporary file, fsync, rename) so that a crash leaves the previous snapshot or the
 * new one, never half of one. Layout: magic "ESSN", version, u32 LE header length, the JSON
 * header, the session bytes. Device ids are `[A-Za-z0-9_-]` (checked at admission): safe file names.
 */
export class StreamSnapshotStore {
  constructor(
    readonly dir: string,
    private readonly log: Logger,
  ) {
    try {
      mkdirSync(dir, { recursive: true });
    } catch (e) {
      throw new EdgestreamError('E_CONFIG', `cannot create the snapshot directory ${dir}: ${(e as Error).message}`);
    }
  }

  path(device: string): string {
    return join(this.dir, `${device}.snapshot`);
  }

  save(s: StreamSnapshot): void {
    const out = encodeSnapshot(s);
    const path = this.path(s.header.device);
    const tmp = `${path}.tmp`;
    writeFileSync(tmp, out);
    const fd = openSync(tmp, 'r');
    try {
      fsyncSync(fd);
    } finally {
      closeSync(fd);
    }
    renameSync(tmp, path);
  }

  /** The device's snapshot, or null (none, or unusable: logged, and the stream starts fresh). */
  load(device: string): StreamSnapshot | null {
    const path = this.path(device);
    let bytes: Buffer;
    try {
      if (statSync(path).size > MAX_SNAPSHOT_BYTES) throw new Error(`larger than ${MAX_SNAPSHOT_BYTES} bytes`);
      bytes = readFileSync(path);
    } catch (e) {
      if ((e as NodeJS.ErrnoException).code !== 'ENOENT') this.log.warn({ device, path, err: (e as Error).message }, 'stream snapshot unreadable: the stream starts fresh');
      return null;
    }
    try {
      return parseSnapshot(bytes, device);
    } catch (e) {
      this.log.warn({ device, path, err: (e as Error).message }, 'stream snapshot refused: the stream starts fresh');
      return null;
    }
  }
}

/** A snapshot's bytes: magic "ESSN", version, u32 LE header length, the JSON header, the session bytes. */
export function encodeSnapshot(s: StreamSnapshot): Buffer {
  const header = Buffer.from(JSON.stringify(s.header), 'utf8');
  const out = Buffer.alloc(9 + header.length + s.session.length);
  out.set(MAGIC, 0);
  out[4] = VERSION;
  out.writeUInt32LE(header.length, 5);
  out.set(header, 9);
  out.set(s.session, 9 + header.length);
  return out;
}

/** Parse a snapshot file's bytes; `E_SNAPSHOT_FORMAT`-style errors name what is wrong. */
export function parseSnapshot(bytes: Uint8Array, device: string): StreamSnapshot {
  if (bytes.length < 9 || MAGIC.some((m, i) => bytes[i] !== m)) throw new EdgestreamError('E_MODEL_FORMAT', 'not an edgestream stream snapshot (bad magic)');
  if (bytes[4] !== VERSION) throw new EdgestreamError('E_MODEL_FORMAT', `stream snapshot version ${bytes[4]} is not supported (expected ${VERSION})`);
  const n = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength).getUint32(5, true);
  if (9 + n > bytes.length) throw new EdgestreamError('E_MODEL_FORMAT', `stream snapshot header of ${n} bytes runs past the end of the file`);
  let header: StreamSnapshotHeader;
  try {
    header = JSON.parse(Buffer.from(bytes.subarray(9, 9 + n)).toString('utf8')) as StreamSnapshotHeader;
  } catch {
    throw new EdgestreamError('E_MODEL_FORMAT', 'stream snapshot header is not JSON');
  }
  if (header === null || typeof header !== 'object' || header.device !== device) throw new EdgestreamError('E_MODEL_FORMAT', `stream snapshot is for device ${String((header as { device?: unknown })?.device)}, not ${device}`);
  return { header, session: bytes.subarray(9 + n) };
}
