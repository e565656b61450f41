import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { existsSync, readdirSync } from 'node:fs';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { encodeS16le, readWavSamples } from '../../runtime/audio/wav_samples.js';
import { createAudioFrontend } from '../../runtime/audio/audio_frontend.js';
import type { KeywordEvent } from '../../runtime/decisions/keyword_detector.js';
import { KeywordSpotter } from '../../runtime/tasks/keyword_spotter.js';
import { loadModel } from '../../runtime/model/load_model.js';
import type { Model } from '../../runtime/model/model.js';
import type { DeviceKeywordEvent } from '../../runtime/operators/types.js';
import { MqttAudioPublisher } from '../../transports/mqtt/audio_publisher.js';
import { startEmbeddedBroker, type EmbeddedBroker } from '../../transports/mqtt/embedded_broker.js';
import { DEMO_MODEL, DEMO_SAMPLE } from '../../transports/service/package_paths.js';
import { parseServiceConfig } from '../../transports/service/config.js';
import { createService, type EdgestreamService } from '../../transports/service/service.js';
import { Mosquitto, MOSQUITTO_MISSING, mosquittoBinary } from '../helpers/mosquitto.js';
import { MqttLog, sleep } from '../helpers/mqtt_log.js';
import { CLI, ROOT } from '../helpers/paths.js';

// End to end with the real trained model: spoken keywords inside phrases, published as a device
// would (real-time pacing sped up), decided by the service and received by a subscriber. What the
// service publishes must be exactly what the model decides on the same audio offline (the
// `KeywordSpotter` that `edgestream listen` runs): the same labels at the same stream times. How
// often those decisions are right is the model's accuracy, measured by `edgestream eval` and
// training/evaluate.py and reported in README / training/README.md, not asserted here.

const PHRASES = join(ROOT, 'test/fixtures/kws-phrases');
const missing = !existsSync(DEMO_MODEL) ? `the demo model ${DEMO_MODEL} is not built (training/ recipe)` : !existsSync(DEMO_SAMPLE) ? 'the bundled sample is missing' : false;

/** The service's (and `listen`'s) default: no events in a stream's first second. */
const WARMUP_MS = parseServiceConfig({}).audio.warmupMs;

/** The events the model decides offline on 16-bit PCM (the bytes a device publishes), after the warm-up. */
function offlineEvents(model: Model, pcm: Uint8Array, rate: number): { label: string; end_ms: number }[] {
  const fe = createAudioFrontend(model.frontend!, { format: 's16le', inputRate: rate });
  const spotter = new KeywordSpotter(model);
  const events: KeywordEvent[] = [];
  for (const frame of [...fe.push(pcm), ...fe.flush()]) {
    const e = spotter.pushFrame(frame);
    if (e) events.push(e);
  }
  events.push(...spotter.flush());
  return events.filter((e) => e.end_ms >= WARMUP_MS).map((e) => ({ label: e.label, end_ms: e.end_ms }));
}

function wavPcm(path: string): { bytes: Uint8Array; rate: number } {
  const { samples, rate } = readWavSamples(path);
  return { bytes: encodeS16le(samples), rate };
}

/** The recording followed by a second of digital silence. */
function withSilence(pcm: Uint8Array, rate: number): Uint8Array {
  const padded = new Uint8Array(pcm.length + rate * 2);
  padded.set(pcm);
  return padded;
}

/** Publish a recording as 20 ms chunks, `speed`× real time, then a second of silence. */
async function stream(log: MqttLog, base: string, device: string, path: string, speed = 4): Promise<void> {
  const { bytes, rate } = wavPcm(path);
  const pub = new MqttAudioPublisher(log.client, { baseTopic: base, device, format: { encoding: 's16le', rate, channels: 1 }, chunkMs: 20 });
  const padded = withSilence(bytes, rate);
  const t0 = Date.now();
  for (let o = 0, i = 0; o < padded.length; o += pub.chunkBytes, i++) {
    const wait = t0 + (i * 20) / speed - Date.now();
    if (wait > 0) await sleep(wait);
    pub.push(padded.subarray(o, o + pub.chunkBytes));
  }
  await pub.end();
}

