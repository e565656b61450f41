import type { Logger } from 'pino';
import { Subject } from 'rxjs';
import { describeError, EdgestreamError } from '../../runtime/errors.js';
import type { AudioChunk, DeviceKeywordEvent } from '../../runtime/operators/types.js';
import { chunkSamples } from '../../runtime/operators/pcm_layout.js';
import { partitionOf } from '../cluster/partition_of.js';
import { startClusterCoordinator, type ClusterCoordinator, type DeviceState, type InputMessage, type PartitionHandlers, type PartitionRestore, type ReleaseReason } from '../cluster/index.js';
import type { ClusterConfig } from '../cluster/cluster_config.js';
import { AudioMessageError, parseAudioMessage } from '../mqtt/audio_message.js';
import type { Announcer } from './announcer.js';
import { decodeDeviceState, encodeDeviceState, type AudioResumePoint, type ClusterDeviceState } from './cluster_device_state.js';
import { applyCommand } from './commands.js';
import type { ServiceConfig } from './config.js';
import type { DeviceRegistry } from './device_registry.js';
import type { DeviceStats } from './device_stats.js';
import type { ServiceInputs } from './inputs.js';
import type { SensorStreams, StreamSnapshotKeeper } from './sensor_pipeline.js';
import type { StreamOrigin, StreamOriginState } from './stream_origin.js';
import type { StreamSnapshot } from './stream_snapshots.js';

/** What the cluster side needs from the service. */
export interface ClusterInputsDeps {
  config: ServiceConfig;
  cluster: ClusterConfig;
  log: Logger;
  devices: DeviceRegistry;
  inputs: ServiceInputs;
  stats: DeviceStats;
  announcer: Announcer;
  audioEnabled: () => boolean;
  sensorEnabled: () => boolean;
  /** Forget a device's metric series (it moved to another worker). */
  removeDeviceSeries: (device: string) => void;
}

/** One delivered audio chunk's place in its stream (the resume point of a snapshot taken later). */
interface ChunkPosition {
  seq: number;
  streamMs: number;
  storedAt: number;
  previousStoredAt: number | null;
}

/** A device's keyword stream as the cluster side tracks it. */
interface AudioTrack {
  /** Stream time of the next chunk (senders without timestamps). */
  streamMs: number;
  lastStoredAt: number | null;
  /** Chunks from `audioReplayMs` before the last processed one on: where a new owner would resume. */
  recent: ChunkPosition[];
  /** End (stream ms) of the last chunk the pipeline has processed: every event ending well before it is out. */
  processedMs: number | null;
  /** A restored resume point not yet replayed (handed on as it is if the partition moves again first). */
  restored: { at: AudioResumePoint; seq: number } | null;
  /** Events of the restored stream ending before this were published by the last owner. */
  decideFromMs: number;
}

/** Events end at most this long before the last processed audio once decided (model delay, smoothing), plus the peak search. */
const DECISION_LAG_MS = 500;
const decisionLagMs = (config: ServiceConfig): number => DECISION_LAG_MS + 10 * (config.decision.peakFrames ?? 0);

/** A partition with no delivery at all for `audio.idleMs` plus this ends its streams (when nothing is pending on the server). */
const QUIET_PARTITION_MARGIN_MS = 5000;

/** How long a snapshot waits for sensor messages still queued to be taken by their pipelines. */
const DRAIN_TIMEOUT_MS = 3000;

/** How long a snapshot waits for the broker to acknowledge the outputs it covers. */
const OUTPUTS_TIMEOUT_MS = 3000;

/**
 * The service as one worker of a NATS JetStream group (`cluster` in the configuration): instead of
 * subscribing to MQTT inputs, it consumes the partitions it owns from the group's input stream
 * (`ClusterCoordinator`) and feeds each message to the same admission and per-device pipelines as
 * MQTT input. It creates a device's state when its partition is acquired (restored from the
 * device's snapshot), hands it over in the snapshot when the partition goes, and ends the device's
 * pipelines then.
 *
 * Per device, a snapshot holds the command state (listening, threshold), the retained state's
 * figures, the sensor stream's session (TTT fast weights: restored exactly, then the inputs after
 * the snapshot are replayed) and, for keyword streams, a resume point `audioReplayMs` back: the
 * next owner starts the keyword pipeline there, with the stream's origin and stream time, so its
 * state has converged again before the audio the last owner may not have decided. Events of that
 * overlap are published again with the same ids (consumers drop duplicates by id).
 *
 * Replay must decide as the first run did, so everything here follows the stream's own clock:
 * chunk arrival is the time the stream stored it (`storedAt`, kept in `originAt` for event ids),
 * and a pause longer than `audio.idleMs` between stored chunks starts a new stream.
 */
