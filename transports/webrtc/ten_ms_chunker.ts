import { EdgestreamError } from '../../runtime/errors.js';

/**
 * Cuts a mono PCM stream of any chunking into the exactly-10 ms frames that RTCAudioSource.onData
 * accepts (anything else throws `Expected a .byteLength of N, not M`). Float input in [-1, 1] is
 * converted to 16-bit with clipping. The frame handed to `emit` is reused: it is valid only during
 * the call (RTCAudioSource copies it synchronously).
 */
export class TenMsChunker {
  /** Samples per 10 ms frame. */
  readonly frameSamples: number;
  private readonly frame: Int16Array;
  private filled = 0;

  constructor(readonly sampleRate: number) {
    if (!Number.isInteger(sampleRate) || sampleRate < 8000 || sampleRate > 192_000 || sampleRate % 100 !== 0) {
      throw new EdgestreamError('E_AUDIO_FORMAT', `WebRTC audio needs a whole number of samples per 10 ms: ${sampleRate} Hz is not a multiple of 100 between 8000 and 192000`, { sampleRate });
    }
    this.frameSamples = sampleRate / 100;
    this.frame = new Int16Array(this.frameSamples);
  }

  /** Samples waiting for the rest of their frame. */
  get pending(): number {
    return this.filled;
  }

  /** Append samples; calls `emit` once per completed frame. */
  push(samples: Int16Array | Float32Array, emit: (frame: Int16Array) => void): void {
    const isFloat = samples instanceof Float32Array;
    let i = 0;
    while (i < samples.length) {
      const n = Math.min(this.frameSamples - this.filled, samples.length - i);
      if (isFloat) {
        for (let k = 0; k < n; k++) this.frame[this.filled + k] = floatToInt16(samples[i + k]!);
      } else {
        this.frame.set(samples.subarray(i, i + n), this.filled);
      }
      this.filled += n;
      i += n;
      if (this.filled === this.frameSamples) {
        this.filled = 0;
        emit(this.frame);
      }
    }
  }

  /** Complete a partial last frame with silence and emit it. */
  flush(emit: (frame: Int16Array) => void): void {
    if (this.filled === 0) return;
    this.frame.fill(0, this.filled);
    this.filled = 0;
    emit(this.frame);
  }
}

function floatToInt16(x: number): number {
  const v = Math.round(x * 32767);
  return v > 32767 ? 32767 : v < -32768 ? -32768 : v;
}
