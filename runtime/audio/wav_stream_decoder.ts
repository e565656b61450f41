import { EdgestreamError } from '../errors.js';
import { PcmChunkDecoder } from './pcm_decoder.js';
import { checkWavMagic, FMT_READ_BYTES, parseFmtChunk, UNKNOWN_LENGTH, WAV_LIMITS, type WavFormat } from './wav_container.js';

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
   * The data chunk must begin within this many bytes (default and upper bound: 16 MiB,
   * `WAV_LIMITS.maxBytesBeforeData`); a lower value refuses earlier. Skipped chunks are not held
   * in memory, so the bound limits work, not memory.
   */
  maxHeaderBytes?: number;
}

/** Where the decoder is in the container. */
type Phase =
  | 'riff' // collecting "RIFF" size "WAVE"
  | 'pad' // after an odd-sized chunk: one byte that is the pad if it is zero
  | 'chunk' // collecting a chunk header: id, size
  | 'fmt' // collecting the first bytes of the fmt chunk
  | 'skip' // passing over the rest of a chunk
  | 'data' // decoding PCM
  | 'done'; // the declared data ended: the rest is ignored

/**
 * Decodes a WAV byte stream that arrives in chunks of any size (a whole file is one chunk; stdin
 * from `arecord`; a socket): walks the RIFF chunks (rules in `WAV_LIMITS`), then decodes the data
 * as PCM chunk by chunk. A header that declares a placeholder length (writers to a pipe do) means
 * "until the end of the stream"; a real declared length is honoured and anything after it is
 * ignored. A trailing partial frame (a data chunk that is not a whole number of frames, or a stream
 * cut mid-frame) is dropped. Output is the first channel as float samples; the result never
 * depends on the chunking, and memory is one chunk header, the fmt chunk and one frame.
 */
export class WavStreamDecoder {
  private readonly what: string;
  private readonly maxHeader: number;
  private phase: Phase = 'riff';
  /** Bytes being collected for the current phase (RIFF header, chunk header, fmt chunk). */
  private readonly collected = new Uint8Array(FMT_READ_BYTES);
  private collectedLength = 0;
  private need = 12;
  /** Bytes still to pass over in the `skip` phase. */
  private skipLeft = 0;
  /** Whether the chunk being skipped has an odd size (a pad byte follows it). */
  private oddChunk = false;
  /** Bytes of the container consumed so far. */
  private offset = 0;
  private container: 'RIFF' | 'RIFX' = 'RIFF';
  private fmtSize = 0;
  private fmt: WavFormat | null = null;
  private pcm: PcmChunkDecoder | null = null;
  private declared: number | null = null;
  /** Data bytes still expected (Infinity when the length is unknown). */
  private remaining = Infinity;
  private received = 0;
  private ended = false;
  private truncatedBy: AudioTruncation | null = null;

  constructor(options: WavStreamOptions = {}) {
    this.what = options.what ?? 'WAV stream';
    this.maxHeader = Math.min(options.maxHeaderBytes ?? Infinity, WAV_LIMITS.maxBytesBeforeData);
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
    let i = 0;
    while (i < bytes.length && this.phase !== 'data' && this.phase !== 'done') i += this.walk(bytes.subarray(i));
    if (this.phase !== 'data' || i === bytes.length) return new Float32Array(0);
    return this.pushData(bytes.subarray(i));
  }

  /** The stream is over: returns any last samples, records a truncation, throws if no header came. */
  end(): Float32Array {
    if (this.ended) return new Float32Array(0);
    this.ended = true;
    if (!this.pcm) {
      if (this.offset + this.collectedLength === 0) throw new EdgestreamError('E_AUDIO_FORMAT', `${this.what}: empty input; expected a WAV file`);
      if (this.phase === 'riff') {
        throw new EdgestreamError('E_AUDIO_FORMAT', `${this.what}: ${this.collectedLength} bytes is too short to be a WAV file (the header alone takes 44)`);
      }
      const where = this.phase === 'fmt' ? 'inside its fmt chunk' : this.fmt ? 'before its data chunk' : 'before its fmt chunk';
      throw new EdgestreamError('E_AUDIO_FORMAT', `${this.what}: cannot read the WAV header: the input ends ${where} (after ${this.offset + this.collectedLength} bytes)`);
    }
    if (this.declared !== null && this.received < this.declared) {
      this.truncatedBy = { declaredBytes: this.declared, presentBytes: this.received, framesDecoded: this.pcm.framesDecoded };
    }
    return new Float32Array(0);
  }