export class ClusterInputs implements PartitionHandlers, StreamSnapshotKeeper {
  coordinator: ClusterCoordinator | null = null;
  /** Devices whose audio pipeline ends now (idle, or handed over): the service's audio pipelines listen. */
  readonly audioEnd$ = new Subject<string>();
  /** Devices whose sensor pipeline ends now (handed over). */
  readonly sensorEnd$ = new Subject<string>();
  /** Devices with a running keyword stream (idle detection). */
  private readonly arrivals = new Map<string, number>();
  /** Per partition: the newest stored time delivered (the stream's clock) and the local time of the last delivery. */
  private readonly partitionClock = new Map<number, { newestStoredAt: number; lastDeliveryAt: number }>();
  private idleTimer: NodeJS.Timeout | null = null;
  /** The service's sensor streams (set before `start`). */
  sensorStreams: SensorStreams | null = null;
  private readonly partitionDevices = new Map<number, Set<string>>();
  private readonly audio = new Map<string, AudioTrack>();
  /** Live keyword streams' origins (from the pipelines), for snapshots. */
  private readonly origins = new Map<string, StreamOrigin>();
  /** Origins of restored keyword streams, taken by the device's next pipeline. */
  private readonly restoredOrigins = new Map<string, StreamOriginState | null>();
  /** Sensor stream state of devices whose stream is not running (restored, or ended by idle). */
  private readonly sensorStates = new Map<string, StreamSnapshot>();
  /** Sensor messages delivered but not yet taken by their pipeline. */
  private readonly queued = new Map<string, number>();
  /** Per device: inputs up to this sequence are in its restored state (audio before it is replayed on purpose). */
  private readonly restoredThrough = new Map<string, number>();
  /** Last sequence delivered per partition. */
  private readonly lastDelivered = new Map<number, number>();
  /** Devices handed over: their pipelines' last outputs are dropped (the next owner decides them again). */
  private readonly released = new Map<string, number>();
  /** Hand-overs and restores, for /healthz and /metrics. */
  readonly counts = { devicesRestored: 0, devicesHandedOver: 0, snapshotFailures: 0, lastSnapshotAt: 0 };

  constructor(private readonly d: ClusterInputsDeps) {
    this.ready = new Promise<ClusterCoordinator>((resolve, reject) => (this.joined = { resolve, reject }));
    this.ready.catch(() => undefined);
  }

  /** Whether the NATS connection is up (it reconnects by itself). */
  natsConnected = false;
  /** Resolves once the worker has joined its group (publish-once markers wait for it). */
  readonly ready: Promise<ClusterCoordinator>;
  private joined!: { resolve: (c: ClusterCoordinator) => void; reject: (e: unknown) => void };

  /** Join the group and start owning partitions (after the MQTT connection for outputs is up). */
  async start(): Promise<ClusterCoordinator> {
    let c: ClusterCoordinator;
    try {
      c = await startClusterCoordinator(this.d.cluster, this, { logger: this.d.log.child({ component: 'cluster' }) });
    } catch (e) {
      this.joined.reject(e);
      throw e;
    }
    this.coordinator = c;
    this.joined.resolve(c);
    this.idleTimer = setInterval(() => this.endIdleStreams(), Math.max(20, Math.min(250, this.d.config.audio.idleMs / 4)));
    this.idleTimer.unref();
    this.natsConnected = true;
    void (async () => {
      for await (const s of c.connection.status()) {
        if (s.type === 'disconnect') this.natsConnected = false;
        else if (s.type === 'reconnect') this.natsConnected = true;
      }
    })().catch(() => undefined);
    return c;
  }

