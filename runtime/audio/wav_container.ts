import wavefile from 'wavefile';
import { EdgestreamError } from '../errors.js';
import { pcmFormatLabel, type PcmEncoding } from './pcm_format.js';

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

/** The container parsed from the first bytes of a WAV file or stream. */
export interface WavContainer {
  format: WavFormat;
  /** Data chunk bytes present in the given buffer (never more than declared). */
  data: Uint8Array;
  /** Data bytes the header declares; `null` when it holds a "length unknown" placeholder. */
  declaredDataBytes: number | null;
}

/** Highest sample rate accepted (768 kHz, the top of what audio interfaces record). */
export const MAX_SAMPLE_RATE = 768_000;

/**
 * Data sizes at or above this are the placeholders that writers to a pipe put in the header
 * (arecord 0x7FFFFFFF, ffmpeg/sox 0xFFFFFFFF): the data runs to the end of the stream.
 */
const UNKNOWN_LENGTH = 0x7fff0000;

const WAVE_FORMAT_PCM = 1;
const WAVE_FORMAT_IEEE_FLOAT = 3;
const WAVE_FORMAT_EXTENSIBLE = 0xfffe;

/** Names of the encodings people meet, to say what a rejected file holds. */
const FORMAT_NAMES: Record<number, string> = {
  2: 'Microsoft ADPCM', 6: 'A-law', 7: 'mu-law', 0x11: 'IMA ADPCM', 0x31: 'GSM 6.10', 0x40: 'G.721 ADPCM',
  0x50: 'MPEG', 0x55: 'MP3', 0xff: 'AAC', 0x1610: 'HE-AAC', 0x2000: 'AC-3', 0x674f: 'Ogg Vorbis',
};

const CONVERT_HINT = 'convert it to PCM first, e.g. `sox in.wav -e signed-integer -b 16 out.wav`';

/** The parts of wavefile's `fmt` object we read (its typings declare `object`). */
interface WavefileFmt {
  chunkSize: number;
  audioFormat: number;
  numChannels: number;
  sampleRate: number;
  blockAlign: number;
  bitsPerSample: number;
  validBitsPerSample: number;
  subformat: number[];
}

interface WavefileData {
  chunkId: string;
  chunkSize: number;
  samples: Uint8Array;
}

function fail(message: string, detail?: Record<string, unknown>): never {
  throw new EdgestreamError('E_AUDIO_FORMAT', message, detail);
}

/** Check the leading magic so that non-WAV input gets a precise message. Needs 12 bytes. */
export function checkWavMagic(bytes: Uint8Array, what: string): void {
  const tag = (o: number): string => String.fromCharCode(...bytes.subarray(o, o + 4));
  const riff = tag(0);
  if (riff === 'RF64' || riff === 'BW64') fail(`${what}: ${riff} (64-bit WAV) is not supported; ${CONVERT_HINT}`);
  if (riff !== 'RIFF' && riff !== 'RIFX') fail(`${what}: not a WAV file (it starts with ${JSON.stringify(riff)}, not "RIFF")`);
  if (bytes.length >= 12 && tag(8) !== 'WAVE') fail(`${what}: a RIFF file but not WAVE audio (form type ${JSON.stringify(tag(8))})`);
}

/**
 * Parse a WAV header (and whatever data follows) with the `wavefile` library, then check that
 * the format is one we decode: PCM 8/16/24/32-bit, IEEE float 32/64-bit, directly or through
 * WAVE_FORMAT_EXTENSIBLE, any channel count (the first channel is used), a sane sample rate.
 *
 * Returns `null` when `partial` is set and the bytes end before the `data` chunk starts
 * (a stream whose header has not fully arrived yet); otherwise a malformed header throws
 * `E_AUDIO_FORMAT`.
 */
