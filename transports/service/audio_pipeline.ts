import type { Logger } from 'pino';
import { defer, map, tap, type Observable, type Subscription } from 'rxjs';
import type { DecisionOptions } from '../../runtime/decisions/options.js';
import type { EngineStreamRouter } from '../../runtime/engine/stream_router.js';
import { describeError, isEdgestreamError } from '../../runtime/errors.js';
import type { Model } from '../../runtime/model/model.js';
import { boundedBuffer } from '../../runtime/operators/bounded_buffer.js';
import { keywordSpotting } from '../../runtime/operators/keyword_spotting.js';
import { perDevice } from '../../runtime/operators/per_device.js';
import { sequenceGuard } from '../../runtime/operators/sequence_guard.js';
import { timeProcessing } from '../../runtime/operators/time_processing.js';
import type { AudioChunk, KeywordOutput } from '../../runtime/operators/types.js';
import type { ServiceConfig } from './config.js';
import type { DeviceEntry, DeviceRegistry } from './device_registry.js';
import type { DeviceStats } from './device_stats.js';
import { ArrivalLossEstimator } from './arrival_loss.js';
import { StreamOrigin, type StreamOriginState } from './stream_origin.js';

/** What the audio pipelines need from the service. */
export interface AudioPipelineDeps {
  config: ServiceConfig;
  log: Logger;
  devices: DeviceRegistry;
  stats: DeviceStats;
  /** The shared batched engine, when `engine.enabled`. */
  router: EngineStreamRouter | null;
  /** Whether pipelines emit per-frame scores (scores topic enabled or a listener). */
  emitScores: () => boolean;
  /** A device's audio stream started (true) or went idle (false). */
  onActive: (entry: DeviceEntry, active: boolean) => void;
  /** A device's pipeline failed: it is counted and restarts with the next chunk. */
  onError: (entry: DeviceEntry | undefined, device: string, error: unknown) => void;
  /** Cluster workers: the origin a device's new pipeline continues (a stream taken over), or null. */
  originFor?: (device: string) => StreamOriginState | null;
  /** Cluster workers: a device's pipeline made its stream origin (kept for snapshots). */
  onOrigin?: (device: string, origin: StreamOrigin) => void;
  /** Cluster workers: devices whose pipeline ends now (idle, or handed to another worker); the local idle timer is then off. */
  end$?: Observable<string>;
  /** Cluster workers: a chunk went through the device's pipeline (its decisions are out). */
  onProcessed?: (device: string, chunk: AudioChunk) => void;
}

/** A pipeline's idle timer when something else ends idle streams (a day: the largest `audio.idleMs`). */
const MAX_IDLE_MS = 86_400_000;

/** The device's decision settings: the service's, with the device's overrides on top. */
export function decisionFor(config: ServiceConfig, entry: DeviceEntry): DecisionOptions {
  const base = config.decision;
  const dc = entry.config;
  return {
    ...base,
    ...(dc?.threshold !== undefined && { threshold: dc.threshold }),
    thresholds: { ...base.thresholds, ...(dc?.thresholds ?? {}) },
  };
}

/**
 * One device's audio pipeline: seq/timestamp guard → bounded drop-oldest queue → keyword
 * spotting (front end, model, decisions), with every gap, loss, drop, reset and latency counted,
 * and event ids from the stream's origin (`StreamOrigin`). Built when the device's first chunk
 * arrives (and again after it went idle or failed); `origin` continues a snapshotted or replayed
 * stream (a cluster worker taking a device over), `onOrigin` hands the live one out for snapshots.
 */
