import { monitorEventLoopDelay, type IntervalHistogram } from 'node:perf_hooks';
import type { ClusterHealth } from './cluster_health.js';
import { collectDefaultMetrics, Counter, Gauge, Histogram, Registry } from 'prom-client';

/** Why an input message was refused: the `reason` label of `edgestream_messages_rejected_total`. */
export type RejectReason =
  | 'bad_device'
  | 'unknown_topic'
  | 'too_many_devices'
  | 'bad_format'
  | 'odd_length'
  | 'oversized'
  | 'empty'
  | 'bad_metadata'
  | 'bad_sensor_frame'
  | 'nonfinite_audio'
  | 'bad_command'
  | 'retained_command'
  | 'pipeline_error';

/** Figures kept per device for `<base>/bridge/health` (Prometheus has the same as labelled series). */
export interface DeviceFigures {
  chunks: number;
  /** Audio chunks dropped from the full device queue. */
  drops: number;
  /** Sensor messages dropped from the full device queue. */
  sensorDrops: number;
  /** Feature frames dropped because the batched engine fell behind. */
  framesDropped: number;
  /** Audio chunks not processed because the service was past capacity and this device was shed. */
  shedChunks: number;
  gaps: number;
  /** Audio lost on the way (ms): seq gaps × chunk length, timestamp jumps, and inferred arrival gaps. */
  lostMs: number;
  /** Arrival gaps of senders without seq or timestamps (`ArrivalLossEstimator`). */
  inferredGaps: number;
  resets: number;
  events: number;
  sensorFrames: number;
  predictions: number;
  /** Chunks and frames in the current health interval. */
  intervalChunks: number;
  intervalLatencyMs: number[];
  lastChunkAt: number | null;
}

export function emptyFigures(): DeviceFigures {
  return { chunks: 0, drops: 0, sensorDrops: 0, framesDropped: 0, shedChunks: 0, gaps: 0, lostMs: 0, inferredGaps: 0, resets: 0, events: 0, sensorFrames: 0, predictions: 0, intervalChunks: 0, intervalLatencyMs: [], lastChunkAt: null };
}

const LATENCY_BUCKETS = [0.001, 0.002, 0.005, 0.01, 0.02, 0.035, 0.05, 0.075, 0.1, 0.2, 0.5, 1, 2, 5];

/**
 * The service's metrics, in its own prom-client registry (several services can share a process).
 * Device labels are only ever valid, admitted device ids (bounded by `maxDevices`); refused
 * input is counted by reason without the offending name.
 */
export class ServiceMetrics {
  readonly registry = new Registry();
  readonly mqttConnected: Gauge;
  readonly devicesActive: Gauge;
  readonly chunksReceived: Counter<'device'>;
  readonly chunksDropped: Counter<'device'>;
  readonly framesDropped: Counter<'device'>;
  readonly sensorMessagesDropped: Counter<'device'>;
  readonly chunksShed: Counter<'device'>;
  readonly servedCap: Gauge;
  readonly seqGaps: Counter<'device'>;
  readonly audioLost: Counter<'device'>;
  readonly inferredGaps: Counter<'device'>;
  readonly stateResets: Counter<'device'>;
  readonly rejected: Counter<'reason'>;
  readonly keywordEvents: Counter<'device' | 'label'>;
  readonly sensorFrames: Counter<'device'>;
  readonly predictions: Counter<'device'>;
  readonly chunkLatency: Histogram;
  readonly inference: Histogram;
  readonly published: Counter<'kind'>;
  readonly publishErrors: Counter<'kind'>;
  readonly loopDelay: IntervalHistogram;
  private readonly startedAt = Date.now();

