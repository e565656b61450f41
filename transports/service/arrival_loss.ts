import type { AudioChunk } from '../../runtime/operators/types.js';
import { chunkSamples } from '../../runtime/operators/pcm_layout.js';

/** Arrival later than the audio received so far by more than this is counted as lost audio (ms). */
export const ARRIVAL_LOSS_TOLERANCE_MS = 500;

/**
 * Loss inferred from arrival times, for senders that give neither `seq` nor timestamps (MQTT
 * 3.1.1, microcontrollers): such a sender streams in real time, so the audio received since the
 * stream's first chunk should keep pace with the wall clock. When a chunk arrives more than
 * `ARRIVAL_LOSS_TOLERANCE_MS` later than the audio before it accounts for, the difference was lost
 * on the way (a broker dropping messages queued for the service, a network outage) or the sender
 * paused; it is reported once and the timeline re-anchored. Early arrivals (bursts) re-anchor too.
 * Counts only: the audio itself is untouched.
 */
export class ArrivalLossEstimator {
  /** Wall time at which the stream's audio would have started if it had all arrived in real time. */
  private anchor: number | null = null;
  private audioMs = 0;

  /** @returns the audio inferred lost just before this chunk (ms), or 0. */
  observe(chunk: AudioChunk): number {
    // The stream's own clock when the transport keeps one (a JetStream replay delivers late by design).
    const at = chunk.originAt ?? chunk.receivedAt;
    if (chunk.kind !== 'chunk' || chunk.seq !== undefined || at === undefined) return 0;
    let lost = 0;
    if (this.anchor === null || chunk.gap) this.anchor = at - this.audioMs; // a new start, or a resume after OFF/lost audio already accounted for
    else {
      const late = at - (this.anchor + this.audioMs);
      if (late > ARRIVAL_LOSS_TOLERANCE_MS) lost = Math.round(late);
      if (late > ARRIVAL_LOSS_TOLERANCE_MS || late < 0) this.anchor = at - this.audioMs;
    }
    this.audioMs += (chunkSamples(chunk) / chunk.format.rate) * 1000;
    return lost;
  }
}
