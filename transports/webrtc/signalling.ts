import { createHash, timingSafeEqual } from 'node:crypto';
import type { IncomingMessage, ServerResponse } from 'node:http';
import { z } from 'zod';

/**
 * HTTP pieces of the non-trickle signalling endpoint: bearer-token check, bounded body reading,
 * offer validation and JSON replies. Nothing here touches WebRTC.
 */

/** A refusal with an HTTP status and a message that is safe to show to the caller. */
export class SignallingError extends Error {
  constructor(
    readonly status: number,
    message: string,
    /** Counter label. */
    readonly reason: SignallingRejectReason,
    readonly headers: Record<string, string> = {},
  ) {
    super(message);
    this.name = 'SignallingError';
  }
}

export type SignallingRejectReason =
  | 'unauthorized'
  | 'bad_content_type'
  | 'too_large'
  | 'too_slow'
  | 'bad_json'
  | 'bad_offer'
  | 'bad_device'
  | 'too_many_peers'
  | 'shutting_down'
  | 'negotiation_failed';

/** Device ids: the MQTT topic level rule (Home Assistant's node_id), so topics stay wildcard-free. */
export const DEVICE_ID_PATTERN = /^[A-Za-z0-9_-]{1,64}$/;

/**
 * Whether an `Authorization` header carries `Bearer <token>`. Both sides are hashed first so that
 * the comparison takes the same time whatever the length or content of the guess.
 */
export function bearerMatches(header: string | undefined, token: string): boolean {
  const m = /^Bearer[ ]+(\S+)\s*$/i.exec(header ?? '');
  const given = createHash('sha256').update(m ? m[1]! : '').digest();
  const expected = createHash('sha256').update(token).digest();
  return timingSafeEqual(given, expected) && m !== null;
}

/** Read a request body of at most `maxBytes` (413 beyond, without buffering the rest; 408 when it takes over `timeoutMs`). */
export function readBody(req: IncomingMessage, maxBytes: number, timeoutMs = 10_000): Promise<Buffer> {
  const declared = Number(req.headers['content-length']);
  if (Number.isFinite(declared) && declared > maxBytes) {
    return Promise.reject(new SignallingError(413, `the request body is larger than ${maxBytes} bytes`, 'too_large', { connection: 'close' }));
  }
  return new Promise<Buffer>((resolve, reject) => {
    const parts: Buffer[] = [];
    let size = 0;
    const onData = (b: Buffer): void => {
      size += b.length;
      if (size > maxBytes) {
        cleanup();
        req.resume(); // discard the rest; the reply closes the connection
        reject(new SignallingError(413, `the request body is larger than ${maxBytes} bytes`, 'too_large', { connection: 'close' }));
        return;
      }
      parts.push(b);
    };
    const onEnd = (): void => {
      cleanup();
      resolve(Buffer.concat(parts, size));
    };
    const onError = (e: Error): void => {
      cleanup();
      reject(e);
    };
    const timer = setTimeout(() => {
      cleanup();
      req.resume();
      reject(new SignallingError(408, `the request body did not arrive within ${timeoutMs} ms`, 'too_slow', { connection: 'close' }));
    }, timeoutMs);
    const cleanup = (): void => {
      clearTimeout(timer);
      req.off('data', onData);
      req.off('end', onEnd);
      req.off('error', onError);
    };
    req.on('data', onData);
    req.on('end', onEnd);
    req.on('error', onError);
  });
}

/** What the browser posts: its RTCSessionDescription plus the device id it streams as. */
export interface OfferRequest {
  type: 'offer';
  sdp: string;
  device: string;
}

const OfferSchema = z.object({
  type: z.literal('offer'),
  sdp: z.string().min(1),
  device: z.string().regex(DEVICE_ID_PATTERN),
});

/** Validate a posted offer; every problem is a 400 that says what to send instead. */
export function parseOffer(body: Buffer, maxSdpBytes: number): OfferRequest {
  let json: unknown;
  try {
    json = JSON.parse(body.toString('utf8'));
  } catch {
    throw new SignallingError(400, 'the body is not JSON; send {"type":"offer","sdp":"…","device":"kitchen"}', 'bad_json');
  }
  const r = OfferSchema.safeParse(json);
  if (!r.success) {
    const issue = r.error.issues[0]!;
    const field = issue.path.join('.') || '(body)';
    if (field === 'device') {
      throw new SignallingError(400, 'device must be 1–64 characters from [A-Za-z0-9_-]', 'bad_device');
    }
    throw new SignallingError(400, `invalid offer at ${field}: ${issue.message}; send {"type":"offer","sdp":"…","device":"kitchen"}`, 'bad_offer');
  }
  const { sdp } = r.data;
  if (Buffer.byteLength(sdp) > maxSdpBytes) throw new SignallingError(413, `the SDP is larger than ${maxSdpBytes} bytes`, 'too_large');
  if (!sdp.startsWith('v=0')) throw new SignallingError(400, 'the SDP must start with v=0', 'bad_offer');
  if (!/^m=audio /m.test(sdp)) throw new SignallingError(400, 'the offer has no audio section: add the microphone track before createOffer()', 'bad_offer');
  return r.data;
}

/** Reply with JSON (no caching: answers and errors are per request). */
export function sendJson(res: ServerResponse, status: number, body: unknown, headers: Record<string, string> = {}): void {
  const text = JSON.stringify(body);
  res.writeHead(status, {
    'content-type': 'application/json; charset=utf-8',
    'content-length': String(Buffer.byteLength(text)),
    'cache-control': 'no-store',
    'x-content-type-options': 'nosniff',
    ...headers,
  });
  res.end(text);
}
