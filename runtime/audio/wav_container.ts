import { EdgestreamError } from '../errors.js';
import { pcmFormatLabel, type PcmEncoding } from './pcm_format.js';
import { MAX_SAMPLE_RATE, MIN_SAMPLE_RATE } from './sample_rates.js';

/** What the `fmt ` chunk of a WAV file says about its samples, validated. */
export interface WavFormat {
  /** 'RIFF' (little-endian) or 'RIFX' (big-endian). */
  container: 'RIFF' | 'RIFX';
  /** WAVE_FORMAT tag: 1 PCM, 3 IEEE float, 0xFFFE extensible. */
  formatTag: number;
  encoding: PcmEncoding;
  channels: number;
  sampleRate: number;
  /** Bytes per frame (all channels). */
  blockAlign: number;
}

/**
 * The WAV container rules, the same for a whole file and a stream (docs/audio-frontend.md, Limits):
 *  - chunks other than `fmt ` and `data` are skipped unread (LIST, bext, iXML, cue, id3, JUNK, …),
 *    each followed by its pad byte when its size is odd (a non-zero byte there is taken as the next
 *    chunk: some writers forget the pad);
 *  - the `data` chunk must begin within the first `WAV_LIMITS.maxBytesBeforeData` bytes, after its
 *    `fmt ` chunk; the RIFF size is not trusted (writers to pipes leave it wrong);
 *  - a `fmt ` chunk is at most `WAV_LIMITS.maxFmtBytes` (the largest real ones are 50 bytes).
 */
export const WAV_LIMITS = {
  maxBytesBeforeData: 16 << 20,
  maxFmtBytes: 4096,
} as const;

/** The part of a fmt chunk that is read (WAVE_FORMAT_EXTENSIBLE ends at byte 40). */
export const FMT_READ_BYTES = 40;

/**
 * Data sizes at or above this are the placeholders that writers to a pipe put in the header
 * (arecord 0x7FFFFFFF, ffmpeg/sox 0xFFFFFFFF): the data runs to the end of the stream.
 */
export const UNKNOWN_LENGTH = 0x7fff0000;

const WAVE_FORMAT_PCM = 1;
const WAVE_FORMAT_IEEE_FLOAT = 3;
const WAVE_FORMAT_EXTENSIBLE = 0xfffe;
/** KSDATAFORMAT_SUBTYPE_* GUIDs are {tag-0000-0010-8000-00aa00389b71}; bytes 4–15 as stored. */
const SUBTYPE_TAIL_LE = [0x00, 0x00, 0x10, 0x00, 0x80, 0x00, 0x00, 0xaa, 0x00, 0x38, 0x9b, 0x71];
const SUBTYPE_TAIL_BE = [0x00, 0x00, 0x00, 0x10, 0x80, 0x00, 0x00, 0xaa, 0x00, 0x38, 0x9b, 0x71];

/** Names of the encodings people meet, to say what a rejected file holds. */
const FORMAT_NAMES: Record<number, string> = {
  2: 'Microsoft ADPCM', 6: 'A-law', 7: 'mu-law', 0x11: 'IMA ADPCM', 0x31: 'GSM 6.10', 0x40: 'G.721 ADPCM',
  0x50: 'MPEG', 0x55: 'MP3', 0xff: 'AAC', 0x1610: 'HE-AAC', 0x2000: 'AC-3', 0x674f: 'Ogg Vorbis',
};

const CONVERT_HINT = 'convert it to PCM first, e.g. `sox in.wav -e signed-integer -b 16 out.wav`';

function fail(message: string, detail?: Record<string, unknown>): never {
  throw new EdgestreamError('E_AUDIO_FORMAT', message, detail);
}

/** Check the leading magic so that non-WAV input gets a precise message. Needs 4 bytes (12 for the form type). */
export function checkWavMagic(bytes: Uint8Array, what: string): void {
  const tag = (o: number): string => String.fromCharCode(...bytes.subarray(o, o + 4));
  const riff = tag(0);
  if (riff === 'RF64' || riff === 'BW64') fail(`${what}: ${riff} (64-bit WAV) is not supported; ${CONVERT_HINT}`);
  if (riff !== 'RIFF' && riff !== 'RIFX') fail(`${what}: not a WAV file (it starts with ${JSON.stringify(riff)}, not "RIFF")`);
  if (bytes.length >= 12 && tag(8) !== 'WAVE') fail(`${what}: a RIFF file but not WAVE audio (form type ${JSON.stringify(tag(8))})`);
}

