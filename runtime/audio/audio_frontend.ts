import { EdgestreamError } from '../errors.js';
import { moduleLogger } from '../log.js';
import type { FrontendSettings } from '../model/frontend_settings.js';
import { createAudioDecoder, checkSampleRate, type AudioDecoder, type AudioStreamInfo } from './audio_decoder.js';
import { KaldiFbank, type FrameSink } from './kaldi_fbank.js';
import type { PcmFormatName } from './pcm_format.js';
import { Resampler, type ResamplerOptions } from './resampler.js';
import type { AudioTruncation } from './wav_stream_decoder.js';

/** Options of `createAudioFrontend`. */
export interface AudioFrontendOptions {
  /**
   * Sample rate (Hz) of the audio you push. Default: the WAV header's rate when you push WAV
   * bytes, otherwise the model's rate (`settings.sampleRate`, no resampling).
   */
  inputRate?: number;
  /**
   * How pushed bytes (Uint8Array/Buffer) are read: 'auto' (default: WAV if they start with
   * "RIFF", else an error asking for a format), 'wav', or a raw PCM format name such as
   * 's16le' or 'f32le' (then `inputRate` is required unless it equals the model's rate).
   */
  format?: 'auto' | 'wav' | PcmFormatName;
  /** Interleaved channels of raw PCM bytes; the first channel is used. Default 1. */
  channels?: number;
  /** Emit normalised frames, (x − mean)/(2·std), ready for the model. Default: when the settings define a normalisation. */
  normalize?: boolean;
  /** Resampler quality (used when the input rate differs from the model's). */
  resampler?: ResamplerOptions;
  /** Name for error messages (a path, "stdin", a device id). */
  what?: string;
  /** WAV input: give up when this many bytes pass without a data chunk. Default and upper bound 16 MiB (files and streams alike). */
  maxHeaderBytes?: number;
}

/** Audio in (samples or bytes, any chunking), feature frames out. One per stream. */
export interface AudioFrontend {
  readonly settings: FrontendSettings;
  /** Values per frame (mel bins, +1 with useEnergy). */
  readonly featureSize: number;
  /** Whether frames are normalised. */
  readonly normalized: boolean;
  /** The input sample rate, once known. */
  readonly inputRate: number | null;
  /** What the byte decoder learned (WAV header or raw format), once known. */
  readonly audioInfo: AudioStreamInfo | null;
  /** After `flush()`: set when a WAV's data was shorter than its header declared. */
  readonly truncation: AudioTruncation | null;
  /** Frames produced since the start (or the last reset). */
  readonly framesEmitted: number;
  /**
   * Push audio: Float32Array/Float64Array samples in [-1, 1], Int16Array samples, or bytes
   * (Uint8Array/Buffer, read as `format`). Returns the frames completed so far (copies).
   * A chunk holding NaN/Infinity is rejected (`E_NONFINITE_INPUT`) and the stream stays usable.
   */
  push(input: AudioInput): Float32Array[];
  /** Like push, but hands each frame to `onFrame` in a reused array (no allocation per frame). */
  process(input: AudioInput, onFrame: FrameSink): void;
  /** End of stream: releases the resampler's look-ahead and returns the last frames. */
  flush(): Float32Array[];
  /** Forget everything and start a new stream (also after flush). */
  reset(): void;
}

export type AudioInput = Float32Array | Float64Array | Int16Array | Uint8Array;

const log = moduleLogger('audio');

class StreamingAudioFrontend implements AudioFrontend {
  readonly settings: FrontendSettings;
  readonly featureSize: number;
  readonly normalized: boolean;
  private readonly options: AudioFrontendOptions;
  private readonly what: string;
  private readonly fbank: KaldiFbank;
  private decoder: AudioDecoder | null = null;
  private resampler: Resampler | null = null;
  private rate: number | null = null;
  private flushed = false;

  constructor(settings: FrontendSettings, options: AudioFrontendOptions) {
    this.settings = settings;
    this.options = options;
    this.what = options.what ?? 'audio';
    const normalize = options.normalize ?? settings.normalize !== null;
    this.fbank = new KaldiFbank(settings, { normalize });
    this.normalized = this.fbank.normalized;
    this.featureSize = this.fbank.geometry.numFeatures;
    if (options.inputRate !== undefined) checkSampleRate(options.inputRate, this.what);
    if (options.format !== undefined && options.format !== 'auto' && options.format !== 'wav') {
      // Validate the raw format now, not at the first byte.
      createAudioDecoder(this.decoderOptions());
    }
  }

  get inputRate(): number | null {
    return this.rate;
  }
  get audioInfo(): AudioStreamInfo | null {
    return this.decoder?.info ?? null;
  }
  get truncation(): AudioTruncation | null {
    return this.decoder?.truncation ?? null;
  }
  get framesEmitted(): number {
    return this.fbank.framesEmitted;
  }

