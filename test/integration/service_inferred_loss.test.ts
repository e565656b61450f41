import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { randomLmuformerModel } from '../../models/lmuformer/random_model.js';
import { loadModel } from '../../runtime/model/load_model.js';
import { startEmbeddedBroker, type EmbeddedBroker } from '../../transports/mqtt/embedded_broker.js';
import { createService, type EdgestreamService } from '../../transports/service/service.js';
import { s16le, testSignal } from '../helpers/audio_signal.js';
import { MqttLog, sleep, until } from '../helpers/mqtt_log.js';

// Issue 13 row 12: audio lost before it reached the service was not reported (a device lost
// 640 ms while its health said drops=0 gaps=0). Losses the service can infer are now counted.

const CHUNK = 640; // 20 ms

describe('losses the service can infer are counted and shown (/healthz, /metrics)', () => {
  let broker: EmbeddedBroker;
  let service: EdgestreamService;
  let log: MqttLog;
  const pcm = s16le(testSignal(16000, 3, 2));
  const chunk = (i: number): Buffer => Buffer.from(pcm.subarray((i % 150) * CHUNK, ((i % 150) + 1) * CHUNK));

  before(async () => {
    broker = await startEmbeddedBroker();
    const model = await loadModel(randomLmuformerModel({ variant: 'lmu_rnn_conv1d', dim: 8, seed: 5 }).bytes, { backend: 'js' });
    service = createService({ mqtt: { url: broker.url }, http: { port: 0 }, baseTopic: 'loss', homeassistant: { enabled: false } }, { model });
    await service.start();
    log = await MqttLog.connect(broker.url, [], { protocolVersion: 4 });
  });
  after(async () => {
    await log.close();
    await service.stop();
    await broker.close();
  });

  /** Publish `n` chunks in real time from chunk index `from` (a real-time sender without seq or timestamps). */
  async function realTime(topic: string, from: number, n: number): Promise<void> {
    const t0 = performance.now();
    for (let k = 0; k < n; k++) {
      const wait = t0 + k * 20 - performance.now();
      if (wait > 0) await sleep(wait);
      await log.client.publishAsync(topic, chunk(from + k));
    }
  }

  it('a real-time sender without seq whose chunks stop arriving for 640 ms: one inferred gap of about 640 ms', async () => {
    await realTime('loss/noseq/audio', 0, 50); // 1 s
    await sleep(640 + 20); // 32 chunks lost on the way (the sender went on, the broker dropped them)
    await realTime('loss/noseq/audio', 83, 50);
    await until(() => service.health().devices.noseq?.chunks === 100, 'all sent chunks received');
    const d = service.health().devices.noseq!;
    assert.equal(d.inferred_gaps, 1);
    assert.ok(Math.abs(d.lost_ms - 660) <= 100, `lost ${d.lost_ms} ms, expected about 660 (arrival jitter allowed: 100 ms)`);
    assert.equal(d.gaps, 0, 'no seq, no timestamps: no seq gap to see');
    const h = service.health();
    assert.equal(h.inferred_gaps, 1);
    assert.equal(h.audio_lost_ms, d.lost_ms);
    const metrics = await (await fetch(`http://127.0.0.1:${service.httpPort}/metrics`)).text();
    assert.match(metrics, /edgestream_inferred_gaps_total\{device="noseq"\} 1/);
    assert.match(metrics, /edgestream_audio_lost_seconds_total\{device="noseq"\} 0\.[5-7]\d*/);
  });

  it('a sender faster than real time (a file upload) infers no loss', async () => {
    for (let k = 0; k < 100; k++) await log.client.publishAsync('loss/fast/audio', chunk(k));
    await until(() => service.health().devices.fast?.chunks === 100, 'all chunks received');
    assert.equal(service.health().devices.fast!.inferred_gaps, 0);
    assert.equal(service.health().devices.fast!.lost_ms, 0);
  });
});
