import { readFileSync } from 'node:fs';
import { randomBytes } from 'node:crypto';
import type { IPublishPacket } from 'mqtt';
import type { Logger } from 'pino';
import { describeError, EdgestreamError } from '../../runtime/errors.js';
import type { AudioChunk } from '../../runtime/operators/types.js';
import { AudioMessageError, parseAudioMessage } from '../mqtt/audio_message.js';
import { MqttConnection } from '../mqtt/connection.js';
import type { TopicSchema } from '../mqtt/topics.js';
import type { Announcer } from './announcer.js';
import { applyCommand } from './commands.js';
import type { ServiceConfig } from './config.js';
import type { DeviceStats } from './device_stats.js';
import { truncate, type ServiceInputs } from './inputs.js';
import type { ServiceMetrics } from './metrics.js';

/** What the MQTT side needs from the service. */
export interface MqttInputsDeps {
  config: ServiceConfig;
  topics: TopicSchema;
  log: Logger;
  stats: DeviceStats;
  metrics: ServiceMetrics;
  inputs: ServiceInputs;
  announcer: Announcer;
  /** 'running' and 'starting' take messages; audio and sensor input only while 'running'. */
  state: () => string;
  audioEnabled: () => boolean;
  sensorEnabled: () => boolean;
  onConnection: (state: { connected: boolean; protocolVersion: 4 | 5 }) => void;
  /** Cluster workers take device inputs (audio, sensor, commands) from the group's stream, not from the broker. */
  inputsFromBroker: boolean;
}

/**
 * The service's broker connection and what arrives on it: subscriptions on every (re)connect,
 * then each message dispatched by topic: audio chunks and sensor messages to the inputs,
 * commands to `applyCommand`, Home Assistant's `online` to re-announce. Anything else is a
 * counted rejection.
 */
export class MqttInputs {
  connection: MqttConnection | null = null;

  constructor(private readonly d: MqttInputsDeps) {}

  /** Connect and wait for the first connection (`mqtt.connectTimeoutMs`). */
  async connect(): Promise<void> {
    const m = this.d.config.mqtt;
    let password = m.password;
    if (m.passwordFile !== undefined) {
      try {
        password = readFileSync(m.passwordFile, 'utf8').replace(/\r?\n$/, '');
      } catch (e) {
        throw new EdgestreamError('E_CONFIG', `cannot read mqtt.passwordFile ${m.passwordFile}: ${(e as Error).message}`);
      }
    }
    const conn = new MqttConnection(
      {
        url: m.url,
        clientId: m.clientId ?? `edgestream-${this.d.config.baseTopic.replace(/[^A-Za-z0-9_-]/g, '_')}-${randomBytes(3).toString('hex')}`,
        ...(m.username !== undefined && { username: m.username }),
        ...(password !== undefined && { password }),
        protocolVersion: m.protocolVersion,
        keepalive: m.keepalive,
        reconnectMs: m.reconnectMs,
        connectTimeoutMs: Math.min(m.connectTimeoutMs, 10_000),
        ...(m.tls && { tls: m.tls }),
        maximumPacketSize: m.maxPacketBytes,
        will: { topic: this.d.topics.bridgeAvailability, payload: 'offline', qos: 1, retain: true },
      },
      {
        onConnect: (_connack, version) => void this.onConnect(version),
        onMessage: (topic, payload, packet) => this.onMessage(topic, payload, packet),
        onClose: () => {
          this.d.metrics.mqttConnected.set(0);
          this.d.onConnection({ connected: false, protocolVersion: conn.protocolVersion });
        },
      },
      this.d.log.child({ component: 'mqtt' }),
    );
    this.connection = conn;
    await conn.waitConnected(m.connectTimeoutMs);
  }

  private async onConnect(version: 4 | 5): Promise<void> {
    const conn = this.connection;
    if (!conn) return;
    this.d.metrics.mqttConnected.set(1);
    this.d.announcer.resetAnnounced();
    const subs = this.d.inputsFromBroker ? this.d.topics.subscriptions({ audio: this.d.audioEnabled(), sensor: this.d.sensorEnabled() }) : [];
    if (this.d.config.homeassistant.enabled) subs.push(this.d.config.homeassistant.statusTopic);
    try {
      if (subs.length > 0) await conn.subscribe(subs, 1);
      this.d.log.info({ topics: subs }, 'subscribed');
    } catch (e) {
      this.d.log.error({ err: describeError(e) }, 'subscribe failed; retrying on the next connect');
    }
    this.d.announcer.announceAll();
    this.d.onConnection({ connected: true, protocolVersion: version });
  }

  /** One message from the broker. Never throws: bad input is a counted rejection. */
  onMessage(topic: string, payload: Buffer, packet: IPublishPacket): void {
    const state = this.d.state();
    if (state !== 'running' && state !== 'starting') return;
    const receivedAt = Date.now();
    const ha = this.d.config.homeassistant;
    if (ha.enabled && topic === ha.statusTopic) {
      if (payload.toString('utf8').trim() === 'online') {
        this.d.log.info('Home Assistant came online: re-publishing discovery');
        this.d.announcer.announceAll(true);
      }
      return;
    }
    const t = this.d.topics.parse(topic);
    if (!t.ok) {
      return this.d.stats.rejected(t.reason, t.reason === 'bad_device' ? `message on "${truncate(topic)}" refused: device ids are [A-Za-z0-9_-]{1,64} (and not "bridge")` : `unexpected topic "${truncate(topic)}"`);
    }
    const { device, kind } = t;
    const props = packet.properties;
    if (kind === 'audio') {
      if (!this.d.audioEnabled()) return;
      const entry = this.d.inputs.admit(device);
      if (!entry) return;
      const format = entry.config?.format ?? this.d.config.audio.format;
      let chunk: AudioChunk;
      try {
        chunk = parseAudioMessage(
          device,
          payload,
          { ...(props?.contentType !== undefined && { contentType: props.contentType }), ...(props?.userProperties !== undefined && { userProperties: props.userProperties }) },
          format,
          { maxPayloadBytes: this.d.config.mqtt.maxPacketBytes, maxChunkMs: this.d.config.audio.maxChunkMs },
          receivedAt,
        );
      } catch (e) {
        if (e instanceof AudioMessageError) return this.d.stats.rejected(e.reason, `device ${device}: ${e.message}`, device);
        throw e;
      }
      if (state === 'running') this.d.inputs.acceptAudio(entry, chunk);
      return;
    }
    if (kind === 'sensor') {
      if (state !== 'running') return;
      return this.d.inputs.acceptSensor(
        {
          device,
          payload,
          receivedAt,
          ...(props?.contentType !== undefined && { contentType: props.contentType }),
          ...(props?.userProperties !== undefined && { userProperties: props.userProperties }),
        },
        this.d.sensorEnabled(),
      );
    }
    // Commands: retained ones are stale (a retained "OFF" would silence a device at every restart).
    if (packet.retain) return this.d.stats.rejected('retained_command', `retained command on ${topic} ignored (publish commands without retain)`, device);
    const entry = this.d.inputs.admit(device);
    if (!entry) return;
    applyCommand({ stats: this.d.stats, log: this.d.log, announcer: this.d.announcer }, entry, kind, topic, payload);
  }
}
