import { EventEmitter } from 'node:events';
import { readFileSync } from 'node:fs';
import { randomBytes } from 'node:crypto';
import type { IPublishPacket } from 'mqtt';
import type { Logger } from 'pino';
import { Subject, Subscription, tap, type Observable } from 'rxjs';
import { DEFAULT_THRESHOLD, type DecisionOptions } from '../../runtime/decisions/options.js';
import { describeError, EdgestreamError, isEdgestreamError } from '../../runtime/errors.js';
import { moduleLogger } from '../../runtime/log.js';
import { Engine } from '../../runtime/engine/engine.js';
import { EngineStreamRouter } from '../../runtime/engine/stream_router.js';
import { loadModel } from '../../runtime/model/load_model.js';
import type { Model } from '../../runtime/model/model.js';
import { boundedBuffer } from '../../runtime/operators/bounded_buffer.js';
import { decodeSensorFrames } from '../../runtime/operators/decode_sensor_frames.js';
import { keywordSpotting } from '../../runtime/operators/keyword_spotting.js';
import { perDevice } from '../../runtime/operators/per_device.js';
import { predictStream } from '../../runtime/operators/predict_stream.js';
import { sequenceGuard } from '../../runtime/operators/sequence_guard.js';
import { timeProcessing } from '../../runtime/operators/time_processing.js';
import type { AudioChunk, DeviceKeywordEvent, KeywordOutput, KeywordScores, RawMessage, SensorPrediction } from '../../runtime/operators/types.js';
import { AudioMessageError, parseAudioMessage } from '../mqtt/audio_message.js';
import { MqttConnection, redact } from '../mqtt/connection.js';
import { bridgeDiscovery, bridgeDiscoveryTopic, deviceDiscovery, deviceDiscoveryTopic, type DiscoveryOptions } from '../mqtt/discovery.js';
import { hermesPayload, keywordPayload, predictionPayload, scoresPayload, statePayload } from '../mqtt/payloads.js';
import { isValidDeviceId, TopicSchema } from '../mqtt/topics.js';
import { warmUpAudioReceive } from '../mqtt/warm_up_receive.js';
import { webrtcPluginFromConfig } from '../webrtc/plugin.js';
import { parseServiceConfig, type ServiceConfig, type ServiceConfigInput } from './config.js';
import { DeviceRegistry, type DeviceEntry } from './device_registry.js';
import { healthSnapshot, type HealthSnapshot } from './health.js';
import { sendJson, ServiceHttpServer, type HttpHandler } from './http_server.js';
import { ServiceMetrics, type RejectReason } from './metrics.js';
import { DEMO_MODEL, PACKAGE_VERSION } from './package_paths.js';
import { syntheticPcm } from './synthetic_audio.js';

/** Typed events of a running service (`service.on('keyword', e => …)`). */
export interface ServiceEvents {
  /** A detection, as published on `<base>/<device>/keyword`. */
  keyword: [event: DeviceKeywordEvent];
  /** Every scored frame of devices whose pipeline emits scores (see `scores.enabled` / listeners). */
  scores: [scores: KeywordScores];
  /** A stream model output, as published on `<base>/<device>/prediction`. */
  prediction: [prediction: SensorPrediction];
  /** A device's stream started (`online`) or went idle (`offline`). */
  availability: [change: { device: string; availability: 'online' | 'offline' }];
  /** An input message or chunk was refused. */
  rejected: [info: { reason: RejectReason; message: string; device?: string }];
  /** The broker connection came up or went down. */
  connection: [state: { connected: boolean; protocolVersion: 4 | 5 }];
}

/**
 * Something that extends a service (the WebRTC endpoint): started after the model is loaded
 * and the HTTP server is up, stopped before the MQTT connection closes.
 */
export interface ServicePlugin {
  readonly name: string;
  start(service: EdgestreamService): void | Promise<void>;
  stop?(): void | Promise<void>;
}

export interface CreateServiceOptions {
  /** An already loaded keyword model (else `config.model.path`, default the demo model). */
  model?: Model;
  /** An already loaded stream model for sensor topics (else `config.sensor.model.path`). */
  sensorModel?: Model;
  plugins?: ServicePlugin[];
  /** Parent logger (default: edgestream's, module `service`). */
  logger?: Logger;
}

type ServiceState = 'created' | 'starting' | 'running' | 'stopping' | 'stopped';

/** Start-up warm-up: throwaway devices × 20 ms chunks through the pipelines, then a pause for V8's background compiler. */
const WARM_UP = { devices: 4, chunks: 250, settleMs: 100 };

/**
 * The stream service: MQTT (and plugin) inputs → per-device pipelines → predictions published
 * back to MQTT, with Home Assistant discovery, health and metrics. Create with `createService`,
 * then `await start()` / `await stop()`.
 */