/**
 * Validate a fmt chunk: `body` holds its first bytes (up to FMT_READ_BYTES), `size` is its declared
 * size. Accepts PCM 8/16/24/32-bit and IEEE float 32/64-bit, directly or through
 * WAVE_FORMAT_EXTENSIBLE, any channel count (the first channel is used), a rate of 4–384 kHz.
 */
export function parseFmtChunk(body: Uint8Array, size: number, container: 'RIFF' | 'RIFX', what: string): WavFormat {
  if (size < 16) fail(`${what}: the fmt chunk is ${size} bytes; a WAV fmt chunk has at least 16`);
  const bigEndian = container === 'RIFX';
  const dv = new DataView(body.buffer, body.byteOffset, body.byteLength);
  const u16 = (o: number): number => dv.getUint16(o, !bigEndian);
  const u32 = (o: number): number => dv.getUint32(o, !bigEndian);
  const formatTag = u16(0);
  const channels = u16(2);
  const sampleRate = u32(4);
  const blockAlign = u16(12);
  const bits = u16(14);
  let tag = formatTag;
  if (tag === WAVE_FORMAT_EXTENSIBLE) {
    if (size < 40) fail(`${what}: WAVE_FORMAT_EXTENSIBLE header is truncated (fmt chunk of ${size} bytes, needs 40)`);
    const valid = u16(18);
    const data1 = u32(24);
    const tail = Array.from(body.subarray(28, 40));
    const known = [SUBTYPE_TAIL_LE, SUBTYPE_TAIL_BE].some((t) => t.every((b, i) => tail[i] === b));
    if (!known || data1 > 0xffff) {
      const hex = Array.from(body.subarray(24, 40), (b) => b.toString(16).padStart(2, '0')).join('');
      fail(`${what}: WAVE_FORMAT_EXTENSIBLE sub-format ${hex} is not PCM or IEEE float; ${CONVERT_HINT}`);
    }
    tag = data1; // the sub-format GUID starts with the plain format tag
    if (valid > bits) fail(`${what}: ${valid} valid bits do not fit in ${bits}-bit samples`);
  }
  const name = (t: number): string => FORMAT_NAMES[t] ?? `format tag 0x${t.toString(16).padStart(4, '0')}`;
  if (tag !== WAVE_FORMAT_PCM && tag !== WAVE_FORMAT_IEEE_FLOAT) {
    fail(`${what}: WAV encoding ${name(tag)} is not supported (only PCM and IEEE float); ${CONVERT_HINT}`, { formatTag: tag });
  }
  let encoding: PcmEncoding;
  if (tag === WAVE_FORMAT_PCM) {
    if (bits !== 8 && bits !== 16 && bits !== 24 && bits !== 32) {
      fail(`${what}: ${bits}-bit PCM is not supported (8, 16, 24 or 32 bits); ${CONVERT_HINT}`, { bits });
    }
    encoding = { kind: bits === 8 ? 'uint' : 'int', bits, bigEndian };
  } else {
    if (bits !== 32 && bits !== 64) fail(`${what}: ${bits}-bit IEEE float is not supported (32 or 64 bits)`, { bits });
    encoding = { kind: 'float', bits, bigEndian };
  }
  if (channels < 1) fail(`${what}: the header declares ${channels} channels; audio needs at least one`, { channels });
  if (sampleRate < MIN_SAMPLE_RATE || sampleRate > MAX_SAMPLE_RATE) {
    fail(`${what}: sample rate ${sampleRate} Hz is outside ${MIN_SAMPLE_RATE}–${MAX_SAMPLE_RATE} Hz`, { sampleRate });
  }
  const frameBytes = channels * (bits / 8);
  if (blockAlign !== frameBytes) {
    fail(`${what}: block align ${blockAlign} does not match ${channels} channel(s) of ${pcmFormatLabel(encoding)} (${frameBytes} bytes per frame)`, { blockAlign });
  }
  return { container, formatTag, encoding, channels, sampleRate, blockAlign };
}
