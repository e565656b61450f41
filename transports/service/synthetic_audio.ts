import { bytesPerSample } from '../../runtime/operators/pcm_layout.js';
import type { PcmFormat } from '../../runtime/operators/types.js';

/**
 * Chunk `index` of a synthetic signal (a 440 Hz tone in noise, every channel alike) in `format`:
 * input for warming the pipelines up, never mistaken for a recording. Deterministic.
 */
export function syntheticPcm(format: PcmFormat, chunkMs: number, index: number): Uint8Array {
  const frames = Math.round((format.rate * chunkMs) / 1000);
  const sampleBytes = bytesPerSample(format.encoding);
  const out = new Uint8Array(frames * format.channels * sampleBytes);
  const view = new DataView(out.buffer);
  let seed = (index * 2654435761) >>> 0;
  for (let i = 0; i < frames; i++) {
    seed = (Math.imul(seed, 1664525) + 1013904223) >>> 0;
    const t = index * frames + i;
    const v = 0.05 * (seed / 2 ** 32 - 0.5) + 0.2 * Math.sin((2 * Math.PI * 440 * t) / format.rate);
    for (let c = 0; c < format.channels; c++) {
      const at = (i * format.channels + c) * sampleBytes;
      if (sampleBytes === 2) view.setInt16(at, Math.round(v * 32767), true);
      else view.setFloat32(at, v, true);
    }
  }
  return out;
}
