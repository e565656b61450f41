import { Observable, type OperatorFunction } from 'rxjs';
import { PcmChunkDecoder } from '../audio/pcm_decoder.js';
import { PCM_FORMATS } from '../audio/pcm_format.js';
import type { AudioChunk, SampleChunk } from './types.js';

/**
 * Raw PCM chunks (s16le/f32le, any channel count, any chunk size) → mono float samples of the
 * first channel. A frame split across chunks is carried over, so the samples never depend on how
 * the bytes were cut; chunks that already hold floats pass through (first channel taken).
 * Empty `start`/`stop` markers produce nothing. One decoder per subscription, replaced when
 * the format changes.
 *
 * @returns one `SampleChunk` per chunk that completed at least one sample.
 */
export function decodePcm(): OperatorFunction<AudioChunk, SampleChunk> {
  return (source) =>
    new Observable<SampleChunk>((subscriber) => {
      let decoder: PcmChunkDecoder | null = null;
      let key = '';
      return source.subscribe({
        next: (chunk) => {
          const { format } = chunk;
          let samples: Float32Array;
          if (chunk.data instanceof Float32Array) {
            samples = format.channels === 1 ? chunk.data : firstChannel(chunk.data, format.channels);
          } else {
            const k = `${format.encoding}/${format.channels}`;
            if (!decoder || k !== key) {
              decoder = new PcmChunkDecoder({ encoding: PCM_FORMATS[format.encoding], channels: format.channels });
              key = k;
            }
            samples = decoder.push(chunk.data);
          }
          if (samples.length === 0) return;
          subscriber.next({
            device: chunk.device,
            samples,
            rate: format.rate,
            ...(chunk.timestampMs !== undefined && { timestampMs: chunk.timestampMs }),
            ...(chunk.seq !== undefined && { seq: chunk.seq }),
            ...(chunk.receivedAt !== undefined && { receivedAt: chunk.receivedAt }),
          });
        },
        error: (e: unknown) => subscriber.error(e),
        complete: () => subscriber.complete(),
      });
    });
}

function firstChannel(interleaved: Float32Array, channels: number): Float32Array {
  const n = Math.floor(interleaved.length / channels);
  const out = new Float32Array(n);
  for (let i = 0; i < n; i++) out[i] = interleaved[i * channels]!;
  return out;
}
