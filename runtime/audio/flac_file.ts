import { FLACDecoder } from '@wasm-audio-decoders/flac';
import { EdgestreamError } from '../errors.js';
import { checkSampleRate } from './audio_decoder.js';

/**
 * FLAC files (the format Speech Commands recordings are shared in), decoded whole by libFLAC built
 * to WebAssembly (`@wasm-audio-decoders/flac`). Samples are scaled as torchaudio/libsndfile scale
 * integer PCM (x / 2^(bits−1)), like our WAV reader, so a FLAC and the WAV it came from give the
 * same features.
 */
export interface DecodedAudio {
  /** The first channel, in [-1, 1). */
  samples: Float32Array;
  sampleRate: number;
  channels: number;
  bitDepth: number;
}

/** FLAC streams start with the marker "fLaC". */
export function isFlac(bytes: Uint8Array): boolean {
  return bytes.length >= 4 && bytes[0] === 0x66 && bytes[1] === 0x4c && bytes[2] === 0x61 && bytes[3] === 0x43;
}

let shared: Promise<FLACDecoder> | null = null;
/** Decodes run one after another on one decoder (its WASM compiles once). */
let queue: Promise<unknown> = Promise.resolve();

function decoder(): Promise<FLACDecoder> {
  shared ??= (async () => {
    const d = new FLACDecoder();
    await d.ready;
    return d;
  })();
  return shared;
}

export async function decodeFlac(bytes: Uint8Array, what = 'FLAC file'): Promise<DecodedAudio> {
  if (!isFlac(bytes)) throw new EdgestreamError('E_AUDIO_FORMAT', `${what}: not a FLAC file (no "fLaC" marker)`);
  const run = queue.then(async () => {
    const d = await decoder();
    await d.reset();
    const r = await d.decodeFile(bytes);
    if (r.errors.length > 0) {
      const e = r.errors[0]!;
      throw new EdgestreamError('E_AUDIO_FORMAT', `${what}: corrupt FLAC data (${e.message}${r.errors.length > 1 ? `, and ${r.errors.length - 1} more errors` : ''}); re-encode or remove the file`);
    }
    if (r.samplesDecoded === 0 || r.channelData.length === 0) {
      throw new EdgestreamError('E_AUDIO_FORMAT', `${what}: no audio could be decoded from this FLAC file (corrupt or empty)`);
    }
    const sampleRate = checkSampleRate(r.sampleRate, what);
    // The decoder scales by 2^(bits−1) − 1; torchaudio and our WAV reader by 2^(bits−1).
    const bits = r.bitDepth;
    const up = 2 ** (bits - 1) - 1;
    const down = 2 ** (bits - 1);
    const src = r.channelData[0]!;
    const samples = new Float32Array(r.samplesDecoded);
    for (let i = 0; i < samples.length; i++) samples[i] = Math.round(src[i]! * up) / down;
    return { samples, sampleRate, channels: r.channelData.length, bitDepth: bits };
  });
  queue = run.catch(() => undefined);
  return run;
}
