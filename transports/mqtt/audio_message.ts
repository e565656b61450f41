import { EdgestreamError } from '../../runtime/errors.js';
import { bytesPerFrame } from '../../runtime/operators/pcm_layout.js';
import type { AudioChunk, PcmFormat } from '../../runtime/operators/types.js';

/** Why an audio message was refused (the `reason` label of `edgestream_messages_rejected_total`). */
export type AudioRejectReason = 'bad_format' | 'odd_length' | 'oversized' | 'empty' | 'bad_metadata';

export class AudioMessageError extends EdgestreamError {
  constructor(readonly reason: AudioRejectReason, message: string, detail?: Record<string, unknown>) {
    super(reason === 'bad_format' ? 'E_AUDIO_FORMAT' : 'E_TRANSPORT_INPUT', message, { reason, ...detail });
  }
}

/** The MQTT 5 metadata an audio message may carry (Wyoming vocabulary, specs/mqtt.md 7.2). */
export interface AudioMessageProperties {
  contentType?: string;
  userProperties?: Readonly<Record<string, string | string[]>>;
}

export interface AudioMessageLimits {
  /** Largest payload accepted, bytes. */
  maxPayloadBytes: number;
  /** Longest chunk accepted, ms of audio. */
  maxChunkMs: number;
}

const RATE_MIN = 8000;
const RATE_MAX = 192000;
const CHANNELS_MAX = 8;

function one(v: string | string[] | undefined): string | undefined {
  return Array.isArray(v) ? v[v.length - 1] : v;
}

function integer(name: string, raw: string, min: number, max: number): number {
  const v = Number(raw);
  if (raw.trim() === '' || !Number.isInteger(v) || v < min || v > max) {
    throw new AudioMessageError(name === 'seq' || name === 'timestamp' ? 'bad_metadata' : 'bad_format', `${name}="${raw}" is not an integer in ${min}…${max}`, { [name]: raw });
  }
  return v;
}

/** Devices repeat the same content type on every chunk: parse each distinct one once. */
const contentTypes = new Map<string, Readonly<Record<string, string>>>();

function parsedContentType(ct: string): Readonly<Record<string, string>> {
  let p = contentTypes.get(ct);
  if (!p) {
    p = Object.freeze(parseContentType(ct)); // throws for unsupported types: those are never cached
    if (contentTypes.size >= 256) contentTypes.clear();
    contentTypes.set(ct, p);
  }
  return p;
}

/** `audio/pcm;rate=16000;channels=1;format=s16le` → its parameters. */
function parseContentType(ct: string): Record<string, string> {
  const [type, ...params] = ct.split(';').map((s) => s.trim());
  const t = type!.toLowerCase();
  if (t === 'audio/l16') {
    throw new AudioMessageError('bad_format', 'content type audio/L16 means big-endian PCM, which is not supported; send little-endian PCM as "audio/pcm;rate=16000;channels=1;format=s16le"');
  }
  if (t !== 'audio/pcm' && t !== 'audio/raw' && t !== 'application/octet-stream') {
    throw new AudioMessageError('bad_format', `content type "${ct}" is not supported; use "audio/pcm;rate=<Hz>;channels=<n>;format=s16le|f32le"`);
  }
  const out: Record<string, string> = {};
  for (const p of params) {
    if (!p) continue;
    const eq = p.indexOf('=');
    if (eq < 0) throw new AudioMessageError('bad_format', `content type parameter "${p}" is not key=value`);
    out[p.slice(0, eq).trim().toLowerCase()] = p.slice(eq + 1).trim();
  }
  return out;
}

