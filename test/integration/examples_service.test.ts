import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { firstValueFrom, from, toArray } from 'rxjs';
import { startApp } from '../../examples/embedding/service_in_app.js';
import { MODEL_PATH } from '../../examples/sensor-drift/run.js';
import { runSensorStream } from '../../examples/sensor-stream/run.js';
import { reactToKeywords } from '../../examples/subscriber/react_to_keywords.js';
// The examples import the package ('edgestream': the build, through package.json `exports`); the
// test hands them objects from the same package, as their users would.
import {
  createService, keywordSpotting, loadModel, loadServiceConfig, randomLmuformerModel, startEmbeddedBroker,
  type AudioChunk, type DeviceKeywordEvent, type EmbeddedBroker, type Model,
} from 'edgestream';
import { s16le, testSignal } from '../helpers/audio_signal.js';
import { MqttLog, sleep, until } from '../helpers/mqtt_log.js';
import { ROOT } from '../helpers/paths.js';

// Every example in examples/ run for real: against an in-process broker, with real MQTT clients
// (the Raspberry Pi publisher as its own process, fed a recording instead of arecord).

const DECISION = { threshold: 0.0, refractoryMs: 400 };
const AUDIO = s16le(testSignal(16000, 2.4, 21));

async function offline(model: Model, device: string): Promise<string[]> {
  const chunks: AudioChunk[] = [];
  for (let o = 0; o < AUDIO.length; o += 640) chunks.push({ device, kind: 'chunk', data: AUDIO.subarray(o, o + 640), format: { encoding: 's16le', rate: 16000, channels: 1 } });
  const out = await firstValueFrom(from(chunks).pipe(keywordSpotting(model, { decision: DECISION }), toArray()));
  return out.flatMap((o) => (o.type === 'keyword' ? [`${o.event.label}@${o.event.end_ms}`] : []));
}

