import { readFileSync } from 'node:fs';
import mqtt, { type IClientOptions, type IConnackPacket, type IPublishPacket, type MqttClient } from 'mqtt';
import type { Logger } from 'pino';
import { EdgestreamError } from '../../runtime/errors.js';
import { setTcpNoDelay } from './tcp_no_delay.js';

/** How to reach the broker. Every field has a default except `url`. */
export interface MqttConnectionOptions {
  /** `mqtt://host:1883`, `mqtts://host:8883`, `ws://…`. */
  url: string;
  clientId: string;
  username?: string;
  password?: string;
  /** 5 or 4 (3.1.1); 'auto' tries 5 and falls back to 3.1.1 when the broker refuses it. Default 'auto'. */
  protocolVersion?: 5 | 4 | 'auto';
  /** Seconds. Default 30. */
  keepalive?: number;
  /** Base reconnect delay in ms; each outage waits a random 0.5–1.5× of it (no herd after a broker restart). Default 2000. */
  reconnectMs?: number;
  /** Give up on one connection attempt after this long. Default 10000 ms. */
  connectTimeoutMs?: number;
  /** TLS: PEM file paths and checks. */
  tls?: { ca?: string; cert?: string; key?: string; rejectUnauthorized?: boolean; servername?: string };
  /** MQTT 5: the largest packet we accept (the broker drops larger ones for us). */
  maximumPacketSize?: number;
  /** Last Will: published by the broker if we vanish without a DISCONNECT. */
  will?: { topic: string; payload: string; qos: 0 | 1 | 2; retain: boolean };
}

export interface MqttConnectionHandlers {
  /** Every (re)connect: subscribe and publish birth/discovery here (sessions are clean). */
  onConnect: (connack: IConnackPacket, protocolVersion: 4 | 5) => void;
  onMessage: (topic: string, payload: Buffer, packet: IPublishPacket) => void;
  onClose?: () => void;
}

/** CONNACK codes that mean "this broker does not speak MQTT 5": 3.1.1's 1, MQTT 5's 132. */
function isProtocolRefusal(e: unknown): boolean {
  const code = (e as { code?: unknown })?.code;
  return code === 1 || code === 132 || /unacceptable protocol version|unsupported protocol version/i.test(String((e as Error)?.message));
}

function readPem(path: string | undefined, what: string): Buffer | undefined {
  if (path === undefined) return undefined;
  try {
    return readFileSync(path);
  } catch (e) {
    throw new EdgestreamError('E_CONFIG', `cannot read the TLS ${what} file ${path}: ${(e as Error).message}`);
  }
}

/**
 * One logical MQTT connection on mqtt.js: MQTT 5 with a fallback to 3.1.1, clean sessions, a
 * jittered reconnect, QoS 0 never queued while offline (stale audio is worthless) while QoS 1
 * publishes are kept and sent after a reconnect. The underlying client is replaced on fallback;
 * always go through this object.
 */
export class MqttConnection {
  private current: MqttClient;
  private version: 4 | 5;
  private readonly baseOptions: IClientOptions;
  private closing = false;
  /** The last connection error (named in `waitConnected`'s failure). */
  private lastError: string | null = null;

  constructor(
    private readonly options: MqttConnectionOptions,
    private readonly handlers: MqttConnectionHandlers,
    private readonly log: Logger,
  ) {
    const tls = options.tls ?? {};
    const ca = readPem(tls.ca, 'CA');
    const cert = readPem(tls.cert, 'certificate');
    const key = readPem(tls.key, 'key');
    this.baseOptions = {
      clientId: options.clientId,
      clean: true,
      keepalive: options.keepalive ?? 30,
      connectTimeout: options.connectTimeoutMs ?? 10_000,
      reconnectPeriod: this.jitteredPeriod(),
      queueQoSZero: false,
      resubscribe: false, // we subscribe on every connect ourselves
      ...(options.username !== undefined && { username: options.username }),
      ...(options.password !== undefined && { password: options.password }),
      ...(ca && { ca }),
      ...(cert && { cert }),
      ...(key && { key }),
      ...(tls.rejectUnauthorized !== undefined && { rejectUnauthorized: tls.rejectUnauthorized }),
      ...(tls.servername !== undefined && { servername: tls.servername }),
      ...(options.will && { will: { ...options.will, payload: Buffer.from(options.will.payload) } }),
    };
    this.version = options.protocolVersion === 4 ? 4 : 5;
    this.current = this.open();
  }

  /** The protocol in use (5 until a fallback happened). */
  get protocolVersion(): 4 | 5 { return this.version; }
  get connected(): boolean { return this.current.connected; }
  /** The live mqtt.js client (replaced on fallback; do not keep it). */
  get client(): MqttClient { return this.current; }

  private jitteredPeriod(): number {
    const base = this.options.reconnectMs ?? 2000;
    return Math.max(100, Math.round(base * (0.5 + Math.random())));
  }

