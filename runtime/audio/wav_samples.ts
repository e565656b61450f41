import { readFileBytes } from '../io/files.js';
import { createAudioDecoder } from './audio_decoder.js';

/** A whole WAV file's first channel as float samples in [-1, 1), at the file's own rate. */
export function readWavSamples(path: string): { samples: Float32Array; rate: number } {
  const dec = createAudioDecoder({ container: 'wav', what: path });
  const head = dec.push(readFileBytes(path));
  const tail = dec.end();
  const samples = new Float32Array(head.length + tail.length);
  samples.set(head);
  samples.set(tail, head.length);
  return { samples, rate: dec.info!.sampleRate };
}

/** Float samples → 16-bit little-endian PCM bytes (what a microphone device publishes), clipped. */
export function encodeS16le(samples: ArrayLike<number>): Uint8Array {
  const bytes = new Uint8Array(samples.length * 2);
  const view = new DataView(bytes.buffer);
  for (let i = 0; i < samples.length; i++) view.setInt16(i * 2, Math.max(-32768, Math.min(32767, Math.round(samples[i]! * 32768))), true);
  return bytes;
}
