import { Observable, type OperatorFunction } from 'rxjs';
import { Resampler, type ResamplerOptions } from '../../runtime/audio/resampler.js';
import { EdgestreamError } from '../../runtime/errors.js';
import type { SinkAudio } from './audio_sink_source.js';

/** Mono float samples at the target rate, from one or more sink events. */
export interface ResampledAudio {
  /** Samples in [-1, 1] at `rate` (fresh array, owned by the receiver). */
  samples: Float32Array;
  rate: number;
  /** Arrival time of the sink event that completed these samples. */
  receivedAt: number;
}

/**
 * RTCAudioSink events → mono float samples at `rate`, resampled per event from the event's own
 * `sampleRate`. A remote Opus track starts with a few 16 kHz events and then switches to 48 kHz;
 * when the rate changes, the previous resampler is flushed (its look-ahead comes out, so no sample
 * is lost or duplicated) and a new one starts. The first channel is used. Events with an
 * impossible shape (rate outside 8–192 kHz, fewer samples than frames × channels) error the
 * stream: they can only come from a broken binding.
 *
 * @param rate the output rate (the model front end's, 16 kHz for the shipped models).
 * @param options resampler quality, as for the audio front end.
 */
export function resampleSinkAudio(rate: number, options: ResamplerOptions = {}): OperatorFunction<SinkAudio, ResampledAudio> {
  return (source) =>
    new Observable<ResampledAudio>((subscriber) => {
      let resampler: Resampler | null = null;
      let mono = new Float32Array(480);
      let lastReceivedAt = 0;
      const emit = (samples: Float32Array, receivedAt: number): void => {
        if (samples.length > 0) subscriber.next({ samples, rate, receivedAt });
      };
      return source.subscribe({
        next: (ev) => {
          const { sampleRate, channelCount, numberOfFrames } = ev;
          if (!Number.isInteger(sampleRate) || sampleRate < 8000 || sampleRate > 192_000 || channelCount < 1 || ev.samples.length < numberOfFrames * channelCount) {
            subscriber.error(new EdgestreamError('E_TRANSPORT_INPUT', `audio sink event has an impossible shape: ${numberOfFrames} frames × ${channelCount} channels at ${sampleRate} Hz in ${ev.samples.length} samples`));
            return;
          }
          if (resampler && resampler.inputRate !== sampleRate) {
            emit(resampler.flush(), lastReceivedAt);
            resampler = null;
          }
          resampler ??= new Resampler(sampleRate, rate, options);
          if (mono.length < numberOfFrames) mono = new Float32Array(numberOfFrames);
          const s = ev.samples;
          for (let i = 0, j = 0; i < numberOfFrames; i++, j += channelCount) mono[i] = s[j]! / 32768;
          lastReceivedAt = ev.receivedAt;
          emit(resampler.push(mono.subarray(0, numberOfFrames)), ev.receivedAt);
        },
        error: (e: unknown) => subscriber.error(e),
        complete: () => {
          if (resampler) emit(resampler.flush(), lastReceivedAt);
          subscriber.complete();
        },
      });
    });
}
