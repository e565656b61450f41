import { Observable, type OperatorFunction } from 'rxjs';
import { PcmChunkDecoder } from '../audio/pcm_decoder.js';
import { PCM_FORMATS } from '../audio/pcm_format.js';
import { EdgestreamError } from '../errors.js';
import type { AudioChunk, SampleChunk } from './types.js';

export interface DecodePcmOptions {
  /**
   * Called for a chunk holding NaN or ±Infinity (`E_NONFINITE_INPUT`): the chunk is skipped and
   * the stream goes on. Without it the error goes to the subscriber.
   */
  onInvalid?: (error: EdgestreamError, chunk: AudioChunk) => void;
}

/**
 * Raw PCM chunks (s16le/f32le, any channel count, any chunk size) → mono float samples of the
 * first channel. A frame split across chunks is carried over, so the samples never depend on how
 * the bytes were cut; chunks that already hold floats pass through (first channel taken).
 * Empty `start`/`stop` markers produce nothing. One decoder per subscription, replaced when
 * the format changes.
 *
 * Float audio (f32le bytes or a Float32Array) holding NaN or ±Infinity is refused
 * here with `E_NONFINITE_INPUT`, before any front end or model session sees it (a NaN would
 * otherwise poison the filterbank and the model's recurrent state).
 *
 * @returns one `SampleChunk` per chunk that completed at least one sample.
 */
export function decodePcm(options: DecodePcmOptions = {}): OperatorFunction<AudioChunk, SampleChunk> {
  return (source) =>
    new Observable<SampleChunk>((subscriber) => {
      let decoder: PcmChunkDecoder | null = null;
      return source.subscribe({
        next: (chunk) => {
          const { format } = chunk;
          let samples: Float32Array;
          let bad: number;
          if (chunk.data instanceof Float32Array) {
            bad = firstNonFinite(chunk.data);
            samples = bad >= 0 || format.channels === 1 ? chunk.data : firstChannel(chunk.data, format.channels);
          } else {
            const encoding = PCM_FORMATS[format.encoding];
            if (!decoder || decoder.encoding !== encoding || decoder.channels !== format.channels) {
              decoder = new PcmChunkDecoder({ encoding, channels: format.channels });
            }
            samples = decoder.push(chunk.data);
            bad = encoding.kind === 'float' ? firstNonFinite(samples) : -1; // integer PCM is always finite
          }
          if (bad >= 0) {
            const value = chunk.data instanceof Float32Array ? chunk.data[bad]! : samples[bad]!;
            const e = new EdgestreamError(
              'E_NONFINITE_INPUT',
              `device ${chunk.device}: sample ${bad} of the audio chunk is ${Number.isNaN(value) ? 'NaN' : value}; audio must be finite (the chunk was refused)`,
              { device: chunk.device, index: bad },
            );
            if (options.onInvalid) return options.onInvalid(e, chunk);
            return subscriber.error(e);
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

/** Index of the first NaN/±Infinity, or -1. */
function firstNonFinite(x: Float32Array): number {
  for (let i = 0; i < x.length; i++) {
    const v = x[i]!;
    if (v - v !== 0) return i; // NaN - NaN and Inf - Inf are NaN; finite - finite is 0
  }
  return -1;
}

function firstChannel(interleaved: Float32Array, channels: number): Float32Array {
  const n = Math.floor(interleaved.length / channels);
  const out = new Float32Array(n);
  for (let i = 0; i < n; i++) out[i] = interleaved[i * channels]!;
  return out;
}
