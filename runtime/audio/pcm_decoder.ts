import { EdgestreamError } from '../errors.js';
import { bytesPerSample, pcmFormatLabel, type PcmEncoding } from './pcm_format.js';

export interface PcmDecoderOptions {
  encoding: PcmEncoding;
  /** Interleaved channels per frame; only the first is kept. Default 1. */
  channels?: number;
  /** Bytes per frame (WAV's blockAlign). Default channels × bytes per sample. */
  blockAlign?: number;
}

type SampleReader = (view: DataView, offset: number) => number;

function sampleReader(e: PcmEncoding): SampleReader {
  const le = !e.bigEndian;
  switch (e.kind) {
    case 'uint':
      return (v, o) => (v.getUint8(o) - 128) / 128;
    case 'float':
      return e.bits === 32 ? (v, o) => v.getFloat32(o, le) : (v, o) => v.getFloat64(o, le);
    case 'int':
      switch (e.bits) {
        case 8: return (v, o) => v.getInt8(o) / 128;
        case 16: return (v, o) => v.getInt16(o, le) / 32768;
        case 24: return le
          ? (v, o) => (v.getUint8(o) | (v.getUint8(o + 1) << 8) | (v.getInt8(o + 2) << 16)) / 8388608
          : (v, o) => ((v.getInt8(o) << 16) | (v.getUint8(o + 1) << 8) | v.getUint8(o + 2)) / 8388608;
        case 32: return (v, o) => v.getInt32(o, le) / 2147483648;
      }
  }
  throw new EdgestreamError('E_AUDIO_FORMAT', `PCM encoding ${pcmFormatLabel(e)} is not supported`);
}

/**
 * Decodes interleaved PCM bytes arriving in chunks of any size into float samples of the first
 * channel. A frame split across chunks (an odd byte, half a stereo frame) is carried over to the
 * next chunk, so the output never depends on how the bytes were cut.
 */
export class PcmChunkDecoder {
  readonly encoding: PcmEncoding;
  readonly channels: number;
  readonly blockAlign: number;
  private readonly read: SampleReader;
  /** Bytes of an incomplete frame from the previous chunk. */
  private readonly carry: Uint8Array;
  private readonly carryView: DataView;
  private carryLength = 0;
  private frames = 0;

  constructor(options: PcmDecoderOptions) {
    const channels = options.channels ?? 1;
    if (!Number.isSafeInteger(channels) || channels < 1) {
      throw new EdgestreamError('E_AUDIO_FORMAT', `audio must have at least one channel (got ${channels})`, { channels });
    }
    const sampleBytes = bytesPerSample(options.encoding);
    const blockAlign = options.blockAlign ?? channels * sampleBytes;
    if (!Number.isSafeInteger(blockAlign) || blockAlign < channels * sampleBytes) {
      throw new EdgestreamError('E_AUDIO_FORMAT', `block align ${blockAlign} is too small for ${channels} channel(s) of ${sampleBytes}-byte samples`, { blockAlign, channels });
    }
    this.encoding = options.encoding;
    this.channels = channels;
    this.blockAlign = blockAlign;
    this.read = sampleReader(options.encoding);
    this.carry = new Uint8Array(blockAlign);
    this.carryView = new DataView(this.carry.buffer);
  }

  /** Whole frames decoded so far. */
  get framesDecoded(): number {
    return this.frames;
  }

  /** Bytes held back because they do not yet make a whole frame. */
  get pendingBytes(): number {
    return this.carryLength;
  }

  /** Decode a chunk; returns the first-channel samples of every frame it completes (maybe none). */
  push(bytes: Uint8Array): Float32Array {
    const align = this.blockAlign;
    let offset = 0;
    let head = 0;
    if (this.carryLength > 0) {
      const take = Math.min(align - this.carryLength, bytes.length);
      this.carry.set(bytes.subarray(0, take), this.carryLength);
      this.carryLength += take;
      offset = take;
      if (this.carryLength < align) return new Float32Array(0);
      head = 1;
    }
    const whole = Math.floor((bytes.length - offset) / align);
    const out = new Float32Array(head + whole);
    if (head) {
      out[0] = this.read(this.carryView, 0);
      this.carryLength = 0;
    }
    const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
    for (let i = 0; i < whole; i++) out[head + i] = this.read(view, offset + i * align);
    offset += whole * align;
    this.carry.set(bytes.subarray(offset), 0);
    this.carryLength = bytes.length - offset;
    this.frames += out.length;
    return out;
  }

  /** Forget any partial frame. */
  reset(): void {
    this.carryLength = 0;
    this.frames = 0;
  }
}