export class EdgestreamService extends EventEmitter<ServiceEvents> {
  readonly config: ServiceConfig;
  readonly topics: TopicSchema;
  readonly metrics = new ServiceMetrics();
  readonly log: Logger;
  private state: ServiceState = 'created';
  private keywordModel: Model | null;
  private readonly preloaded: boolean;
  private streamModel: Model | null;
  private readonly plugins: ServicePlugin[];
  private readonly devices: DeviceRegistry;
  private readonly http: ServiceHttpServer;
  private connection: MqttConnection | null = null;
  private readonly audioIn = new Subject<AudioChunk>();
  private readonly sensorIn = new Subject<RawMessage>();
  private readonly subscriptions = new Subscription();
  private healthTimer: NodeJS.Timeout | null = null;
  private intervalStartedAt = Date.now();
  private readonly rejectLog = new Map<RejectReason, { windowStart: number; logged: number; suppressed: number }>();
  private totals = emptyTotals();
  /** Set while stopping: device availability goes out once, from `teardown`. */
  private quiet = false;
  /** Set while throwaway devices warm the pipelines up at start (`warmUp`): no availability changes. */
  private warming = false;
  /** The shared batched engine (config `engine.enabled`). */
  private engine: Engine | null = null;
  private router: EngineStreamRouter | null = null;
  /** Resolves when the audio pipelines have finished after the input ended. */
  private audioDone: Promise<void> = Promise.resolve();

  constructor(config: ServiceConfig, options: CreateServiceOptions = {}) {
    super();
    this.config = config;
    this.topics = new TopicSchema(config.baseTopic);
    this.keywordModel = options.model ?? null;
    this.preloaded = options.model !== undefined;
    this.streamModel = options.sensorModel ?? null;
    this.plugins = options.plugins ?? [];
    // `webrtc.enabled` in the configuration adds the WebRTC plugin unless the caller passed one.
    const webrtc = this.plugins.some((p) => p.name === 'webrtc') ? null : webrtcPluginFromConfig(config.webrtc);
    if (webrtc) this.plugins = [...this.plugins, webrtc];
    this.log = (options.logger ?? moduleLogger('service')).child({ base: config.baseTopic });
    this.devices = new DeviceRegistry(config.maxDevices, config.devices);
    this.http = new ServiceHttpServer(this.log.child({ component: 'http' }));
  }

  /** The keyword model (after `start()`; none with `audio.enabled: false`). */
  get model(): Model {
    if (!this.keywordModel) throw new EdgestreamError('E_SESSION_STATE', this.state === 'created' ? 'the service has not been started' : 'this service runs no keyword model (audio.enabled is false)');
    return this.keywordModel;
  }
  /** The stream model for sensor topics, if configured. */
  get sensorModel(): Model | null { return this.streamModel; }
  get running(): boolean { return this.state === 'running'; }
  get mqttConnected(): boolean { return this.connection?.connected ?? false; }
  get protocolVersion(): 4 | 5 | null { return this.connection?.protocolVersion ?? null; }
  /** The HTTP port (when `http.enabled`, after `start()`). */
  get httpPort(): number | null { return this.http.port; }

  /** Register an HTTP route on the service's server (plugins: signalling, pages). Before or during start. */
  route(method: string, path: string, handler: HttpHandler): void {
    this.http.route(method, path, handler);
  }

  // ---------------------------------------------------------------------------------------------
  // Lifecycle

  async start(): Promise<void> {
    if (this.state !== 'created') throw new EdgestreamError('E_SESSION_STATE', `start() called on a service that is ${this.state}`);
    this.state = 'starting';
    try {
      await this.loadModels();
      if (this.keywordModel) await this.warmUp(this.keywordModel);
      this.buildPipelines();
      if (this.config.http.enabled) {
        this.http.route('GET', '/healthz', (_req, res) => {
          const h = this.health();
          sendJson(res, h.status === 'ok' ? 200 : 503, h);
        });
        this.http.route('GET', '/metrics', async (_req, res) => {
          const m = await this.metrics.render();
          res.writeHead(200, { 'content-type': m.contentType });
          res.end(m.body);
        });
      }
      for (const p of this.plugins) {
        await p.start(this);
        this.log.info({ plugin: p.name }, 'plugin started');
      }
      if (this.config.http.enabled) await this.http.listen(this.config.http.host, this.config.http.port);
      await this.connect();
      if (this.config.health.intervalMs > 0) {
        this.healthTimer = setInterval(() => this.publishHealth(), this.config.health.intervalMs);
        this.healthTimer.unref();
      }
      this.state = 'running';
      this.log.info({ model: this.keywordModel?.name ?? null, sensorModel: this.streamModel?.name ?? null, mqtt: redact(this.config.mqtt.url) }, 'service running');
    } catch (e) {
      await this.teardown(false);
      this.state = 'stopped';
      throw e;
    }
  }

  /**
   * Graceful stop: stop taking input, let the pipelines finish, publish `offline` for every device
   * and the bridge (retained), then disconnect cleanly (so the broker does not send the Will).
   */
  async stop(): Promise<void> {
    if (this.state === 'stopped' || this.state === 'stopping') return;
    this.state = 'stopping';
    this.log.info('stopping');
    await this.teardown(true);
    this.state = 'stopped';
    this.log.info('stopped');
  }

