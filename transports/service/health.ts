import type { ClusterHealth } from './cluster_health.js';
import type { DeviceEntry } from './device_registry.js';

/** The health figures served on /healthz and published on `<base>/bridge/health`. */
export interface HealthSnapshot {
  status: 'ok' | 'degraded';
  problems: string[];
  uptime_s: number;
  rss_bytes: number;
  heap_used_bytes: number;
  event_loop_lag_ms: number;
  mqtt_connected: boolean;
  protocol_version: 4 | 5 | null;
  devices_active: number;
  chunks_received: number;
  /** Audio chunks dropped (full device queues). Only audio chunks: other units have their own fields. */
  chunks_dropped: number;
  /** Sensor messages dropped (full device queues). */
  sensor_messages_dropped: number;
  /** Feature frames dropped because the batched engine fell behind. */
  engine_frames_dropped: number;
  /** Audio chunks dropped on arrival because the service was past capacity (load shedding). */
  chunks_shed: number;
  /** Load shedding: whether it is on, the most devices served, the devices not served now. */
  overload: { shedding: boolean; served_cap: number | null; devices_shed: number; event_loop_utilization: number };
  seq_gaps: number;
  /** Audio lost before it reached the service (ms): seq gaps, timestamp jumps, inferred arrival gaps. */
  audio_lost_ms: number;
  /** Losses inferred from arrival times of senders without seq or timestamps. */
  inferred_gaps: number;
  messages_rejected: number;
  keyword_events: number;
  devices: Record<string, DeviceHealth>;
  /** Cluster workers only: membership, partitions, hand-overs, snapshot age, replay lag. */
  cluster?: ClusterHealth;
}

export interface DeviceHealth {
  online: boolean;
  listening: boolean;
  chunks: number;
  chunks_per_s: number;
  /** Audio chunks dropped. */
  drops: number;
  sensor_drops: number;
  frames_dropped: number;
  /** Audio chunks dropped on arrival while this device was shed; `served` false while it is. */
  shed_chunks: number;
  served: boolean;
  gaps: number;
  lost_ms: number;
  inferred_gaps: number;
  resets: number;
  events: number;
  sensor_frames: number;
  predictions: number;
  latency_ms_p50: number | null;
  latency_ms_p99: number | null;
  last_chunk_age_ms: number | null;
}

/** What `healthSnapshot` reads from the service. */
export interface HealthInputs {
  devices: Iterable<DeviceEntry>;
  /** Start of the current reporting interval (per-device rates and latencies cover it). */
  intervalStartedAt: number;
  eventLoopLagMs: number;
  maxEventLoopLagMs: number;
  uptimeSeconds: number;
  mqttConnected: boolean;
  protocolVersion: 4 | 5 | null;
  state: string;
  totals: ServiceTotals;
  /** A cluster worker's figures. */
  cluster?: ClusterHealth;
  /** Load shedding state (absent: never sheds). */
  shedder?: { shedding: boolean; servedCap: number | null; utilization: number; isServed(device: string): boolean };
}

/** Service-wide counts for /healthz, each in its own unit. */
export interface ServiceTotals {
  /** Audio chunks accepted / dropped. */
  chunks: number;
  drops: number;
  /** Sensor messages dropped. */
  sensorDrops: number;
  /** Engine feature frames dropped. */
  framesDropped: number;
  /** Audio chunks shed on arrival. */
  shed: number;
  gaps: number;
  /** Audio lost (ms) and the losses seen only in arrival times. */
  lostMs: number;
  inferredGaps: number;
  rejected: number;
  events: number;
}

/** The figures of /healthz and `<base>/bridge/health`: `degraded` (503) when MQTT is down or the event loop lags. */
export function healthSnapshot(i: HealthInputs): HealthSnapshot {
  const now = Date.now();
  const seconds = Math.max(0.001, (now - i.intervalStartedAt) / 1000);
  const devices: Record<string, DeviceHealth> = {};
  let active = 0;
  for (const d of i.devices) {
    const f = d.figures;
    const online = d.audioActive || d.sensorActive;
    if (online) active++;
    const lat = [...f.intervalLatencyMs].sort((a, b) => a - b);
    devices[d.id] = {
      online,
      listening: d.listening,
      chunks: f.chunks,
      chunks_per_s: Math.round((f.intervalChunks / seconds) * 10) / 10,
      drops: f.drops,
      sensor_drops: f.sensorDrops,
      frames_dropped: f.framesDropped,
      shed_chunks: f.shedChunks,
      served: !(i.shedder?.shedding ?? false) || !d.audioActive || i.shedder!.isServed(d.id),
      gaps: f.gaps,
      lost_ms: f.lostMs,
      inferred_gaps: f.inferredGaps,
      resets: f.resets,
      events: f.events,
      sensor_frames: f.sensorFrames,
      predictions: f.predictions,
      latency_ms_p50: lat.length ? lat[Math.floor(lat.length * 0.5)]! : null,
      latency_ms_p99: lat.length ? lat[Math.min(lat.length - 1, Math.floor(lat.length * 0.99))]! : null,
      last_chunk_age_ms: f.lastChunkAt !== null ? now - f.lastChunkAt : null,
    };
  }
  const problems: string[] = [];
  if (!i.mqttConnected) problems.push('not connected to the MQTT broker');
  if (i.eventLoopLagMs > i.maxEventLoopLagMs) problems.push(`event loop lag ${i.eventLoopLagMs.toFixed(0)} ms > ${i.maxEventLoopLagMs} ms`);
  if (i.state !== 'running') problems.push(`service is ${i.state}`);
  if (i.cluster && !i.cluster.nats_connected) problems.push('not connected to NATS (cluster)');
  let devicesShed = 0;
  if (i.shedder?.shedding) {
    for (const d of Object.values(devices)) if (!d.served) devicesShed++;
    problems.push(`overloaded: serving at most ${i.shedder.servedCap} audio devices, ${devicesShed} shed`);
  }
  const mem = process.memoryUsage();
  return {
    status: problems.length === 0 ? 'ok' : 'degraded',
    problems,
    uptime_s: Math.round(i.uptimeSeconds),
    rss_bytes: mem.rss,
    heap_used_bytes: mem.heapUsed,
    event_loop_lag_ms: Math.round(i.eventLoopLagMs * 10) / 10,
    mqtt_connected: i.mqttConnected,
    protocol_version: i.protocolVersion,
    devices_active: active,
    chunks_received: i.totals.chunks,
    chunks_dropped: i.totals.drops,
    sensor_messages_dropped: i.totals.sensorDrops,
    engine_frames_dropped: i.totals.framesDropped,
    chunks_shed: i.totals.shed,
    overload: { shedding: i.shedder?.shedding ?? false, served_cap: i.shedder?.servedCap ?? null, devices_shed: devicesShed, event_loop_utilization: Math.round((i.shedder?.utilization ?? 0) * 100) / 100 },
    seq_gaps: i.totals.gaps,
    audio_lost_ms: i.totals.lostMs,
    inferred_gaps: i.totals.inferredGaps,
    messages_rejected: i.totals.rejected,
    keyword_events: i.totals.events,
    devices,
    ...(i.cluster && { cluster: i.cluster }),
  };
}
