import { EdgestreamError } from '../errors.js';

/**
 * How one PCM sample is stored. Integers are scaled to [-1, 1) the way torchaudio/libsndfile do
 * (divide by 2^(bits-1); unsigned 8-bit is offset by 128 first); floats pass through unchanged.
 */
export interface PcmEncoding {
  kind: 'int' | 'uint' | 'float';
  /** Bits per stored sample (the container size): 8, 16, 24, 32 or 64. */
  bits: 8 | 16 | 24 | 32 | 64;
  bigEndian: boolean;
}

/** Raw PCM formats by name, as `ffmpeg -f`/`arecord -f` spell them (lower case). */
export const PCM_FORMATS = {
  u8: { kind: 'uint', bits: 8, bigEndian: false },
  s8: { kind: 'int', bits: 8, bigEndian: false },
  s16le: { kind: 'int', bits: 16, bigEndian: false },
  s16be: { kind: 'int', bits: 16, bigEndian: true },
  s24le: { kind: 'int', bits: 24, bigEndian: false },
  s24be: { kind: 'int', bits: 24, bigEndian: true },
  s32le: { kind: 'int', bits: 32, bigEndian: false },
  s32be: { kind: 'int', bits: 32, bigEndian: true },
  f32le: { kind: 'float', bits: 32, bigEndian: false },
  f32be: { kind: 'float', bits: 32, bigEndian: true },
  f64le: { kind: 'float', bits: 64, bigEndian: false },
  f64be: { kind: 'float', bits: 64, bigEndian: true },
} as const satisfies Record<string, PcmEncoding>;

export type PcmFormatName = keyof typeof PCM_FORMATS;

export function isPcmFormatName(name: string): name is PcmFormatName {
  return Object.prototype.hasOwnProperty.call(PCM_FORMATS, name);
}

/** Look up a raw PCM format by name, or throw `E_AUDIO_FORMAT` listing the names we know. */
export function pcmFormat(name: string): PcmEncoding {
  if (!isPcmFormatName(name)) {
    throw new EdgestreamError('E_AUDIO_FORMAT', `unknown PCM format "${name}". Expected one of: ${Object.keys(PCM_FORMATS).join(', ')}`, { format: name });
  }
  return PCM_FORMATS[name];
}

/** A short human name for an encoding ("s16le", "f32le"...). */
export function pcmFormatLabel(e: PcmEncoding): string {
  const prefix = e.kind === 'float' ? 'f' : e.kind === 'uint' ? 'u' : 's';
  return e.bits === 8 ? `${prefix}8` : `${prefix}${e.bits}${e.bigEndian ? 'be' : 'le'}`;
}

export function bytesPerSample(e: PcmEncoding): number {
  return e.bits / 8;
}
