import type { AudioChunk } from '../../runtime/operators/types.js';

/** Timestamps at or above this (ms) are wall-clock times since the epoch (after September 2001), not stream times. */
const EPOCH_MS_FLOOR = 1e12;

/** Where a device's stream began: carried in stream snapshots so that a restored or replayed stream keeps its event ids. */
export interface StreamOriginState {
  /** Wall-clock time (ms since the epoch) of the stream's first sample. */
  wallMs: number;
  /** Stream time (ms) of that first sample (the sender's timestamp, or 0). */
  streamMs: number;
}

/**
 * The origin of one device stream and the event ids derived from it:
 * `<device>-<origin wall ms>-<event offset ms>`, where the origin is the wall-clock time of the
 * stream's first sample (the sender's timestamp when it is a wall-clock time, else the arrival
 * time of the first chunk) and the offset is the event's `start_ms` from that first sample.
 *
 * Unique across restarts and workers (a new stream has a new origin), and stable when the same
 * input is replayed (same first chunk, same arrival time carried with it, or the origin restored
 * from a snapshot): consumers that drop duplicates by id drop exactly the duplicates.
 */
export class StreamOrigin {
  private state: StreamOriginState | null;

  constructor(restored?: StreamOriginState | null) {
    this.state = restored ?? null;
  }

  /** See every chunk (or sensor frame) after it has a stream time: the first one, or a `start` marker, sets the origin. */
  observe(chunk: Pick<AudioChunk, 'timestampMs' | 'receivedAt' | 'originAt'> & { kind?: AudioChunk['kind'] }): void {
    if (this.state && chunk.kind !== 'start') return;
    const ts = chunk.timestampMs ?? 0;
    const wallMs = ts >= EPOCH_MS_FLOOR ? ts : (chunk.originAt ?? chunk.receivedAt ?? Date.now());
    this.state = { wallMs: Math.round(wallMs), streamMs: ts };
  }

  /** The id of an event of this stream starting at `startMs` (stream time). */
  eventId(device: string, startMs: number): string {
    const o = this.state ?? { wallMs: 0, streamMs: 0 };
    return `${device}-${o.wallMs}-${Math.round(startMs - o.streamMs)}`;
  }

  /** True once the stream's first chunk (or a restored state) set the origin. */
  get known(): boolean {
    return this.state !== null;
  }

  /** For stream snapshots. */
  get snapshot(): StreamOriginState | null {
    return this.state ? { ...this.state } : null;
  }
}
