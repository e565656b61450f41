import { randomBytes } from 'node:crypto';
import { readFileSync } from 'node:fs';
import type { IncomingMessage, ServerResponse } from 'node:http';
import type { Logger } from 'pino';
import { Counter, Gauge, type Registry } from 'prom-client';
import type { Observable, Subscription } from 'rxjs';
import { z } from 'zod';
import { EdgestreamError } from '../../runtime/errors.js';
import type { AudioChunk, DeviceKeywordEvent } from '../../runtime/operators/types.js';
import { createWebRtcIngress, WebRtcSettingsSchema, type ScoresLike, type WebRtcIngress } from './ingress.js';
import type { Wrtc } from './wrtc.js';

/**
 * The `webrtc` section of the service configuration. Everything but `enabled` is optional; the
 * token may come from `tokenFile` or the environment (EDGESTREAM_WEBRTC_TOKEN) instead of the file.
 */
export const WebRtcConfigSchema = WebRtcSettingsSchema.extend({
  /** Accept browser microphones (and serve the page). Default false. */
  enabled: z.boolean().default(false),
  /** Bearer token (EDGESTREAM_WEBRTC_TOKEN wins over it); without any, a random one is made and logged. */
  token: WebRtcSettingsSchema.shape.token.optional(),
  /** File holding the token (first line). */
  tokenFile: z.string().min(1).optional(),
}).strict();

export type WebRtcConfigInput = z.input<typeof WebRtcConfigSchema>;
export type WebRtcConfig = z.output<typeof WebRtcConfigSchema>;

/** What the WebRTC plugin needs from the service it extends (EdgestreamService has all of it). */
export interface WebRtcHost {
  readonly model: { readonly name: string; readonly labels: readonly string[]; readonly frontend: { readonly sampleRate: number } | null };
  readonly log: Logger;
  /** Where the plugin adds its Prometheus metrics (the service's registry). */
  readonly metrics?: { readonly registry: Registry };
  route(method: string, path: string, handler: (req: IncomingMessage, res: ServerResponse) => void | Promise<void>): void;
  attachAudioSource(source: Observable<AudioChunk>, name?: string): Subscription;
  on(event: 'keyword', listener: (event: DeviceKeywordEvent) => void): unknown;
  on(event: 'scores', listener: (scores: ScoresLike) => void): unknown;
  off(event: 'keyword', listener: (event: DeviceKeywordEvent) => void): unknown;
  off(event: 'scores', listener: (scores: ScoresLike) => void): unknown;
}

export interface WebRtcPluginOptions extends WebRtcConfigInput {
  /** An already loaded @roamhq/wrtc (default: loaded on start; `E_BACKEND` if missing). */
  wrtc?: Wrtc;
  /** Environment for EDGESTREAM_WEBRTC_TOKEN (default `process.env`). */
  env?: NodeJS.ProcessEnv;
}

/**
 * Browser microphones for the stream service: mounts the signalling endpoint and the page on the
 * service's HTTP server, feeds every browser's audio into the same per-device pipelines as MQTT
 * audio (so detections are published on `<base>/<device>/keyword` as usual), and sends each
 * browser its own detections and live scores on its data channel.
 *
 * ```ts
 * const service = createService(config, { plugins: [webrtcPlugin({ token: process.env.KWS_TOKEN })] });
 * ```
 */
export class WebRtcPlugin {
  readonly name = 'webrtc';
  readonly config: WebRtcConfig;
  private readonly options: WebRtcPluginOptions;
  private ingress: WebRtcIngress | null = null;
  private host: WebRtcHost | null = null;
  private source: Subscription | null = null;
  private metricNames: string[] = [];
  private readonly onKeyword = (event: DeviceKeywordEvent): void => {
    this.ingress?.sendKeyword(event);
  };
  private readonly onScores = (scores: ScoresLike): void => {
    this.ingress?.sendScores(scores);
  };

  constructor(options: WebRtcPluginOptions = {}) {
    const { wrtc: _w, env: _e, ...config } = options;
    const parsed = WebRtcConfigSchema.safeParse({ enabled: true, ...config });
    if (!parsed.success) {
      const problems = parsed.error.issues.map((i) => `webrtc.${i.path.join('.')}: ${i.message}`);
      throw new EdgestreamError('E_CONFIG', `WebRTC settings are not valid:\n  ${problems.join('\n  ')}`, { problems });
    }
    this.config = parsed.data;
    this.options = options;
  }

  /** The running ingress (after `start`). */
  get webrtc(): WebRtcIngress | null {
    return this.ingress;
  }

