import type { AudioChunk, PcmFormat } from './types.js';

/** Bytes of one sample of one channel. */
export function bytesPerSample(encoding: PcmFormat['encoding']): number {
  return encoding === 's16le' ? 2 : 4;
}

/** Bytes of one frame (one sample of every channel). */
export function bytesPerFrame(format: PcmFormat): number {
  return bytesPerSample(format.encoding) * format.channels;
}

/** Samples per channel a chunk carries (raw bytes or decoded floats). */
export function chunkSamples(chunk: AudioChunk): number {
  if (chunk.data instanceof Float32Array) return Math.floor(chunk.data.length / chunk.format.channels);
  return Math.floor(chunk.data.byteLength / bytesPerFrame(chunk.format));
}
