/**
 * A sensor stream over MQTT with a test-time-training (TTT) forecaster: a simulated vibration
 * sensor publishes one JSON sample per message to `<base>/<device>/sensor`, `edgestream` runs the
 * TTT model of examples/sensor-drift (whose fast weights keep learning while the stream runs) and
 * publishes a one-step forecast per sample to `<base>/<device>/prediction`; a subscriber scores the
 * forecasts against the samples that follow.
 *
 *   npx tsx examples/sensor-stream/run.ts [--samples 600] [--rate 100] [--broker mqtt://…]
 *
 * Without --broker an in-process broker is used, so nothing needs to be installed.
 */
import { readFileSync, realpathSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import mqtt from 'mqtt';
import { createService, loadModel, startEmbeddedBroker } from 'edgestream';
import { MODEL_PATH } from '../sensor-drift/run.js';
import { sensorSignal } from '../sensor-drift/signal.js';

export interface SensorStreamOptions {
  samples?: number;
  /** Samples per second the sensor publishes. */
  rate?: number;
  broker?: string;
  seed?: number;
  device?: string;
  baseTopic?: string;
}

export interface SensorStreamResult {
  samples: number;
  predictions: number;
  /** forecasts[t] (published for sample t) predicts sample t + 1. */
  forecasts: number[];
  values: number[];
  mseForecast: number;
  msePersistence: number;
}

export async function runSensorStream(o: SensorStreamOptions = {}): Promise<SensorStreamResult> {
  const samples = o.samples ?? 600;
  const rate = o.rate ?? 100;
  const base = o.baseTopic ?? 'edgestream';
  const device = o.device ?? 'pump1';
  const { values } = sensorSignal(samples, o.seed ?? 7);
  const embedded = o.broker ? null : await startEmbeddedBroker();
  const url = o.broker ?? embedded!.url;
  const sensorModel = await loadModel(readFileSync(MODEL_PATH));
  // A sensor-only service (no keyword model); the same service can run audio and sensor streams side by side.
  const service = createService(
    { baseTopic: base, mqtt: { url }, http: { enabled: false }, homeassistant: { enabled: false }, audio: { enabled: false }, sensor: { model: { path: MODEL_PATH } } },
    { sensorModel },
  );
  await service.start();
  const client = await mqtt.connectAsync(url);
  const forecasts = new Array<number>(samples).fill(Number.NaN);
  let predictions = 0;
  client.on('message', (_topic, payload) => {
    const p = JSON.parse(payload.toString('utf8')) as { seq: number; values: number[] };
    forecasts[p.seq] = p.values[0]!;
    predictions++;
  });
  await client.subscribeAsync(`${base}/${device}/prediction`, { qos: 1 });
  const t0 = Date.now();
  for (let t = 0; t < samples; t++) {
    const wait = t0 + (t * 1000) / rate - Date.now();
    if (wait > 0) await new Promise((r) => setTimeout(r, wait));
    await client.publishAsync(`${base}/${device}/sensor`, JSON.stringify({ seq: t, timestamp: t0 + Math.round((t * 1000) / rate), values: [values[t]] }));
  }
  const deadline = Date.now() + 5000;
  while (predictions < samples - sensorModel.delay && Date.now() < deadline) await new Promise((r) => setTimeout(r, 20));
  await client.endAsync();
  await service.stop();
  await embedded?.close();

  let se = 0;
  let sp = 0;
  let n = 0;
  for (let t = 16; t < samples - 1; t++) {
    if (Number.isNaN(forecasts[t]!)) continue;
    se += (forecasts[t]! - values[t + 1]!) ** 2;
    sp += (values[t]! - values[t + 1]!) ** 2;
    n++;
  }
  return { samples, predictions, forecasts, values: Array.from(values), mseForecast: se / n, msePersistence: sp / n };
}

const isMain = process.argv[1] !== undefined && fileURLToPath(import.meta.url) === realpathSync(process.argv[1]);
if (isMain) {
  const arg = (name: string): string | undefined => {
    const i = process.argv.indexOf(`--${name}`);
    return i >= 0 ? process.argv[i + 1] : undefined;
  };
  const r = await runSensorStream({
    ...(arg('samples') !== undefined && { samples: Number(arg('samples')) }),
    ...(arg('rate') !== undefined && { rate: Number(arg('rate')) }),
    ...(arg('broker') !== undefined && { broker: arg('broker')! }),
  });
  process.stdout.write(`sensor-stream: ${r.samples} samples over MQTT, ${r.predictions} forecasts received (model ${join('examples', 'sensor-drift', 'model.safetensors')})\n`);
  process.stdout.write(`one-step MSE: TTT forecaster ${r.mseForecast.toFixed(4)}, persistence baseline ${r.msePersistence.toFixed(4)}\n`);
}
