import { Observable, type OperatorFunction } from 'rxjs';
import { Resampler, type ResamplerOptions } from '../audio/resampler.js';
import type { SampleChunk } from './types.js';

/**
 * Mono samples at any rate → samples at `rate` (polyphase Kaiser-windowed sinc, the same output
 * whatever the chunking). Chunks already at `rate` pass through untouched. The resampler's
 * look-ahead is released when the input completes; if the input rate changes mid-stream the old
 * resampler is flushed and a new one starts. Output timestamps count from the first chunk's.
 *
 * @param rate the output sample rate (the model's front-end rate).
 * @returns chunks at `rate` (none while the look-ahead fills).
 */
export function resampleAudio(rate: number, options: ResamplerOptions = {}): OperatorFunction<SampleChunk, SampleChunk> {
  return (source) =>
    new Observable<SampleChunk>((subscriber) => {
      let resampler: Resampler | null = null;
      let originMs: number | undefined;
      let emitted = 0; // output samples so far
      let last: SampleChunk | null = null;
      const emit = (samples: Float32Array, like: SampleChunk): void => {
        if (samples.length === 0) return;
        const chunk: SampleChunk = {
          device: like.device,
          samples,
          rate,
          ...(originMs !== undefined && { timestampMs: originMs + (emitted / rate) * 1000 }),
          ...(like.seq !== undefined && { seq: like.seq }),
          ...(like.receivedAt !== undefined && { receivedAt: like.receivedAt }),
        };
        emitted += samples.length;
        subscriber.next(chunk);
      };
      return source.subscribe({
        next: (chunk) => {
          last = chunk;
          if (chunk.rate === rate && !resampler) {
            subscriber.next(chunk);
            return;
          }
          if (originMs === undefined && chunk.timestampMs !== undefined) originMs = chunk.timestampMs;
          if (resampler && resampler.inputRate !== chunk.rate) {
            emit(resampler.flush(), chunk);
            resampler = null;
          }
          if (chunk.rate === rate) {
            emit(chunk.samples, chunk);
            return;
          }
          resampler ??= new Resampler(chunk.rate, rate, options);
          emit(resampler.push(chunk.samples), chunk);
        },
        error: (e: unknown) => subscriber.error(e),
        complete: () => {
          if (resampler && last) emit(resampler.flush(), last);
          subscriber.complete();
        },
      });
    });
}