  push(input: AudioInput): Float32Array[] {
    const frames: Float32Array[] = [];
    this.process(input, (f) => frames.push(f.slice()));
    return frames;
  }

  process(input: AudioInput, onFrame: FrameSink): void {
    if (this.flushed) throw new EdgestreamError('E_SESSION_STATE', `${this.what}: the front end was flushed; call reset() to start a new stream`);
    let samples: Float32Array | Float64Array;
    if (input instanceof Uint8Array) {
      this.decoder ??= createAudioDecoder(this.decoderOptions());
      samples = this.decoder.push(input);
      if (samples.length === 0) return;
      this.establishRate(this.decoder.info!.sampleRate);
    } else if (input instanceof Int16Array) {
      samples = Float32Array.from(input, (v) => v / 32768);
      this.establishRate(this.options.inputRate ?? this.settings.sampleRate);
    } else if (input instanceof Float32Array || input instanceof Float64Array) {
      samples = input;
      this.establishRate(this.options.inputRate ?? this.settings.sampleRate);
    } else {
      throw new EdgestreamError('E_AUDIO_FORMAT', `${this.what}: push() takes a Float32Array, Float64Array, Int16Array or Uint8Array (bytes), got ${describe(input)}`);
    }
    checkFinite(samples, this.what);
    this.feed(samples, onFrame);
  }

  flush(): Float32Array[] {
    if (this.flushed) return [];
    const frames: Float32Array[] = [];
    const sink: FrameSink = (f) => frames.push(f.slice());
    if (this.decoder) {
      const last = this.decoder.end();
      if (last.length > 0) {
        this.establishRate(this.decoder.info!.sampleRate);
        checkFinite(last, this.what);
        this.feed(last, sink);
      }
    }
    if (this.resampler) this.fbank.process(this.resampler.flush(), sink);
    this.flushed = true;
    const t = this.decoder?.truncation;
    if (t) log.warn({ what: this.what, ...t }, 'audio data shorter than its WAV header declared; decoded what was there');
    return frames;
  }

  reset(): void {
    this.decoder = null;
    this.resampler = null;
    this.rate = null;
    this.fbank.reset();
    this.flushed = false;
  }

  private feed(samples: Float32Array | Float64Array, onFrame: FrameSink): void {
    this.fbank.process(this.resampler ? this.resampler.push(samples) : samples, onFrame);
  }

  private establishRate(rate: number): void {
    if (this.rate === rate) return;
    if (this.rate !== null) {
      throw new EdgestreamError('E_AUDIO_FORMAT', `${this.what}: audio at ${rate} Hz pushed into a stream running at ${this.rate} Hz; use one front end per stream and rate`);
    }
    if (this.options.inputRate !== undefined && this.options.inputRate !== rate) {
      throw new EdgestreamError('E_AUDIO_FORMAT', `${this.what}: the WAV header says ${rate} Hz but inputRate ${this.options.inputRate} Hz was given`);
    }
    this.rate = rate;
    this.resampler = rate === this.settings.sampleRate ? null : new Resampler(rate, this.settings.sampleRate, this.options.resampler);
  }

  private decoderOptions(): Parameters<typeof createAudioDecoder>[0] {
    const f = this.options.format ?? 'auto';
    const raw = f !== 'auto' && f !== 'wav';
    return {
      container: raw ? 'raw' : f,
      what: this.what,
      ...(raw && { format: f }),
      sampleRate: this.options.inputRate ?? this.settings.sampleRate,
      ...(this.options.channels !== undefined && { channels: this.options.channels }),
      ...(this.options.maxHeaderBytes !== undefined && { maxHeaderBytes: this.options.maxHeaderBytes }),
    };
  }
}

function checkFinite(samples: Float32Array | Float64Array, what: string): void {
  for (let i = 0; i < samples.length; i++) {
    if (!Number.isFinite(samples[i]!)) {
      throw new EdgestreamError('E_NONFINITE_INPUT', `${what}: sample ${i} of the chunk is ${samples[i]}; audio must be finite (the chunk was dropped)`, { index: i });
    }
  }
}

function describe(x: unknown): string {
  if (x === null) return 'null';
  if (typeof x === 'object') return (x as object).constructor?.name ?? 'object';
  return typeof x;
}

/**
 * The streaming audio front end of a model: decodes bytes (WAV or raw PCM) or takes samples,
 * resamples to the model's rate, and computes Kaldi log-mel frames (normalised for the model
 * by default) as soon as each frame's samples have arrived.
 *
 * ```ts
 * const fe = createAudioFrontend(model.frontend, { inputRate: 48000 });
 * for await (const chunk of mic) for (const frame of fe.push(chunk)) session.push(frame);
 * for (const frame of fe.flush()) session.push(frame);
 * ```
 */
export function createAudioFrontend(settings: FrontendSettings, options: AudioFrontendOptions = {}): AudioFrontend {
  return new StreamingAudioFrontend(settings, options);
}