  /** Leave: every owned partition is snapshotted and handed over. Bounded by `ms`. */
  async stop(): Promise<void> {
    if (this.idleTimer) clearInterval(this.idleTimer);
    await this.coordinator?.stop();
  }

  /**
   * End the keyword streams of devices that sent nothing for `audio.idleMs`, by the stream's
   * clock: a later input of the same partition was stored more than `idleMs` after the device's
   * last chunk (partitions are delivered in order, so nothing of the device is still on its way).
   * Local time cannot tell: while a new owner catches up, or deliveries stall, or the event loop
   * is busy, a device's chunks pause without the device having stopped, and a stream ended there
   * would restart with a warm-up and lose events. A partition that went quiet altogether (nothing
   * delivered for `idleMs` + 5 s, and the server's last word an idle heartbeat: nothing pending)
   * ends its streams too. Not the count of the last message: after this process was frozen (or its
   * consumer stalled) that still says 0 while the stream holds seconds of audio, and the streams
   * restarted with fresh state decided differently from any replay of them (same event ids,
   * other labels).
   */
  private endIdleStreams(): void {
    const c = this.coordinator;
    if (!c) return;
    const now = Date.now();
    const idleMs = this.d.config.audio.idleMs;
    let caughtUp: Set<number> | null = null;
    for (const device of this.arrivals.keys()) {
      const p = this.partition(device);
      const last = this.audio.get(device)?.lastStoredAt ?? null;
      const part = this.partitionClock.get(p);
      if (!part || last === null) continue;
      let idle = part.newestStoredAt - last > idleMs;
      if (!idle && this.natsConnected && now - part.lastDeliveryAt > idleMs + QUIET_PARTITION_MARGIN_MS) {
        caughtUp ??= new Set(c.status().owned.filter((o) => o.caughtUp).map((o) => o.partition));
        idle = caughtUp.has(p);
      }
      if (!idle) continue;
      this.arrivals.delete(device);
      this.audioEnd$.next(device);
    }
  }

  private partition(device: string): number {
    return partitionOf(device, this.d.cluster.partitions);
  }

  /** True while this worker owns the device's partition (its outputs go out). */
  owns(device: string): boolean {
    return !this.released.has(device) && this.partitionDevices.has(this.partition(device));
  }

  // -------------------------------------------------------------------------------------------
  // Partition handlers (called by the coordinator; never overlapping for one partition)

  acquire(partition: number, restore: PartitionRestore): void {
    for (const [device, p] of this.released) if (p === partition) this.released.delete(device);
    const devices = new Set<string>();
    this.partitionDevices.set(partition, devices);
    for (const [device, snap] of restore.snapshots) {
      let state: ClusterDeviceState;
      try {
        state = decodeDeviceState(snap.data, device);
      } catch (e) {
        this.d.log.warn({ device, partition, err: describeError(e) }, 'device snapshot unreadable: the device starts fresh');
        continue;
      }
      const entry = this.d.inputs.admit(device);
      if (!entry) continue;
      devices.add(device);
      entry.listening = state.listening;
      if (state.threshold !== null) entry.threshold$.next(state.threshold);
      entry.lastKeyword = state.lastKeyword;
      entry.lastScore = state.lastScore;
      entry.lastTs = state.lastTs;
      this.restoredThrough.set(device, state.throughSeq);
      if (state.audio) this.resumeAudio(device, state.audio, snap.inputSeq + 1);
      if (state.sensor) this.sensorStates.set(device, state.sensor);
      this.counts.devicesRestored++;
    }
    if (restore.lostPositions > 0 && restore.snapshots.size > 0) {
      this.d.log.warn({ partition, lostPositions: restore.lostPositions }, 'inputs after the snapshot were removed by the stream limits before this worker could replay them');
    }
  }

  private resumeAudio(device: string, at: AudioResumePoint, seq: number): void {
    this.audio.set(device, { streamMs: at.streamMs, lastStoredAt: at.previousStoredAt, recent: [], processedMs: null, restored: { at, seq }, decideFromMs: at.decideFromMs });
    this.restoredOrigins.set(device, at.origin);
  }

