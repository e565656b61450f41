import type { Observable, Subscription } from 'rxjs';
import { describeError } from '../../runtime/errors.js';
import type { Model } from '../../runtime/model/model.js';
import { boundedBuffer } from '../../runtime/operators/bounded_buffer.js';
import { decodeSensorFrames } from '../../runtime/operators/decode_sensor_frames.js';
import { perDevice } from '../../runtime/operators/per_device.js';
import { predictStream } from '../../runtime/operators/predict_stream.js';
import type { RawMessage, SensorPrediction } from '../../runtime/operators/types.js';
import type { ServiceConfig } from './config.js';
import type { DeviceEntry, DeviceRegistry } from './device_registry.js';
import type { DeviceStats } from './device_stats.js';

/** What the sensor pipelines need from the service. */
export interface SensorPipelineDeps {
  config: ServiceConfig;
  devices: DeviceRegistry;
  stats: DeviceStats;
  /** A device's sensor stream started (true) or went idle (false). */
  onActive: (entry: DeviceEntry, active: boolean) => void;
}

/**
 * One device's sensor pipeline: bounded drop-oldest queue → payload decoding → the stream model
 * (one session, e.g. a TTT forecaster whose fast weights keep learning). Bad frames are counted
 * rejections; the stream state is untouched by them.
 */
export function deviceSensorPipeline(d: SensorPipelineDeps, model: Model, entry: DeviceEntry, messages: Observable<RawMessage>): Observable<SensorPrediction> {
  const cfg = d.config;
  const device = entry.id;
  return messages.pipe(
    boundedBuffer<RawMessage>({ capacity: cfg.sensor.bufferFrames, onDrop: () => d.stats.sensorMessageDropped(entry) }),
    decodeSensorFrames({
      encoding: entry.config?.sensorEncoding ?? cfg.sensor.encoding,
      expectedValues: model.inputDim,
      onInvalid: (e) => d.stats.rejected('bad_sensor_frame', `device ${device}: ${e.message}`, device),
    }),
    predictStream(model, {
      onInputError: (e) => d.stats.rejected('bad_sensor_frame', `device ${device}: ${e.message}`, device),
      ...(cfg.sensor.model?.name !== undefined && { modelName: cfg.sensor.model.name }),
    }),
  );
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
