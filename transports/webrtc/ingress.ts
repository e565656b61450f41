import { EventEmitter } from 'node:events';
import type { IncomingMessage, ServerResponse } from 'node:http';
import type { Logger } from 'pino';
import { Subject, type Observable } from 'rxjs';
import { z } from 'zod';
import { EdgestreamError, isEdgestreamError } from '../../runtime/errors.js';
import { moduleLogger } from '../../runtime/log.js';
import { keywordPayload } from '../mqtt/payloads.js';
import type { AudioChunk, DeviceKeywordEvent } from '../../runtime/operators/types.js';
import { loadPageFiles, sendPageFile } from './page_files.js';
import { WebRtcPeer, type PeerCloseReason } from './peer.js';
import { bearerMatches, parseOffer, readBody, sendJson, SignallingError, type SignallingRejectReason } from './signalling.js';
import { loadWrtc, type Wrtc } from './wrtc.js';

/** Settings of the WebRTC ingress (validated; `E_CONFIG` names the bad field). */
export const WebRtcSettingsSchema = z.object({
  /** Bearer token the browser must send with its offer (`Authorization: Bearer <token>`). */
  token: z.string().min(8, 'the WebRTC token must have at least 8 characters').max(512),
  /** URL prefix of the page and the signalling endpoint. Default `/webrtc`. */
  basePath: z.string().regex(/^(\/[A-Za-z0-9._~-]+)+$/, 'basePath must look like /webrtc').default('/webrtc'),
  /** Sample rate of the audio chunks handed to the pipeline (the model front end's). Default 16000. */
  sampleRate: z.number().int().min(8000).max(48_000).default(16_000),
  /** Browsers connected (or negotiating) at once; further offers get 503. Default 16. */
  maxPeers: z.number().int().min(1).max(1000).default(16),
  /** Largest offer request body, bytes (a browser's offer is 3–6 KB). Default 64 KiB. */
  maxBodyBytes: z.number().int().min(1024).max(1 << 20).default(64 * 1024),
  /** The offer body must arrive within this long (a slow sender gets 408). Default 10000 ms. */
  bodyTimeoutMs: z.number().int().min(100).max(120_000).default(10_000),
  /** STUN/TURN servers; none are needed on a LAN or loopback (host candidates). */
  iceServers: z.array(z.object({ urls: z.union([z.string(), z.array(z.string())]), username: z.string().optional(), credential: z.string().optional() })).default([]),
  /** The answer waits this long at most for the server's ICE candidates. Default 3000 ms. */
  iceGatheringTimeoutMs: z.number().int().min(100).max(60_000).default(3000),
  /** A peer that has not connected this long after its offer is dropped. Default 15000 ms. */
  connectTimeoutMs: z.number().int().min(1000).max(300_000).default(15_000),
  /** A peer whose ICE stays `disconnected` this long is dropped. Default 5000 ms. */
  disconnectGraceMs: z.number().int().min(0).max(300_000).default(5000),
  /** A connected peer that sends no audio this long is dropped. Default 5000 ms. */
  audioTimeoutMs: z.number().int().min(200).max(300_000).default(5000),
  /** Score updates go to a browser at most this often. Default 100 ms. */
  scoresIntervalMs: z.number().int().min(0).max(60_000).default(100),
  /**
   * 48 → 16 kHz resampler quality (the audio front end's defaults: passband 0.95, 100 dB). On small
   * boards `passband: 0.9` costs about a third less CPU per stream (docs/webrtc.md, "WebRTC").
   */
  resampler: z.strictObject({ passband: z.number().gt(0).lt(1).optional(), attenuationDb: z.number().min(20).max(200).optional() }).optional(),
  /** Serve the browser page at `<basePath>/`. Default true. */
  servePage: z.boolean().default(true),
});

export type WebRtcSettings = z.input<typeof WebRtcSettingsSchema>;

export interface WebRtcIngressOptions extends WebRtcSettings {
  /** Every audio chunk of every browser (`start`, chunks of Float32 samples at `sampleRate`, `stop`). Or subscribe to `audio$`. */
  onAudio?: (chunk: AudioChunk) => void;
  /** Extra fields for the `hello` message a browser gets when its data channel opens (model name, labels). */
  hello?: Record<string, unknown>;
  logger?: Logger;
  /** An already loaded @roamhq/wrtc (default: `loadWrtc()`). */
  wrtc?: Wrtc;
}

/** Scores of one frame, as the keyword pipeline produces them. */
export interface ScoresLike {
  device: string;
  labels: readonly string[];
  scores: ArrayLike<number>;
  /** Stream time (ms) of the end of the audio these scores cover. */
  end_ms?: number;
}

export interface WebRtcRoute {
  method: 'GET' | 'POST';
  path: string;
  handler: (req: IncomingMessage, res: ServerResponse) => Promise<void> | void;
}

