import { EdgestreamError } from '../errors.js';
import { PcmChunkDecoder } from './pcm_decoder.js';
import { readWavContainer, checkWavMagic, type WavFormat } from './wav_container.js';

/** How a stream or file ended short of what its header promised. */
export interface AudioTruncation {
  /** Data bytes the header declared. */
  declaredBytes: number;
  /** Data bytes that arrived (including a trailing partial frame, which is dropped). */
  presentBytes: number;
  /** Whole frames decoded. */
  framesDecoded: number;
}

export interface WavStreamOptions {
  /** Name used in error messages (file path, "stdin"...). */
  what?: string;
  /**
   * Give up if this many bytes arrive without the start of the data chunk (guards a stream
   * that never gets to its audio). Default 1 MiB; files read whole pass Infinity.
   */
  maxHeaderBytes?: number;
}

const DEFAULT_MAX_HEADER = 1 << 20;

/**
 * Decodes a WAV byte stream that arrives in chunks of any size (stdin from `arecord`, a socket):
 * first collects the header until the data chunk begins, then decodes the data as PCM chunk
 * by chunk. A header that declares a placeholder length (writers to a pipe do) means "until the
 * end of the stream"; a real declared length is honoured and anything after it is ignored.
 * Output is the first channel as float samples; the result never depends on the chunking.
 */
export class WavStreamDecoder {
  private readonly what: string;
  private readonly maxHeader: number;
  /** Header bytes collected so far (until the data chunk starts). */
  private head: Uint8Array = new Uint8Array(256);
  private headLength = 0;
  /** Parse again once this many header bytes are here (grows geometrically: linear total work). */
  private nextAttempt = 12;
  private pcm: PcmChunkDecoder | null = null;
  private declared: number | null = null;
  /** Data bytes still expected (Infinity when the length is unknown). */
  private remaining = Infinity;
  private received = 0;
  private ended = false;
  private fmt: WavFormat | null = null;
  private truncatedBy: AudioTruncation | null = null;

  constructor(options: WavStreamOptions = {}) {
    this.what = options.what ?? 'WAV stream';
    this.maxHeader = options.maxHeaderBytes ?? DEFAULT_MAX_HEADER;
  }

  /** The stream's format, once its header has arrived. */
  get format(): WavFormat | null {
    return this.fmt;
  }

  /** Set by `end()` when the data was shorter than declared. */
  get truncation(): AudioTruncation | null {
    return this.truncatedBy;
  }

  /** Feed the next bytes; returns the samples they complete (first channel, maybe none). */
  push(bytes: Uint8Array): Float32Array {
    if (this.ended) throw new EdgestreamError('E_AUDIO_FORMAT', `${this.what}: bytes pushed after the end of the stream`);
    if (this.pcm) return this.pushData(bytes);
    this.appendHead(bytes);
    if (this.headLength >= 4) checkWavMagic(this.head.subarray(0, this.headLength), this.what);
    if (this.headLength < this.nextAttempt) return new Float32Array(0);
    return this.tryHeader(true);
  }

  /** The stream is over: returns any last samples, records a truncation, throws if no header came. */
  end(): Float32Array {
    if (this.ended) return new Float32Array(0);
    let out: Float32Array = new Float32Array(0);
    if (!this.pcm) {
      if (this.headLength === 0) throw new EdgestreamError('E_AUDIO_FORMAT', `${this.what}: empty input; expected a WAV file`);
      out = this.tryHeader(false);
    }
    this.ended = true;
    const pcm = this.pcm!;
    if ((this.declared !== null && this.received < this.declared) || pcm.pendingBytes > 0) {
      this.truncatedBy = {
        declaredBytes: this.declared ?? this.received,
        presentBytes: this.received,
        framesDecoded: pcm.framesDecoded,
      };
    }
    return out;
  }

  private appendHead(bytes: Uint8Array): void {
    const need = this.headLength + bytes.length;
    if (need > this.head.length) {
      const grown = new Uint8Array(Math.max(need, this.head.length * 2));
      grown.set(this.head.subarray(0, this.headLength));
      this.head = grown;
    }
    this.head.set(bytes, this.headLength);
    this.headLength = need;
  }

  private tryHeader(partial: boolean): Float32Array {
    const bytes = this.head.subarray(0, this.headLength);
    const parsed = readWavContainer(bytes, this.what, partial);
    if (!parsed) {
      if (this.headLength > this.maxHeader) {
        throw new EdgestreamError('E_AUDIO_FORMAT', `${this.what}: no WAV data chunk within the first ${this.maxHeader} bytes; the header is corrupt or this is not a WAV stream`);
      }
      this.nextAttempt = Math.max(this.headLength + 1, Math.ceil(this.headLength * 1.25));
      return new Float32Array(0);
    }
    const { format, data, declaredDataBytes } = parsed;
    this.fmt = format;
    this.declared = declaredDataBytes;
    this.remaining = declaredDataBytes ?? Infinity;
    this.pcm = new PcmChunkDecoder({ encoding: format.encoding, channels: format.channels, blockAlign: format.blockAlign });
    this.head = new Uint8Array(0);
    this.headLength = 0;
    return this.pushData(data);
  }

  private pushData(bytes: Uint8Array): Float32Array {
    const take = Math.min(bytes.length, this.remaining);
    this.remaining -= take;
    this.received += take;
    return this.pcm!.push(take === bytes.length ? bytes : bytes.subarray(0, take));
  }
}