  private async teardown(graceful: boolean): Promise<void> {
    if (this.healthTimer) clearInterval(this.healthTimer);
    this.healthTimer = null;
    // Ending the inputs ends every device pipeline; their availability is published below, in one go.
    const online = [...this.devices.all()].filter((d) => d.audioActive || d.sensorActive);
    this.quiet = true;
    this.audioIn.complete();
    this.sensorIn.complete();
    await Promise.race([this.audioDone, delay(2000)]); // detections still in flight go out
    const conn = this.connection;
    if (conn && graceful && conn.connected) {
      const offline: Promise<void>[] = [];
      for (const d of online) offline.push(this.publish('availability', this.topics.availability(d.id), 'offline', 1, true));
      offline.push(this.publish('availability', this.topics.bridgeAvailability, 'offline', 1, true));
      await Promise.race([Promise.all(offline), delay(5000)]);
    }
    this.subscriptions.unsubscribe();
    for (const p of [...this.plugins].reverse()) {
      try {
        await p.stop?.();
      } catch (e) {
        this.log.error({ plugin: p.name, err: describeError(e) }, 'plugin stop failed');
      }
    }
    if (conn) {
      try {
        await Promise.race([conn.end(!graceful), delay(5000).then(() => conn.end(true))]);
      } catch (e) {
        this.log.warn({ err: describeError(e) }, 'mqtt disconnect failed');
      }
    }
    this.metrics.mqttConnected.set(0);
    this.router?.detach();
    await this.engine?.dispose();
    await this.http.close();
    this.metrics.close();
  }

  private async loadModels(): Promise<void> {
    if (!this.config.audio.enabled) {
      this.keywordModel = null;
      await this.loadSensorModel();
      if (!this.streamModel) throw new EdgestreamError('E_CONFIG', 'audio.enabled is false and no sensor.model is configured: the service would have nothing to do');
      return;
    }
    if (!this.keywordModel) {
      const path = this.config.model.path ?? DEMO_MODEL;
      this.keywordModel = await loadModel(path, { backend: this.config.model.backend });
      this.log.info({ path, model: this.keywordModel.name, backend: this.keywordModel.backend }, 'keyword model loaded');
    }
    if (!this.keywordModel.frontend) {
      throw new EdgestreamError('E_CONFIG', `the keyword model ${this.keywordModel.name} has no audio front end settings; model.path must name an audio (keyword) model`);
    }
    const ec = this.config.engine;
    if (ec.enabled) {
      let source: string | Model;
      if (this.config.model.path !== undefined) source = this.config.model.path;
      else if (!this.preloaded) source = DEMO_MODEL;
      else if (ec.workers === 0) source = this.keywordModel;
      else throw new EdgestreamError('E_CONFIG', 'engine workers load the model file themselves: set model.path (or engine.workers: 0 to use the model passed to createService)');
      this.engine = await Engine.create(source, {
        workers: ec.workers,
        maxBatch: ec.maxBatch,
        // spotKeywords keeps at most 24 frames in flight per stream (the rest wait in its backlog): the engine's queues never drop.
        queueFrames: 32,
        backend: this.config.model.backend,
        // Continuous detection: every stream's head averages over the last window (see spotKeywords).
        headWindow: this.config.decision.windowFrames ?? this.keywordModel.frontend.clipFrames,
      });
      if (this.engine.inputDim !== this.keywordModel.inputDim || this.engine.outputDim !== this.keywordModel.outputDim) {
        throw new EdgestreamError('E_CONFIG', `engine model (${this.engine.inputDim} → ${this.engine.outputDim}) differs from the keyword model (${this.keywordModel.inputDim} → ${this.keywordModel.outputDim}); give model.path`);
      }
      this.router = new EngineStreamRouter(this.engine);
      this.log.info({ workers: ec.workers, maxBatch: ec.maxBatch, backend: this.engine.backend }, 'engine started');
    }
    await this.loadSensorModel();
  }

  /**
   * Compile the hot paths before devices arrive: a hundred devices starting at once otherwise meet
   * cold code, and the first half second costs two to three times the steady CPU, which delays
   * their first detections by up to a few hundred milliseconds. Synthetic audio messages go through
   * the MQTT packet parser and `parseAudioMessage`, and synthetic chunks from a few throwaway
   * devices through the service's own per-device pipelines (admission, queues, front end, model,
   * decisions). Nothing is published (there is no connection yet) and nothing is emitted; the
   * throwaway devices, their metrics and the totals are removed afterwards.
   */
  private async warmUp(model: Model): Promise<void> {
    const t0 = performance.now();
    const format = this.config.audio.format;
    warmUpAudioReceive(this.topics, format, { maxPayloadBytes: this.config.mqtt.maxPacketBytes, maxChunkMs: this.config.audio.maxChunkMs });
    const input = new Subject<AudioChunk>();
    const done = this.buildAudioPipeline(model, input, () => undefined);
    const ids = Array.from({ length: WARM_UP.devices }, (_, i) => `edgestream-warmup-${i}`).filter((id) => !this.devices.get(id));
    this.warming = true;
    try {
      for (let k = 0; k < WARM_UP.chunks; k++) {
        const data = syntheticPcm(format, 20, k);
        for (const id of ids) {
          const entry = this.devices.admit(id)?.entry;
          if (entry) this.acceptAudio(entry, { device: id, kind: 'chunk', data, format, seq: k, timestampMs: k * 20, receivedAt: Date.now() }, input);
        }
        if (k % 10 === 9) await new Promise((r) => setImmediate(r)); // the device queues drain between turns, as they do in operation
      }
      input.complete();
      await done;
      await new Promise((r) => setTimeout(r, WARM_UP.settleMs)); // V8 finishes the optimised code it compiles in the background
    } finally {
      for (const id of ids) {
        this.devices.remove(id);
        this.metrics.removeDevice(id);
      }
      this.metrics.inference.reset();
      this.metrics.chunkLatency.reset();
      this.metrics.devicesActive.set(0);
      this.totals = emptyTotals();
      this.warming = false;
    }
    this.log.debug({ ms: Math.round(performance.now() - t0) }, 'warmed up');
  }

