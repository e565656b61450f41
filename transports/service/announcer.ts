import type { Logger } from 'pino';
import { DEFAULT_THRESHOLD } from '../../runtime/decisions/options.js';
import { describeError } from '../../runtime/errors.js';
import type { Model } from '../../runtime/model/model.js';
import type { DeviceKeywordEvent, KeywordScores, SensorPrediction } from '../../runtime/operators/types.js';
import type { MqttConnection } from '../mqtt/connection.js';
import { bridgeDiscovery, bridgeDiscoveryTopic, deviceDiscovery, deviceDiscoveryTopic, type DiscoveryOptions } from '../mqtt/discovery.js';
import { hermesPayload, keywordPayload, predictionPayload, scoresPayload, statePayload } from '../mqtt/payloads.js';
import type { TopicSchema } from '../mqtt/topics.js';
import type { ServiceConfig } from './config.js';
import type { DeviceEntry, DeviceRegistry } from './device_registry.js';
import type { ServiceMetrics } from './metrics.js';
import { PACKAGE_VERSION } from './package_paths.js';

/** What the announcer reads from the service it speaks for. */
export interface AnnouncerDeps {
  config: ServiceConfig;
  topics: TopicSchema;
  log: Logger;
  devices: DeviceRegistry;
  metrics: ServiceMetrics;
  connection: () => MqttConnection | null;
  keywordModel: () => Model | null;
  streamModel: () => Model | null;
  /** True while availability changes must not go out (stopping, warming up). */
  silent: () => boolean;
  onAvailability: (change: { device: string; availability: 'online' | 'offline' }) => void;
  /**
   * Cluster workers: whether to publish this discovery payload for `name` (a device id, or
   * `bridge`): true for the one worker that first claims it, so that discovery goes out once per
   * device, not once per worker or per hand-over. Absent: always publish.
   */
  claimDiscovery?: (name: string, payload: string) => Promise<boolean>;
  /** The discovery of `name` was cleared: a later one must be published again. */
  unclaimDiscovery?: (name: string) => Promise<void>;
}

/**
 * Everything the service says on MQTT: keyword events, scores and predictions, each device's
 * retained state and availability, Home Assistant discovery, and the bridge's availability.
 * Publishes never throw: failures are counted (`edgestream_publish_errors_total`) and logged.
 */
export class Announcer {
  /** Per device: keyword events and predictions handed to the MQTT client and not yet acknowledged (QoS 1) or failed. */
  private readonly outputsInFlight = new Map<string, Set<Promise<void>>>();

  constructor(private readonly d: AnnouncerDeps) {}

  /**
   * Resolves when every keyword event and prediction of these devices published so far is
   * acknowledged by the broker (or its publish failed: counted and logged). A cluster worker's
   * snapshot waits for this, so that what the next owner does not publish again has reached the broker.
   */
  async outputsSettled(devices: Iterable<string>): Promise<void> {
    const pending: Promise<void>[] = [];
    for (const device of devices) for (const p of this.outputsInFlight.get(device) ?? []) pending.push(p);
    await Promise.all(pending);
  }

  /** A device's output publish, tracked until it settles. */
  private output(device: string, kind: string, topic: string, payload: string): void {
    const p = this.publish(kind, topic, payload, 1, false);
    let set = this.outputsInFlight.get(device);
    if (!set) this.outputsInFlight.set(device, (set = new Set()));
    set.add(p);
    void p.then(() => {
      set.delete(p);
      if (set.size === 0 && this.outputsInFlight.get(device) === set) this.outputsInFlight.delete(device);
    });
  }

  /** The name events, state and discovery carry. */
  get modelName(): string {
    const c = this.d.config;
    return c.model.name ?? this.d.keywordModel()?.name ?? c.sensor.model?.name ?? this.d.streamModel()?.name ?? 'edgestream';
  }

  keyword(event: DeviceKeywordEvent, entry: DeviceEntry | undefined): void {
    this.output(event.device, 'keyword', this.d.topics.keyword(event.device), keywordPayload(event));
    if (entry) this.state(entry);
    if (this.d.config.hermes.enabled) {
      const word = event.label.replace(/[^A-Za-z0-9_-]/g, '_');
      void this.publish('hermes', `hermes/hotword/${word}/detected`, hermesPayload(event), 1, false);
    }
  }

  /** Scores, at most one message per device per `scores.intervalMs`. */
  scores(scores: KeywordScores, entry: DeviceEntry | undefined): void {
    const sc = this.d.config.scores;
    if (!sc.enabled || !entry) return;
    const now = Date.now();
    if (now - entry.lastScoresAt < sc.intervalMs) return;
    entry.lastScoresAt = now;
    void this.publish('scores', this.d.topics.scores(scores.device), scoresPayload(scores, sc.topK), 0, false);
  }

  prediction(p: SensorPrediction): void {
    this.output(p.device, 'prediction', this.d.topics.prediction(p.device), predictionPayload(p));
  }

  effectiveThreshold(entry: DeviceEntry): number {
    return entry.threshold$.value ?? entry.config?.threshold ?? this.d.config.decision.threshold ?? this.d.keywordModel()?.decision.threshold ?? DEFAULT_THRESHOLD;
  }

