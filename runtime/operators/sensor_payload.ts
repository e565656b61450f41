import { z } from 'zod';
import { EdgestreamError } from '../errors.js';

/** How a sensor payload is encoded: JSON `{seq, timestamp, values}` or little-endian float32 values. */
export type SensorEncoding = 'auto' | 'json' | 'f32le';

export interface SensorPayloadOptions {
  encoding?: SensorEncoding;
  /** MQTT 5 content type, if any (`application/json`, `application/octet-stream`). */
  contentType?: string;
  /** Metadata for binary frames (MQTT 5 user properties): `seq`, `timestamp`. */
  userProperties?: Readonly<Record<string, string | string[]>>;
  /** Values per frame the model expects; a frame of another size is rejected. */
  expectedValues?: number;
  /** Largest accepted frame. Default 4096 values. */
  maxValues?: number;
}

export interface ParsedSensorPayload {
  values: Float32Array;
  seq?: number;
  timestampMs?: number;
}

const SensorJsonSchema = z.object({
  seq: z.number().int().min(0).max(Number.MAX_SAFE_INTEGER).optional(),
  timestamp: z.number().finite().optional(),
  values: z.array(z.number().finite()).min(1),
});

function reject(message: string, detail?: Record<string, unknown>): never {
  throw new EdgestreamError('E_TRANSPORT_INPUT', message, detail);
}

/**
 * Decide JSON or binary when the sender did not say: JSON starts with `{` and either ends with `}`
 * or is all printable text (a truncated JSON object is still text; float32 frames almost never are).
 */
function looksLikeJson(bytes: Uint8Array): boolean {
  const ws = (b: number | undefined): boolean => b === 0x20 || b === 0x0a || b === 0x0d || b === 0x09;
  let a = 0;
  let b = bytes.length - 1;
  while (a <= b && ws(bytes[a])) a++;
  while (b >= a && ws(bytes[b])) b--;
  if (a > b || bytes[a] !== 0x7b) return false;
  if (bytes[b] === 0x7d) return true;
  for (let i = a; i <= b; i++) {
    const c = bytes[i]!;
    if ((c < 0x20 || c > 0x7e) && !ws(c)) return false;
  }
  return true;
}

function encodingOf(bytes: Uint8Array, options: SensorPayloadOptions): 'json' | 'f32le' {
  const ct = options.contentType?.toLowerCase().split(';')[0]?.trim();
  if (ct === 'application/json') return 'json';
  if (ct === 'application/octet-stream' || ct === 'application/x-float32') return 'f32le';
  if (ct) reject(`sensor frame content type "${options.contentType}" is not supported; use application/json or application/octet-stream (float32 little-endian)`);
  const e = options.encoding ?? 'auto';
  if (e !== 'auto') return e;
  return looksLikeJson(bytes) ? 'json' : 'f32le';
}

function intProperty(props: SensorPayloadOptions['userProperties'], name: string): number | undefined {
  const raw = props?.[name];
  if (raw === undefined) return undefined;
  const s = Array.isArray(raw) ? raw[0] : raw;
  const v = Number(s);
  if (s === undefined || s.trim() === '' || !Number.isFinite(v)) reject(`user property ${name}="${String(s)}" is not a number`);
  return v;
}

/**
 * Parse one sensor frame. JSON: `{"seq": 12, "timestamp": 1700000000000, "values": [0.1, 2.5]}`
 * (`seq`, `timestamp` optional). Binary: the values as little-endian float32, `seq`/`timestamp` in
 * MQTT 5 user properties. Every value must be finite. Throws `E_TRANSPORT_INPUT` saying what is wrong.
 */
export function parseSensorPayload(bytes: Uint8Array, options: SensorPayloadOptions = {}): ParsedSensorPayload {
  const maxValues = options.maxValues ?? 4096;
  if (bytes.length === 0) reject('empty sensor frame');
  const encoding = encodingOf(bytes, options);
  let out: ParsedSensorPayload;
  if (encoding === 'json') {
    if (bytes.length > maxValues * 32 + 256) reject(`sensor frame of ${bytes.length} bytes is too large`, { bytes: bytes.length });
    let json: unknown;
    try {
      json = JSON.parse(Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength).toString('utf8'));
    } catch (e) {
      reject(`sensor frame is not valid JSON: ${(e as Error).message}`);
    }
    const r = SensorJsonSchema.safeParse(json);
    if (!r.success) {
      const issue = r.error.issues[0]!;
      reject(`sensor frame JSON: ${issue.path.join('.') || '(root)'}: ${issue.message}; expected {"seq"?: int, "timestamp"?: ms, "values": [finite numbers]}`);
    }
    if (r.data.values.length > maxValues) reject(`sensor frame has ${r.data.values.length} values (at most ${maxValues})`);
    out = { values: Float32Array.from(r.data.values) };
    if (r.data.seq !== undefined) out.seq = r.data.seq;
    if (r.data.timestamp !== undefined) out.timestampMs = r.data.timestamp;
  } else {
    if (bytes.length % 4 !== 0) reject(`binary sensor frame of ${bytes.length} bytes is not a whole number of float32 values`, { bytes: bytes.length });
    const n = bytes.length / 4;
    if (n > maxValues) reject(`sensor frame has ${n} values (at most ${maxValues})`);
    const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
    const values = new Float32Array(n);
    for (let i = 0; i < n; i++) {
      const v = view.getFloat32(i * 4, true);
      if (!Number.isFinite(v)) reject(`binary sensor frame value ${i} is ${v}; values must be finite`, { index: i });
      values[i] = v;
    }
    out = { values };
    const seq = intProperty(options.userProperties, 'seq');
    const ts = intProperty(options.userProperties, 'timestamp');
    if (seq !== undefined) out.seq = seq;
    if (ts !== undefined) out.timestampMs = ts;
  }
  if (options.expectedValues !== undefined && out.values.length !== options.expectedValues) {
    reject(`sensor frame has ${out.values.length} values, the model expects ${options.expectedValues}`, { got: out.values.length, expected: options.expectedValues });
  }
  return out;
}