  private async loadSensorModel(): Promise<void> {
    const sm = this.config.sensor.model;
    if (!this.streamModel && sm) {
      if (!sm.path) throw new EdgestreamError('E_CONFIG', 'sensor.model.path is required when sensor.model is given');
      this.streamModel = await loadModel(sm.path, { backend: sm.backend });
      this.log.info({ path: sm.path, model: this.streamModel.name }, 'sensor model loaded');
    }
  }

  /** The name events, state and discovery carry. */
  private get modelName(): string {
    return this.config.model.name ?? this.keywordModel?.name ?? this.config.sensor.model?.name ?? this.streamModel?.name ?? 'edgestream';
  }

  // ---------------------------------------------------------------------------------------------
  // Inputs

  /**
   * Feed audio from another transport (WebRTC, a local microphone) into the same per-device
   * pipelines as MQTT audio. Chunks must carry a valid device id; they are admitted, counted and
   * published exactly like MQTT chunks. Unsubscribe the returned subscription to detach.
   */
  attachAudioSource(source: Observable<AudioChunk>, name = 'source'): Subscription {
    const sub = source.subscribe({
      next: (chunk) => {
        if (this.state !== 'running') return;
        if (!isValidDeviceId(chunk.device)) return this.reject('bad_device', `${name}: device id "${truncate(chunk.device)}" is not [A-Za-z0-9_-]{1,64}`);
        const entry = this.admit(chunk.device);
        if (entry) this.acceptAudio(entry, { receivedAt: Date.now(), ...chunk });
      },
      error: (e: unknown) => this.log.error({ source: name, err: describeError(e) }, 'audio source failed'),
    });
    this.subscriptions.add(sub);
    return sub;
  }

  /** Feed raw sensor messages (payload as on `<base>/<device>/sensor`) from another transport. */
  attachSensorSource(source: Observable<RawMessage>, name = 'source'): Subscription {
    const sub = source.subscribe({
      next: (m) => {
        if (this.state !== 'running') return;
        if (!isValidDeviceId(m.device)) return this.reject('bad_device', `${name}: device id "${truncate(m.device)}" is not [A-Za-z0-9_-]{1,64}`);
        this.acceptSensor(m);
      },
      error: (e: unknown) => this.log.error({ source: name, err: describeError(e) }, 'sensor source failed'),
    });
    this.subscriptions.add(sub);
    return sub;
  }

  private admit(device: string): DeviceEntry | null {
    const r = this.devices.admit(device);
    if (!r) {
      this.reject('too_many_devices', `device ${device} refused: ${this.config.maxDevices} devices are active (maxDevices)`);
      return null;
    }
    if (r.evicted) {
      this.metrics.removeDevice(r.evicted.id);
      if (this.config.homeassistant.enabled && r.evicted.announced) {
        void this.publish('discovery', deviceDiscoveryTopic(this.discoveryOptions(), r.evicted.id), '', 1, true);
      }
      this.log.info({ device: r.evicted.id, replacedBy: device }, 'idle device forgotten to make room');
    }
    return r.entry;
  }

  private acceptAudio(entry: DeviceEntry, chunk: AudioChunk, input: Subject<AudioChunk> = this.audioIn): void {
    if (!entry.listening) {
      entry.pendingGap = true; // the stream resumes with fresh state
      return;
    }
    let c = chunk;
    if (chunk.kind === 'chunk') {
      if (entry.pendingGap) {
        c = { ...chunk, gap: true };
        entry.pendingGap = false;
      }
      entry.figures.chunks++;
      entry.figures.intervalChunks++;
      this.totals.chunks++;
      this.metrics.chunksReceived.inc({ device: entry.id });
    }
    entry.figures.lastChunkAt = c.receivedAt ?? Date.now();
    input.next(c);
  }

  private acceptSensor(m: RawMessage): void {
    if (!this.streamModel) return this.reject('unknown_topic', `sensor frame for ${m.device}, but no sensor.model is configured`, m.device);
    const entry = this.admit(m.device);
    if (!entry) return;
    entry.figures.sensorFrames++;
    entry.figures.lastChunkAt = m.receivedAt ?? Date.now();
    this.metrics.sensorFrames.inc({ device: entry.id });
    this.sensorIn.next(m);
  }

