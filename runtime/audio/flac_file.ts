import createFlac from 'libflacjs';
import { EdgestreamError } from '../errors.js';
import { checkSampleRate } from './audio_decoder.js';

/**
 * FLAC files (the format Speech Commands recordings are shared in), decoded whole by the reference
 * libFLAC compiled to JavaScript (`libflacjs`). Samples are scaled as torchaudio/libsndfile scale
 * integer PCM (x / 2^(bits−1)), like our WAV reader, so a FLAC and the WAV it came from give the
 * same features.
 *
 * (`@wasm-audio-decoders/flac` was tried first: its frame parser drops a file's last frame when
 * that frame is very short, a quarter second of many Speech Commands clips.)
 */
export interface DecodedAudio {
  /** The first channel, in [-1, 1). */
  samples: Float32Array;
  sampleRate: number;
  channels: number;
  bitDepth: number;
  /** Samples per channel the stream's header declares (0: not stated). */
  declaredSamples: number;
}

/** FLAC streams start with the marker "fLaC". */
export function isFlac(bytes: Uint8Array): boolean {
  return bytes.length >= 4 && bytes[0] === 0x66 && bytes[1] === 0x4c && bytes[2] === 0x61 && bytes[3] === 0x43;
}

/** Total samples per channel from the STREAMINFO block (36 bits at bytes 21–25; 0 when unknown). */
export function flacDeclaredSamples(bytes: Uint8Array): number {
  if (bytes.length < 26 || (bytes[4]! & 0x7f) !== 0) return 0; // STREAMINFO must be the first block
  return (bytes[21]! & 0x0f) * 2 ** 32 + ((bytes[22]! << 24) >>> 0) + (bytes[23]! << 16) + (bytes[24]! << 8) + bytes[25]!;
}

type Flac = ReturnType<typeof createFlac>;
let library: Promise<Flac> | null = null;

/** The library, once (its asm.js build: the WASM build loads its binary by URL, which Node's fetch refuses for files). */
function flac(): Promise<Flac> {
  library ??= new Promise((resolve) => {
    const f = createFlac('min');
    if (f.isReady()) resolve(f);
    else f.on('ready', () => resolve(f));
  });
  return library;
}

/** Decode a whole FLAC file (first channel). Corrupt, empty or non-FLAC input is `E_AUDIO_FORMAT`. */
export async function decodeFlac(bytes: Uint8Array, what = 'FLAC file'): Promise<DecodedAudio> {
  if (!isFlac(bytes)) throw new EdgestreamError('E_AUDIO_FORMAT', `${what}: not a FLAC file (no "fLaC" marker)`);
  const Flac = await flac();
  const id = Flac.create_libflac_decoder(false);
  if (!id) throw new EdgestreamError('E_BACKEND', `${what}: the FLAC decoder could not be created`);
  const blocks: Int32Array[] = [];
  let decoded = 0;
  let format: { rate: number; channels: number; bits: number } | null = null;
  const errors: string[] = [];
  let offset = 0;
  try {
    const init = Flac.init_decoder_stream(
      id,
      (n) => {
        if (offset >= bytes.length) return { buffer: undefined, readDataLength: 0, error: false };
        const end = Math.min(bytes.length, offset + n);
        const buffer = bytes.subarray(offset, end) as Uint8Array<ArrayBuffer>;
        offset = end;
        return { buffer, readDataLength: buffer.length, error: false };
      },
      (data, info) => {
        format ??= { rate: info.sampleRate, channels: info.channels, bits: info.bitsPerSample };
        const pcm = data[0]!;
        const width = pcm.length / info.blocksize; // 2 bytes per sample, 4 for 24-bit (padded)
        const view = new DataView(pcm.buffer, pcm.byteOffset, pcm.byteLength);
        const block = new Int32Array(info.blocksize);
        for (let i = 0; i < block.length; i++) block[i] = width === 2 ? view.getInt16(2 * i, true) : width === 4 ? view.getInt32(4 * i, true) : view.getInt8(i);
        blocks.push(block);
        decoded += block.length;
      },
      (code, description) => { errors.push(`${String(description)} (${code})`); },
      () => undefined,
    );
    if (init !== 0) throw new EdgestreamError('E_AUDIO_FORMAT', `${what}: not a FLAC stream the decoder accepts (init status ${init})`);
    Flac.FLAC__stream_decoder_process_until_end_of_stream(id);
    Flac.FLAC__stream_decoder_finish(id);
  } finally {
    Flac.FLAC__stream_decoder_delete(id);
  }
  if (errors.length > 0 && decoded === 0) {
    throw new EdgestreamError('E_AUDIO_FORMAT', `${what}: corrupt FLAC data (${errors[0]}); re-encode or remove the file`);
  }
  const fmt = format as { rate: number; channels: number; bits: number } | null;
  if (!fmt || decoded === 0) throw new EdgestreamError('E_AUDIO_FORMAT', `${what}: no audio could be decoded from this FLAC file (corrupt or empty)`);
  const sampleRate = checkSampleRate(fmt.rate, what);
  const scale = 2 ** (fmt.bits - 1);
  const samples = new Float32Array(decoded);
  let at = 0;
  for (const b of blocks) {
    for (let i = 0; i < b.length; i++) samples[at + i] = b[i]! / scale;
    at += b.length;
  }
  return { samples, sampleRate, channels: fmt.channels, bitDepth: fmt.bits, declaredSamples: flacDeclaredSamples(bytes) };
}
