import type { Logger } from 'pino';
import { defer, finalize, tap, type Observable, type Subscription } from 'rxjs';
import { describeError } from '../../runtime/errors.js';
import type { Model } from '../../runtime/model/model.js';
import { boundedBuffer } from '../../runtime/operators/bounded_buffer.js';
import { decodeSensorFrames } from '../../runtime/operators/decode_sensor_frames.js';
import { perDevice } from '../../runtime/operators/per_device.js';
import { predictStream } from '../../runtime/operators/predict_stream.js';
import type { RawMessage, SensorPrediction } from '../../runtime/operators/types.js';
import type { Session } from '../../runtime/stream/session.js';
import type { ServiceConfig } from './config.js';
import type { DeviceEntry, DeviceRegistry } from './device_registry.js';
import type { DeviceStats } from './device_stats.js';
import { StreamOrigin } from './stream_origin.js';
import type { StreamSnapshot } from './stream_snapshots.js';

/** Where sensor stream snapshots are kept: files (`StreamSnapshotStore`) or a cluster worker's memory. */
export interface StreamSnapshotKeeper {
  load(device: string): StreamSnapshot | null;
  save(snapshot: StreamSnapshot): void;
}

/** What the sensor pipelines need from the service. */
export interface SensorPipelineDeps {
  config: ServiceConfig;
  log: Logger;
  devices: DeviceRegistry;
  stats: DeviceStats;
  /** A device's sensor stream started (true) or went idle (false). */
  onActive: (entry: DeviceEntry, active: boolean) => void;
  /** Where stream snapshots are kept (`sensor.snapshots`, or the cluster), or null. */
  snapshots: SensorStreams | null;
  /** A device's message left its queue (taken by the pipeline or dropped): cluster snapshots wait for every delivered one. */
  onDequeued?: (device: string) => void;
  /** Devices whose pipeline ends now (handed to another cluster worker). */
  end$?: Observable<string>;
}

/** One running sensor stream, as snapshots see it. */
interface LiveStream {
  session: Session | null;
  lastSeq: number | null;
  frames: number;
  origin: StreamOrigin;
}

/**
 * The running sensor streams and their snapshots: each stream is restored from its device's
 * snapshot when it starts, and saved periodically (`saveAll`), when it ends (idle, error) and on
 * shutdown. A stream snapshot is the session's state (`Session.snapshot()`: the TTT fast weights,
 * conv buffers, counters) plus the last `seq`, the frame count and the stream origin.
 */
export class SensorStreams {
  private readonly live = new Map<string, LiveStream>();

  constructor(
    readonly store: StreamSnapshotKeeper,
    private readonly model: Model,
    private readonly log: Logger,
  ) {}

  /** The saved state of `device` as a session of the model, or null (none or unusable: logged). */
  restore(device: string): { session: Session; snapshot: StreamSnapshot } | null {
    const snap = this.store.load(device);
    if (!snap) return null;
    try {
      const session = this.model.restoreSession(snap.session);
      this.log.info({ device, frames: snap.header.frames, lastSeq: snap.header.lastSeq, savedAt: snap.header.savedAt }, 'sensor stream restored from its snapshot');
      return { session, snapshot: snap };
    } catch (e) {
      this.log.warn({ device, err: describeError(e) }, 'stream snapshot does not fit the model: the stream starts fresh');
      return null;
    }
  }

  track(device: string, stream: LiveStream): void {
    this.live.set(device, stream);
  }

  /** The state of a running stream now (null: not running, or no frame yet). */
  capture(device: string): StreamSnapshot | null {
    const s = this.live.get(device);
    if (!s?.session) return null;
    return {
      header: { device, model: this.model.name, lastSeq: s.lastSeq, frames: s.frames, origin: s.origin.snapshot, savedAt: new Date().toISOString() },
      session: s.session.snapshot(),
    };
  }

  isLive(device: string): boolean {
    return this.live.has(device);
  }

  /** Save one stream now (e.g. as it ends) and optionally forget it. */
  save(device: string, forget = false): void {
    try {
      // Captured before the stream is forgotten: a stream that ends is saved as it ends.
      const snapshot = this.capture(device);
      if (forget) this.live.delete(device);
      if (snapshot) this.store.save(snapshot);
    } catch (e) {
      if (forget) this.live.delete(device);
      this.log.error({ device, err: describeError(e) }, 'stream snapshot could not be written');
    }
  }

  /** Save every running stream (the periodic snapshot). */
  saveAll(): number {
    for (const device of this.live.keys()) this.save(device);
    return this.live.size;
  }
}

/**
 * One device's sensor pipeline: bounded drop-oldest queue → payload decoding → the stream model
 * (one session, e.g. a TTT forecaster whose fast weights keep learning, restored from the device's
 * snapshot when there is one). Bad frames are counted rejections; the stream state is untouched by them.
 */
export function deviceSensorPipeline(d: SensorPipelineDeps, model: Model, entry: DeviceEntry, messages: Observable<RawMessage>): Observable<SensorPrediction> {
  const cfg = d.config;
  const device = entry.id;
  return defer(() => {
    const restored = d.snapshots?.restore(device) ?? null;
    const live: LiveStream = {
      session: null,
      lastSeq: restored?.snapshot.header.lastSeq ?? null,
      frames: restored?.snapshot.header.frames ?? 0,
      origin: new StreamOrigin(restored?.snapshot.header.origin),
    };
    d.snapshots?.track(device, live);
    return messages.pipe(
      boundedBuffer<RawMessage>({
        capacity: cfg.sensor.bufferFrames,
        onDrop: () => {
          d.stats.sensorMessageDropped(entry);
          d.onDequeued?.(device);
        },
      }),
      tap(() => d.onDequeued?.(device)),
      decodeSensorFrames({
        encoding: entry.config?.sensorEncoding ?? cfg.sensor.encoding,
        expectedValues: model.inputDim,
        onInvalid: (e) => d.stats.rejected('bad_sensor_frame', `device ${device}: ${e.message}`, device),
      }),
      tap((frame) => {
        live.origin.observe(frame);
        live.frames++;
        if (frame.seq !== undefined) live.lastSeq = frame.seq;
      }),
      // The stream ended (idle, error, shutdown): its state is saved as it is. Upstream of
      // predictStream, so that this runs before predictStream closes the session on teardown.
      finalize(() => d.snapshots?.save(device, true)),
      predictStream(model, {
        ...(restored && { session: restored.session }),
        onSession: (s) => (live.session = s),
        onInputError: (e) => d.stats.rejected('bad_sensor_frame', `device ${device}: ${e.message}`, device),
        ...(cfg.sensor.model?.name !== undefined && { modelName: cfg.sensor.model.name }),
      }),
    );
  });
}

/** The per-device sensor pipelines over `input`, their predictions to `output`. */
export function runSensorPipelines(d: SensorPipelineDeps, model: Model, input: Observable<RawMessage>, output: (p: SensorPrediction) => void): Subscription {
  return input
    .pipe(
      perDevice<RawMessage, SensorPrediction>(
        (device, messages) => {
          const entry = d.devices.get(device)!;
          d.onActive(entry, true);
          return deviceSensorPipeline(d, model, entry, messages);
        },
        {
          idleMs: d.config.sensor.idleMs,
          ...(d.end$ && { end$: d.end$ }),
          onIdle: (device) => {
            const entry = d.devices.get(device);
            if (entry) d.onActive(entry, false);
          },
          onError: (device, e) => d.stats.rejected('pipeline_error', `device ${device}: ${describeError(e)}; its sensor stream restarts`, device),
        },
      ),
    )
    .subscribe(output);
}