  // ---------------------------------------------------------------------------------------------
  // Pipelines

  private decisionFor(entry: DeviceEntry): DecisionOptions {
    const base = this.config.decision;
    const dc = entry.config;
    return {
      ...base,
      ...(dc?.threshold !== undefined && { threshold: dc.threshold }),
      thresholds: { ...base.thresholds, ...(dc?.thresholds ?? {}) },
    };
  }

  private buildPipelines(): void {
    const model = this.keywordModel;
    if (model) {
      this.audioDone = this.buildAudioPipeline(model, this.audioIn, (o) => (o.type === 'keyword' ? this.onKeyword(o.event, o.receivedAt) : this.onScores(o.scores)));
    }
    const sensorModel = this.streamModel;
    if (sensorModel) this.buildSensorPipeline(sensorModel);
  }

  /** The per-device audio pipelines on `input`; resolves when they have all finished after `input` ends. */
  private buildAudioPipeline(model: Model, input: Observable<AudioChunk>, output: (o: KeywordOutput) => void): Promise<void> {
    const cfg = this.config;
    const audio$ = input.pipe(
      perDevice<AudioChunk, KeywordOutput>(
        (device, chunks) => {
          const entry = this.devices.get(device)!;
          this.setAvailability(entry, 'audio', true);
          const emitScores = cfg.scores.enabled || this.listenerCount('scores') > 0;
          return chunks.pipe(
            sequenceGuard({
              onGap: (g) => {
                entry.figures.gaps++;
                this.totals.gaps++;
                this.metrics.seqGaps.inc({ device });
                this.log.debug({ ...g }, 'stream gap: state restarts');
              },
            }),
            boundedBuffer<AudioChunk>({
              capacity: cfg.audio.bufferChunks,
              onDrop: (_c, n) => {
                entry.figures.drops++;
                this.totals.drops++;
                this.metrics.chunksDropped.inc({ device });
                if (n === 1 || n % 100 === 0) this.log.warn({ device, dropped: n }, 'device queue full: oldest chunks dropped (inference is slower than real time)');
              },
              afterDrop: (c) => ({ ...c, gap: true }),
            }),
            tap((c) => {
              if (c.gap) {
                entry.figures.resets++;
                this.metrics.stateResets.inc({ device });
              }
            }),
            timeProcessing((c, ms) => {
              this.metrics.inference.observe(ms / 1000);
              if (c.receivedAt !== undefined) {
                const latency = Date.now() - c.receivedAt;
                this.metrics.chunkLatency.observe(latency / 1000);
                if (entry.figures.intervalLatencyMs.length < 10_000) entry.figures.intervalLatencyMs.push(latency);
              }
            }),
            keywordSpotting(model, {
              ...(this.router && {
                engine: this.router,
                onOverload: (frames: number) => {
                  entry.figures.drops += frames;
                  entry.figures.resets++;
                  this.totals.drops += frames;
                  this.metrics.framesDropped.inc({ device }, frames);
                  this.metrics.stateResets.inc({ device });
                  this.log.warn({ device, frames }, 'inference is behind: frames dropped, the stream restarts');
                },
              }),
              decision: this.decisionFor(entry),
              warmupMs: cfg.audio.warmupMs,
              emitScores,
              threshold$: entry.threshold$,
              ...(cfg.model.name !== undefined && { modelName: cfg.model.name }),
              ...(cfg.model.version !== undefined && { modelVersion: cfg.model.version }),
            }),
          );
        },
        {
          idleMs: cfg.audio.idleMs,
          onIdle: (device) => {
            const entry = this.devices.get(device);
            if (entry) this.setAvailability(entry, 'audio', false);
          },
          onError: (device, e) => {
            const entry = this.devices.get(device);
            if (entry) {
              entry.pendingGap = true;
              entry.figures.resets++;
              this.metrics.stateResets.inc({ device });
            }
            this.reject('pipeline_error', `device ${device}: ${describeError(e)}; its stream restarts with the next chunk`, device);
            if (!isEdgestreamError(e)) this.log.error({ device, err: e instanceof Error ? e.stack : String(e) }, 'unexpected pipeline error');
          },
        },
      ),
    );
    return new Promise<void>((resolve) => {
      this.subscriptions.add(
        audio$.subscribe({
          next: output,
          error: (e: unknown) => {
            this.log.error({ err: describeError(e) }, 'audio pipeline failed');
            resolve();
          },
          complete: () => resolve(),
        }),
      );
    });
  }