  message(m: InputMessage): void {
    this.lastDelivered.set(m.partition, m.seq);
    const clock = this.partitionClock.get(m.partition);
    if (clock) {
      clock.newestStoredAt = Math.max(clock.newestStoredAt, m.storedAt);
      clock.lastDeliveryAt = Date.now();
    } else this.partitionClock.set(m.partition, { newestStoredAt: m.storedAt, lastDeliveryAt: Date.now() });
    this.partitionDevices.get(m.partition)?.add(m.device);
    const through = this.restoredThrough.get(m.device);
    // Audio before the snapshot point is run again on purpose (the resume point); other inputs are in the state.
    if (through !== undefined && m.seq <= through && m.kind !== 'audio') return;
    switch (m.kind) {
      case 'audio':
        return this.onAudio(m);
      case 'sensor':
        return this.onSensor(m);
      case 'set':
      case 'threshold': {
        const entry = this.d.inputs.admit(m.device);
        if (!entry) return;
        applyCommand({ stats: this.d.stats, log: this.d.log, announcer: this.d.announcer }, entry, m.kind === 'set' ? 'set' : 'threshold/set', m.subject, m.data);
        return;
      }
      default:
        this.d.stats.rejected('unknown_topic', `cluster input of unknown kind "${m.kind}" for ${m.device} (subject ${m.subject})`, m.device);
    }
  }

  private onAudio(m: InputMessage): void {
    if (!this.d.audioEnabled()) return;
    const entry = this.d.inputs.admit(m.device);
    if (!entry) return;
    this.arrivals.set(m.device, Date.now());
    const cfg = this.d.config;
    let chunk: AudioChunk;
    try {
      chunk = parseAudioMessage(
        m.device,
        m.data,
        { ...(m.headers['Content-Type'] !== undefined && { contentType: m.headers['Content-Type'] }), userProperties: m.headers },
        entry.config?.format ?? cfg.audio.format,
        { maxPayloadBytes: cfg.mqtt.maxPacketBytes, maxChunkMs: cfg.audio.maxChunkMs },
        Date.now(),
      );
    } catch (e) {
      if (e instanceof AudioMessageError) return this.d.stats.rejected(e.reason, `device ${m.device}: ${e.message}`, m.device);
      throw e;
    }
    chunk.originAt = m.storedAt;
    // A replayed chunk is late by design: its wait is the hand-over (reported as replay lag), not
    // processing latency, and must not make the worker shed load while it catches up.
    if (m.replay) delete chunk.receivedAt;
    let track = this.audio.get(m.device);
    if (track && track.lastStoredAt !== null && m.storedAt - track.lastStoredAt > cfg.audio.idleMs && chunk.kind === 'chunk') {
      // The sender paused longer than the idle time (by the stream's clock, so that a replay decides
      // the same): a new stream, with a new origin, as a single service would have started.
      this.restoredOrigins.delete(m.device);
      track = undefined;
      this.d.inputs.acceptAudio(entry, { device: m.device, kind: 'start', data: new Uint8Array(0), format: chunk.format, timestampMs: 0, originAt: m.storedAt, ...(chunk.receivedAt !== undefined && { receivedAt: chunk.receivedAt }) });
    }
    if (!track || chunk.kind === 'start') {
      track = { streamMs: 0, lastStoredAt: track?.lastStoredAt ?? null, recent: [], processedMs: null, restored: null, decideFromMs: 0 };
      this.audio.set(m.device, track);
    }
    track.restored = null;
    if (chunk.timestampMs === undefined) chunk.timestampMs = track.streamMs;
    const durationMs = (chunkSamples(chunk) / chunk.format.rate) * 1000;
    track.recent.push({ seq: m.seq, streamMs: chunk.timestampMs, storedAt: m.storedAt, previousStoredAt: track.lastStoredAt });
    track.streamMs = chunk.timestampMs + durationMs;
    track.lastStoredAt = m.storedAt;
    this.d.inputs.acceptAudio(entry, chunk);
  }