  /** Advance the container walk over the start of `bytes`; returns how many bytes it consumed. */
  private walk(bytes: Uint8Array): number {
    switch (this.phase) {
      case 'skip': {
        const n = Math.min(this.skipLeft, bytes.length);
        this.skipLeft -= n;
        this.offset += n;
        if (this.skipLeft === 0) this.phase = this.oddChunk ? 'pad' : 'chunk';
        if (this.phase === 'chunk') this.expect(8);
        return n;
      }
      case 'pad': {
        // A zero byte is the pad; anything else is the next chunk's id (the writer forgot the pad).
        const isPad = bytes[0] === 0;
        if (isPad) this.offset++;
        this.phase = 'chunk';
        this.expect(8);
        return isPad ? 1 : 0;
      }
      default: {
        const n = Math.min(this.need - this.collectedLength, bytes.length);
        this.collected.set(bytes.subarray(0, n), this.collectedLength);
        this.collectedLength += n;
        if (this.phase === 'riff' && this.collectedLength >= 4) checkWavMagic(this.collected.subarray(0, this.collectedLength), this.what);
        if (this.collectedLength === this.need) this.complete();
        return n;
      }
    }
  }

  private expect(n: number): void {
    this.need = n;
    this.collectedLength = 0;
  }

  /** The bytes of the current phase are all here. */
  private complete(): void {
    const got = this.collected.subarray(0, this.collectedLength);
    this.offset += this.collectedLength;
    if (this.phase === 'riff') {
      this.container = got[3] === 0x58 /* X */ ? 'RIFX' : 'RIFF';
      this.phase = 'chunk';
      this.expect(8);
      return;
    }
    if (this.phase === 'fmt') {
      this.fmt = parseFmtChunk(got, this.fmtSize, this.container, this.what);
      this.startSkip(this.fmtSize - got.length, this.fmtSize);
      return;
    }
    // A chunk header.
    const id = String.fromCharCode(...got.subarray(0, 4));
    const size = new DataView(got.buffer, got.byteOffset, 8).getUint32(4, this.container === 'RIFF');
    if (id === 'data') {
      if (!this.fmt) throw new EdgestreamError('E_AUDIO_FORMAT', `${this.what}: the WAV file has its data chunk before its fmt chunk; it cannot be decoded`);
      this.declared = size >= UNKNOWN_LENGTH ? null : size;
      this.remaining = this.declared ?? Infinity;
      this.pcm = new PcmChunkDecoder({ encoding: this.fmt.encoding, channels: this.fmt.channels, blockAlign: this.fmt.blockAlign });
      this.phase = this.remaining === 0 ? 'done' : 'data';
      return;
    }
    if (id === 'fmt ' && !this.fmt && size > WAV_LIMITS.maxFmtBytes) {
      throw new EdgestreamError('E_AUDIO_FORMAT', `${this.what}: cannot read the WAV header: a fmt chunk of ${size} bytes (at most ${WAV_LIMITS.maxFmtBytes}; real ones have 16 to 50)`);
    }
    if (this.offset + size + (size & 1) + 8 > this.maxHeader) {
      throw new EdgestreamError('E_AUDIO_FORMAT', `${this.what}: no WAV data chunk within the first ${this.maxHeader} bytes (chunk ${JSON.stringify(id)} of ${size} bytes at byte ${this.offset - 8} runs past it); the header is corrupt or this is not a WAV stream`, { chunk: id, size });
    }
    if (id === 'fmt ' && !this.fmt) {
      this.fmtSize = size;
      this.phase = 'fmt';
      this.expect(Math.min(size, FMT_READ_BYTES));
      if (this.need === 0) this.complete();
      return;
    }
    this.startSkip(size, size);
  }

  /** Pass over `n` bytes, then the pad byte of a chunk of `chunkSize` if it is odd. */
  private startSkip(n: number, chunkSize: number): void {
    this.oddChunk = (chunkSize & 1) === 1;
    this.skipLeft = n;
    this.phase = 'skip';
    this.collectedLength = 0;
    if (n === 0) {
      this.phase = this.oddChunk ? 'pad' : 'chunk';
      if (this.phase === 'chunk') this.expect(8);
    }
  }

  private pushData(bytes: Uint8Array): Float32Array {
    const take = Math.min(bytes.length, this.remaining);
    this.remaining -= take;
    this.received += take;
    if (this.remaining === 0) this.phase = 'done';
    return this.pcm!.push(take === bytes.length ? bytes : bytes.subarray(0, take));
  }
}