  private buildSensorPipeline(sensorModel: Model): void {
    const cfg = this.config;
    const sensor$ = this.sensorIn.pipe(
      perDevice<RawMessage, SensorPrediction>(
        (device, messages) => {
          const entry = this.devices.get(device)!;
          this.setAvailability(entry, 'sensor', true);
          return messages.pipe(
            boundedBuffer<RawMessage>({
              capacity: cfg.sensor.bufferFrames,
              onDrop: () => {
                entry.figures.drops++;
                this.totals.drops++;
                this.metrics.chunksDropped.inc({ device });
              },
            }),
            decodeSensorFrames({
              encoding: entry.config?.sensorEncoding ?? cfg.sensor.encoding,
              expectedValues: sensorModel.inputDim,
              onInvalid: (e) => this.reject('bad_sensor_frame', `device ${device}: ${e.message}`, device),
            }),
            predictStream(sensorModel, {
              onInputError: (e) => this.reject('bad_sensor_frame', `device ${device}: ${e.message}`, device),
              ...(cfg.sensor.model?.name !== undefined && { modelName: cfg.sensor.model.name }),
            }),
          );
        },
        {
          idleMs: cfg.sensor.idleMs,
          onIdle: (device) => {
            const entry = this.devices.get(device);
            if (entry) this.setAvailability(entry, 'sensor', false);
          },
          onError: (device, e) => this.reject('pipeline_error', `device ${device}: ${describeError(e)}; its sensor stream restarts`, device),
        },
      ),
    );
    this.subscriptions.add(sensor$.subscribe((p) => this.onPrediction(p)));
  }

  // ---------------------------------------------------------------------------------------------
  // Outputs

  private onKeyword(event: DeviceKeywordEvent, receivedAt: number | undefined): void {
    const entry = this.devices.get(event.device);
    if (entry) {
      entry.lastKeyword = event.label;
      entry.lastScore = event.score;
      entry.lastTs = event.ts;
      entry.figures.events++;
    }
    this.totals.events++;
    this.metrics.keywordEvents.inc({ device: event.device, label: event.label });
    this.log.info({ device: event.device, label: event.label, score: event.score, start_ms: event.start_ms, end_ms: event.end_ms, latency_ms: receivedAt !== undefined ? Date.now() - receivedAt : undefined }, 'keyword');
    this.emit('keyword', event);
    void this.publish('keyword', this.topics.keyword(event.device), keywordPayload(event), 1, false);
    if (entry) this.publishState(entry);
    if (this.config.hermes.enabled) {
      const word = event.label.replace(/[^A-Za-z0-9_-]/g, '_');
      void this.publish('hermes', `hermes/hotword/${word}/detected`, hermesPayload(event), 1, false);
    }
  }

  private onScores(scores: KeywordScores): void {
    this.emit('scores', scores);
    if (!this.config.scores.enabled) return;
    const entry = this.devices.get(scores.device);
    const now = Date.now();
    if (!entry || now - entry.lastScoresAt < this.config.scores.intervalMs) return;
    entry.lastScoresAt = now;
    void this.publish('scores', this.topics.scores(scores.device), scoresPayload(scores, this.config.scores.topK), 0, false);
  }

  private onPrediction(p: SensorPrediction): void {
    const entry = this.devices.get(p.device);
    if (entry) entry.figures.predictions++;
    this.metrics.predictions.inc({ device: p.device });
    this.emit('prediction', p);
    void this.publish('prediction', this.topics.prediction(p.device), predictionPayload(p), 1, false);
  }

  private effectiveThreshold(entry: DeviceEntry): number {
    return entry.threshold$.value ?? entry.config?.threshold ?? this.config.decision.threshold ?? this.keywordModel?.decision.threshold ?? DEFAULT_THRESHOLD;
  }

  private publishState(entry: DeviceEntry): void {
    const payload = statePayload({
      listening: entry.listening,
      last_keyword: entry.lastKeyword,
      last_score: entry.lastScore,
      last_ts: entry.lastTs,
      model: this.modelName,
      threshold: this.effectiveThreshold(entry),
    });
    void this.publish('state', this.topics.state(entry.id), payload, 1, true);
  }

  private setAvailability(entry: DeviceEntry, stream: 'audio' | 'sensor', active: boolean): void {
    const wasOnline = entry.audioActive || entry.sensorActive;
    if (stream === 'audio') entry.audioActive = active;
    else entry.sensorActive = active;
    const online = entry.audioActive || entry.sensorActive;
    this.metrics.devicesActive.set([...this.devices.all()].filter((d) => d.audioActive || d.sensorActive).length);
    if (online === wasOnline || this.quiet || this.warming) return;
    if (online && !entry.announced) this.announce(entry);
    void this.publish('availability', this.topics.availability(entry.id), online ? 'online' : 'offline', 1, true);
    this.log.info({ device: entry.id, availability: online ? 'online' : 'offline' }, 'device availability');
    this.emit('availability', { device: entry.id, availability: online ? 'online' : 'offline' });
  }

  private discoveryOptions(): DiscoveryOptions {
    const ignore = new Set(this.config.decision.ignore);
    return {
      topics: this.topics,
      discoveryPrefix: this.config.homeassistant.discoveryPrefix,
      eventTypes: this.keywordModel?.labels.filter((l) => !ignore.has(l)) ?? [],
      swVersion: PACKAGE_VERSION,
      modelName: this.modelName,
      audio: this.keywordModel !== null,
      sensor: this.streamModel !== null,
    };
  }

