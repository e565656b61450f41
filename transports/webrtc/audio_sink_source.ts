import { Observable } from 'rxjs';
import type { Wrtc, WrtcMediaStreamTrack } from './wrtc.js';

/** One RTCAudioSink `data` event: 16-bit interleaved PCM, normally 10 ms. */
export interface SinkAudio {
  /** Interleaved samples (`frames × channels`); the binding's buffer, read it during the call. */
  samples: Int16Array;
  sampleRate: number;
  channelCount: number;
  numberOfFrames: number;
  /** Date.now() when the event arrived. */
  receivedAt: number;
}

/**
 * The PCM of an audio track (local or remote) as an Observable of RTCAudioSink events. The sink is
 * created on subscribe and stopped on unsubscribe, error or completion (RxJS finalization), so a
 * peer's teardown is one `unsubscribe()`. It never completes by itself: a track that ends simply
 * stops delivering, so owners watch the connection and unsubscribe.
 *
 * A remote Opus track delivers 48 kHz, 480 frames per event, ~100 events/s, but its first events
 * arrive at 16 kHz: consumers must read `sampleRate` per event (`resampleSinkAudio` does).
 */
export function fromAudioSink(wrtc: Wrtc, track: WrtcMediaStreamTrack): Observable<SinkAudio> {
  return new Observable<SinkAudio>((subscriber) => {
    const sink = new wrtc.nonstandard.RTCAudioSink(track);
    sink.ondata = (d) => {
      if (subscriber.closed) return;
      const channelCount = d.channelCount || 1;
      subscriber.next({
        samples: d.samples,
        sampleRate: d.sampleRate,
        channelCount,
        numberOfFrames: d.numberOfFrames || Math.floor(d.samples.length / channelCount),
        receivedAt: Date.now(),
      });
    };
    return () => {
      sink.ondata = null;
      if (!sink.stopped) sink.stop();
    };
  });
}