  start(host: WebRtcHost): void {
    const { enabled: _enabled, token: _token, tokenFile: _file, ...settings } = this.config;
    const model = host.model;
    const { token, generated } = resolveToken(this.config, this.options.env ?? process.env);
    const ingress = createWebRtcIngress({
      ...settings,
      token,
      sampleRate: model.frontend?.sampleRate ?? settings.sampleRate,
      hello: { model: model.name, labels: model.labels },
      logger: host.log,
      ...(this.options.wrtc && { wrtc: this.options.wrtc }),
    });
    for (const r of ingress.routes) host.route(r.method, r.path, r.handler);
    this.source = host.attachAudioSource(ingress.audio$, 'webrtc');
    host.on('keyword', this.onKeyword);
    host.on('scores', this.onScores);
    this.ingress = ingress;
    this.host = host;
    if (host.metrics) this.registerMetrics(host.metrics.registry, ingress);
    if (generated) {
      host.log.warn({ page: `${settings.basePath}/#token=${token}` }, 'webrtc.token is not set: this run uses a generated token; open the page with it (set webrtc.token or EDGESTREAM_WEBRTC_TOKEN to keep one)');
    } else {
      host.log.info({ page: `${settings.basePath}/`, offer: `${settings.basePath}/offer` }, 'webrtc ready');
    }
  }

  async stop(): Promise<void> {
    this.host?.off('keyword', this.onKeyword);
    this.host?.off('scores', this.onScores);
    await this.ingress?.close();
    this.source?.unsubscribe();
    this.source = null;
    const registry = this.host?.metrics?.registry;
    for (const name of this.metricNames) registry?.removeSingleMetric(name);
    this.metricNames = [];
    this.host = null;
  }

  /** `/metrics`: browsers connected, offers refused and peers closed by reason. */
  private registerMetrics(registry: Registry, ingress: WebRtcIngress): void {
    new Gauge({
      name: 'edgestream_webrtc_peers',
      help: 'Browsers connected over WebRTC',
      registers: [registry],
      collect() {
        this.set(ingress.devices.length);
      },
    });
    const refused = new Counter({ name: 'edgestream_webrtc_offers_refused_total', help: 'WebRTC offers refused, by reason', labelNames: ['reason'] as const, registers: [registry] });
    const closed = new Counter({ name: 'edgestream_webrtc_peers_closed_total', help: 'WebRTC peers closed, by reason', labelNames: ['reason'] as const, registers: [registry] });
    ingress.on('rejected', ({ reason }) => refused.inc({ reason }));
    ingress.on('peer', ({ state, reason }) => state === 'closed' && reason && closed.inc({ reason }));
    this.metricNames = ['edgestream_webrtc_peers', 'edgestream_webrtc_offers_refused_total', 'edgestream_webrtc_peers_closed_total'];
  }
}

export function webrtcPlugin(options: WebRtcPluginOptions = {}): WebRtcPlugin {
  return new WebRtcPlugin(options);
}

/** The plugin a service configuration's `webrtc` section asks for, or null when it is not enabled. */
export function webrtcPluginFromConfig(section: WebRtcConfigInput | undefined): WebRtcPlugin | null {
  return section?.enabled ? new WebRtcPlugin(section) : null;
}

/** The token: EDGESTREAM_WEBRTC_TOKEN (the environment wins, as for every secret), `token`, `tokenFile`, else a random one. */
function resolveToken(config: WebRtcConfig, env: NodeJS.ProcessEnv): { token: string; generated: boolean } {
  const fromEnv = env.EDGESTREAM_WEBRTC_TOKEN;
  if (fromEnv) {
    if (fromEnv.length < 8) throw new EdgestreamError('E_CONFIG', 'EDGESTREAM_WEBRTC_TOKEN must have at least 8 characters');
    return { token: fromEnv, generated: false };
  }
  if (config.token) return { token: config.token, generated: false };
  if (config.tokenFile) {
    let text: string;
    try {
      text = readFileSync(config.tokenFile, 'utf8');
    } catch (e) {
      throw new EdgestreamError('E_CONFIG', `webrtc.tokenFile ${config.tokenFile} cannot be read: ${(e as Error).message}`);
    }
    const token = text.split(/\r?\n/)[0]!.trim();
    if (token.length < 8) throw new EdgestreamError('E_CONFIG', `webrtc.tokenFile ${config.tokenFile} must hold a token of at least 8 characters on its first line`);
    return { token, generated: false };
  }
  return { token: randomBytes(18).toString('base64url'), generated: true };
}