export function readWavContainer(bytes: Uint8Array, what: string, partial = false): WavContainer | null {
  if (bytes.length < 12) {
    if (partial) return null;
    fail(`${what}: ${bytes.length} bytes is too short to be a WAV file (the header alone takes 44)`);
  }
  checkWavMagic(bytes, what);
  const wav = new wavefile.WaveFile();
  try {
    // A plain Uint8Array view: wavefile copies the data chunk with .slice(), which on a Node
    // Buffer would be a view into shared memory instead of a copy.
    wav.fromBuffer(new Uint8Array(bytes.buffer, bytes.byteOffset, bytes.byteLength), true);
  } catch (e) {
    if (partial) return null; // the chunk we need has not arrived yet
    const reason = e instanceof RangeError ? 'its chunk structure is corrupt' : (e as Error).message;
    fail(`${what}: cannot read the WAV header: ${reason}`, { cause: String(e) });
  }
  const fmt = wav.fmt as WavefileFmt;
  const data = wav.data as WavefileData;
  const format = checkFormat(fmt, wav.container === 'RIFX' ? 'RIFX' : 'RIFF', what);
  const declared = data.chunkSize >= UNKNOWN_LENGTH ? null : data.chunkSize;
  const present = declared === null ? data.samples : data.samples.subarray(0, Math.min(declared, data.samples.length));
  return { format, data: present, declaredDataBytes: declared };
}

function checkFormat(fmt: WavefileFmt, container: 'RIFF' | 'RIFX', what: string): WavFormat {
  const num = (v: unknown): number => (typeof v === 'number' && Number.isFinite(v) ? v : NaN);
  const chunkSize = num(fmt.chunkSize);
  if (!(chunkSize >= 16)) fail(`${what}: the fmt chunk is ${chunkSize} bytes; a WAV fmt chunk has at least 16`);
  let tag = num(fmt.audioFormat);
  const bits = num(fmt.bitsPerSample);
  const channels = num(fmt.numChannels);
  const sampleRate = num(fmt.sampleRate);
  const blockAlign = num(fmt.blockAlign);
  const formatTag = tag;
  if (tag === WAVE_FORMAT_EXTENSIBLE) {
    if (chunkSize < 40 || fmt.subformat.length < 1) fail(`${what}: WAVE_FORMAT_EXTENSIBLE header is truncated (fmt chunk of ${chunkSize} bytes, needs 40)`);
    tag = num(fmt.subformat[0]); // the sub-format GUID starts with the plain format tag
    const valid = num(fmt.validBitsPerSample);
    if (valid > bits) fail(`${what}: ${valid} valid bits do not fit in ${bits}-bit samples`);
  }
  const name = (t: number): string => FORMAT_NAMES[t] ?? `format tag 0x${t.toString(16).padStart(4, '0')}`;
  if (tag !== WAVE_FORMAT_PCM && tag !== WAVE_FORMAT_IEEE_FLOAT) {
    fail(`${what}: WAV encoding ${name(tag)} is not supported (only PCM and IEEE float); ${CONVERT_HINT}`, { formatTag: tag });
  }
  let encoding: PcmEncoding;
  const bigEndian = container === 'RIFX';
  if (tag === WAVE_FORMAT_PCM) {
    if (bits !== 8 && bits !== 16 && bits !== 24 && bits !== 32) {
      fail(`${what}: ${bits}-bit PCM is not supported (8, 16, 24 or 32 bits); ${CONVERT_HINT}`, { bits });
    }
    encoding = { kind: bits === 8 ? 'uint' : 'int', bits, bigEndian };
  } else {
    if (bits !== 32 && bits !== 64) fail(`${what}: ${bits}-bit IEEE float is not supported (32 or 64 bits)`, { bits });
    encoding = { kind: 'float', bits, bigEndian };
  }
  if (!Number.isInteger(channels) || channels < 1) fail(`${what}: the header declares ${channels} channels; audio needs at least one`, { channels });
  if (!Number.isInteger(sampleRate) || sampleRate < 1 || sampleRate > MAX_SAMPLE_RATE) {
    fail(`${what}: sample rate ${sampleRate} Hz is outside 1–${MAX_SAMPLE_RATE} Hz`, { sampleRate });
  }
  const minAlign = channels * (bits / 8);
  if (blockAlign !== minAlign) {
    fail(`${what}: block align ${blockAlign} does not match ${channels} channel(s) of ${pcmFormatLabel(encoding)} (${minAlign} bytes per frame)`, { blockAlign });
  }
  return { container, formatTag, encoding, channels, sampleRate, blockAlign };
}
