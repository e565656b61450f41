import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { createAudioDecoder } from '../../runtime/audio/audio_decoder.js';
import { loadModel } from '../../runtime/model/load_model.js';
import type { Model } from '../../runtime/model/model.js';
import type { DeviceKeywordEvent } from '../../runtime/operators/types.js';
import { MqttAudioPublisher } from '../../transports/mqtt/audio_publisher.js';
import { startEmbeddedBroker, type EmbeddedBroker } from '../../transports/mqtt/embedded_broker.js';
import { DEMO_MODEL, DEMO_SAMPLE } from '../../transports/service/package_paths.js';
import { createService, type EdgestreamService } from '../../transports/service/service.js';
import { Mosquitto } from '../helpers/mosquitto.js';
import { MqttLog, sleep } from '../helpers/mqtt_log.js';
import { CLI, ROOT } from '../helpers/paths.js';

// End to end with the real trained model: spoken keywords inside phrases, published as a device
// would (real-time pacing sped up), detected by the service and received by a subscriber.

const PHRASES = join(ROOT, 'test/fixtures/kws-phrases');
const missing = !existsSync(DEMO_MODEL) ? `the demo model ${DEMO_MODEL} is not built (training/ recipe)` : !existsSync(DEMO_SAMPLE) ? 'the bundled sample is missing' : false;
/** What the bundled sample says (training/fixtures.py): keywords inside phrases, in this order. */
const SAMPLE_KEYWORDS = ['yes', 'stop', 'go'];

interface PhraseMeta { seconds: number; keywords: { label: string; start_s: number; end_s: number }[] }

function wavPcm(path: string): { bytes: Uint8Array; rate: number } {
  const dec = createAudioDecoder({ container: 'wav', what: path });
  const a = dec.push(new Uint8Array(readFileSync(path)));
  const b = dec.end();
  const x = new Float32Array(a.length + b.length);
  x.set(a);
  x.set(b, a.length);
  const bytes = new Uint8Array(x.length * 2);
  const v = new DataView(bytes.buffer);
  for (let i = 0; i < x.length; i++) v.setInt16(i * 2, Math.max(-32768, Math.min(32767, Math.round(x[i]! * 32768))), true);
  return { bytes, rate: dec.info!.sampleRate };
}

/** Publish a recording as 20 ms chunks, `speed`× real time, then a second of silence. */
async function stream(log: MqttLog, base: string, device: string, path: string, speed = 4): Promise<void> {
  const { bytes, rate } = wavPcm(path);
  const pub = new MqttAudioPublisher(log.client, { baseTopic: base, device, format: { encoding: 's16le', rate, channels: 1 }, chunkMs: 20 });
  const padded = new Uint8Array(bytes.length + rate * 2);
  padded.set(bytes);
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

  it('npm start (edgestream demo): the bundled sample\'s keywords are printed as they are published', async () => {
    const r = await new Promise<{ code: number | null; out: string; err: string }>((resolve) => {
      const p = spawn(process.execPath, [CLI, 'demo', '--speed', '3', '--json'], { cwd: ROOT, env: { ...process.env, EDGESTREAM_LOG: 'warn' } });
      let out = '';
      let err = '';
      p.stdout.on('data', (d: Buffer) => (out += d.toString()));
      p.stderr.on('data', (d: Buffer) => (err += d.toString()));
      p.once('exit', (code) => resolve({ code, out, err }));
    });
    assert.equal(r.code, 0, r.err);
    const labels = r.out.split('\n').filter((l) => l.startsWith('{')).map((l) => (JSON.parse(l) as DeviceKeywordEvent).label);
    assert.deepEqual(labels, SAMPLE_KEYWORDS);
  });

  for (const broker5 of [false, true]) {
    it(`phrases with a keyword inside (and one without) over ${broker5 ? 'mosquitto, MQTT 5' : 'aedes, MQTT 3.1.1'}: the keyword is detected where it is spoken, nothing else`, { skip: !existsSync(join(PHRASES, 'phrases.json')) ? 'test/fixtures/kws-phrases is missing' : broker5 && !mosquitto ? 'mosquitto is not installed' : false }, async () => {
      const url = broker5 ? mosquitto!.url : broker.url;
      const base = broker5 ? 'e2e5' : 'e2e4';
      const service = createService({ baseTopic: base, mqtt: { url }, http: { enabled: false } }, { model });
      services.push(service);
      await service.start();
      assert.equal(service.protocolVersion, broker5 ? 5 : 4);
      const log = await MqttLog.connect(url, [`${base}/+/keyword`], { protocolVersion: broker5 ? 5 : 4 });
      try {
        const meta = JSON.parse(readFileSync(join(PHRASES, 'phrases.json'), 'utf8')) as Record<string, PhraseMeta | string>;
        const files = Object.keys(meta).filter((k) => k.endsWith('.wav'));
        assert.ok(files.length >= 2);
        await Promise.all(files.map((f, i) => stream(log, base, `phrase${i}`, join(PHRASES, f))));
        await sleep(1500);
        files.forEach((f, i) => {
          const m = meta[f] as PhraseMeta;
          const got = log.on(`${base}/phrase${i}/keyword`).map((x) => JSON.parse(x.text) as DeviceKeywordEvent);
          assert.deepEqual(got.map((e) => e.label), m.keywords.map((k) => k.label), `${f}: ${JSON.stringify(got.map((e) => [e.label, e.score, e.end_ms]))}`);
          got.forEach((e, k) => {
            const kw = m.keywords[k]!;
            // The decision comes once the word has been heard (its end), within the model's window.
            assert.ok(e.end_ms >= kw.start_s * 1000 && e.end_ms <= kw.end_s * 1000 + 1300, `${f}: "${e.label}" at ${e.end_ms} ms, spoken ${kw.start_s}–${kw.end_s} s`);
          });
        });
      } finally {
        await log.close();
      }
    });
  }
});
