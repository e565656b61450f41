import { EventEmitter } from 'node:events';
import type { Logger } from 'pino';
import { Subject, Subscription, type Observable } from 'rxjs';
import { describeError, EdgestreamError } from '../../runtime/errors.js';
import { moduleLogger } from '../../runtime/log.js';
import { Engine } from '../../runtime/engine/engine.js';
import { EngineStreamRouter } from '../../runtime/engine/stream_router.js';
import { loadModel } from '../../runtime/model/load_model.js';
import type { Model } from '../../runtime/model/model.js';
import { windowSettings } from '../../runtime/decisions/windowed_scorer.js';
import type { AudioChunk, DeviceKeywordEvent, KeywordOutput, KeywordScores, RawMessage, SensorPrediction } from '../../runtime/operators/types.js';
import { redact } from '../mqtt/connection.js';
import { isValidDeviceId, TopicSchema } from '../mqtt/topics.js';
import { warmUpAudioReceive } from '../mqtt/warm_up_receive.js';
import { webrtcPluginFromConfig } from '../webrtc/plugin.js';
import { Announcer } from './announcer.js';
import { audioPipelineFailed, runAudioPipelines, type AudioPipelineDeps } from './audio_pipeline.js';
import { parseServiceConfig, type ServiceConfig, type ServiceConfigInput } from './config.js';
import { DeviceRegistry, type DeviceEntry } from './device_registry.js';
import { DeviceStats } from './device_stats.js';
import { healthSnapshot, type HealthSnapshot } from './health.js';
import { sendJson, ServiceHttpServer, type HttpHandler } from './http_server.js';
import { ServiceInputs, truncate } from './inputs.js';
import { LoadShedder } from './load_shedder.js';
import { ServiceMetrics, type RejectReason } from './metrics.js';
import { MqttInputs } from './mqtt_inputs.js';
import { DEMO_MODEL } from './package_paths.js';
import { runSensorPipelines, SensorStreams, type SensorPipelineDeps } from './sensor_pipeline.js';
import { StreamSnapshotStore } from './stream_snapshots.js';
import { ClusterInputs } from './cluster_inputs.js';
import { clusterHealth, type ClusterHealth } from './cluster_health.js';
import { parseClusterConfig } from '../cluster/cluster_config.js';
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
 *
 * This file is the lifecycle and the public API; the jobs live beside it: `inputs.ts` (admission),
 * `mqtt_inputs.ts` (broker connection, dispatch), `commands.ts`, `audio_pipeline.ts` and
 * `sensor_pipeline.ts` (per-device pipelines), `announcer.ts` (everything published),
 * `device_stats.ts` (counts: health, totals and Prometheus together).
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
  private readonly stats: DeviceStats;
  private readonly announcer: Announcer;
  private readonly inputs: ServiceInputs;
  private readonly shedder: LoadShedder | null;
  private readonly mqtt: MqttInputs;
  /** Set with `cluster`: device inputs come from the NATS JetStream group instead of the broker. */
  private readonly cluster: ClusterInputs | null;
  private readonly subscriptions = new Subscription();
  private healthTimer: NodeJS.Timeout | null = null;
  /** Sensor stream snapshots (`sensor.snapshots`) and their periodic timer. */
  private sensorStreams: SensorStreams | null = null;
  private snapshotTimer: NodeJS.Timeout | null = null;
  private intervalStartedAt = Date.now();
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
    this.stats = new DeviceStats(this.metrics, this.log, (info) => this.emit('rejected', info));
    this.announcer = new Announcer({
      config,
      topics: this.topics,
      log: this.log,
      devices: this.devices,
      metrics: this.metrics,
      connection: () => this.mqtt.connection,
      keywordModel: () => this.keywordModel,
      streamModel: () => this.streamModel,
      silent: () => this.quiet || this.warming,
      onAvailability: (change) => this.emit('availability', change),
      ...(config.cluster && {
        claimDiscovery: async (name: string, payload: string) => (await this.cluster!.ready).markers.claim(name, payload),
        unclaimDiscovery: async (name: string) => (await this.cluster!.ready).markers.clear(name),
      }),
    });
    this.shedder = config.audio.shedAboveLatencyMs > 0
      ? new LoadShedder({
          maxLatencyMs: config.audio.shedAboveLatencyMs,
          checkMs: 1000,
          onChange: (c) => {
            this.metrics.servedCap.set(c.cap ?? -1);
            if (c.cap !== null) this.log.warn({ ...c }, 'past capacity: serving fewer audio devices (the newest are shed, their chunks dropped and counted)');
            else this.log.info({ ...c }, 'load back within capacity: every device served');
          },
        })
      : null;
    if (this.shedder) {
      const shedder = this.shedder;
      this.stats.onLatency = (ms) => shedder.observe(ms);
    }
    this.inputs = new ServiceInputs(config, this.devices, this.stats, this.announcer, this.log, this.shedder);
    this.mqtt = new MqttInputs({
      config,
      topics: this.topics,
      log: this.log,
      stats: this.stats,
      metrics: this.metrics,
      inputs: this.inputs,
      announcer: this.announcer,
      state: () => this.state,
      audioEnabled: () => this.keywordModel !== null,
      sensorEnabled: () => this.streamModel !== null,
      onConnection: (c) => this.emit('connection', c),
      inputsFromBroker: !config.cluster,
    });
    this.cluster = config.cluster
      ? new ClusterInputs({
          config,
          cluster: parseClusterConfig(config.cluster),
          log: this.log,
          devices: this.devices,
          inputs: this.inputs,
          stats: this.stats,
          announcer: this.announcer,
          audioEnabled: () => this.keywordModel !== null,
          sensorEnabled: () => this.streamModel !== null,
          removeDeviceSeries: (device: string) => {
            this.metrics.removeDevice(device);
            this.shedder?.release(device);
          },
        })
      : null;
    if (this.cluster) this.metrics.watchCluster(() => this.clusterHealth());
  }

  /** The cluster worker's coordinator (with `cluster`, after `start()`). */
  get clusterCoordinator(): ClusterInputs['coordinator'] {
    return this.cluster?.coordinator ?? null;
  }

  /** Cluster workers: outputs only for devices of partitions this worker owns (a handed-over device's are the next owner's). */
  private mine(device: string): boolean {
    return !this.cluster || this.cluster.owns(device);
  }

  /** The keyword model (after `start()`; none with `audio.enabled: false`). */
  get model(): Model {
    if (!this.keywordModel) throw new EdgestreamError('E_SESSION_STATE', this.state === 'created' ? 'the service has not been started' : 'this service runs no keyword model (audio.enabled is false)');
    return this.keywordModel;
  }
  /** The stream model for sensor topics, if configured. */
  get sensorModel(): Model | null { return this.streamModel; }
  get running(): boolean { return this.state === 'running'; }
  get mqttConnected(): boolean { return this.mqtt.connection?.connected ?? false; }
  get protocolVersion(): 4 | 5 | null { return this.mqtt.connection?.protocolVersion ?? null; }
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
      await this.mqtt.connect();
      if (this.cluster) {
        const coordinator = await this.cluster.start();
        // A worker that died left its Will (bridge offline) behind: the others say online again.
        let members = coordinator.members().length;
        coordinator.on('members', (m) => {
          if (m.length < members && this.state === 'running') void this.announcer.publish('availability', this.topics.bridgeAvailability, 'online', 1, true);
          members = m.length;
        });
      }
      if (this.config.health.intervalMs > 0) {
        this.healthTimer = setInterval(() => this.publishHealth(), this.config.health.intervalMs);
        this.healthTimer.unref();
      }
      this.shedder?.start();
      this.state = 'running';
      this.log.info({ model: this.keywordModel?.name ?? null, sensorModel: this.streamModel?.name ?? null, mqtt: redact(this.config.mqtt.url) }, 'service running');
    } catch (e) {
      await this.teardown(false, STOP_DEADLINE_MS);
      this.state = 'stopped';
      throw e;
    }
  }

  /**
   * Graceful stop: stop taking input, let the pipelines finish, publish `offline` for every device
   * and the bridge (retained), then disconnect cleanly (so the broker does not send the Will).
   * Bounded: after `deadlineMs` (default 1500) whatever is still pending (queued chunks, device
   * pipelines, unacknowledged publishes, a plugin's stop) is dropped and logged, and the
   * connection is closed hard, whatever the load.
   */
  async stop(options: { deadlineMs?: number } = {}): Promise<void> {
    if (this.state === 'stopped' || this.state === 'stopping') return;
    this.state = 'stopping';
    this.log.info('stopping');
    await this.teardown(true, options.deadlineMs ?? STOP_DEADLINE_MS);
    this.state = 'stopped';
    this.log.info('stopped');
  }

  private async teardown(graceful: boolean, deadlineMs: number): Promise<void> {
    const deadline = Date.now() + deadlineMs;
    /** Time left before the deadline, keeping `reserve` ms for the steps after this one. */
    const left = (reserve: number): number => Math.max(0, deadline - reserve - Date.now());
    const dropped: Record<string, unknown> = {};
    if (this.healthTimer) clearInterval(this.healthTimer);
    this.healthTimer = null;
    this.shedder?.stop();
    if (this.snapshotTimer) clearInterval(this.snapshotTimer);
    this.snapshotTimer = null;
    // A cluster worker hands its partitions over first (final snapshots), while its pipelines still run.
    let lastWorker = true;
    if (this.cluster?.coordinator) {
      lastWorker = this.cluster.coordinator.members().filter((m) => m !== this.cluster!.coordinator!.memberId).length === 0;
      if (!(await settles(this.cluster.stop(), left(700)))) dropped.clusterHandover = 'partitions not handed over in time (their leases expire; the next owners replay from the last checkpoints)';
    }
    // Ending the inputs ends every device pipeline; their availability is published below, in one go.
    const online = [...this.devices.all()].filter((d) => d.audioActive || d.sensorActive);
    this.quiet = true;
    this.inputs.complete();
    // Detections still in flight go out; after that, what the device queues still hold is dropped.
    if (!(await settles(this.audioDone, Math.min(800, left(700))))) dropped.devicePipelines = online.length;
    this.subscriptions.unsubscribe();
    const conn = this.mqtt.connection;
    if (conn && graceful && conn.connected) {
      if (!(await settles(this.announcer.offline(online, lastWorker), Math.min(500, left(300))))) dropped.offlinePublishes = true;
    }
    for (const p of [...this.plugins].reverse()) {
      const stopped = settles(
        Promise.resolve().then(() => p.stop?.()).catch((e: unknown) => this.log.error({ plugin: p.name, err: describeError(e) }, 'plugin stop failed')),
        left(250),
      );
      if (!(await stopped)) dropped[`plugin:${p.name}`] = 'stop did not finish';
    }
    if (conn) {
      try {
        const unacked = await conn.end(!graceful, left(100));
        if (unacked > 0) dropped.unacknowledgedPublishes = unacked;
      } catch (e) {
        this.log.warn({ err: describeError(e) }, 'mqtt disconnect failed');
      }
    }
    this.metrics.mqttConnected.set(0);
    this.router?.detach();
    if (this.engine && !(await settles(this.engine.dispose(), left(50)))) dropped.engine = 'workers still stopping';
    await settles(this.http.close(), left(0));
    this.metrics.close();
    if (Object.keys(dropped).length > 0) this.log.warn({ deadlineMs, dropped }, 'stop deadline: pending work dropped');
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
      this.keywordModel = await loadModel(path, { backend: this.config.model.backend, int8: this.config.model.int8 });
      this.log.info({ path, model: this.keywordModel.name, backend: this.keywordModel.backend, int8: this.config.model.int8 }, 'keyword model loaded');
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
        int8: this.config.model.int8,
        // Continuous detection: every stream's head averages over the last window (see spotKeywords).
        headWindow: windowSettings(this.keywordModel, { ...(this.config.decision.windowFrames !== undefined && { windowFrames: this.config.decision.windowFrames }), minFrames: this.config.decision.minFrames }).windowFrames,
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
    const done = runAudioPipelines(this.audioDeps(), model, input, () => undefined, (s) => this.subscriptions.add(s));
    const ids = Array.from({ length: WARM_UP.devices }, (_, i) => `edgestream-warmup-${i}`).filter((id) => !this.devices.get(id));
    this.warming = true;
    try {
      for (let k = 0; k < WARM_UP.chunks; k++) {
        const data = syntheticPcm(format, 20, k);
        for (const id of ids) {
          const entry = this.devices.admit(id)?.entry;
          if (entry) this.inputs.acceptAudio(entry, { device: id, kind: 'chunk', data, format, seq: k, timestampMs: k * 20, receivedAt: Date.now() }, input);
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
        this.shedder?.release(id);
      }
      this.stats.resetAfterWarmUp();
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

  // ---------------------------------------------------------------------------------------------
  // Inputs from other transports

  /**
   * Feed audio from another transport (WebRTC, a local microphone) into the same per-device
   * pipelines as MQTT audio. Chunks must carry a valid device id; they are admitted, counted and
   * published exactly like MQTT chunks. Unsubscribe the returned subscription to detach.
   */
  attachAudioSource(source: Observable<AudioChunk>, name = 'source'): Subscription {
    this.refuseInCluster(name);
    const sub = source.subscribe({
      next: (chunk) => {
        if (this.state !== 'running') return;
        if (!isValidDeviceId(chunk.device)) return this.stats.rejected('bad_device', `${name}: device id "${truncate(chunk.device)}" is not [A-Za-z0-9_-]{1,64}`);
        const entry = this.inputs.admit(chunk.device);
        if (entry) this.inputs.acceptAudio(entry, { receivedAt: Date.now(), ...chunk });
      },
      error: (e: unknown) => this.log.error({ source: name, err: describeError(e) }, 'audio source failed'),
    });
    this.subscriptions.add(sub);
    return sub;
  }

  /** Feed raw sensor messages (payload as on `<base>/<device>/sensor`) from another transport. */
  attachSensorSource(source: Observable<RawMessage>, name = 'source'): Subscription {
    this.refuseInCluster(name);
    const sub = source.subscribe({
      next: (m) => {
        if (this.state !== 'running') return;
        if (!isValidDeviceId(m.device)) return this.stats.rejected('bad_device', `${name}: device id "${truncate(m.device)}" is not [A-Za-z0-9_-]{1,64}`);
        this.inputs.acceptSensor(m, this.streamModel !== null);
      },
      error: (e: unknown) => this.log.error({ source: name, err: describeError(e) }, 'sensor source failed'),
    });
    this.subscriptions.add(sub);
    return sub;
  }

  /** A cluster worker's devices are those of its partitions: other inputs would bypass the ownership (and the state hand-over). */
  private refuseInCluster(name: string): void {
    if (this.cluster) {
      throw new EdgestreamError('E_CONFIG', `${name}: a cluster worker takes device input only from its group's stream; publish it there (coordinator.publishInput) or run this transport on a service without cluster`);
    }
  }

  // ---------------------------------------------------------------------------------------------
  // Pipelines and outputs

  private audioDeps(): AudioPipelineDeps {
    return {
      config: this.config,
      log: this.log,
      devices: this.devices,
      stats: this.stats,
      router: this.router,
      emitScores: () => this.config.scores.enabled || this.listenerCount('scores') > 0,
      onActive: (entry, active) => {
        if (!active) {
          this.shedder?.release(entry.id);
          this.cluster?.audioEnded(entry.id);
        }
        this.setAvailability(entry, 'audio', active);
      },
      onError: (entry, device, e) => audioPipelineFailed(this.stats, this.log, entry, device, e),
      ...(this.cluster && {
        originFor: (device: string) => this.cluster!.originFor(device),
        onOrigin: (device: string, origin: Parameters<ClusterInputs['onOrigin']>[1]) => this.cluster!.onOrigin(device, origin),
        end$: this.cluster.audioEnd$,
        onProcessed: (device: string, chunk: AudioChunk) => this.cluster!.processed(device, chunk),
      }),
    };
  }

  private sensorDeps(): SensorPipelineDeps {
    return {
      config: this.config,
      log: this.log,
      snapshots: this.sensorStreams,
      devices: this.devices,
      stats: this.stats,
      onActive: (entry, active) => this.setAvailability(entry, 'sensor', active),
      ...(this.cluster && { onDequeued: (device: string) => this.cluster!.dequeued(device), end$: this.cluster.sensorEnd$ }),
    };
  }

  /** A device's stream started or ended; a device handed to another cluster worker changes hands silently. */
  private setAvailability(entry: DeviceEntry, stream: 'audio' | 'sensor', active: boolean): void {
    if (this.mine(entry.id)) this.announcer.setAvailability(entry, stream, active);
    else if (stream === 'audio') entry.audioActive = active;
    else entry.sensorActive = active;
  }

  private buildPipelines(): void {
    const model = this.keywordModel;
    if (model) {
      this.audioDone = runAudioPipelines(this.audioDeps(), model, this.inputs.audio, (o) => this.onKeywordOutput(o), (s) => this.subscriptions.add(s));
    }
    const sensorModel = this.streamModel;
    if (!sensorModel) return;
    const snap = this.config.sensor.snapshots;
    if (this.cluster) {
      // In a group the device snapshots live in the cluster (restored by whichever worker owns the device).
      const streams = new SensorStreams(this.cluster, sensorModel, this.log.child({ component: 'snapshots' }));
      this.sensorStreams = streams;
      this.cluster.sensorStreams = streams;
    } else if (snap) {
      const streams = new SensorStreams(new StreamSnapshotStore(snap.dir, this.log.child({ component: 'snapshots' })), sensorModel, this.log.child({ component: 'snapshots' }));
      this.sensorStreams = streams;
      this.snapshotTimer = setInterval(() => {
        const n = streams.saveAll();
        if (n > 0) this.log.debug({ streams: n }, 'sensor stream snapshots saved');
      }, snap.intervalMs);
      this.snapshotTimer.unref();
    }
    this.subscriptions.add(runSensorPipelines(this.sensorDeps(), sensorModel, this.inputs.sensor, (p) => this.onPrediction(p)));
  }

  private onKeywordOutput(o: KeywordOutput): void {
    if (!this.mine(o.type === 'keyword' ? o.event.device : o.scores.device)) return;
    if (o.type === 'keyword' && this.cluster && !this.cluster.publishes(o.event)) return;
    if (o.type === 'keyword') this.onKeyword(o.event, o.receivedAt);
    else this.onScores(o.scores);
  }

  private onKeyword(event: DeviceKeywordEvent, receivedAt: number | undefined): void {
    const entry = this.devices.get(event.device);
    if (entry) {
      entry.lastKeyword = event.label;
      entry.lastScore = event.score;
      entry.lastTs = event.ts;
    }
    this.stats.keyword(entry, event.device, event.label);
    this.log.info({ device: event.device, label: event.label, score: event.score, start_ms: event.start_ms, end_ms: event.end_ms, latency_ms: receivedAt !== undefined ? Date.now() - receivedAt : undefined }, 'keyword');
    this.emit('keyword', event);
    this.announcer.keyword(event, entry);
  }

  private onScores(scores: KeywordScores): void {
    this.emit('scores', scores);
    this.announcer.scores(scores, this.devices.get(scores.device));
  }

  private onPrediction(p: SensorPrediction): void {
    if (!this.mine(p.device)) return;
    this.stats.prediction(this.devices.get(p.device), p.device);
    this.emit('prediction', p);
    this.announcer.prediction(p);
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
      totals: this.stats.totals,
      ...(this.shedder && { shedder: this.shedder }),
      ...(this.clusterHealth() && { cluster: this.clusterHealth()! }),
    });
  }

  private clusterHealth(): ClusterHealth | null {
    const status = this.cluster?.status();
    if (!this.cluster || !status) return null;
    return clusterHealth({ status, natsConnected: this.cluster.natsConnected, devices: this.devices.size, counts: this.cluster.counts });
  }

  /** Publish the health figures on `<base>/bridge/health` and start a new interval. */
  publishHealth(): HealthSnapshot {
    const h = this.health();
    void this.announcer.publish('health', this.topics.bridgeHealth, JSON.stringify(h), 0, false);
    this.intervalStartedAt = Date.now();
    this.stats.newInterval(this.devices.all());
    return h;
  }
}

/** How long `stop()` may take by default (a SIGTERM must end the process within 3 s). */
export const STOP_DEADLINE_MS = 1500;

/** True if `p` settled within `ms`. */
async function settles(p: Promise<unknown>, ms: number): Promise<boolean> {
  let timer: NodeJS.Timeout | undefined;
  const timeout = new Promise<boolean>((r) => (timer = setTimeout(() => r(false), ms)));
  try {
    return await Promise.race([p.then(() => true, () => true), timeout]);
  } finally {
    clearTimeout(timer);
  }
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