export interface WebRtcIngressEvents {
  /** A browser connected (ICE + DTLS up) or went away (only peers whose offer was answered). */
  peer: [change: { device: string; state: 'connected' | 'closed'; reason?: PeerCloseReason }];
  /** An offer was refused (the reason is also counted in `stats().rejected`). */
  rejected: [info: { reason: SignallingRejectReason; status: number; message: string }];
}

export interface WebRtcIngressStats {
  peers: number;
  connected: number;
  offers: number;
  answered: number;
  rejected: Partial<Record<SignallingRejectReason, number>>;
  closed: Partial<Record<PeerCloseReason, number>>;
  chunks: number;
  eventsSent: number;
}

const TOP_SCORES = 5;

/**
 * Browser microphones over WebRTC into edgestream's audio pipeline.
 *
 * - `POST <basePath>/offer` with `Authorization: Bearer <token>` and
 *   `{"type":"offer","sdp":"…","device":"kitchen"}` answers `{"type":"answer","sdp":"…"}`
 *   (non-trickle: both SDPs carry all their candidates). One peer per device id; a new offer for a
 *   connected device replaces the old peer.
 * - The peer's audio track is read with RTCAudioSink, resampled per event to `sampleRate` and
 *   handed out as `AudioChunk`s (`start`, Float32 chunks of ~10 ms, `stop`), on `audio$` and `onAudio`.
 * - `sendKeyword` / `sendScores` write JSON to the data channel the browser opened:
 *   `{"type":"keyword","event":<the MQTT keyword payload>}`, `{"type":"scores",…}`, and
 *   `{"type":"hello",…}` when the channel opens.
 * - `GET <basePath>/` serves the page (unless `servePage: false`).
 *
 * Mount `routes` on an HTTP server (the service does), or call `handle(req, res)` from your own.
 */
export class WebRtcIngress extends EventEmitter<WebRtcIngressEvents> {
  readonly settings: z.output<typeof WebRtcSettingsSchema>;
  readonly routes: readonly WebRtcRoute[];
  /** Every peer's audio, hot: chunks arriving before you subscribe are not replayed. */
  readonly audio$: Observable<AudioChunk>;
  private readonly audioSubject = new Subject<AudioChunk>();
  private readonly onAudio: ((chunk: AudioChunk) => void) | undefined;
  private readonly hello: Record<string, unknown>;
  private readonly wrtc: Wrtc;
  private readonly log: Logger;
  private readonly peers = new Map<string, WebRtcPeer>();
  private readonly scoreState = new Map<string, { lastSent: number; pending: ScoresLike | null; timer: NodeJS.Timeout | null }>();
  private closedFlag = false;
  /** Peers whose offer is being answered (they count against maxPeers). */
  private readonly negotiating = new Set<WebRtcPeer>();
  private readonly counts = { offers: 0, answered: 0, chunks: 0, eventsSent: 0 };
  private readonly rejectedCounts: Partial<Record<SignallingRejectReason, number>> = {};
  private readonly closedCounts: Partial<Record<PeerCloseReason, number>> = {};
  private readonly refusalLog = new Map<SignallingRejectReason, { since: number; logged: number; suppressed: number }>();

  constructor(options: WebRtcIngressOptions) {
    super();
    const { onAudio, hello, logger, wrtc, ...settings } = options;
    const parsed = WebRtcSettingsSchema.safeParse(settings);
    if (!parsed.success) {
      const problems = parsed.error.issues.map((i) => `${i.path.join('.') || '(root)'}: ${i.message}`);
      throw new EdgestreamError('E_CONFIG', `WebRTC settings are not valid:\n  ${problems.join('\n  ')}`, { problems });
    }
    this.settings = parsed.data;
    this.wrtc = wrtc ?? loadWrtc();
    this.onAudio = onAudio;
    this.hello = hello ?? {};
    this.log = logger ? logger.child({ mod: 'webrtc' }) : moduleLogger('webrtc');
    this.audio$ = this.audioSubject.asObservable();
    this.routes = this.buildRoutes();
  }

  /** Device ids of the browsers currently connected. */
  get devices(): string[] {
    return [...this.peers.values()].filter((p) => p.connected).map((p) => p.device);
  }

  stats(): WebRtcIngressStats {
    return {
      peers: this.peers.size,
      connected: this.devices.length,
      offers: this.counts.offers,
      answered: this.counts.answered,
      rejected: { ...this.rejectedCounts },
      closed: { ...this.closedCounts },
      chunks: this.counts.chunks,
      eventsSent: this.counts.eventsSent,
    };
  }