  private open(): MqttClient {
    const v = this.version;
    const client = mqtt.connect(this.options.url, {
      ...this.baseOptions,
      protocolVersion: v,
      ...(v === 5 && {
        properties: {
          sessionExpiryInterval: 0,
          ...(this.options.maximumPacketSize !== undefined && { maximumPacketSize: this.options.maximumPacketSize }),
        },
      }),
    });
    setTcpNoDelay(client);
    // Runs before mqtt.js's own 'close' listener sets up the reconnect timer: a new random delay per outage.
    client.prependListener('close', () => {
      client.options.reconnectPeriod = this.jitteredPeriod();
    });
    client.on('connect', (connack) => {
      this.log.info({ url: redact(this.options.url), protocolVersion: v, sessionPresent: connack.sessionPresent }, 'mqtt connected');
      this.handlers.onConnect(connack, v);
    });
    client.on('message', (topic, payload, packet) => this.handlers.onMessage(topic, payload, packet));
    client.on('close', () => {
      if (this.current !== client || this.closing) return;
      this.log.warn({ url: redact(this.options.url) }, 'mqtt connection closed; reconnecting');
      this.handlers.onClose?.();
    });
    client.on('error', (e) => {
      if (this.current !== client) return;
      if (v === 5 && this.options.protocolVersion !== 5 && isProtocolRefusal(e)) {
        this.log.info({ url: redact(this.options.url) }, 'broker refused MQTT 5; falling back to MQTT 3.1.1');
        this.version = 4;
        this.current = this.open();
        client.end(true);
        return;
      }
      this.lastError = e.message;
      this.log.error({ err: e.message, code: (e as { code?: unknown }).code }, 'mqtt error');
    });
    return client;
  }

  /** Wait for the first successful connection, or fail after `timeoutMs`. */
  async waitConnected(timeoutMs: number): Promise<void> {
    const deadline = Date.now() + timeoutMs;
    while (!this.current.connected) {
      if (this.closing) throw new EdgestreamError('E_MQTT', 'the connection was closed while waiting for the broker');
      if (Date.now() > deadline) {
        const why = this.lastError ? `: ${this.lastError}` : ' (is it running? are the URL and credentials right?)';
        throw new EdgestreamError('E_MQTT', `no connection to the MQTT broker at ${redact(this.options.url)} within ${timeoutMs} ms${why}`);
      }
      await new Promise((r) => setTimeout(r, 25));
    }
  }

  async publish(topic: string, payload: string | Buffer, options: { qos: 0 | 1 | 2; retain?: boolean; properties?: IPublishPacket['properties'] }): Promise<void> {
    const props = this.version === 5 ? options.properties : undefined;
    await this.current.publishAsync(topic, payload, { qos: options.qos, retain: options.retain ?? false, ...(props && { properties: props }) });
  }

  async subscribe(topics: string[], qos: 0 | 1): Promise<void> {
    await this.current.subscribeAsync(topics, { qos });
  }

  /** QoS 1/2 publishes sent and not yet acknowledged by the broker. */
  get inFlight(): number {
    return Object.keys((this.current as unknown as { outgoing?: Record<string, unknown> }).outgoing ?? {}).length;
  }

  /**
   * Graceful: DISCONNECT (the Will is not sent) after in-flight QoS 1 publishes complete, but
   * waiting at most `graceMs`; then the socket is destroyed (the broker fires the Will) and what
   * was still in flight is dropped. mqtt.js alone would wait for the broker forever, and a second
   * `end(true)` during that wait does nothing: a process would never exit.
   * @returns the number of publishes dropped unacknowledged.
   */
  async end(force = false, graceMs = 5000): Promise<number> {
    this.closing = true;
    const c = this.current;
    c.options.reconnectPeriod = 0; // no reconnect once we are closing
    const pending = this.inFlight;
    if (force) {
      c.stream?.destroy();
      await settleWithin(c.endAsync(true), 200);
      return pending;
    }
    if (await settleWithin(c.endAsync(false), graceMs)) return 0;
    const dropped = this.inFlight;
    this.log.warn({ inFlight: dropped, graceMs }, 'the broker did not take our last publishes in time: connection closed without them');
    c.stream?.destroy();
    return dropped;
  }
}

/** True if `p` settled within `ms` (its result or error is ignored). */
async function settleWithin(p: Promise<unknown>, ms: number): Promise<boolean> {
  let timer: NodeJS.Timeout | undefined;
  const timeout = new Promise<boolean>((r) => (timer = setTimeout(() => r(false), Math.max(0, ms))));
  try {
    return await Promise.race([p.then(() => true, () => true), timeout]);
  } finally {
    clearTimeout(timer);
  }
}

/** The URL without credentials, for logs. */
export function redact(url: string): string {
  try {
    const u = new URL(url);
    if (u.password) u.password = '***';
    return u.toString();
  } catch {
    return url;
  }
}