  constructor() {
    const r = this.registry;
    collectDefaultMetrics({ register: r });
    this.mqttConnected = new Gauge({ name: 'edgestream_mqtt_connected', help: '1 while connected to the MQTT broker', registers: [r] });
    this.devicesActive = new Gauge({ name: 'edgestream_devices_active', help: 'Devices with a running stream', registers: [r] });
    this.chunksReceived = new Counter({ name: 'edgestream_chunks_received_total', help: 'Audio chunks accepted', labelNames: ['device'], registers: [r] });
    this.chunksDropped = new Counter({ name: 'edgestream_chunks_dropped_total', help: 'Audio chunks dropped because the device queue was full (oldest first)', labelNames: ['device'], registers: [r] });
    this.framesDropped = new Counter({ name: 'edgestream_frames_dropped_total', help: 'Feature frames dropped because the inference engine fell behind (the stream restarts)', labelNames: ['device'], registers: [r] });
    this.sensorMessagesDropped = new Counter({ name: 'edgestream_sensor_messages_dropped_total', help: 'Sensor messages dropped because the device queue was full (oldest first)', labelNames: ['device'], registers: [r] });
    this.chunksShed = new Counter({ name: 'edgestream_chunks_shed_total', help: 'Audio chunks dropped on arrival because the service was past capacity and the device was shed', labelNames: ['device'], registers: [r] });
    this.servedCap = new Gauge({ name: 'edgestream_served_devices_cap', help: 'Most audio devices served while shedding load (-1: no limit)', registers: [r] });
    this.servedCap.set(-1);
    this.seqGaps = new Counter({ name: 'edgestream_seq_gaps_total', help: 'Discontinuities seen in seq numbers or timestamps', labelNames: ['device'], registers: [r] });
    this.audioLost = new Counter({ name: 'edgestream_audio_lost_seconds_total', help: 'Audio lost before it reached the service: seq gaps, timestamp jumps, arrival gaps of senders without seq', labelNames: ['device'], registers: [r] });
    this.inferredGaps = new Counter({ name: 'edgestream_inferred_gaps_total', help: 'Losses inferred from arrival times (senders without seq or timestamps)', labelNames: ['device'], registers: [r] });
    this.stateResets = new Counter({ name: 'edgestream_state_resets_total', help: 'Stream state restarts (gaps, drops, start markers, pipeline errors)', labelNames: ['device'], registers: [r] });
    this.rejected = new Counter({ name: 'edgestream_messages_rejected_total', help: 'Input messages refused, by reason', labelNames: ['reason'], registers: [r] });
    this.keywordEvents = new Counter({ name: 'edgestream_keyword_events_total', help: 'Keyword detections published', labelNames: ['device', 'label'], registers: [r] });
    this.sensorFrames = new Counter({ name: 'edgestream_sensor_frames_total', help: 'Sensor frames accepted', labelNames: ['device'], registers: [r] });
    this.predictions = new Counter({ name: 'edgestream_predictions_total', help: 'Stream model predictions published', labelNames: ['device'], registers: [r] });
    this.chunkLatency = new Histogram({ name: 'edgestream_chunk_latency_seconds', help: 'From a chunk arriving to its audio being fully processed (queueing + inference)', buckets: LATENCY_BUCKETS, registers: [r] });
    this.inference = new Histogram({ name: 'edgestream_inference_seconds', help: 'Processing time of one chunk (decode, features, model, decisions)', buckets: LATENCY_BUCKETS, registers: [r] });
    this.published = new Counter({ name: 'edgestream_published_total', help: 'Messages published, by kind', labelNames: ['kind'], registers: [r] });
    this.publishErrors = new Counter({ name: 'edgestream_publish_errors_total', help: 'Publishes that failed, by kind', labelNames: ['kind'], registers: [r] });
    this.loopDelay = monitorEventLoopDelay({ resolution: 10 });
    this.loopDelay.enable();
    const startedAt = this.startedAt;
    const lagMs = (): number => this.eventLoopLagMs();
    // Derived gauges, computed at scrape time.
    new Gauge({
      name: 'edgestream_uptime_seconds', help: 'Seconds since the service started', registers: [r],
      collect() { this.set((Date.now() - startedAt) / 1000); },
    });
    new Gauge({
      name: 'edgestream_event_loop_lag_seconds', help: 'p99 event-loop delay over the last health interval', registers: [r],
      collect() { this.set(lagMs() / 1000); },
    });
  }