  /**
   * Serve a request if it is one of ours (`routes`); returns false otherwise so that the caller
   * can go on (404, its own routes).
   */
  handle(req: IncomingMessage, res: ServerResponse): boolean {
    const path = (req.url ?? '/').split('?')[0]!;
    const mine = this.routes.filter((r) => r.path === path);
    if (mine.length === 0) return false;
    const route = mine.find((r) => r.method === req.method);
    if (!route) {
      sendJson(res, 405, { error: 'method not allowed' }, { allow: mine.map((r) => r.method).join(', ') });
      return true;
    }
    void Promise.resolve(route.handler(req, res)).catch((e: unknown) => {
      this.log.error({ err: e instanceof Error ? e.message : String(e), path }, 'webrtc route failed');
      if (!res.headersSent) sendJson(res, 500, { error: 'internal error' });
      else res.end();
    });
    return true;
  }

  /** Send a detection to the device's browser: `{"type":"keyword","event":…}`. False if it has no open channel. */
  sendKeyword(event: DeviceKeywordEvent): boolean {
    const peer = this.peers.get(event.device);
    if (!peer) return false;
    const sent = peer.send(`{"type":"keyword","event":${keywordPayload(event)}}`);
    if (sent) this.counts.eventsSent++;
    return sent;
  }

  /** Send the latest scores to the device's browser, at most every `scoresIntervalMs` (the newest wins). */
  sendScores(scores: ScoresLike): void {
    const peer = this.peers.get(scores.device);
    if (!peer?.connected) return;
    let st = this.scoreState.get(scores.device);
    if (!st) {
      st = { lastSent: 0, pending: null, timer: null };
      this.scoreState.set(scores.device, st);
    }
    const wait = st.lastSent + this.settings.scoresIntervalMs - Date.now();
    if (wait <= 0 && !st.timer) {
      st.lastSent = Date.now();
      peer.send(scoresMessage(scores), true);
      return;
    }
    st.pending = scores;
    if (!st.timer) {
      const state = st;
      state.timer = setTimeout(() => {
        state.timer = null;
        const p = state.pending;
        state.pending = null;
        if (!p) return;
        state.lastSent = Date.now();
        this.peers.get(p.device)?.send(scoresMessage(p), true);
      }, Math.max(0, wait));
    }
  }

  /** Hang up on a device's browser. */
  disconnect(device: string): boolean {
    const peer = this.peers.get(device);
    peer?.close('shutdown');
    return peer !== undefined;
  }

  /** Close every peer (their streams end with `stop`) and refuse new offers; completes `audio$`. */
  async close(): Promise<void> {
    if (this.closedFlag) return;
    this.closedFlag = true;
    for (const peer of [...this.peers.values()]) peer.close('shutdown');
    for (const peer of [...this.negotiating]) peer.close('shutdown');
    for (const st of this.scoreState.values()) if (st.timer) clearTimeout(st.timer);
    this.scoreState.clear();
    this.audioSubject.complete();
  }

  private buildRoutes(): WebRtcRoute[] {
    const base = this.settings.basePath;
    const routes: WebRtcRoute[] = [{ method: 'POST', path: `${base}/offer`, handler: (req, res) => this.handleOffer(req, res) }];
    if (this.settings.servePage) {
      const { files, missing } = loadPageFiles();
      if (missing.length > 0) this.log.error({ missing }, 'webrtc page files are missing; the page is not served (rebuild with `npm run build`)');
      for (const f of files) {
        const path = f.name === 'index.html' ? `${base}/` : `${base}/${f.name}`;
        routes.push({ method: 'GET', path, handler: (_req, res) => sendPageFile(res, f) });
      }
      routes.push({
        method: 'GET',
        path: base,
        handler: (_req, res) => {
          res.writeHead(308, { location: `${base}/`, 'content-length': '0' });
          res.end();
        },
      });
    }
    return routes;
  }

