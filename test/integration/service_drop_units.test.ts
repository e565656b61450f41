import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { randomLmuformerModel } from '../../models/lmuformer/random_model.js';
import { loadModel } from '../../runtime/model/load_model.js';
import type { Model } from '../../runtime/model/model.js';
import { startEmbeddedBroker, type EmbeddedBroker } from '../../transports/mqtt/embedded_broker.js';
import { createService, type EdgestreamService } from '../../transports/service/service.js';
import { s16le, testSignal } from '../helpers/audio_signal.js';
import { MqttLog, until } from '../helpers/mqtt_log.js';

// /healthz `chunks_dropped` counts audio chunks only; sensor messages and engine feature frames
// dropped have their own fields (they used to be added into it).

const CHUNK = 640;

describe('service drop counts: one unit per field', () => {
  let broker: EmbeddedBroker;
  let model: Model;
  let sensorModel: Model;
  let service: EdgestreamService;
  let log: MqttLog;

  before(async () => {
    broker = await startEmbeddedBroker();
    model = await loadModel(randomLmuformerModel({ variant: 'lmu_rnn_conv1d', dim: 16, seed: 3 }).bytes, { backend: 'js' });
    sensorModel = await loadModel(randomLmuformerModel({ variant: 'lmu_rnn_conv1d', dim: 8, mels: 4, classes: 2, seed: 4 }).bytes, { backend: 'js' });
    service = createService(
      { mqtt: { url: broker.url }, http: { port: 0 }, baseTopic: 'units', audio: { bufferChunks: 2 }, sensor: { model: { path: 'preloaded' }, bufferFrames: 2 }, homeassistant: { enabled: false } },
      { model, sensorModel },
    );
    await service.start();
    log = await MqttLog.connect(broker.url, [], { protocolVersion: 4 });
  });
  after(async () => {
    await service.stop();
    await log.close();
    await broker.close();
  });

  it('a sensor burst counts sensor_messages_dropped, not chunks_dropped; an audio burst counts chunks_dropped', async () => {
    const frame = Buffer.from(new Float32Array([0.1, 0.2, 0.3, 0.4]).buffer);
    await Promise.all(Array.from({ length: 80 }, () => log.client.publishAsync('units/pump/sensor', frame)));
    await until(() => (service.health().devices.pump?.sensor_frames ?? 0) === 80, 'all 80 sensor messages received');
    let h = service.health();
    assert.ok(h.sensor_messages_dropped > 0, 'the sensor queue of 2 dropped messages');
    assert.equal(h.devices.pump!.sensor_drops, h.sensor_messages_dropped);
    assert.equal(h.chunks_dropped, 0, 'no audio chunk was dropped');
    assert.equal(h.devices.pump!.drops, 0);
    assert.equal(h.engine_frames_dropped, 0);
    let metrics = await (await fetch(`http://127.0.0.1:${service.httpPort}/metrics`)).text();
    assert.match(metrics, new RegExp(`edgestream_sensor_messages_dropped_total\\{device="pump"\\} ${h.sensor_messages_dropped}`));
    assert.doesNotMatch(metrics, /edgestream_chunks_dropped_total\{device="pump"\}/);

    const audio = s16le(testSignal(16000, 1.2, 5));
    await Promise.all(Array.from({ length: 60 }, (_, i) => log.client.publishAsync('units/mic/audio', Buffer.from(audio.subarray((i % 30) * CHUNK, ((i % 30) + 1) * CHUNK)))));
    await until(() => (service.health().devices.mic?.chunks ?? 0) === 60, 'all 60 chunks received');
    h = service.health();
    assert.ok(h.chunks_dropped > 0);
    assert.equal(h.chunks_dropped, h.devices.mic!.drops, 'chunks_dropped is the audio chunks dropped, nothing else');
    metrics = await (await fetch(`http://127.0.0.1:${service.httpPort}/metrics`)).text();
    assert.match(metrics, new RegExp(`edgestream_chunks_dropped_total\\{device="mic"\\} ${h.chunks_dropped}`));
  });
});