function encodingFrom(format: string | undefined, width: string | undefined): PcmFormat['encoding'] | undefined {
  let fromFormat: PcmFormat['encoding'] | undefined;
  if (format !== undefined) {
    const f = format.toLowerCase();
    if (f !== 's16le' && f !== 'f32le') throw new AudioMessageError('bad_format', `audio format "${format}" is not supported; use s16le or f32le`);
    fromFormat = f;
  }
  let fromWidth: PcmFormat['encoding'] | undefined;
  if (width !== undefined) {
    if (width !== '2' && width !== '4') throw new AudioMessageError('bad_format', `width="${width}" is not supported; use 2 (s16le) or 4 (f32le)`);
    fromWidth = width === '2' ? 's16le' : 'f32le';
  }
  if (fromFormat && fromWidth && fromFormat !== fromWidth) {
    throw new AudioMessageError('bad_format', `width=${width} contradicts format=${format}`);
  }
  return fromFormat ?? fromWidth;
}

/**
 * Turn one `<base>/<device>/audio` message into an `AudioChunk`. The PCM format comes from the
 * MQTT 5 content type and user properties when present, else from `fallback` (the per-device or
 * default format: MQTT 3.1.1 and MCU senders). Refuses, with an `AudioMessageError` naming the
 * problem: unknown/contradictory formats, payloads that are not whole frames, oversized chunks,
 * empty chunks (unless `type` is start/stop), malformed seq/timestamp.
 */
export function parseAudioMessage(device: string, payload: Uint8Array, props: AudioMessageProperties, fallback: PcmFormat, limits: AudioMessageLimits, receivedAt: number): AudioChunk {
  if (payload.byteLength > limits.maxPayloadBytes) {
    throw new AudioMessageError('oversized', `audio payload of ${payload.byteLength} bytes exceeds the limit of ${limits.maxPayloadBytes} bytes`, { bytes: payload.byteLength });
  }
  const ct = props.contentType !== undefined ? parsedContentType(props.contentType) : {};
  const up = props.userProperties ?? {};
  const pick = (name: string): string | undefined => {
    const a = one(up[name]);
    const b = ct[name];
    if (a !== undefined && b !== undefined && a !== b) throw new AudioMessageError('bad_format', `user property ${name}=${a} contradicts the content type's ${name}=${b}`);
    return a ?? b;
  };
  const rateRaw = pick('rate');
  const channelsRaw = pick('channels');
  const encoding = encodingFrom(pick('format'), one(up.width)) ?? fallback.encoding;
  const format: PcmFormat = {
    encoding,
    rate: rateRaw !== undefined ? integer('rate', rateRaw, RATE_MIN, RATE_MAX) : fallback.rate,
    channels: channelsRaw !== undefined ? integer('channels', channelsRaw, 1, CHANNELS_MAX) : fallback.channels,
  };
  const typeRaw = one(up.type) ?? 'chunk';
  if (typeRaw !== 'chunk' && typeRaw !== 'start' && typeRaw !== 'stop') {
    throw new AudioMessageError('bad_metadata', `type="${typeRaw}" is not one of chunk, start, stop`);
  }
  const frame = bytesPerFrame(format);
  if (payload.byteLength % frame !== 0) {
    throw new AudioMessageError('odd_length', `audio payload of ${payload.byteLength} bytes is not a whole number of ${frame}-byte frames (${format.encoding}, ${format.channels} channel(s))`, { bytes: payload.byteLength, frameBytes: frame });
  }
  if (payload.byteLength === 0 && typeRaw === 'chunk') throw new AudioMessageError('empty', 'empty audio chunk');
  const ms = (payload.byteLength / frame / format.rate) * 1000;
  if (ms > limits.maxChunkMs) {
    throw new AudioMessageError('oversized', `audio chunk of ${ms.toFixed(0)} ms exceeds the limit of ${limits.maxChunkMs} ms`, { ms });
  }
  const chunk: AudioChunk = { device, kind: typeRaw, data: payload, format, receivedAt };
  const seq = one(up.seq);
  const ts = one(up.timestamp);
  if (seq !== undefined) chunk.seq = integer('seq', seq, 0, Number.MAX_SAFE_INTEGER);
  if (ts !== undefined) chunk.timestampMs = integer('timestamp', ts, 0, Number.MAX_SAFE_INTEGER);
  return chunk;
}