export function deviceAudioPipeline(
  d: AudioPipelineDeps,
  model: Model,
  entry: DeviceEntry,
  chunks: Observable<AudioChunk>,
  stream: { origin?: StreamOriginState | null; onOrigin?: (origin: StreamOrigin) => void } = {},
): Observable<KeywordOutput> {
  const cfg = d.config;
  const device = entry.id;
  return defer(() => {
    const origin = new StreamOrigin(stream.origin);
    stream.onOrigin?.(origin);
    const arrival = new ArrivalLossEstimator();
    return chunks.pipe(
      tap((c) => {
        const lost = arrival.observe(c);
        if (lost > 0) {
          d.stats.audioLost(entry, lost, true);
          d.log.debug({ device, lostMs: lost }, 'audio arrived later than real time allows: counted as lost');
        }
      }),
      sequenceGuard({
        onGap: (g) => {
          d.stats.gap(entry);
          if (g.lostMs > 0) d.stats.audioLost(entry, g.lostMs, false);
          d.log.debug({ ...g }, 'stream gap: state restarts');
        },
      }),
      tap((c) => origin.observe(c)),
      boundedBuffer<AudioChunk>({
        capacity: cfg.audio.bufferChunks,
        onDrop: (_c, n) => {
          d.stats.chunkDropped(entry);
          if (n === 1 || n % 100 === 0) d.log.warn({ device, dropped: n }, 'device queue full: oldest chunks dropped (inference is slower than real time)');
        },
        afterDrop: (c) => ({ ...c, gap: true }),
      }),
      tap((c) => {
        if (c.gap) d.stats.stateReset(entry);
      }),
      timeProcessing((c, ms) => {
        d.stats.chunkProcessed(entry, ms, c.receivedAt !== undefined ? Date.now() - c.receivedAt : undefined);
        d.onProcessed?.(device, c);
      }),
      keywordSpotting(model, {
        ...(d.router && {
          engine: d.router,
          onOverload: (frames: number) => {
            d.stats.engineFramesDropped(entry, frames);
            d.log.warn({ device, frames }, 'inference is behind: frames dropped, the stream restarts');
          },
        }),
        // NaN/Inf audio is refused where PCM is decoded: a counted rejection, the stream goes on.
        onInvalidAudio: (e) => d.stats.rejected('nonfinite_audio', `device ${device}: ${e.code}: ${e.message}`, device),
        decision: decisionFor(cfg, entry),
        warmupMs: cfg.audio.warmupMs,
        emitScores: d.emitScores(),
        threshold$: entry.threshold$,
        ...(cfg.model.name !== undefined && { modelName: cfg.model.name }),
        ...(cfg.model.version !== undefined && { modelVersion: cfg.model.version }),
      }),
      map((o) => (o.type === 'keyword' ? { ...o, event: { ...o.event, id: origin.eventId(device, o.event.start_ms) } } : o)),
    );
  });
}

/**
 * The per-device audio pipelines over `input`, their outputs to `output`. Resolves when they have
 * all finished after `input` ended; the subscription is handed to `own` (the service unsubscribes
 * it on stop).
 */
export function runAudioPipelines(d: AudioPipelineDeps, model: Model, input: Observable<AudioChunk>, output: (o: KeywordOutput) => void, own: (s: Subscription) => void): Promise<void> {
  const audio$ = input.pipe(
    perDevice<AudioChunk, KeywordOutput>(
      (device, chunks) => {
        const entry = d.devices.get(device)!;
        d.onActive(entry, true);
        return deviceAudioPipeline(d, model, entry, chunks, { origin: d.originFor?.(device) ?? null, onOrigin: (o) => d.onOrigin?.(device, o) });
      },
      {
        // Cluster workers end idle streams themselves (by the stream's clock: a replay must not look idle).
        idleMs: d.end$ ? MAX_IDLE_MS : d.config.audio.idleMs,
        ...(d.end$ && { end$: d.end$ }),
        onIdle: (device) => {
          const entry = d.devices.get(device);
          if (entry) d.onActive(entry, false);
        },
        onError: (device, e) => d.onError(d.devices.get(device), device, e),
      },
    ),
  );
  return new Promise<void>((resolve) => {
    own(
      audio$.subscribe({
        next: output,
        error: (e: unknown) => {
          d.log.error({ err: describeError(e) }, 'audio pipeline failed');
          resolve();
        },
        complete: () => resolve(),
      }),
    );
  });
}

/** The service's handling of a failed device audio pipeline: counted, logged, the stream restarts with the next chunk. */
export function audioPipelineFailed(stats: DeviceStats, log: Logger, entry: DeviceEntry | undefined, device: string, e: unknown): void {
  if (entry) {
    entry.pendingGap = true;
    stats.stateReset(entry);
  }
  stats.rejected('pipeline_error', `device ${device}: ${describeError(e)}; its stream restarts with the next chunk`, device);
  if (!isEdgestreamError(e)) log.error({ device, err: e instanceof Error ? e.stack : String(e) }, 'unexpected pipeline error');
}