  private async handleOffer(req: IncomingMessage, res: ServerResponse): Promise<void> {
    this.counts.offers++;
    let peer: WebRtcPeer | null = null;
    try {
      if (this.closedFlag) throw new SignallingError(503, 'the service is shutting down', 'shutting_down');
      if (!bearerMatches(req.headers.authorization, this.settings.token)) {
        throw new SignallingError(401, 'unauthorized', 'unauthorized', { 'www-authenticate': 'Bearer realm="edgestream"', connection: 'close' });
      }
      const type = (req.headers['content-type'] ?? '').toLowerCase();
      if (!type.startsWith('application/json')) {
        throw new SignallingError(415, 'send the offer as application/json', 'bad_content_type', { connection: 'close' });
      }
      const offer = parseOffer(await readBody(req, this.settings.maxBodyBytes, this.settings.bodyTimeoutMs), this.settings.maxBodyBytes);
      if (this.peers.size + this.negotiating.size - (this.peers.has(offer.device) ? 1 : 0) >= this.settings.maxPeers) {
        throw new SignallingError(503, `${this.settings.maxPeers} browsers are connected already (maxPeers)`, 'too_many_peers', { 'retry-after': '10' });
      }
      // The old peer of this device keeps streaming until the new one has an answer: a bad offer
      // from a second tab does not cut the first one off.
      peer = this.createPeer(offer.device);
      this.negotiating.add(peer);
      let sdp: string;
      try {
        sdp = await peer.answer(offer.sdp);
      } finally {
        this.negotiating.delete(peer);
      }
      if (this.closedFlag) throw new SignallingError(503, 'the service is shutting down', 'shutting_down');
      this.peers.get(offer.device)?.close('replaced');
      this.peers.set(offer.device, peer);
      this.counts.answered++;
      sendJson(res, 200, { type: 'answer', sdp, device: offer.device, sampleRate: this.settings.sampleRate });
    } catch (e) {
      const err = this.closedFlag && !(e instanceof SignallingError) ? new SignallingError(503, 'the service is shutting down', 'shutting_down') : toSignallingError(e);
      if (peer && !peer.closed) peer.close('negotiation_failed');
      this.rejectedCounts[err.reason] = (this.rejectedCounts[err.reason] ?? 0) + 1;
      this.logRefusal(err);
      this.emit('rejected', { reason: err.reason, status: err.status, message: err.message });
      if (!res.headersSent) sendJson(res, err.status, { error: err.message }, err.headers);
    }
  }

  /** Log refusals, at most 10 per reason per minute (a scanner must not flood the log). */
  private logRefusal(err: SignallingError): void {
    const now = Date.now();
    let w = this.refusalLog.get(err.reason);
    if (!w || now - w.since > 60_000) {
      if (w && w.suppressed > 0) this.log.warn({ reason: err.reason, suppressed: w.suppressed }, 'webrtc offers refused (not logged one by one)');
      w = { since: now, logged: 0, suppressed: 0 };
      this.refusalLog.set(err.reason, w);
    }
    if (w.logged >= 10) {
      w.suppressed++;
      return;
    }
    w.logged++;
    const level = err.reason === 'negotiation_failed' ? 'error' : 'warn';
    this.log[level]({ status: err.status, reason: err.reason, err: err.message, ...(err.cause !== undefined && { cause: String(err.cause) }) }, 'webrtc offer refused');
  }

  private createPeer(device: string): WebRtcPeer {
    const s = this.settings;
    return new WebRtcPeer({
      wrtc: this.wrtc,
      device,
      sampleRate: s.sampleRate,
      ...(s.resampler && { resampler: s.resampler }),
      iceServers: s.iceServers,
      iceGatheringTimeoutMs: s.iceGatheringTimeoutMs,
      connectTimeoutMs: s.connectTimeoutMs,
      disconnectGraceMs: s.disconnectGraceMs,
      audioTimeoutMs: s.audioTimeoutMs,
      log: this.log,
      onAudio: (chunk) => {
        if (chunk.kind === 'chunk') this.counts.chunks++;
        this.onAudio?.(chunk);
        this.audioSubject.next(chunk);
      },
      onConnected: (p) => this.emit('peer', { device: p.device, state: 'connected' }),
      onChannelOpen: (p) => p.send(JSON.stringify({ type: 'hello', device: p.device, sampleRate: s.sampleRate, ...this.hello })),
      onClosed: (p, reason) => {
        this.closedCounts[reason] = (this.closedCounts[reason] ?? 0) + 1;
        if (this.peers.get(p.device) !== p) return; // an offer that was never answered
        this.peers.delete(p.device);
        const st = this.scoreState.get(p.device);
        if (st?.timer) clearTimeout(st.timer);
        this.scoreState.delete(p.device);
        this.emit('peer', { device: p.device, state: 'closed', reason });
      },
    });
  }
}

/** Create the WebRTC ingress (loads @roamhq/wrtc; `E_BACKEND` if it is not installed). */
export function createWebRtcIngress(options: WebRtcIngressOptions): WebRtcIngress {
  return new WebRtcIngress(options);
}

function scoresMessage(s: ScoresLike): string {
  const order = Array.from({ length: s.scores.length }, (_, i) => i).sort((a, b) => s.scores[b]! - s.scores[a]!);
  const top = order.slice(0, TOP_SCORES).map((i) => ({ label: s.labels[i] ?? `class_${i}`, score: Math.round(s.scores[i]! * 1e4) / 1e4 }));
  return JSON.stringify({ type: 'scores', ...(s.end_ms !== undefined && { end_ms: s.end_ms }), top });
}

function toSignallingError(e: unknown): SignallingError {
  if (e instanceof SignallingError) return e;
  if (isEdgestreamError(e, 'E_TRANSPORT_INPUT')) return new SignallingError(400, e.message, 'bad_offer');
  const err = new SignallingError(500, 'negotiation failed', 'negotiation_failed');
  err.cause = e instanceof Error ? e.message : e;
  return err;
}