  /**
   * A cluster worker's figures, read at scrape time: `edgestream_cluster_members`,
   * `_partitions_owned`, `_devices`, `_snapshot_age_seconds`, `_replay_lag_messages`,
   * `_nats_connected`, and the counters `_acquisitions_total`, `_handovers_total`,
   * `_partitions_lost_total`, `_checkpoints_total`, `_checkpoint_failures_total`,
   * `_devices_restored_total`, `_devices_handed_over_total`.
   */
  watchCluster(read: () => ClusterHealth | null): void {
    const r = this.registry;
    const gauge = (name: string, help: string, value: (h: ClusterHealth) => number): void => {
      new Gauge({ name: `edgestream_cluster_${name}`, help, registers: [r], collect() { const h = read(); if (h) this.set(value(h)); } });
    };
    const counter = (name: string, help: string, value: (h: ClusterHealth) => number): void => {
      // Counted by the coordinator; copied at scrape time.
      new Counter({ name: `edgestream_cluster_${name}_total`, help, registers: [r], collect() { const h = read(); if (h) { this.reset(); this.inc(value(h)); } } });
    };
    gauge('members', 'Live members of the group, as this worker sees them', (h) => h.members.length);
    gauge('partitions_owned', 'Partitions this worker owns', (h) => h.partitions_owned.length);
    gauge('devices', 'Devices of the owned partitions with state on this worker', (h) => h.devices);
    gauge('snapshot_age_seconds', 'Age of the oldest owned partition\'s last snapshot', (h) => (h.snapshot_age_ms ?? 0) / 1000);
    gauge('replay_lag_messages', 'Inputs the stream holds beyond those handled, over the owned partitions', (h) => h.replay_lag);
    gauge('nats_connected', '1 while connected to NATS', (h) => (h.nats_connected ? 1 : 0));
    counter('acquisitions', 'Partitions acquired', (h) => h.acquisitions);
    counter('handovers', 'Partitions handed over (membership change or stop)', (h) => h.handovers);
    counter('partitions_lost', 'Partitions lost (lease not renewed in time)', (h) => h.partitions_lost);
    counter('checkpoints', 'Partition checkpoints written', (h) => h.checkpoints);
    counter('checkpoint_failures', 'Partition checkpoints that failed', (h) => h.checkpoint_failures);
    counter('devices_restored', 'Devices restored from snapshots', (h) => h.devices_restored);
    counter('devices_handed_over', 'Devices handed over with their partitions', (h) => h.devices_handed_over);
  }

  get uptimeSeconds(): number {
    return (Date.now() - this.startedAt) / 1000;
  }

  /** p99 event-loop delay (ms) since the last `resetLoopDelay`. */
  eventLoopLagMs(): number {
    const p99 = this.loopDelay.percentile(99);
    return Number.isFinite(p99) ? Math.max(0, p99 / 1e6 - 10) : 0; // minus the sampling resolution
  }

  resetLoopDelay(): void {
    this.loopDelay.reset();
  }

  /** Forget a device's labelled series (it was evicted). */
  removeDevice(device: string): void {
    for (const c of [this.chunksReceived, this.chunksDropped, this.framesDropped, this.sensorMessagesDropped, this.chunksShed, this.seqGaps, this.audioLost, this.inferredGaps, this.stateResets, this.sensorFrames, this.predictions]) c.remove({ device });
  }

  async render(): Promise<{ contentType: string; body: string }> {
    return { contentType: this.registry.contentType, body: await this.registry.metrics() };
  }

  close(): void {
    this.loopDelay.disable();
    this.registry.clear();
  }
}