  /** A chunk went through its pipeline: the resume window moves on (`audioReplayMs` before it, and the chunk that starts that window). */
  processed(device: string, chunk: AudioChunk): void {
    const track = this.audio.get(device);
    if (!track || chunk.kind !== 'chunk' || chunk.timestampMs === undefined) return;
    track.processedMs = chunk.timestampMs + (chunkSamples(chunk) / chunk.format.rate) * 1000;
    const keepFrom = track.processedMs - this.d.cluster.audioReplayMs;
    let drop = 0;
    while (drop + 1 < track.recent.length && track.recent[drop + 1]!.streamMs <= keepFrom) drop++;
    if (drop > 0) track.recent.splice(0, drop);
  }

  /** Whether a keyword event goes out: a restored stream's events the last owner already published do not. */
  publishes(event: DeviceKeywordEvent): boolean {
    const track = this.audio.get(event.device);
    return !track || event.end_ms >= track.decideFromMs;
  }

  private onSensor(m: InputMessage): void {
    if (!this.d.sensorEnabled()) return this.d.stats.rejected('unknown_topic', `sensor frame for ${m.device}, but no sensor.model is configured`, m.device);
    if (!this.d.inputs.admit(m.device)) return;
    this.queued.set(m.device, (this.queued.get(m.device) ?? 0) + 1);
    const props = { ...(m.headers['Content-Type'] !== undefined && { contentType: m.headers['Content-Type'] }), userProperties: m.headers };
    this.d.inputs.acceptSensor({ device: m.device, payload: m.data, receivedAt: Date.now(), ...props }, true);
  }

  /** A sensor message left its device queue (sensor pipelines call this). */
  dequeued(device: string): void {
    const n = (this.queued.get(device) ?? 0) - 1;
    if (n > 0) this.queued.set(device, n);
    else this.queued.delete(device);
  }

  async snapshot(partition: number): Promise<DeviceState[]> {
    const devices = [...(this.partitionDevices.get(partition) ?? [])];
    await this.drained(devices);
    const states: DeviceState[] = [];
    for (const device of devices) {
      const entry = this.d.devices.get(device);
      if (!entry) continue;
      const track = this.audio.get(device);
      const first = track?.recent[0];
      const origin = this.origins.get(device)?.snapshot ?? this.restoredOrigins.get(device) ?? null;
      // Where the next owner resumes: `audioReplayMs` before the last processed chunk, and from
      // where it publishes: what this worker had not decided yet (or the restored point, unreplayed).
      const resume: { at: AudioResumePoint; seq: number } | null = track?.restored ?? (track && first ? {
        seq: first.seq,
        at: { origin, streamMs: first.streamMs, previousStoredAt: first.previousStoredAt, decideFromMs: Math.max(track.decideFromMs, (track.processedMs ?? first.streamMs) - decisionLagMs(this.d.config)) },
      } : null);
      const state: ClusterDeviceState = {
        device,
        throughSeq: Math.max(this.lastDelivered.get(partition) ?? 0, this.restoredThrough.get(device) ?? 0),
        listening: entry.listening,
        threshold: entry.threshold$.value,
        lastKeyword: entry.lastKeyword,
        lastScore: entry.lastScore,
        lastTs: entry.lastTs,
        audio: resume?.at ?? null,
        sensor: this.sensorStreams?.capture(device) ?? this.sensorStates.get(device) ?? null,
      };
      states.push({ device, data: encodeDeviceState(state), ...(resume && { inputSeq: resume.seq - 1 }) });
    }
    this.counts.lastSnapshotAt = Date.now();
    return states;
  }

  /**
   * What the states say was decided (events before decide-from, predictions up to the sensor
   * state: all published before the states were taken) the next owner does not publish again: the
   * broker must have acknowledged them before the checkpoint is written. Waited for outside the
   * snapshot, while the partition's inputs flow on.
   */
  async outputsDurable(_partition: number, states: DeviceState[]): Promise<void> {
    const devices = states.map((s) => s.device);
    let timer: NodeJS.Timeout | undefined;
    const timeout = new Promise<false>((r) => (timer = setTimeout(() => r(false), OUTPUTS_TIMEOUT_MS)));
    try {
      const settled = await Promise.race([this.d.announcer.outputsSettled(devices).then(() => true as const), timeout]);
      if (!settled) {
        this.counts.snapshotFailures++;
        throw new EdgestreamError('E_CLUSTER', `outputs not acknowledged by the MQTT broker after ${OUTPUTS_TIMEOUT_MS} ms: snapshot postponed (the next owner replays from the previous one)`);
      }
    } finally {
      clearTimeout(timer);
    }
  }