describe('keyword detection end to end with the demo model', { skip: missing }, () => {
  let model: Model;
  let broker: EmbeddedBroker;
  let mosquitto: Mosquitto | null = null;
  const services: EdgestreamService[] = [];
  before(async () => {
    model = await loadModel(DEMO_MODEL);
    broker = await startEmbeddedBroker();
    mosquitto = await Mosquitto.start();
  });
  after(async () => {
    for (const s of services) await s.stop();
    await broker.close();
    await mosquitto?.close();
  });

  it('npm start (edgestream demo): the model\'s decisions on the bundled sample are printed as they are published', async () => {
    const r = await new Promise<{ code: number | null; out: string; err: string }>((resolve) => {
      const p = spawn(process.execPath, [CLI, 'demo', '--speed', '3', '--json'], { cwd: ROOT, env: { ...process.env, EDGESTREAM_LOG: 'warn' } });
      let out = '';
      let err = '';
      p.stdout.on('data', (d: Buffer) => (out += d.toString()));
      p.stderr.on('data', (d: Buffer) => (err += d.toString()));
      p.once('exit', (code) => resolve({ code, out, err }));
    });
    assert.equal(r.code, 0, r.err);
    const printed = r.out.split('\n').filter((l) => l.startsWith('{')).map((l) => JSON.parse(l) as DeviceKeywordEvent);
    const { bytes, rate } = wavPcm(DEMO_SAMPLE);
    const expected = offlineEvents(model, bytes, rate);
    assert.ok(expected.length > 0, 'the demo model decides on something in the bundled sample');
    assert.deepEqual(printed.map((e) => ({ label: e.label, end_ms: e.end_ms })), expected);
    assert.match(r.out, new RegExp(`^${expected.length} detections?\\.$`, 'm'));
  });

  for (const broker5 of [false, true]) {
    it(`phrases with a keyword inside (and one without) over ${broker5 ? 'mosquitto, MQTT 5' : 'aedes, MQTT 3.1.1'}: each device's published events are the model's decisions on its audio`, { skip: !existsSync(join(PHRASES, 'phrases.json')) ? 'test/fixtures/kws-phrases is missing' : broker5 && !mosquittoBinary() ? MOSQUITTO_MISSING : false }, async () => {
      const url = broker5 ? mosquitto!.url : broker.url;
      const base = broker5 ? 'e2e5' : 'e2e4';
      const service = createService({ baseTopic: base, mqtt: { url }, http: { enabled: false } }, { model });
      services.push(service);
      await service.start();
      assert.equal(service.protocolVersion, broker5 ? 5 : 4);
      const log = await MqttLog.connect(url, [`${base}/+/keyword`], { protocolVersion: broker5 ? 5 : 4 });
      try {
        const files = readdirSync(PHRASES).filter((f) => f.endsWith('.wav')).sort();
        assert.ok(files.length >= 2);
        // the sample too: several phrases in one stream
        const paths = [...files.map((f) => join(PHRASES, f)), DEMO_SAMPLE];
        await Promise.all(paths.map((p, i) => stream(log, base, `phrase${i}`, p)));
        await sleep(1500);
        let total = 0;
        paths.forEach((p, i) => {
          const got = log.on(`${base}/phrase${i}/keyword`).map((x) => JSON.parse(x.text) as DeviceKeywordEvent);
          const { bytes, rate } = wavPcm(p);
          const expected = offlineEvents(model, withSilence(bytes, rate), rate);
          assert.deepEqual(got.map((e) => ({ label: e.label, end_ms: e.end_ms })), expected, p);
          total += got.length;
        });
        assert.ok(total > 0, 'some decisions were published');
      } finally {
        await log.close();
      }
    });
  }
});
