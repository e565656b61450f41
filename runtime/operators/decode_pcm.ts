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
      return source.subscribe({
        next: (chunk) => {
          const { format } = chunk;
          let samples: Float32Array;
          if (chunk.data instanceof Float32Array) {
            samples = format.channels === 1 ? chunk.data : firstChannel(chunk.data, format.channels);
          } else {
            const encoding = PCM_FORMATS[format.encoding];
            if (!decoder || decoder.encoding !== encoding || decoder.channels !== format.channels) {
              decoder = new PcmChunkDecoder({ encoding, channels: format.channels });
            }
            samples = decoder.push(chunk.data);
          }
          if (samples.length === 0) return;
          // Optional fields assigned one by one (per chunk, cheaper than spreading objects).
          const out: SampleChunk = { device: chunk.device, samples, rate: format.rate };
          if (chunk.timestampMs !== undefined) out.timestampMs = chunk.timestampMs;
          if (chunk.seq !== undefined) out.seq = chunk.seq;
          if (chunk.receivedAt !== undefined) out.receivedAt = chunk.receivedAt;
          subscriber.next(out);
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