  /** A device's retained state. */
  state(entry: DeviceEntry): void {
    const payload = statePayload({
      listening: entry.listening,
      last_keyword: entry.lastKeyword,
      last_score: entry.lastScore,
      last_ts: entry.lastTs,
      model: this.modelName,
      threshold: this.effectiveThreshold(entry),
    });
    void this.publish('state', this.d.topics.state(entry.id), payload, 1, true);
  }

  /** A device's audio or sensor stream started or ended: `online` while either runs. */
  setAvailability(entry: DeviceEntry, stream: 'audio' | 'sensor', active: boolean): void {
    const wasOnline = entry.audioActive || entry.sensorActive;
    if (stream === 'audio') entry.audioActive = active;
    else entry.sensorActive = active;
    const online = entry.audioActive || entry.sensorActive;
    this.d.metrics.devicesActive.set([...this.d.devices.all()].filter((d) => d.audioActive || d.sensorActive).length);
    if (online === wasOnline || this.d.silent()) return;
    if (online && !entry.announced) this.announce(entry);
    void this.publish('availability', this.d.topics.availability(entry.id), online ? 'online' : 'offline', 1, true);
    this.d.log.info({ device: entry.id, availability: online ? 'online' : 'offline' }, 'device availability');
    this.d.onAvailability({ device: entry.id, availability: online ? 'online' : 'offline' });
  }

  discoveryOptions(): DiscoveryOptions {
    const ignore = new Set(this.d.config.decision.ignore);
    const km = this.d.keywordModel();
    return {
      topics: this.d.topics,
      discoveryPrefix: this.d.config.homeassistant.discoveryPrefix,
      eventTypes: km?.labels.filter((l) => !ignore.has(l)) ?? [],
      swVersion: PACKAGE_VERSION,
      modelName: this.modelName,
      audio: km !== null,
      sensor: this.d.streamModel() !== null,
    };
  }

  /** A new broker connection: every device is announced again. */
  resetAnnounced(): void {
    for (const d of this.d.devices.all()) d.announced = false;
  }

  /** HA discovery + state for one device (retained). `force`: publish discovery even if a cluster peer already did (HA restarted). */
  announce(entry: DeviceEntry, force = false): void {
    entry.announced = true;
    if (this.d.config.homeassistant.enabled) {
      const o = this.discoveryOptions();
      const info = { device: entry.id, ...(entry.config?.name !== undefined && { name: entry.config.name }), ...(entry.config?.area !== undefined && { area: entry.config.area }) };
      this.publishDiscovery(entry.id, deviceDiscoveryTopic(o, entry.id), JSON.stringify(deviceDiscovery(o, info)), force);
    }
    this.state(entry);
  }

  private publishDiscovery(name: string, topic: string, payload: string, force: boolean): void {
    const claim = this.d.claimDiscovery;
    if (!claim || force) {
      void this.publish('discovery', topic, payload, 1, true);
      return;
    }
    claim(name, payload).then(
      (mine) => {
        if (mine) void this.publish('discovery', topic, payload, 1, true);
      },
      (e: unknown) => {
        // The marker store is unreachable: publishing twice is better than not at all.
        this.d.log.warn({ name, err: describeError(e) }, 'discovery marker unavailable: publishing discovery');
        void this.publish('discovery', topic, payload, 1, true);
      },
    );
  }

  /** An evicted device's discovery is cleared (empty retained payload). */
  forget(entry: DeviceEntry): void {
    if (this.d.config.homeassistant.enabled && entry.announced) {
      void this.publish('discovery', deviceDiscoveryTopic(this.discoveryOptions(), entry.id), '', 1, true);
      void this.d.unclaimDiscovery?.(entry.id).catch(() => undefined);
    }
  }

  /**
   * Everything retained that describes the service: on every connect and when HA comes online
   * (`force`: then discovery goes out again even where a cluster peer published it).
   */
  announceAll(force = false): void {
    void this.publish('availability', this.d.topics.bridgeAvailability, 'online', 1, true);
    if (this.d.config.homeassistant.enabled) {
      const o = this.discoveryOptions();
      this.publishDiscovery('bridge', bridgeDiscoveryTopic(o), JSON.stringify(bridgeDiscovery(o)), force);
    }
    for (const entry of this.d.devices.all()) {
      this.announce(entry, force);
      const online = entry.audioActive || entry.sensorActive;
      void this.publish('availability', this.d.topics.availability(entry.id), online ? 'online' : 'offline', 1, true);
    }
  }

  /** `offline` for the given devices and (unless `bridge` is false) the bridge (retained), before a clean disconnect. */
  offline(devices: DeviceEntry[], bridge = true): Promise<void[]> {
    const all = devices.map((d) => this.publish('availability', this.d.topics.availability(d.id), 'offline', 1, true));
    if (bridge) all.push(this.publish('availability', this.d.topics.bridgeAvailability, 'offline', 1, true));
    return Promise.all(all);
  }

  async publish(kind: string, topic: string, payload: string, qos: 0 | 1, retain: boolean): Promise<void> {
    const conn = this.d.connection();
    if (!conn) return;
    try {
      await conn.publish(topic, payload, { qos, retain });
      this.d.metrics.published.inc({ kind });
    } catch (e) {
      this.d.metrics.publishErrors.inc({ kind });
      this.d.log.warn({ topic, err: describeError(e) }, 'publish failed');
    }
  }
}
