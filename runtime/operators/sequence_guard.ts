import { defer, map, type MonoTypeOperatorFunction } from 'rxjs';
import { chunkSamples } from './pcm_layout.js';
import type { AudioChunk } from './types.js';

/** Why the guard saw a discontinuity. */
export interface StreamGap {
  device: string;
  reason: 'seq' | 'timestamp';
  /** What the next chunk should have carried, and what it did. */
  expected: number;
  got: number;
  /** Audio lost, as far as the numbers tell (ms): missing chunks × this chunk's length, or the timestamp jump. 0 when the stream went backwards. */
  lostMs: number;
}

export interface SequenceGuardOptions {
  /** Called for every discontinuity found. */
  onGap?: (gap: StreamGap) => void;
}

/**
 * Watch one device's chunk stream for lost audio and give every chunk a stream time.
 *
 * 1. A chunk whose `seq` is not the previous one + 1, or whose `timestampMs` is off from where the
 *    previous chunk ended by more than a chunk's length, is marked `gap: true` (downstream stages
 *    restart their state there and suppress detections while they warm up).
 * 2. A `start` chunk begins a new stream: no gap, tracking starts afresh.
 * 3. Chunks without `timestampMs` get one from the audio received so far (MQTT 3.1.1 senders),
 *    so that events always carry stream times.
 *
 * State (last seq, expected time) lives in the subscription.
 * @returns the chunks, annotated.
 */
export function sequenceGuard(options: SequenceGuardOptions = {}): MonoTypeOperatorFunction<AudioChunk> {
  return (source) =>
    defer(() => {
      let lastSeq: number | undefined;
      let expectedMs: number | undefined;
      let clockMs = 0;
      return source.pipe(
        map((chunk) => {
          if (chunk.kind === 'start') {
            lastSeq = undefined;
            expectedMs = undefined;
          }
          let gap = chunk.gap === true;
          // Only audio chunks are numbered; start/stop markers carry no audio.
          const seq = chunk.kind === 'chunk' ? chunk.seq : undefined;
          const durationMs = (chunkSamples(chunk) / chunk.format.rate) * 1000;
          // A chunk already marked (the service skipped or shed audio before it) is a known gap, not a loss to report.
          if (!gap && seq !== undefined && lastSeq !== undefined && seq !== lastSeq + 1) {
            gap = true;
            options.onGap?.({ device: chunk.device, reason: 'seq', expected: lastSeq + 1, got: seq, lostMs: Math.max(0, Math.round((seq - lastSeq - 1) * durationMs)) });
          }
          if (!gap && chunk.timestampMs !== undefined && expectedMs !== undefined) {
            const tolerance = Math.max(durationMs, 1);
            if (Math.abs(chunk.timestampMs - expectedMs) > tolerance) {
              gap = true;
              options.onGap?.({ device: chunk.device, reason: 'timestamp', expected: Math.round(expectedMs), got: chunk.timestampMs, lostMs: Math.max(0, Math.round(chunk.timestampMs - expectedMs)) });
            }
          }
          if (seq !== undefined) lastSeq = seq;
          const timestampMs = chunk.timestampMs ?? clockMs;
          expectedMs = timestampMs + durationMs;
          clockMs = expectedMs;
          return gap === (chunk.gap === true) && chunk.timestampMs !== undefined ? chunk : { ...chunk, gap, timestampMs };
        }),
      );
    });
}