describe('examples', () => {
  let broker: EmbeddedBroker;
  let model: Model;
  before(async () => {
    broker = await startEmbeddedBroker();
    model = await loadModel(randomLmuformerModel({ variant: 'lmu_rnn_conv1d', dim: 16, seed: 5 }).bytes, { backend: 'js' });
  });
  after(async () => {
    await broker.close();
  });

  it('raspberry-pi/edgestream.yaml is a valid service configuration (the one the systemd unit loads)', () => {
    const c = loadServiceConfig(join(ROOT, 'examples/raspberry-pi/edgestream.yaml'), {});
    assert.equal(c.model.path, undefined, 'the shipped demo model by default');
    assert.equal(c.decision.threshold, undefined, 'the threshold stored in the model applies');
    assert.ok(c.devices.kitchen && c.homeassistant.enabled);
  });

  it('raspberry-pi/publish_mic.ts: PCM on stdin (a recording instead of arecord) → the service detects as offline', async () => {
    const service = createService({ baseTopic: 'pi', mqtt: { url: broker.url }, http: { enabled: false }, decision: DECISION, audio: { bufferChunks: 10_000 } }, { model });
    await service.start();
    const log = await MqttLog.connect(broker.url, ['pi/kitchen/keyword']);
    try {
      const child = spawn(process.execPath, ['--import', 'tsx', join(ROOT, 'examples/raspberry-pi/publish_mic.ts'), '--broker', broker.url, '--device', 'kitchen', '--base-topic', 'pi'], { cwd: ROOT, stdio: ['pipe', 'ignore', 'pipe'] });
      let err = '';
      child.stderr.on('data', (d: Buffer) => (err += d.toString()));
      // Like arecord: the bytes arrive over time, in reads that do not line up with frames.
      for (let o = 0; o < AUDIO.length; o += 4001) {
        child.stdin.write(AUDIO.subarray(o, o + 4001));
        await sleep(5);
      }
      child.stdin.end();
      const code = await new Promise<number | null>((r) => child.once('exit', r));
      assert.equal(code, 0, err);
      assert.match(err, new RegExp(`${Math.floor(AUDIO.length / 640)} chunks sent`));
      const expected = await offline(model, 'kitchen');
      await until(() => log.on('pi/kitchen/keyword').length >= expected.length, 'events from the Pi publisher');
      await sleep(200);
      assert.deepEqual(log.on('pi/kitchen/keyword').map((m) => { const e = JSON.parse(m.text) as DeviceKeywordEvent; return `${e.label}@${e.end_ms}`; }), expected);
    } finally {
      await log.close();
      await service.stop();
    }
  });

  it('sensor-stream/run.ts: the TTT forecaster over MQTT gives exactly the offline forecasts and beats persistence', async () => {
    const r = await runSensorStream({ samples: 300, rate: 400, broker: broker.url, baseTopic: 'sens', seed: 3 });
    assert.equal(r.predictions, r.samples);
    const ttt = await loadModel(readFileSync(MODEL_PATH));
    const s = ttt.createSession();
    const expected = r.values.map((v) => Math.round(s.push([v])[0]![0]! * 1e6) / 1e6);
    assert.deepEqual(r.forecasts, expected);
    assert.ok(r.mseForecast < r.msePersistence / 2, `TTT ${r.mseForecast} vs persistence ${r.msePersistence}`);
  });

  it('embedding/service_in_app.ts: the app sees detections through typed events and serves them on its own endpoint', async () => {
    const app = await startApp({ broker: broker.url, baseTopic: 'app', model, threshold: 0 });
    const dev = await MqttLog.connect(broker.url, []);
    try {
      for (let o = 0; o < AUDIO.length; o += 640) {
        await dev.client.publishAsync('app/hall/audio', Buffer.from(AUDIO.subarray(o, o + 640)));
        if ((o / 640) % 10 === 0) await sleep(2);
      }
      await until(() => app.lastByDevice.has('hall'), 'a detection in the app state');
      const body = (await (await fetch(`http://127.0.0.1:${app.port}/keywords`)).json()) as Record<string, { keyword: string }>;
      assert.equal(body.hall!.keyword, app.lastByDevice.get('hall')!.label);
      assert.equal((await fetch(`http://127.0.0.1:${app.port}/health`)).status, 200);
    } finally {
      await dev.close();
      await app.stop();
    }
    assert.equal(app.service.running, false);
  });

  it('subscriber/react_to_keywords.ts: acts once per event id (QoS 1 duplicates dropped), raises alarms from predictions', async () => {
    const r = await reactToKeywords({ broker: broker.url, baseTopic: 'home1', clientId: 'example-sub-test', alarmAbove: 1.5 });
    const pub = await MqttLog.connect(broker.url, []);
    try {
      const ev = (id: string, label: string): string => JSON.stringify({ event_type: label, label, score: 0.9, id, device: 'porch' });
      await pub.client.publishAsync('home1/porch/keyword', ev('porch-100', 'on'), { qos: 1 });
      await pub.client.publishAsync('home1/porch/keyword', ev('porch-100', 'on'), { qos: 1 }); // a re-delivery
      await pub.client.publishAsync('home1/porch/keyword', ev('porch-900', 'off'), { qos: 1 });
      await pub.client.publishAsync('home1/porch/keyword', ev('porch-1700', 'yes'), { qos: 1 });
      await pub.client.publishAsync('home1/pump/prediction', JSON.stringify({ device: 'pump', values: [1.2] }), { qos: 1 });
      await pub.client.publishAsync('home1/pump/prediction', JSON.stringify({ device: 'pump', values: [2.5] }), { qos: 1 });
      await pub.client.publishAsync('home1/pump/prediction', 'not json', { qos: 1 });
      await until(() => r.actions.length >= 3, 'three actions');
      await sleep(100);
      assert.deepEqual(r.actions, ['home/porch/light/set ON', 'home/porch/light/set OFF', 'home/pump/alarm forecast 2.500 above 1.5']);
      assert.equal(r.handled, 3);
      assert.equal(r.duplicates, 1);
    } finally {
      await pub.close();
      await r.stop();
    }
  });
});
