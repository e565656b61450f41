import assert from 'node:assert/strict';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { firstValueFrom, from, toArray } from 'rxjs';
import { randomLmuformerModel } from '../../models/lmuformer/random_model.js';
import { loadModel } from '../../runtime/model/load_model.js';
import type { Model } from '../../runtime/model/model.js';
import { keywordSpotting } from '../../runtime/operators/keyword_spotting.js';
import type { AudioChunk, DeviceKeywordEvent } from '../../runtime/operators/types.js';
import { startEmbeddedBroker, type EmbeddedBroker } from '../../transports/mqtt/embedded_broker.js';
import type { ServiceConfigInput } from '../../transports/service/config.js';
import { createService, type EdgestreamService } from '../../transports/service/service.js';
import { s16le, testSignal } from '../helpers/audio_signal.js';
import { MqttLog, sleep, until } from '../helpers/mqtt_log.js';
import { tempDir } from '../helpers/tmp.js';

// The service on an in-process aedes broker (MQTT 3.1.1 only: the service falls back from 5).
// Models are small random LMUFormers: these tests check the transport and the pipeline plumbing
// (events equal the offline computation), not accuracy.

const DECISION = { threshold: 0.0, refractoryMs: 400 };
const AUDIO = s16le(testSignal(16000, 2.4, 7));
const CHUNK = 640; // 20 ms of s16le 16 kHz

/** The offline pipeline's events on AUDIO as `label@end_ms` (with `:score` when asked). */
async function offlineEvents(model: Model, device: string, withScore = false): Promise<string[]> {
  const chunks: AudioChunk[] = [];
  for (let o = 0; o < AUDIO.length; o += CHUNK) chunks.push({ device, kind: 'chunk', data: AUDIO.subarray(o, o + CHUNK), format: { encoding: 's16le', rate: 16000, channels: 1 } });
  const out = await firstValueFrom(from(chunks).pipe(keywordSpotting(model, { decision: DECISION }), toArray()));
  return out.flatMap((o) => (o.type === 'keyword' ? [`${o.event.label}@${o.event.end_ms}${withScore ? `:${o.event.score}` : ''}`] : []));
}

async function publishAudio(log: MqttLog, topic: string, bytes: Uint8Array, pauseEvery = 10): Promise<void> {
  for (let o = 0, i = 0; o < bytes.length; o += CHUNK, i++) {
    await log.client.publishAsync(topic, Buffer.from(bytes.subarray(o, o + CHUNK)), { qos: 0 });
    if (i % pauseEvery === 0) await sleep(2); // let the broker and the service breathe, as a real-time sender would
  }
}

