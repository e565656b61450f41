import { Resampler } from '../../runtime/audio/resampler.js';
import { EdgestreamError } from '../../runtime/errors.js';
import { TenMsChunker } from './ten_ms_chunker.js';
import type { Wrtc, WrtcAudioSource, WrtcMediaStreamTrack } from './wrtc.js';

/**
 * Local audio into WebRTC: an RTCAudioSource and its track, fed through the 10 ms re-chunker so
 * that any chunking works (RTCAudioSource itself only takes exactly 10 ms). Rates that have no whole
 * number of samples per 10 ms (22.05 kHz, 44.1 kHz) are resampled to 48 kHz, Opus's own rate.
 */
export class AudioSourceWriter {
  readonly track: WrtcMediaStreamTrack;
  /** The rate handed to RTCAudioSource. */
  readonly sourceRate: number;
  private readonly source: WrtcAudioSource;
  private readonly chunker: TenMsChunker;
  private readonly resampler: Resampler | null;
  private readonly emit: (frame: Int16Array) => void;
  /** 10 ms frames written so far. */
  frames = 0;

  constructor(wrtc: Wrtc, readonly inputRate: number) {
    if (!Number.isInteger(inputRate) || inputRate < 8000 || inputRate > 192_000) {
      throw new EdgestreamError('E_AUDIO_FORMAT', `audio sample rate ${inputRate} Hz is outside 8000–192000 Hz`);
    }
    this.sourceRate = inputRate % 100 === 0 ? inputRate : 48_000;
    this.resampler = this.sourceRate === inputRate ? null : new Resampler(inputRate, this.sourceRate);
    this.chunker = new TenMsChunker(this.sourceRate);
    this.source = new wrtc.nonstandard.RTCAudioSource();
    this.track = this.source.createTrack();
    this.emit = (frame) => {
      this.source.onData({ samples: frame, sampleRate: this.sourceRate, bitsPerSample: 16, channelCount: 1, numberOfFrames: frame.length });
      this.frames++;
    };
  }

  /** Write mono samples (Float32 in [-1, 1] or Int16) of any length at `inputRate`. */
  write(samples: Float32Array | Int16Array): void {
    if (this.resampler) {
      const f = samples instanceof Float32Array ? samples : Float32Array.from(samples, (v) => v / 32768);
      this.chunker.push(this.resampler.push(f), this.emit);
    } else {
      this.chunker.push(samples, this.emit);
    }
  }

  /** End of the audio: the resampler's look-ahead and a last partial frame (padded with silence). */
  flush(): void {
    if (this.resampler) this.chunker.push(this.resampler.flush(), this.emit);
    this.chunker.flush(this.emit);
  }

  /** Stop the track. */
  stop(): void {
    this.track.stop();
  }
}