  /** HA discovery + state for one device (retained). */
  private announce(entry: DeviceEntry): void {
    entry.announced = true;
    if (this.config.homeassistant.enabled) {
      const o = this.discoveryOptions();
      const info = { device: entry.id, ...(entry.config?.name !== undefined && { name: entry.config.name }), ...(entry.config?.area !== undefined && { area: entry.config.area }) };
      void this.publish('discovery', deviceDiscoveryTopic(o, entry.id), JSON.stringify(deviceDiscovery(o, info)), 1, true);
    }
    this.publishState(entry);
  }

  /** Everything retained that describes the service: on every connect and when HA comes online. */
  private announceAll(): void {
    void this.publish('availability', this.topics.bridgeAvailability, 'online', 1, true);
    if (this.config.homeassistant.enabled) {
      const o = this.discoveryOptions();
      void this.publish('discovery', bridgeDiscoveryTopic(o), JSON.stringify(bridgeDiscovery(o)), 1, true);
    }
    for (const entry of this.devices.all()) {
      this.announce(entry);
      const online = entry.audioActive || entry.sensorActive;
      void this.publish('availability', this.topics.availability(entry.id), online ? 'online' : 'offline', 1, true);
    }
  }

  private async publish(kind: string, topic: string, payload: string, qos: 0 | 1, retain: boolean): Promise<void> {
    const conn = this.connection;
    if (!conn) return;
    try {
      await conn.publish(topic, payload, { qos, retain });
      this.metrics.published.inc({ kind });
    } catch (e) {
      this.metrics.publishErrors.inc({ kind });
      this.log.warn({ topic, err: describeError(e) }, 'publish failed');
    }
  }

  // ---------------------------------------------------------------------------------------------
  // MQTT

