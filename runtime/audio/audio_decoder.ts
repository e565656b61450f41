import { EdgestreamError } from '../errors.js';
import { PcmChunkDecoder } from './pcm_decoder.js';
import { pcmFormat, pcmFormatLabel, type PcmEncoding, type PcmFormatName } from './pcm_format.js';
import { isAcceptedSampleRate, MAX_SAMPLE_RATE, MIN_SAMPLE_RATE } from './sample_rates.js';
import { WavStreamDecoder, type AudioTruncation } from './wav_stream_decoder.js';

/** How incoming bytes are to be read. */
export interface AudioDecoderOptions {
  /**
   * 'wav': a WAV header comes first; 'raw': headerless PCM (`format` and `sampleRate` required);
   * 'auto' (default): WAV if the bytes start with "RIFF"/"RIFX", raw PCM otherwise (which then
   * needs `format` and `sampleRate`).
   */
  container?: 'auto' | 'wav' | 'raw';
  /** Raw PCM sample format. Default for raw input: none (must be given). */
  format?: PcmFormatName;
  /** Raw PCM sample rate in Hz. */
  sampleRate?: number;
  /** Raw PCM interleaved channels (the first is used). Default 1. */
  channels?: number;
  /** Name for error messages (a path, "stdin"). */
  what?: string;
  /** See WavStreamOptions.maxHeaderBytes. */
  maxHeaderBytes?: number;
}

/** What the decoder learned about the stream. */
export interface AudioStreamInfo {
  container: 'wav' | 'raw';
  sampleRate: number;
  channels: number;
  encoding: PcmEncoding;
  /** e.g. "s16le", "f32le". */
  formatLabel: string;
}

/** Bytes in any chunking → float samples of the first channel, for WAV or raw PCM. */
export interface AudioDecoder {
  /** Known once the header arrived (WAV) or from the start (raw). */
  readonly info: AudioStreamInfo | null;
  /** Set after `end()` when a WAV's data was shorter than its header said. */
  readonly truncation: AudioTruncation | null;
  push(bytes: Uint8Array): Float32Array;
  end(): Float32Array;
}

/** Check a sample rate given by a user (CLI flag, option). */
export function checkSampleRate(rate: unknown, what: string): number {
  if (!isAcceptedSampleRate(rate)) {
    throw new EdgestreamError('E_AUDIO_FORMAT', `${what}: sample rate ${String(rate)} is not an integer between ${MIN_SAMPLE_RATE} and ${MAX_SAMPLE_RATE} Hz`, { rate });
  }
  return rate;
}

class RawDecoder implements AudioDecoder {
  readonly info: AudioStreamInfo;
  readonly truncation: AudioTruncation | null = null;
  private readonly pcm: PcmChunkDecoder;

  constructor(format: PcmFormatName, sampleRate: number, channels: number) {
    const encoding = pcmFormat(format);
    this.pcm = new PcmChunkDecoder({ encoding, channels });
    this.info = { container: 'raw', sampleRate, channels, encoding, formatLabel: pcmFormatLabel(encoding) };
  }

  push(bytes: Uint8Array): Float32Array {
    return this.pcm.push(bytes);
  }

  end(): Float32Array {
    return new Float32Array(0); // a trailing partial frame is not a sample
  }
}

class WavDecoder implements AudioDecoder {
  private readonly wav: WavStreamDecoder;
  constructor(what: string, maxHeaderBytes: number | undefined) {
    this.wav = new WavStreamDecoder({ what, ...(maxHeaderBytes !== undefined && { maxHeaderBytes }) });
  }
  get info(): AudioStreamInfo | null {
    const f = this.wav.format;
    return f && { container: 'wav', sampleRate: f.sampleRate, channels: f.channels, encoding: f.encoding, formatLabel: pcmFormatLabel(f.encoding) };
  }
  get truncation(): AudioTruncation | null {
    return this.wav.truncation;
  }
  push(bytes: Uint8Array): Float32Array {
    return this.wav.push(bytes);
  }
  end(): Float32Array {
    return this.wav.end();
  }
}

/** Looks at the first 4 bytes, then hands everything to a WAV or a raw decoder. */
class SniffingDecoder implements AudioDecoder {
  private inner: AudioDecoder | null = null;
  private held = new Uint8Array(0);

  constructor(private readonly options: AudioDecoderOptions, private readonly what: string) {}

  get info(): AudioStreamInfo | null {
    return this.inner?.info ?? null;
  }
  get truncation(): AudioTruncation | null {
    return this.inner?.truncation ?? null;
  }

  push(bytes: Uint8Array): Float32Array {
    if (this.inner) return this.inner.push(bytes);
    const all = new Uint8Array(this.held.length + bytes.length);
    all.set(this.held);
    all.set(bytes, this.held.length);
    if (all.length < 4) {
      this.held = all;
      return new Float32Array(0);
    }
    this.held = new Uint8Array(0);
    this.inner = this.choose(all);
    return this.inner.push(all);
  }

  end(): Float32Array {
    if (!this.inner) {
      if (this.held.length === 0) throw new EdgestreamError('E_AUDIO_FORMAT', `${this.what}: empty input; no audio to decode`);
      this.inner = this.choose(this.held);
      const out = this.inner.push(this.held);
      const rest = this.inner.end();
      return rest.length === 0 ? out : concat(out, rest);
    }
    return this.inner.end();
  }

  private choose(first: Uint8Array): AudioDecoder {
    const magic = String.fromCharCode(...first.subarray(0, 4));
    if (['RIFF', 'RIFX', 'RF64', 'BW64'].includes(magic)) return new WavDecoder(this.what, this.options.maxHeaderBytes);
    if (this.options.format === undefined || this.options.sampleRate === undefined) {
      throw new EdgestreamError('E_AUDIO_FORMAT', `${this.what}: not a WAV file (no RIFF header); for headerless PCM give the sample format and rate (CLI: --format s16le --rate 16000)`);
    }
    return rawDecoder(this.options, this.what);
  }
}

function rawDecoder(o: AudioDecoderOptions, what: string): RawDecoder {
  if (o.format === undefined) throw new EdgestreamError('E_AUDIO_FORMAT', `${what}: raw PCM needs a sample format (s16le, f32le, ...)`);
  const rate = checkSampleRate(o.sampleRate, what);
  const channels = o.channels ?? 1;
  if (!Number.isInteger(channels) || channels < 1 || channels > 65535) {
    throw new EdgestreamError('E_AUDIO_FORMAT', `${what}: ${channels} channels; expected an integer from 1 to 65535`, { channels });
  }
  return new RawDecoder(o.format, rate, channels);
}

function concat(a: Float32Array, b: Float32Array): Float32Array {
  const out = new Float32Array(a.length + b.length);
  out.set(a);
  out.set(b, a.length);
  return out;
}

/** A decoder for WAV or raw PCM bytes arriving in chunks of any size. */
export function createAudioDecoder(options: AudioDecoderOptions = {}): AudioDecoder {
  const what = options.what ?? 'audio';
  switch (options.container ?? 'auto') {
    case 'wav': return new WavDecoder(what, options.maxHeaderBytes);
    case 'raw': return rawDecoder(options, what);
    case 'auto': return new SniffingDecoder(options, what);
    default: throw new EdgestreamError('E_AUDIO_FORMAT', `unknown audio container "${String(options.container)}". Expected one of: auto, wav, raw`);
  }
}
