/**
 * Hand-built WAV headers for decoder tests: every field settable, so tests can make the
 * malformed, truncated and unusual files that a WAV library would refuse to write.
 */
export interface WavHeaderFields {
  container?: 'RIFF' | 'RIFX' | 'RF64';
  formatTag?: number;
  channels?: number;
  sampleRate?: number;
  bitsPerSample?: number;
  blockAlign?: number;
  /** fmt chunk size; 16 plain, 40 extensible. */
  fmtSize?: number;
  /** Sub-format tag of WAVE_FORMAT_EXTENSIBLE (1 PCM, 3 float). */
  subFormat?: number;
  validBits?: number;
  /** Declared data length; default: the data given. */
  dataSize?: number;
  /** Extra chunks placed before the data chunk. */
  chunksBeforeData?: Uint8Array[];
}

export function chunk(id: string, body: Uint8Array, bigEndian = false): Uint8Array {
  const out = new Uint8Array(8 + body.length + (body.length % 2));
  const v = new DataView(out.buffer);
  for (let i = 0; i < 4; i++) out[i] = id.charCodeAt(i);
  v.setUint32(4, body.length, !bigEndian);
  out.set(body, 8);
  return out;
}

export function concatBytes(...parts: Uint8Array[]): Uint8Array {
  const out = new Uint8Array(parts.reduce((n, p) => n + p.length, 0));
  let o = 0;
  for (const p of parts) {
    out.set(p, o);
    o += p.length;
  }
  return out;
}

/** A WAV file: header fields as given, then `data` (already encoded) as the data chunk. */
export function wavBytes(data: Uint8Array, f: WavHeaderFields = {}): Uint8Array {
  const container = f.container ?? 'RIFF';
  const le = container !== 'RIFX';
  const channels = f.channels ?? 1;
  const bits = f.bitsPerSample ?? 16;
  const rate = f.sampleRate ?? 16000;
  const blockAlign = f.blockAlign ?? (channels * bits) / 8;
  const tag = f.formatTag ?? 1;
  const fmtSize = f.fmtSize ?? (tag === 0xfffe ? 40 : 16);
  const fmt = new Uint8Array(Math.max(fmtSize, 0));
  const v = new DataView(fmt.buffer);
  const put = (o: number, n: number, bytes: 2 | 4): void => {
    if (o + bytes > fmt.length) return;
    if (bytes === 2) v.setUint16(o, n, le);
    else v.setUint32(o, n, le);
  };
  put(0, tag, 2);
  put(2, channels, 2);
  put(4, rate, 4);
  put(8, rate * blockAlign, 4);
  put(12, blockAlign, 2);
  put(14, bits, 2);
  if (fmtSize >= 18) put(16, fmtSize - 18, 2);
  if (fmtSize >= 40) {
    put(18, f.validBits ?? bits, 2);
    put(20, channels === 1 ? 4 : 3, 4);
    put(24, f.subFormat ?? 1, 4); // GUID 0000000x-0000-0010-8000-00aa00389b71
    fmt.set([0x00, 0x00, 0x10, 0x00, 0x80, 0x00, 0x00, 0xaa, 0x00, 0x38, 0x9b, 0x71], 28);
  }
  const dataChunk = chunk('data', data, !le);
  if (f.dataSize !== undefined) new DataView(dataChunk.buffer).setUint32(4, f.dataSize, le);
  const body = concatBytes(new TextEncoder().encode('WAVE'), chunk('fmt ', fmt, !le), ...(f.chunksBeforeData ?? []), dataChunk);
  const head = new Uint8Array(8);
  head.set(new TextEncoder().encode(container));
  new DataView(head.buffer).setUint32(4, body.length, le);
  return concatBytes(head, body);
}

/** Encode samples in [-1, 1] as 16-bit little-endian PCM (the runtime's encoder). */
export { encodeS16le as s16le } from '../../runtime/audio/wav_samples.js';

/** Split bytes at random points (seeded) into chunks of 0…max bytes. */
export function randomChunks<T extends { length: number; subarray(a: number, b: number): T }>(data: T, seed: number, max: number): T[] {
  let a = seed >>> 0;
  const next = (): number => {
    a = (Math.imul(a, 1664525) + 1013904223) >>> 0;
    return a / 4294967296;
  };
  const out: T[] = [];
  for (let i = 0; i < data.length;) {
    const n = Math.floor(next() * (max + 1));
    out.push(data.subarray(i, Math.min(data.length, i + n)));
    i += n;
  }
  return out;
}
