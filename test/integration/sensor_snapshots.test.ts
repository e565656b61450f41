import assert from 'node:assert/strict';
import { spawn, type ChildProcess } from 'node:child_process';
import { existsSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { after, describe, it } from 'node:test';
import { MODEL_PATH } from '../../examples/sensor-drift/run.js';
import { sensorSignal } from '../../examples/sensor-drift/signal.js';
import { loadModel } from '../../runtime/model/load_model.js';
import { startEmbeddedBroker } from '../../transports/mqtt/embedded_broker.js';
import { createService } from '../../transports/service/service.js';
import { parseSnapshot } from '../../transports/service/stream_snapshots.js';
import { freePort, Mosquitto, MOSQUITTO_MISSING } from '../helpers/mosquitto.js';
import { MqttLog, sleep, until } from '../helpers/mqtt_log.js';
import { CLI } from '../helpers/paths.js';
import { tempDir } from '../helpers/tmp.js';

// Issue 13 item 4: the state of a sensor/TTT stream (its fast weights: hours of learning) is
// snapshotted to disk periodically and restored on start; after `kill -9` the stream continues
// from its last snapshot bit for bit. Real processes: mosquitto and `edgestream serve`.

const broker = await Mosquitto.start();
const skip = broker ? false : MOSQUITTO_MISSING;

describe('sensor stream snapshots: kill -9, restart, the TTT stream continues bit for bit', { skip }, () => {
  const dir = tempDir();
  const snapDir = join(dir, 'state');
  const procs: ChildProcess[] = [];
  after(async () => {
    for (const p of procs) p.kill('SIGKILL');
    await broker?.close();
  });

  async function serve(port: number): Promise<ChildProcess> {
    const cfg = join(dir, 'sensor.yaml');
    writeFileSync(cfg, `baseTopic: snap\naudio:\n  enabled: false\nsensor:\n  model:\n    path: ${MODEL_PATH}\n    backend: wasm\n  snapshots:\n    dir: ${snapDir}\n    intervalMs: 150\nmqtt:\n  url: ${broker!.url}\nhttp:\n  port: ${port}\nhomeassistant:\n  enabled: false\n`);
    const p = spawn(process.execPath, [CLI, 'serve', '--config', cfg], { stdio: ['ignore', 'ignore', 'pipe'], env: { ...process.env, EDGESTREAM_LOG: 'info', EDGESTREAM_LOG_PRETTY: '0' } });
    procs.push(p);
    let err = '';
    p.stderr!.on('data', (d: Buffer) => (err += d.toString()));
    await until(() => /serving/.test(err) || p.exitCode !== null, 'serve up', 30_000);
    assert.equal(p.exitCode, null, err);
    return p;
  }

  it('frames 0–199, a periodic snapshot, kill -9, restart, frames 200–399: the forecasts after the restart are those of an uninterrupted run, and the saved state equals its state byte for byte', async () => {
    const { values } = sensorSignal(400, 11);
    const model = await loadModel(MODEL_PATH, { backend: 'wasm' }); // the tier serve runs (this test process may have wasm-relaxed)
    const log = await MqttLog.connect(broker!.url, ['snap/pump/prediction'], { protocolVersion: 5 });
    after(() => log.close()); // also when an assertion fails: a client left reconnecting would keep this file's process alive
    const send = async (from: number, to: number): Promise<void> => {
      for (let t = from; t < to; t++) {
        await log.client.publishAsync('snap/pump/sensor', JSON.stringify({ seq: t, values: [values[t]] }));
        if (t % 20 === 0) await sleep(5);
      }
    };
    const forecasts = (): Map<number, number[]> => new Map(log.on('snap/pump/prediction').map((m) => { const p = JSON.parse(m.text) as { seq: number; values: number[] }; return [p.seq, p.values]; }));

    const first = await serve(await freePort());
    await send(0, 200);
    // A periodic snapshot that holds all 200 frames (the service saves every 150 ms).
    const file = join(snapDir, 'pump.snapshot');
    await until(() => existsSync(file) && parseSnapshot(readFileSync(file), 'pump').header.lastSeq === 199, 'a snapshot of all 200 frames', 10_000);
    first.kill('SIGKILL');
    await new Promise((r) => first.once('exit', r));
    const mark = log.messages.length;

    const second = await serve(await freePort());
    await send(200, 400);
    await until(() => [...forecasts().keys()].filter((s) => s >= 200).length === 200, 'forecasts for frames 200–399 after the restart', 15_000);
    const afterRestart = new Map(log.messages.slice(mark).map((m) => { const p = JSON.parse(m.text) as { seq: number; values: number[] }; return [p.seq, p.values]; }));

    // The uninterrupted run: one session over all 400 frames, in this process.
    const session = model.createSession();
    const expected: number[][] = [];
    for (let t = 0; t < 400; t++) for (const out of session.push(new Float32Array([values[t]!]))) expected.push(Array.from(out));
    // Forecasts as published (values rounded to 1e-6 in the payload).
    const published = (v: number[]): number[] => v.map((x) => Math.round(x * 1e6) / 1e6);
    for (let t = 200; t < 400; t++) assert.deepEqual(afterRestart.get(t), published(expected[t]!), `forecast for frame ${t}`);
    // Bit for bit: the whole stream state (fast weights, buffers, counters) the service saves on
    // shutdown equals that of the uninterrupted session.
    second.kill('SIGTERM');
    await new Promise((r) => second.once('exit', r));
    const saved = parseSnapshot(readFileSync(file), 'pump');
    assert.equal(saved.header.lastSeq, 399);
    assert.ok(Buffer.from(saved.session).equals(Buffer.from(session.snapshot())), 'the saved state equals the uninterrupted session state byte for byte');
    // And a stream without the snapshot would differ (the fast weights matter): a fresh session on frames 200–399.
    const fresh = model.createSession();
    const freshOut = Array.from(values.slice(200, 400)).flatMap((v) => fresh.push(new Float32Array([v])).map((o) => Array.from(o)));
    assert.notDeepEqual(freshOut.slice(0, 50), expected.slice(200, 250));
  });

  it('a corrupt or foreign snapshot file is refused with a log line and the stream starts fresh', async () => {
    writeFileSync(join(snapDir, 'broken.snapshot'), 'ESSN\u0001garbage');
    const p = await serve(await freePort());
    const log = await MqttLog.connect(broker!.url, ['snap/broken/prediction'], { protocolVersion: 5 });
    after(() => log.close());
    await log.client.publishAsync('snap/broken/sensor', JSON.stringify({ seq: 0, values: [0.5] }));
    const m = await log.waitFor(() => true, 'a forecast from a fresh stream');
    const model = await loadModel(MODEL_PATH, { backend: 'wasm' }); // the tier serve runs (this test process may have wasm-relaxed)
    assert.deepEqual((JSON.parse(m.text) as { values: number[] }).values, Array.from(model.createSession().push(new Float32Array([0.5]))[0]!).map((x) => Math.round(x * 1e6) / 1e6));
    p.kill('SIGKILL');
  });
});

describe('sensor stream snapshots: a stream that ends is saved as it ends', () => {
  it('stop() with no periodic snapshot due: the file holds every frame the stream took', async () => {
    const dir = tempDir();
    const broker = await startEmbeddedBroker();
    after(() => broker.close());
    const service = createService({
      baseTopic: 'ends',
      audio: { enabled: false },
      sensor: { model: { path: MODEL_PATH, backend: 'wasm' }, snapshots: { dir, intervalMs: 3_600_000 } },
      mqtt: { url: broker.url },
      http: { enabled: false },
      homeassistant: { enabled: false },
      health: { intervalMs: 0 },
    });
    await service.start();
    const log = await MqttLog.connect(broker.url, ['ends/pump/prediction'], { protocolVersion: 4 });
    after(() => log.close());
    const { values } = sensorSignal(50, 3);
    for (let t = 0; t < 50; t++) await log.client.publishAsync('ends/pump/sensor', JSON.stringify({ seq: t, values: [values[t]] }));
    await until(() => log.on('ends/pump/prediction').length === 50, '50 predictions');
    await service.stop();
    const saved = parseSnapshot(readFileSync(join(dir, 'pump.snapshot')), 'pump');
    assert.equal(saved.header.lastSeq, 49);
    const model = await loadModel(MODEL_PATH, { backend: 'wasm' });
    const session = model.createSession();
    for (const v of Array.from(values)) session.push(new Float32Array([v]));
    assert.ok(Buffer.from(saved.session).equals(Buffer.from(session.snapshot())), 'the saved state is the state after the last frame');
  });
});
