import type { Logger } from 'pino';
import type { DeviceEntry } from './device_registry.js';
import type { ServiceTotals } from './health.js';
import type { RejectReason, ServiceMetrics } from './metrics.js';

export function emptyTotals(): ServiceTotals {
  return { chunks: 0, drops: 0, sensorDrops: 0, framesDropped: 0, shed: 0, gaps: 0, lostMs: 0, inferredGaps: 0, rejected: 0, events: 0 };
}

/**
 * Every count the service keeps, one call per event: each call updates the device's health
 * figures, the service-wide totals of /healthz and the Prometheus series together, so the three
 * never disagree. Units stay apart: audio chunks, sensor messages and engine feature frames are
 * different things and are counted by different calls.
 */
export class DeviceStats {
  totals: ServiceTotals = emptyTotals();
  private readonly rejectLog = new Map<RejectReason, { windowStart: number; logged: number; suppressed: number }>();

  /** Told of every processing latency (the load shedder measures with it). */
  onLatency: ((ms: number) => void) | null = null;

  constructor(
    readonly metrics: ServiceMetrics,
    private readonly log: Logger,
    /** Told of every rejection (the service's `rejected` event). */
    private readonly onRejected: (info: { reason: RejectReason; message: string; device?: string }) => void,
  ) {}

  /** An audio chunk was accepted into a device's pipeline. */
  chunkAccepted(entry: DeviceEntry, at: number): void {
    entry.figures.chunks++;
    entry.figures.intervalChunks++;
    entry.figures.lastChunkAt = at;
    this.totals.chunks++;
    this.metrics.chunksReceived.inc({ device: entry.id });
  }

  /** An audio chunk was dropped from a full device queue (oldest first). */
  chunkDropped(entry: DeviceEntry): void {
    entry.figures.drops++;
    this.totals.drops++;
    this.metrics.chunksDropped.inc({ device: entry.id });
  }

  /** An audio chunk was dropped on arrival: past capacity, this device is not being served. */
  chunkShed(entry: DeviceEntry): void {
    entry.figures.shedChunks++;
    this.totals.shed++;
    this.metrics.chunksShed.inc({ device: entry.id });
  }

  /** A sensor message was accepted. */
  sensorMessageAccepted(entry: DeviceEntry, at: number): void {
    entry.figures.sensorFrames++;
    entry.figures.lastChunkAt = at;
    this.metrics.sensorFrames.inc({ device: entry.id });
  }

  /** A sensor message was dropped from a full device queue. */
  sensorMessageDropped(entry: DeviceEntry): void {
    entry.figures.sensorDrops++;
    this.totals.sensorDrops++;
    this.metrics.sensorMessagesDropped.inc({ device: entry.id });
  }

  /** The batched engine fell behind and `frames` feature frames of this device were dropped (its stream restarts). */
  engineFramesDropped(entry: DeviceEntry, frames: number): void {
    entry.figures.framesDropped += frames;
    this.totals.framesDropped += frames;
    this.metrics.framesDropped.inc({ device: entry.id }, frames);
    this.stateReset(entry);
  }

  /** A discontinuity (seq gap, timestamp jump) in a device's stream. */
  gap(entry: DeviceEntry): void {
    entry.figures.gaps++;
    this.totals.gaps++;
    this.metrics.seqGaps.inc({ device: entry.id });
  }

  /** Audio lost before it reached the service (ms); `inferred` when seen only in arrival times. */
  audioLost(entry: DeviceEntry, ms: number, inferred: boolean): void {
    entry.figures.lostMs += ms;
    this.totals.lostMs += ms;
    this.metrics.audioLost.inc({ device: entry.id }, ms / 1000);
    if (!inferred) return;
    entry.figures.inferredGaps++;
    this.totals.inferredGaps++;
    this.metrics.inferredGaps.inc({ device: entry.id });
  }

  /** A device's stream state restarted (gap, drop, pipeline error). */
  stateReset(entry: DeviceEntry): void {
    entry.figures.resets++;
    this.metrics.stateResets.inc({ device: entry.id });
  }

  /** A chunk was processed: its latency from arrival (ms) and its processing time (ms). */
  chunkProcessed(entry: DeviceEntry, processingMs: number, latencyMs: number | undefined): void {
    this.metrics.inference.observe(processingMs / 1000);
    if (latencyMs === undefined) return;
    this.onLatency?.(latencyMs);
    this.metrics.chunkLatency.observe(latencyMs / 1000);
    if (entry.figures.intervalLatencyMs.length < 10_000) entry.figures.intervalLatencyMs.push(latencyMs);
  }

  keyword(entry: DeviceEntry | undefined, device: string, label: string): void {
    if (entry) entry.figures.events++;
    this.totals.events++;
    this.metrics.keywordEvents.inc({ device, label });
  }

  prediction(entry: DeviceEntry | undefined, device: string): void {
    if (entry) entry.figures.predictions++;
    this.metrics.predictions.inc({ device });
  }

  /** An input was refused: counted by reason, emitted, and logged at most 5 times per reason per minute. */
  rejected(reason: RejectReason, message: string, device?: string): void {
    this.totals.rejected++;
    this.metrics.rejected.inc({ reason });
    this.onRejected({ reason, message, ...(device !== undefined && { device }) });
    // A misbehaving sender must not flood the journal.
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

  /** Start a new health interval (per-device rates and latencies). */
  newInterval(devices: Iterable<DeviceEntry>): void {
    for (const d of devices) {
      d.figures.intervalChunks = 0;
      d.figures.intervalLatencyMs = [];
    }
    this.metrics.resetLoopDelay();
  }

  /** Forget what the start-up warm-up counted. */
  resetAfterWarmUp(): void {
    this.metrics.inference.reset();
    this.metrics.chunkLatency.reset();
    this.metrics.devicesActive.set(0);
    this.totals = emptyTotals();
  }
}