  private async connect(): Promise<void> {
    const m = this.config.mqtt;
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
        clientId: m.clientId ?? `edgestream-${this.config.baseTopic.replace(/[^A-Za-z0-9_-]/g, '_')}-${randomBytes(3).toString('hex')}`,
        ...(m.username !== undefined && { username: m.username }),
        ...(password !== undefined && { password }),
        protocolVersion: m.protocolVersion,
        keepalive: m.keepalive,
        reconnectMs: m.reconnectMs,
        connectTimeoutMs: Math.min(m.connectTimeoutMs, 10_000),
        ...(m.tls && { tls: m.tls }),
        maximumPacketSize: m.maxPacketBytes,
        will: { topic: this.topics.bridgeAvailability, payload: 'offline', qos: 1, retain: true },
      },
      {
        onConnect: (_connack, version) => void this.onConnect(version),
        onMessage: (topic, payload, packet) => this.onMessage(topic, payload, packet),
        onClose: () => {
          this.metrics.mqttConnected.set(0);
          this.emit('connection', { connected: false, protocolVersion: conn.protocolVersion });
        },
      },
      this.log.child({ component: 'mqtt' }),
    );
    this.connection = conn;
    await conn.waitConnected(m.connectTimeoutMs);
  }

  private async onConnect(version: 4 | 5): Promise<void> {
    const conn = this.connection;
    if (!conn) return;
    this.metrics.mqttConnected.set(1);
    for (const d of this.devices.all()) d.announced = false;
    const subs = this.topics.subscriptions({ audio: this.keywordModel !== null, sensor: this.streamModel !== null });
    if (this.config.homeassistant.enabled) subs.push(this.config.homeassistant.statusTopic);
    try {
      await conn.subscribe(subs, 1);
      this.log.info({ topics: subs }, 'subscribed');
    } catch (e) {
      this.log.error({ err: describeError(e) }, 'subscribe failed; retrying on the next connect');
    }
    this.announceAll();
    this.emit('connection', { connected: true, protocolVersion: version });
  }

  private onMessage(topic: string, payload: Buffer, packet: IPublishPacket): void {
    if (this.state !== 'running' && this.state !== 'starting') return;
    const receivedAt = Date.now();
    if (this.config.homeassistant.enabled && topic === this.config.homeassistant.statusTopic) {
      if (payload.toString('utf8').trim() === 'online') {
        this.log.info('Home Assistant came online: re-publishing discovery');
        this.announceAll();
      }
      return;
    }
    const t = this.topics.parse(topic);
    if (!t.ok) {
      return this.reject(t.reason, t.reason === 'bad_device' ? `message on "${truncate(topic)}" refused: device ids are [A-Za-z0-9_-]{1,64} (and not "bridge")` : `unexpected topic "${truncate(topic)}"`);
    }
    const { device, kind } = t;
    const props = packet.properties;
    if (kind === 'audio') {
      if (!this.keywordModel) return;
      const entry = this.admit(device);
      if (!entry) return;
      const format = entry.config?.format ?? this.config.audio.format;
      let chunk: AudioChunk;
      try {
        chunk = parseAudioMessage(
          device,
          payload,
          { ...(props?.contentType !== undefined && { contentType: props.contentType }), ...(props?.userProperties !== undefined && { userProperties: props.userProperties }) },
          format,
          { maxPayloadBytes: this.config.mqtt.maxPacketBytes, maxChunkMs: this.config.audio.maxChunkMs },
          receivedAt,
        );
      } catch (e) {
        if (e instanceof AudioMessageError) return this.reject(e.reason, `device ${device}: ${e.message}`, device);
        throw e;
      }
      if (this.state === 'running') this.acceptAudio(entry, chunk);
      return;
    }
    if (kind === 'sensor') {
      if (this.state !== 'running') return;
      return this.acceptSensor({
        device,
        payload,
        receivedAt,
        ...(props?.contentType !== undefined && { contentType: props.contentType }),
        ...(props?.userProperties !== undefined && { userProperties: props.userProperties }),
      });
    }
    // Commands: retained ones are stale (a retained "OFF" would silence a device at every restart).
    if (packet.retain) return this.reject('retained_command', `retained command on ${topic} ignored (publish commands without retain)`, device);
    const text = payload.toString('utf8').trim();
    const entry = this.admit(device);
    if (!entry) return;
    if (kind === 'set') {
      const v = text.toUpperCase();
      if (v !== 'ON' && v !== 'OFF') return this.reject('bad_command', `${topic}: expected ON or OFF, got "${truncate(text)}"`, device);
      entry.listening = v === 'ON';
      if (!entry.listening) entry.pendingGap = true;
      this.log.info({ device, listening: entry.listening }, 'listening set');
    } else {
      const n = Number(text);
      if (text === '' || !Number.isFinite(n) || n < 0 || n > 1) return this.reject('bad_command', `${topic}: expected a number between 0 and 1, got "${truncate(text)}"`, device);
      entry.threshold$.next(n);
      this.log.info({ device, threshold: n }, 'threshold set');
    }
    this.publishState(entry);
  }

  private reject(reason: RejectReason, message: string, device?: string): void {
    this.totals.rejected++;
    this.metrics.rejected.inc({ reason });
    this.emit('rejected', { reason, message, ...(device !== undefined && { device }) });
    // At most 5 log lines per reason per minute: a misbehaving sender must not flood the journal.
    const now = Date.now();
    let w = this.rejectLog.get(reason);
    if (!w || now - w.windowStart > 60_000) {
      if (w && w.suppressed > 0) this.log.warn({ reason, suppressed: w.suppressed }, 'similar rejections were not logged');
      w = { windowStart: now, logged: 0, suppressed: 0 };
      this.rejectLog.set(reason, w);
    }
    if (w.logged < 5) {
      w.logged++;
      this.log.warn({ reason, ...(device !== undefined && { device }) }, message);
    } else {
      w.suppressed++;
    }
  }

  // ---------------------------------------------------------------------------------------------
  // Health

  /** The current health figures (per-device interval figures since the last periodic report). */
  health(): HealthSnapshot {
    return healthSnapshot({
      devices: this.devices.all(),
      intervalStartedAt: this.intervalStartedAt,
      eventLoopLagMs: this.metrics.eventLoopLagMs(),
      maxEventLoopLagMs: this.config.health.maxEventLoopLagMs,
      uptimeSeconds: this.metrics.uptimeSeconds,
      mqttConnected: this.mqttConnected,
      protocolVersion: this.protocolVersion,
      state: this.state,
      totals: this.totals,
    });
  }

  /** Publish the health figures on `<base>/bridge/health` and start a new interval. */
  publishHealth(): HealthSnapshot {
    const h = this.health();
    void this.publish('health', this.topics.bridgeHealth, JSON.stringify(h), 0, false);
    this.intervalStartedAt = Date.now();
    for (const d of this.devices.all()) {
      d.figures.intervalChunks = 0;
      d.figures.intervalLatencyMs = [];
    }
    this.metrics.resetLoopDelay();
    return h;
  }
}

/** Service-wide counts for /healthz (chunks, drops, gaps, rejected messages, events). */
function emptyTotals(): { chunks: number; drops: number; gaps: number; rejected: number; events: number } {
  return { chunks: 0, drops: 0, gaps: 0, rejected: 0, events: 0 };
}

function delay(ms: number): Promise<void> {
  return new Promise((r) => setTimeout(r, ms).unref());
}

function truncate(s: string, n = 80): string {
  const clean = s.replace(/[\u0000-\u001f]/g, '?');
  return clean.length > n ? `${clean.slice(0, n)}…` : clean;
}

/**
 * Create the stream service for embedding in another program. `config` is validated (zod;
 * `E_CONFIG` lists every problem); nothing connects until `start()`.
 *
 * ```ts
 * const service = createService({ mqtt: { url: 'mqtt://broker:1883' }, baseTopic: 'kws' });
 * service.on('keyword', (e) => console.log(e.device, e.label, e.score));
 * await service.start();
 * process.on('SIGTERM', () => void service.stop());
 * ```
 */
export function createService(config: ServiceConfigInput | ServiceConfig = {}, options: CreateServiceOptions = {}): EdgestreamService {
  return new EdgestreamService(parseServiceConfig(config), options);
}