  /** Wait until the sensor messages delivered for these devices have been taken by their pipelines (the snapshot then holds them). */
  private async drained(devices: string[]): Promise<void> {
    const deadline = Date.now() + DRAIN_TIMEOUT_MS;
    while (devices.some((d) => (this.queued.get(d) ?? 0) > 0)) {
      if (Date.now() > deadline) {
        this.counts.snapshotFailures++;
        throw new EdgestreamError('E_CLUSTER', `sensor messages still queued after ${DRAIN_TIMEOUT_MS} ms: snapshot postponed (the worker is past capacity)`);
      }
      await new Promise((r) => setTimeout(r, 5));
    }
  }

  release(partition: number, reason: ReleaseReason): void {
    const devices = [...(this.partitionDevices.get(partition) ?? [])];
    this.partitionDevices.delete(partition);
    this.lastDelivered.delete(partition);
    this.partitionClock.delete(partition);
    // The last worker of the group going down: its devices go offline, as a single service's would.
    const lastWorker = reason === 'shutdown' && (this.coordinator?.members().filter((m) => m !== this.coordinator!.memberId).length ?? 0) === 0;
    const online = devices.map((d) => this.d.devices.get(d)).filter((e) => e && (e.audioActive || e.sensorActive));
    if (lastWorker && online.length > 0) void this.d.announcer.offline(online.map((e) => e!), false);
    for (const device of devices) {
      this.released.set(device, partition);
      // End the device's pipelines (as if idle); their availability stays as the next owner sets it.
      this.audioEnd$.next(device);
      this.sensorEnd$.next(device);
      this.arrivals.delete(device);
      this.audio.delete(device);
      this.origins.delete(device);
      this.restoredOrigins.delete(device);
      this.sensorStates.delete(device);
      this.queued.delete(device);
      this.restoredThrough.delete(device);
      this.d.devices.remove(device);
      this.d.removeDeviceSeries(device);
    }
    this.counts.devicesHandedOver += devices.length;
    this.d.log.info({ partition, reason, devices: devices.length }, 'partition devices handed over');
  }

  // -------------------------------------------------------------------------------------------
  // Hooks of the service's pipelines

  /** A device's new keyword pipeline: the origin of the stream it continues (once), or null. */
  originFor(device: string): StreamOriginState | null {
    const o = this.restoredOrigins.get(device) ?? null;
    this.restoredOrigins.delete(device);
    return o;
  }

  /** A device's keyword pipeline made its origin (kept for snapshots). */
  onOrigin(device: string, origin: StreamOrigin): void {
    this.origins.set(device, origin);
  }

  /**
   * A device's keyword pipeline ended (idle by the local clock). If its next chunk follows within
   * `audio.idleMs` by the stream's clock (deliveries stalled, e.g. during a NATS leader election),
   * the stream goes on: same origin and stream time, with a fresh pipeline (its warm-up; counted
   * as a state reset). Otherwise `onAudio` starts a new stream.
   */
  audioEnded(device: string): void {
    const origin = this.origins.get(device)?.snapshot;
    this.origins.delete(device);
    if (origin && this.audio.has(device)) this.restoredOrigins.set(device, origin);
  }

  /** Sensor snapshots (keeper for `SensorStreams`): a restored state for the device's next stream. */
  load(device: string): StreamSnapshot | null {
    return this.sensorStates.get(device) ?? null;
  }

  /** A sensor stream ended (idle, error): its state is kept for the partition's snapshots. */
  save(snapshot: StreamSnapshot): void {
    if (!this.owns(snapshot.header.device)) return;
    this.sensorStates.set(snapshot.header.device, snapshot);
  }

  status(): ReturnType<ClusterCoordinator['status']> | null {
    return this.coordinator?.status() ?? null;
  }
}