describe('stream service on aedes (in-process broker)', () => {
  let broker: EmbeddedBroker;
  let model: Model;
  let modelBytes: Uint8Array;
  let sensorModel: Model;
  const services: EdgestreamService[] = [];
  const logs: MqttLog[] = [];

  async function start(config: ServiceConfigInput, withSensor = false): Promise<EdgestreamService> {
    const s = createService({ mqtt: { url: broker.url, reconnectMs: 200 }, http: { port: 0, host: '127.0.0.1' }, decision: DECISION, ...config }, { model, ...(withSensor && { sensorModel }) });
    services.push(s);
    await s.start();
    return s;
  }
  async function listen(topics: string[]): Promise<MqttLog> {
    const l = await MqttLog.connect(broker.url, topics, { protocolVersion: 4 });
    logs.push(l);
    return l;
  }

  before(async () => {
    broker = await startEmbeddedBroker();
    modelBytes = randomLmuformerModel({ variant: 'lmu_rnn_conv1d', dim: 16, seed: 3 }).bytes;
    model = await loadModel(modelBytes, { backend: 'js' });
    sensorModel = await loadModel(randomLmuformerModel({ variant: 'lmu_rnn_conv1d', dim: 8, mels: 4, classes: 2, seed: 4 }).bytes, { backend: 'js' });
  });
  after(async () => {
    for (const s of services) await s.stop();
    for (const l of logs) await l.close();
    await broker.close();
  });

  // That the events equal the offline pipeline's is the transport contract (transport_contract.test.ts, aedes among the others).
  it('falls back to MQTT 3.1.1, announces itself (retained bridge availability + HA discovery) and publishes events with their fields, QoS 1, not retained', async () => {
    const log = await listen(['edgestream/#', 'homeassistant/#']);
    const service = await start({ baseTopic: 'edgestream' });
    assert.equal(service.protocolVersion, 4);
    const birth = await log.waitFor((m) => m.topic === 'edgestream/bridge/availability', 'bridge availability');
    assert.equal(birth.text, 'online');
    assert.equal(birth.retain, false, 'a live subscriber sees the publish itself (retain flag cleared)');
    const bridge = await log.waitFor((m) => m.topic === 'homeassistant/device/edgestream_bridge/config', 'bridge discovery');
    assert.deepEqual(JSON.parse(bridge.text).dev.ids, ['edgestream_bridge']);

    await publishAudio(log, 'edgestream/kitchen/audio', AUDIO);
    await until(() => log.on('edgestream/kitchen/keyword').length >= 3, '3 keyword events');
    await sleep(200);
    const events = log.on('edgestream/kitchen/keyword').map((m) => JSON.parse(m.text) as DeviceKeywordEvent);
    for (const e of events) {
      assert.equal(e.event_type, e.label);
      assert.equal(e.device, 'kitchen');
      // Issue 13 row 11: <device>-<stream origin, wall ms>-<offset from the stream's first sample> (this sender gives no timestamps: offset = start_ms).
      assert.match(e.id, new RegExp(`^kitchen-\\d{13}-${e.start_ms}$`));
      assert.equal(e.model, model.name);
      assert.ok(!Number.isNaN(Date.parse(e.ts)));
    }
    assert.ok(log.on('edgestream/kitchen/keyword').every((m) => m.qos === 1), 'events are QoS 1');
    // Retained messages, as a late subscriber (Home Assistant after a restart) sees them.
    const late = await listen(['edgestream/kitchen/state', 'edgestream/kitchen/availability', 'edgestream/kitchen/keyword', 'homeassistant/device/edgestream_kitchen/config']);
    const state = await late.waitFor((m) => m.topic === 'edgestream/kitchen/state', 'retained state');
    assert.equal(state.retain, true);
    assert.equal(JSON.parse(state.text).last_keyword, events.at(-1)!.label);
    assert.equal((await late.waitFor((m) => m.topic === 'edgestream/kitchen/availability', 'retained availability')).text, 'online');
    const disc = await late.waitFor((m) => m.topic === 'homeassistant/device/edgestream_kitchen/config', 'retained discovery');
    assert.deepEqual(JSON.parse(disc.text).cmps.keyword.event_types, model.labels.filter((l) => !['_unknown_', '_silence_'].includes(l)));
    await sleep(100);
    assert.equal(late.on('edgestream/kitchen/keyword').length, 0, 'keyword events are not retained');
  });

  it('the start-up warm-up (throwaway devices through the pipelines) leaves no trace: no devices, events, series or counts', async () => {
    const service = createService({ baseTopic: 'warm', mqtt: { url: broker.url }, http: { port: 0, host: '127.0.0.1' }, decision: DECISION }, { model });
    services.push(service);
    const emitted: string[] = [];
    for (const name of ['keyword', 'scores', 'availability', 'rejected'] as const) service.on(name, () => emitted.push(name));
    const log = await listen(['warm/#']);
    await service.start();
    await sleep(300);
    assert.deepEqual(emitted, []);
    const h = service.health();
    assert.deepEqual(Object.keys(h.devices), []);
    assert.equal(h.chunks_received, 0);
    assert.equal(h.keyword_events, 0);
    const metrics = await (await fetch(`http://127.0.0.1:${service.httpPort}/metrics`)).text();
    assert.doesNotMatch(metrics, /warmup/);
    assert.doesNotMatch(metrics, /edgestream_(inference|chunk_latency)_seconds_count [1-9]/);
    assert.deepEqual(log.messages.map((m) => m.topic).filter((t) => t.includes('warmup')), []);
  });

  it('re-publishes discovery when homeassistant/status says online; goes offline after the idle time', async () => {
    const log = await listen(['ha2/#', 'homeassistant/device/#']);
    await start({ baseTopic: 'ha2', audio: { idleMs: 400 } });
    await log.waitFor((m) => m.topic === 'homeassistant/device/ha2_bridge/config', 'first discovery');
    await publishAudio(log, 'ha2/hall/audio', AUDIO.subarray(0, CHUNK * 10));
    assert.equal((await log.waitFor((m) => m.topic === 'ha2/hall/availability' && m.text === 'online', 'hall online')).text, 'online');
    const before = log.on('homeassistant/device/ha2_hall/config').length;
    await log.client.publishAsync('homeassistant/status', 'online', { qos: 1 });
    await log.waitFor((m) => m.topic === 'homeassistant/device/ha2_hall/config' && log.on(m.topic).length > before, 're-published device discovery');
    await log.waitFor((m) => m.topic === 'ha2/hall/availability' && m.text === 'offline', 'hall offline after idle', 3000);
  });

  it('bad input: odd lengths, bad device ids, oversized payloads are refused and counted; a clean device is unaffected', async () => {
    const log = await listen(['bad/#']);
    const service = await start({ baseTopic: 'bad', mqtt: { url: broker.url, maxPacketBytes: 4096 }, audio: { bufferChunks: 10_000 } });
    const rejected: string[] = [];
    service.on('rejected', (r) => rejected.push(r.reason));
    const expected = await offlineEvents(model, 'clean');
    // Interleave a clean device with hostile traffic.
    for (let o = 0, i = 0; o < AUDIO.length; o += CHUNK, i++) {
      await log.client.publishAsync('bad/clean/audio', Buffer.from(AUDIO.subarray(o, o + CHUNK)));
      if (i === 3) await log.client.publishAsync('bad/noisy/audio', Buffer.alloc(641)); // odd length
      if (i === 5) await log.client.publishAsync('bad/b.a.d/audio', Buffer.alloc(640)); // bad device id
      if (i === 6) await log.client.publishAsync('bad/kü/audio', Buffer.alloc(640)); // non-ASCII device id
      if (i === 7) await log.client.publishAsync('bad/bridge/audio', Buffer.alloc(640)); // reserved id
      if (i === 8) await log.client.publishAsync('bad/noisy/audio', Buffer.alloc(8192)); // oversized
      if (i === 9) await log.client.publishAsync('bad/noisy/audio', Buffer.alloc(0)); // empty
      if (i === 10) await log.client.publishAsync('bad/noisy/set', 'MAYBE'); // bad command
      if (i === 11) await log.client.publishAsync('bad/noisy/threshold/set', '7'); // out of range
      if (i % 10 === 0) await sleep(2);
    }
    await until(() => log.on('bad/clean/keyword').length >= expected.length, 'clean device events');
    await sleep(200);
    assert.deepEqual(log.on('bad/clean/keyword').map((m) => { const e = JSON.parse(m.text) as DeviceKeywordEvent; return `${e.label}@${e.end_ms}`; }), expected);
    assert.deepEqual(rejected.sort(), ['bad_command', 'bad_command', 'bad_device', 'bad_device', 'bad_device', 'empty', 'odd_length', 'oversized'].sort());
    const h = service.health();
    assert.equal(h.messages_rejected, 8);
    assert.equal(h.devices.clean!.chunks, Math.ceil(AUDIO.length / CHUNK));
    assert.equal(h.devices.clean!.drops, 0);
    const metrics = await (await fetch(`http://127.0.0.1:${service.httpPort}/metrics`)).text();
    assert.match(metrics, /edgestream_messages_rejected_total\{reason="bad_device"\} 3/);
    assert.match(metrics, /edgestream_messages_rejected_total\{reason="odd_length"\} 1/);
    assert.doesNotMatch(metrics, /b\.a\.d|kü/, 'refused names never become metric labels');
    const healthz = await fetch(`http://127.0.0.1:${service.httpPort}/healthz`);
    assert.equal(healthz.status, 200);
    assert.equal(((await healthz.json()) as { status: string }).status, 'ok');
  });

  it('a full device queue drops the oldest chunks, counts them and restarts the stream state', async () => {
    const log = await listen([]);
    const service = await start({ baseTopic: 'q', audio: { bufferChunks: 2 } });
    // A burst far faster than real time, in one go: most of it cannot be queued.
    await Promise.all(Array.from({ length: 60 }, (_, i) => log.client.publishAsync('q/burst/audio', Buffer.from(AUDIO.subarray(i * CHUNK, (i + 1) * CHUNK)))));
    await until(() => (service.health().devices.burst?.chunks ?? 0) === 60, 'all 60 chunks received');
    await sleep(100);
    const d = service.health().devices.burst!;
    assert.ok(d.drops > 0, 'some chunks were dropped');
    assert.ok(d.resets >= 1, 'the stream state restarted after the drop');
    assert.match(await (await fetch(`http://127.0.0.1:${service.httpPort}/metrics`)).text(), new RegExp(`edgestream_chunks_dropped_total\\{device="burst"\\} ${d.drops}`));
  });

  it('commands: OFF stops detections, ON resumes; threshold/set is applied and reported; retained commands are ignored', async () => {
    const log = await listen(['cmd/#']);
    // A stale retained OFF, delivered when the service subscribes: it must not silence the device
    // (it would at every restart).
    await log.client.publishAsync('cmd/den/set', 'OFF', { qos: 1, retain: true });
    const service = createService({ mqtt: { url: broker.url }, http: { enabled: false }, decision: DECISION, baseTopic: 'cmd', audio: { bufferChunks: 10_000 } }, { model });
    services.push(service);
    const rejected: string[] = [];
    service.on('rejected', (r) => rejected.push(r.reason));
    await service.start();
    await until(() => rejected.includes('retained_command'), 'retained command refused');
    await log.client.publishAsync('cmd/den/set', '', { qos: 1, retain: true }); // clear it
    await sleep(100);
    assert.equal(service.health().devices.den?.listening ?? true, true);
    await log.client.publishAsync('cmd/den/set', 'OFF', { qos: 1 });
    const off = await log.waitFor((m) => m.topic === 'cmd/den/state' && JSON.parse(m.text).listening === false, 'state listening false');
    assert.equal(off.qos, 1);
    await publishAudio(log, 'cmd/den/audio', AUDIO);
    await sleep(300);
    assert.equal(log.on('cmd/den/keyword').length, 0, 'no detections while OFF');
    await log.client.publishAsync('cmd/den/set', 'ON', { qos: 1 });
    await log.waitFor((m) => m.topic === 'cmd/den/state' && JSON.parse(m.text).listening === true, 'state listening true');
    await publishAudio(log, 'cmd/den/audio', AUDIO);
    await log.waitFor((m) => m.topic === 'cmd/den/keyword', 'detections after ON');
    await log.client.publishAsync('cmd/den/threshold/set', '0.999', { qos: 1 });
    const st = await log.waitFor((m) => m.topic === 'cmd/den/state' && JSON.parse(m.text).threshold === 0.999, 'threshold in state');
    assert.equal(JSON.parse(st.text).threshold, 0.999);
    const n = log.on('cmd/den/keyword').length;
    await publishAudio(log, 'cmd/den/audio', AUDIO);
    await sleep(400);
    assert.equal(log.on('cmd/den/keyword').length, n, 'no detection passes a 0.999 threshold');
    assert.equal(service.health().devices.den!.listening, true);
  });

  it('sensor frames (JSON and binary float32) → predictions equal to the model run offline; malformed frames are counted, the stream goes on', async () => {
    const log = await listen(['sens/+/prediction']);
    const service = await start({ baseTopic: 'sens', sensor: { model: { path: 'unused-when-preloaded' } } }, true);
    const rejected: string[] = [];
    service.on('rejected', (r) => rejected.push(`${r.reason}:${r.device}`));
    const frames = Array.from({ length: 12 }, (_, t) => [Math.sin(t), Math.cos(t), t / 10, 1]);
    for (let t = 0; t < frames.length; t++) {
      const json = JSON.stringify({ seq: t, timestamp: 1000 + t * 100, values: frames[t] });
      await log.client.publishAsync('sens/pump/sensor', json);
      await log.client.publishAsync('sens/fan/sensor', Buffer.from(new Float32Array(frames[t]!).buffer));
      if (t === 4) {
        await log.client.publishAsync('sens/pump/sensor', '{"seq": 5, "values": [1, 2');
        await log.client.publishAsync('sens/pump/sensor', '{"values": [1, 2, 3]}');
        await log.client.publishAsync('sens/pump/sensor', '{"values": [1, "x", 3, 4]}');
        await log.client.publishAsync('sens/fan/sensor', Buffer.alloc(7));
      }
    }
    const session = sensorModel.createSession();
    const expected = frames.flatMap((f) => session.push(f)).map((o) => Array.from(o, (v) => Math.round(v * 1e6) / 1e6));
    assert.equal(expected.length, frames.length - sensorModel.delay);
    await until(() => log.on('sens/pump/prediction').length === expected.length && log.on('sens/fan/prediction').length === expected.length, 'predictions of both devices');
    for (const dev of ['pump', 'fan']) {
      const got = log.on(`sens/${dev}/prediction`).map((m) => JSON.parse(m.text) as { values: number[]; seq?: number });
      assert.deepEqual(got.map((p) => p.values), expected, dev);
    }
    const pump = log.on('sens/pump/prediction').map((m) => JSON.parse(m.text) as { seq: number; timestamp: number });
    assert.deepEqual(pump.map((p) => p.seq), frames.map((_, t) => t).slice(sensorModel.delay));
    assert.deepEqual(rejected.sort(), ['bad_sensor_frame:fan', 'bad_sensor_frame:pump', 'bad_sensor_frame:pump', 'bad_sensor_frame:pump']);
  });

  it('publishes the health figures periodically on <base>/bridge/health (the same JSON as /healthz)', async () => {
    const log = await listen(['hl/bridge/health']);
    const service = await start({ baseTopic: 'hl', health: { intervalMs: 150 } });
    await publishAudio(log, 'hl/mic/audio', AUDIO.subarray(0, CHUNK * 20));
    const m = await log.waitFor((x) => (JSON.parse(x.text) as { devices: Record<string, unknown> }).devices.mic !== undefined, 'a health message with the device');
    const h = JSON.parse(m.text) as ReturnType<EdgestreamService['health']>;
    assert.equal(m.retain, false);
    assert.equal(h.mqtt_connected, true);
    assert.equal(h.protocol_version, 4);
    assert.equal(h.devices.mic!.chunks, 20);
    for (const k of ['uptime_s', 'rss_bytes', 'event_loop_lag_ms', 'chunks_dropped', 'messages_rejected']) assert.equal(typeof (h as unknown as Record<string, unknown>)[k], 'number', k);
    const metrics = await (await fetch(`http://127.0.0.1:${service.httpPort}/metrics`)).text();
    assert.match(metrics, /edgestream_chunks_received_total\{device="mic"\} 20/);
    assert.match(metrics, /edgestream_mqtt_connected 1/);
    assert.match(metrics, /process_resident_memory_bytes/);
  });

  it('optional outputs: Hermes hotword messages per detection, rate-limited top-k scores', async () => {
    const log = await listen(['opt/+/scores', 'opt/+/keyword', 'hermes/hotword/+/detected']);
    await start({ baseTopic: 'opt', hermes: { enabled: true }, scores: { enabled: true, intervalMs: 200, topK: 3 }, audio: { bufferChunks: 10_000 } });
    const t0 = Date.now();
    await publishAudio(log, 'opt/lab/audio', AUDIO);
    await until(() => log.on('opt/lab/keyword').length >= 2, 'detections');
    await sleep(300);
    const elapsed = Date.now() - t0;
    const events = log.on('opt/lab/keyword').map((m) => JSON.parse(m.text) as DeviceKeywordEvent);
    const hermes = log.messages.filter((m) => m.topic.startsWith('hermes/hotword/'));
    assert.equal(hermes.length, events.length);
    hermes.forEach((m, i) => {
      assert.equal(m.topic, `hermes/hotword/${events[i]!.label}/detected`);
      const h = JSON.parse(m.text) as Record<string, unknown>;
      assert.equal(h.siteId, 'lab');
      assert.equal(h.modelId, model.name);
      assert.equal(h.sessionId, null);
    });
    const scores = log.on('opt/lab/scores').map((m) => JSON.parse(m.text) as { top: { label: string; score: number }[]; end_ms: number });
    assert.ok(scores.length >= 1, 'some scores');
    assert.ok(scores.length <= Math.ceil(elapsed / 200) + 1, `${scores.length} score messages in ${elapsed} ms exceed one per 200 ms`);
    for (const sc of scores) {
      assert.equal(sc.top.length, 3);
      assert.ok(sc.top[0]!.score >= sc.top[1]!.score && sc.top[1]!.score >= sc.top[2]!.score);
    }
  });

  it('with the engine (batched stepping on a worker thread) the published events are the same', async () => {
    const dir = tempDir();
    const path = join(dir, 'model.safetensors');
    writeFileSync(path, modelBytes);
    const log = await listen(['eng/+/keyword']);
    const service = await start({ baseTopic: 'eng', model: { path, backend: 'js' }, engine: { enabled: true, workers: 1 }, audio: { bufferChunks: 10_000 } });
    const expected = await offlineEvents(model, 'a');
    await Promise.all([publishAudio(log, 'eng/a/audio', AUDIO), publishAudio(log, 'eng/b/audio', AUDIO)]);
    await until(() => log.on('eng/a/keyword').length >= expected.length && log.on('eng/b/keyword').length >= expected.length, 'events of both devices');
    await sleep(200);
    const keys = (topic: string): string[] => log.on(topic).map((m) => { const e = JSON.parse(m.text) as DeviceKeywordEvent; return `${e.label}@${e.end_ms}`; });
    assert.deepEqual(keys('eng/a/keyword'), expected);
    assert.deepEqual(keys('eng/b/keyword'), expected);
    assert.equal(service.health().chunks_dropped, 0);
  });

  it('model.int8: the service loads the model file with int8 weights and publishes what the int8 model decides offline', async () => {
    const dir = tempDir();
    const path = join(dir, 'model.safetensors');
    writeFileSync(path, modelBytes);
    const int8 = await offlineEvents(await loadModel(modelBytes, { backend: 'wasm', int8: true }), 'q', true);
    assert.notDeepEqual(int8, await offlineEvents(await loadModel(modelBytes, { backend: 'wasm' }), 'q', true), 'int8 and float32 scores differ on this audio (else the test could not tell them apart)');
    const log = await listen(['q8/+/keyword']);
    // No model passed in: the service loads model.path itself, with the config's int8.
    const service = createService({ baseTopic: 'q8', mqtt: { url: broker.url, reconnectMs: 200 }, http: { port: 0, host: '127.0.0.1' }, decision: DECISION, model: { path, backend: 'wasm', int8: true }, audio: { bufferChunks: 10_000 } });
    services.push(service);
    await service.start();
    await publishAudio(log, 'q8/q/audio', AUDIO);
    await until(() => log.on('q8/q/keyword').length >= int8.length, 'the int8 service\'s events');
    await sleep(200);
    assert.deepEqual(log.on('q8/q/keyword').map((m) => { const e = JSON.parse(m.text) as DeviceKeywordEvent; return `${e.label}@${e.end_ms}:${e.score}`; }), int8);
  });

  it('attachAudioSource feeds other transports through the same pipeline; typed events for embedding', async () => {
    const log = await listen(['emb/#']);
    const service = await start({ baseTopic: 'emb', audio: { bufferChunks: 10_000 } });
    const seen: DeviceKeywordEvent[] = [];
    service.on('keyword', (e) => seen.push(e));
    const chunks: AudioChunk[] = [];
    for (let o = 0; o < AUDIO.length; o += CHUNK) chunks.push({ device: 'browser-1', kind: 'chunk', data: AUDIO.subarray(o, o + CHUNK), format: { encoding: 's16le', rate: 16000, channels: 1 } });
    service.attachAudioSource(from(chunks), 'test');
    const expected = await offlineEvents(model, 'browser-1');
    await until(() => seen.length >= expected.length, 'events from the attached source');
    assert.deepEqual(seen.map((e) => `${e.label}@${e.end_ms}`), expected);
    await log.waitFor((m) => m.topic === 'emb/browser-1/keyword', 'published to MQTT too');
    const bad: string[] = [];
    service.on('rejected', (r) => bad.push(r.reason));
    service.attachAudioSource(from([{ ...chunks[0]!, device: 'no spaces' }]), 'test');
    assert.deepEqual(bad, ['bad_device']);
  });
});
