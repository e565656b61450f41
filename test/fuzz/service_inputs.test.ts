import assert from 'node:assert/strict';
import { request } from 'node:http';
import { after, before, describe, it } from 'node:test';
import fc from 'fast-check';
import { firstValueFrom, from, toArray } from 'rxjs';
import { randomLmuformerModel } from '../../models/lmuformer/random_model.js';
import { EdgestreamError, isEdgestreamError } from '../../runtime/errors.js';
import { loadModel } from '../../runtime/model/load_model.js';
import type { Model } from '../../runtime/model/model.js';
import { decodePcm } from '../../runtime/operators/decode_pcm.js';
import { keywordSpotting } from '../../runtime/operators/keyword_spotting.js';
import { parseSensorPayload } from '../../runtime/operators/sensor_payload.js';
import type { AudioChunk, DeviceKeywordEvent } from '../../runtime/operators/types.js';
import { AudioMessageError, parseAudioMessage } from '../../transports/mqtt/audio_message.js';
import { startEmbeddedBroker, type EmbeddedBroker } from '../../transports/mqtt/embedded_broker.js';
import { DEVICE_ID, TopicSchema } from '../../transports/mqtt/topics.js';
import { parseServiceConfig } from '../../transports/service/config.js';
import { createService, type EdgestreamService } from '../../transports/service/service.js';
import { s16le, testSignal } from '../helpers/audio_signal.js';
import { Mosquitto } from '../helpers/mosquitto.js';
import { MqttLog, sleep, until } from '../helpers/mqtt_log.js';

// Property-based fuzzing of the service's boundaries (issue 13 item 2): MQTT audio and sensor
// payloads, MQTT 5 properties, topics and device ids, commands, the service config and the HTTP
// endpoints. Each property: a clear E_… error or a correct result, and other devices untouched.
// `npm test` runs a fixed seed and a bounded number of runs; EDGESTREAM_FUZZ_RUNS multiplies them
// (long runs: `EDGESTREAM_FUZZ_RUNS=100 npm test -- fuzz/service_inputs`), EDGESTREAM_FUZZ_SEED
// changes the seed (a failure prints the seed and path that reproduce it).

// `npm run fuzz` sets FUZZ_RUNS (runs per property) and FUZZ_SEED for every fuzz file: here FUZZ_RUNS/100 scales the runs.
const SCALE = Number(process.env.EDGESTREAM_FUZZ_RUNS ?? (process.env.FUZZ_RUNS !== undefined ? Math.max(1, Number(process.env.FUZZ_RUNS) / 100) : 1));
const SEED = Number(process.env.EDGESTREAM_FUZZ_SEED ?? process.env.FUZZ_SEED ?? 20261207);
const runs = (n: number): { seed: number; numRuns: number } => ({ seed: SEED, numRuns: Math.max(1, Math.round(n * SCALE)) });
const FORMAT = { encoding: 's16le' as const, rate: 16000, channels: 1 };
const LIMITS = { maxPayloadBytes: 262_144, maxChunkMs: 1000 };
const REASONS = new Set(['bad_format', 'odd_length', 'oversized', 'empty', 'bad_metadata']);

/** Values senders put in properties: real ones, near misses and garbage. */
const propValue = fc.oneof(
  fc.constantFrom('16000', '48000', '8000', '192000', '1', '0', '-1', '1e9', 'NaN', '', ' ', '2', '4', '3', 's16le', 'f32le', 'S16LE', 'u8', 'chunk', 'start', 'stop', '9007199254740993', '0x10'),
  fc.string({ maxLength: 12 }),
  fc.integer({ min: -1, max: 300_000 }).map(String),
);
const contentType = fc.oneof(
  fc.constantFrom('audio/pcm;rate=16000;channels=1;format=s16le', 'audio/pcm;rate=48000;channels=2;format=f32le', 'audio/L16;rate=16000', 'audio/pcm', 'audio/raw;format=f32le', 'application/octet-stream', 'text/plain', 'audio/pcm;rate', 'audio/pcm;=;;', 'audio/pcm;__proto__=1;constructor=2'),
  fc.tuple(fc.constantFrom('audio/pcm', 'audio/raw', 'AUDIO/PCM', 'x'), fc.array(fc.tuple(fc.constantFrom('rate', 'channels', 'format', 'width', 'x', '__proto__'), propValue), { maxLength: 4 })).map(([t, ps]) => [t, ...ps.map(([k, v]) => `${k}=${v}`)].join(';')),
  fc.string({ maxLength: 40 }),
);
const userProperties = fc.dictionary(fc.constantFrom('rate', 'width', 'channels', 'seq', 'timestamp', 'type', 'format', 'other', '__proto__'), fc.oneof(propValue, fc.array(propValue, { maxLength: 3 })), { maxKeys: 6 });
const noNul = (s: string): boolean => !s.includes('\u0000');
const payload = fc.oneof(fc.uint8Array({ maxLength: 4000 }), fc.integer({ min: 0, max: 300_000 }).map((n) => new Uint8Array(n)));

describe('fuzz: MQTT audio messages (payload × MQTT 5 properties)', () => {
  it('parseAudioMessage gives a well-formed chunk or an AudioMessageError with a known reason', () => {
    fc.assert(
      fc.property(payload, fc.option(contentType, { nil: undefined }), fc.option(userProperties, { nil: undefined }), (bytes, ct, up) => {
        let chunk: AudioChunk;
        try {
          chunk = parseAudioMessage('dev', bytes, { ...(ct !== undefined && { contentType: ct }), ...(up !== undefined && { userProperties: up }) }, FORMAT, LIMITS, 1);
        } catch (e) {
          assert.ok(e instanceof AudioMessageError, `not an AudioMessageError: ${String(e)}`);
          assert.ok(REASONS.has(e.reason));
          assert.match(e.code, /^E_(AUDIO_FORMAT|TRANSPORT_INPUT)$/);
          return;
        }
        const f = chunk.format;
        assert.ok(f.encoding === 's16le' || f.encoding === 'f32le');
        assert.ok(Number.isInteger(f.rate) && f.rate >= 8000 && f.rate <= 192_000);
        assert.ok(Number.isInteger(f.channels) && f.channels >= 1 && f.channels <= 8);
        const frame = (f.encoding === 's16le' ? 2 : 4) * f.channels;
        assert.equal((chunk.data as Uint8Array).byteLength % frame, 0);
        assert.ok(((chunk.data as Uint8Array).byteLength / frame / f.rate) * 1000 <= LIMITS.maxChunkMs);
        if (chunk.kind === 'chunk') assert.ok((chunk.data as Uint8Array).byteLength > 0);
        if (chunk.seq !== undefined) assert.ok(Number.isSafeInteger(chunk.seq) && chunk.seq >= 0);
        if (chunk.timestampMs !== undefined) assert.ok(Number.isSafeInteger(chunk.timestampMs) && chunk.timestampMs >= 0);
      }),
      runs(400),
    );
  });

  it('decodePcm on any bytes, format and cut: finite samples of the whole frames, or E_NONFINITE_INPUT for float NaN/Inf', async () => {
    await fc.assert(
      fc.asyncProperty(fc.uint8Array({ maxLength: 2000 }), fc.constantFrom<'s16le' | 'f32le'>('s16le', 'f32le'), fc.integer({ min: 1, max: 4 }), fc.array(fc.integer({ min: 0, max: 2000 }), { maxLength: 6 }), async (bytes, encoding, channels, cuts) => {
        const points = [...new Set(cuts.map((c) => Math.min(c, bytes.length)))].sort((a, b) => a - b);
        const pieces: Uint8Array[] = [];
        let at = 0;
        for (const p of [...points, bytes.length]) {
          pieces.push(bytes.subarray(at, p));
          at = p;
        }
        const chunks: AudioChunk[] = pieces.map((data) => ({ device: 'd', kind: 'chunk', data, format: { encoding, rate: 16000, channels } }));
        try {
          const out = await firstValueFrom(from(chunks).pipe(decodePcm(), toArray()));
          const n = out.reduce((a, s) => a + s.samples.length, 0);
          assert.equal(n, Math.floor(bytes.length / ((encoding === 's16le' ? 2 : 4) * channels)));
          for (const s of out) for (const v of s.samples) assert.ok(Number.isFinite(v) && (encoding === 'f32le' || Math.abs(v) <= 1));
        } catch (e) {
          assert.ok(isEdgestreamError(e, 'E_NONFINITE_INPUT'), String(e));
          assert.equal(encoding, 'f32le');
        }
      }),
      runs(200),
    );
  });

  it('sensor payloads: a frame of finite values or E_TRANSPORT_INPUT', () => {
    const json = fc.oneof(
      fc.record({ seq: fc.oneof(fc.integer(), fc.double(), fc.string()), timestamp: fc.oneof(fc.integer(), fc.string()), values: fc.array(fc.oneof(fc.double(), fc.string(), fc.constant(null)), { maxLength: 8 }) }, { requiredKeys: [] }).map((o) => JSON.stringify(o)),
      fc.json({ maxDepth: 3 }),
      fc.string({ maxLength: 100 }),
    ).map((t) => new Uint8Array(Buffer.from(t, 'utf8')));
    fc.assert(
      fc.property(fc.oneof(json, fc.uint8Array({ maxLength: 64 })), fc.constantFrom<'auto' | 'json' | 'f32le'>('auto', 'json', 'f32le'), fc.option(fc.integer({ min: 1, max: 8 }), { nil: undefined }), (bytes, encoding, expectedValues) => {
        try {
          const f = parseSensorPayload(bytes, { encoding, ...(expectedValues !== undefined && { expectedValues }) });
          assert.ok(f.values.length > 0);
          for (const v of f.values) assert.ok(Number.isFinite(v));
          if (expectedValues !== undefined) assert.equal(f.values.length, expectedValues);
        } catch (e) {
          assert.ok(isEdgestreamError(e, 'E_TRANSPORT_INPUT'), String(e));
        }
      }),
      runs(400),
    );
  });
});

describe('fuzz: topics, device ids, configuration', () => {
  const topics = new TopicSchema('kws');
  it('any topic parses to a valid device and kind, or to bad_device / unknown_topic', () => {
    const level = fc.oneof(fc.constantFrom('kitchen', 'bridge', '+', '#', '', '$SYS', 'a'.repeat(65), 'kü', 'x y', 'a\u0000b', 'audio', 'set'), fc.string({ maxLength: 10 }), fc.stringMatching(/^[A-Za-z0-9_-]{1,64}$/));
    const topic = fc.oneof(fc.array(level, { maxLength: 5 }).map((l) => ['kws', ...l].join('/')), fc.string({ maxLength: 40 }));
    fc.assert(
      fc.property(topic, (t) => {
        const p = topics.parse(t);
        if (p.ok) {
          assert.ok(DEVICE_ID.test(p.device) && p.device !== 'bridge', p.device);
          assert.ok(['audio', 'sensor', 'set', 'threshold/set'].includes(p.kind));
          assert.equal(t, `kws/${p.device}/${p.kind}`);
        } else assert.ok(p.reason === 'bad_device' || p.reason === 'unknown_topic');
      }),
      runs(1000),
    );
  });

  it('any configuration value gives a config or E_CONFIG naming the problem', () => {
    const valid = { baseTopic: 'kws', mqtt: { url: 'mqtt://h:1883', keepalive: 30 }, audio: { bufferChunks: 100, shedAboveLatencyMs: 1000 }, sensor: { snapshots: { dir: '/tmp/x', intervalMs: 1000 } }, devices: { kitchen: { threshold: 0.5 } }, maxDevices: 10 };
    const mutated = fc.tuple(fc.constantFrom('baseTopic', 'mqtt', 'audio', 'sensor', 'devices', 'maxDevices', 'http', 'nope', 'health', 'engine', 'decision'), fc.oneof(fc.jsonValue({ maxDepth: 2 }), fc.constant(undefined), fc.constant('$share/x'), fc.constant({ 'bad id!': {} }), fc.constant(-1), fc.constant(1e309))).map(([k, v]) => ({ ...valid, [k]: v }));
    fc.assert(
      fc.property(fc.oneof(mutated, fc.jsonValue({ maxDepth: 3 })), (input) => {
        try {
          const c = parseServiceConfig(input);
          assert.equal(typeof c.baseTopic, 'string');
          assert.ok(c.maxDevices >= 1 && Number.isInteger(c.maxDevices));
        } catch (e) {
          assert.ok(e instanceof EdgestreamError && e.code === 'E_CONFIG', String(e));
          assert.ok(e.message.length > 10);
        }
      }),
      runs(500),
    );
  });
});

describe('fuzz: a running service (aedes) under hostile messages and HTTP requests', () => {
  let broker: EmbeddedBroker;
  let model: Model;
  let service: EdgestreamService;
  let log: MqttLog;
  const DECISION = { threshold: 0, refractoryMs: 400 };
  const AUDIO = s16le(testSignal(16000, 1.6, 4));
  before(async () => {
    broker = await startEmbeddedBroker();
    model = await loadModel(randomLmuformerModel({ variant: 'lmu_rnn_conv1d', dim: 8, seed: 9 }).bytes, { backend: 'js' });
    service = createService({ mqtt: { url: broker.url }, http: { port: 0 }, baseTopic: 'fz', decision: DECISION, audio: { bufferChunks: 10_000 }, maxDevices: 50, homeassistant: { enabled: true } }, { model });
    await service.start();
    log = await MqttLog.connect(broker.url, ['fz/clean/keyword'], { protocolVersion: 4 });
  });
  after(async () => {
    await log.close();
    await service.stop();
    await broker.close();
  });

  it('hostile messages on every kind of topic (commands included) leave a clean device\'s events exactly the offline ones', async () => {
    const chunks: AudioChunk[] = [];
    for (let o = 0; o < AUDIO.length; o += 640) chunks.push({ device: 'clean', kind: 'chunk', data: AUDIO.subarray(o, o + 640), format: FORMAT });
    const expected = (await firstValueFrom(from(chunks).pipe(keywordSpotting(model, { decision: DECISION }), toArray()))).flatMap((o) => (o.type === 'keyword' ? [`${o.event.label}@${o.event.end_ms}`] : []));
    const device = fc.oneof(fc.constantFrom('evil', 'bridge', 'clean2', 'x'.repeat(64)), fc.stringMatching(/^[A-Za-z0-9_-]{1,8}$/), fc.string({ maxLength: 6 }).filter((s) => !s.includes('/') && !s.includes('+') && !s.includes('#') && s !== 'clean'));
    const message = fc.record({
      device,
      kind: fc.constantFrom('audio', 'sensor', 'set', 'threshold/set', 'other', 'audio/x'),
      payload: fc.oneof(fc.uint8Array({ maxLength: 3000 }), fc.constantFrom('ON', 'OFF', 'on', '0.5', '-1', '2', 'NaN', '', '1e-400').map((t) => new Uint8Array(Buffer.from(t))), fc.constant(new Uint8Array(300_000))),
      retain: fc.boolean(),
    });
    await fc.assert(
      fc.asyncProperty(fc.array(message, { minLength: 1, maxLength: 30 }), async (messages) => {
        for (const m of messages) await log.client.publishAsync(`fz/${m.device}/${m.kind}`, Buffer.from(m.payload), { qos: 0, retain: m.retain });
        assert.ok(service.running);
      }),
      runs(25),
    );
    // Clear any retained message the fuzzing left, then the clean device streams.
    for (let o = 0, i = 0; o < AUDIO.length; o += 640, i++) {
      await log.client.publishAsync('fz/clean/audio', Buffer.from(AUDIO.subarray(o, o + 640)));
      if (i % 10 === 0) await sleep(2);
    }
    await until(() => service.health().devices.clean?.chunks === chunks.length, 'the clean device\'s chunks');
    await until(() => log.on('fz/clean/keyword').length >= expected.length - 1, 'its events');
    await sleep(300);
    const got = log.on('fz/clean/keyword').map((m) => { const e = JSON.parse(m.text) as DeviceKeywordEvent; return `${e.label}@${e.end_ms}`; });
    assert.deepEqual(got, expected.slice(0, got.length));
    assert.equal(service.health().devices.clean!.drops, 0);
  });

  it('HTTP: any method, path, query and headers get 200/400/404/405/503 (never a 500 or a hang); /healthz still answers', async () => {
    const port = service.httpPort!;
    const send = (method: string, path: string, headers: Record<string, string>, body: Uint8Array): Promise<number> =>
      new Promise((resolve, reject) => {
        const req = request({ host: '127.0.0.1', port, method, path, headers, timeout: 5000, agent: false }, (res) => { // a fresh connection each: a refused request may close its socket
          res.resume();
          res.on('end', () => resolve(res.statusCode ?? 0));
        });
        req.on('timeout', () => req.destroy(new Error('timeout')));
        req.on('error', reject);
        req.end(Buffer.from(body));
      });
    const path = fc.oneof(fc.constantFrom('/healthz', '/metrics', '/', '/healthz?x=1', '/metrics/../healthz', '//healthz', '/%00', '/healthz#a', `/${'a'.repeat(4000)}`), fc.webPath().map((p) => p || '/'), fc.string({ maxLength: 30 }).map((s) => `/${encodeURIComponent(s)}`));
    const method = fc.constantFrom('GET', 'HEAD', 'POST', 'PUT', 'DELETE', 'OPTIONS', 'PATCH', 'TRACE', 'FOO');
    const headers = fc.dictionary(fc.constantFrom('x-a', 'accept', 'content-type', 'x-forwarded-for', 'range'), fc.stringMatching(/^[ -~]{0,40}$/), { maxKeys: 3 });
    await fc.assert(
      fc.asyncProperty(method, path, headers, fc.uint8Array({ maxLength: 2000 }), async (m, p, h, b) => {
        const status = await send(m, p, h, m === 'GET' || m === 'HEAD' ? new Uint8Array(0) : b);
        assert.ok([200, 400, 404, 405, 503].includes(status), `${m} ${p} → ${status}`); // 400: Node's parser refuses unknown methods
      }),
      runs(150),
    );
    assert.equal(await send('GET', '/healthz', {}, new Uint8Array(0)), 200);
  });
});

describe('fuzz: MQTT 5 properties end to end (mosquitto)', async () => {
  const broker = await Mosquitto.start();
  it('random content types and user properties on a device never disturb another device; each refused message is counted once', { skip: broker ? false : 'mosquitto is not installed (Debian package `mosquitto`)' }, async () => {
    const model = await loadModel(randomLmuformerModel({ variant: 'lmu_rnn_conv1d', dim: 8, seed: 9 }).bytes, { backend: 'js' });
    const service = createService({ mqtt: { url: broker!.url }, http: { enabled: false }, baseTopic: 'p5', homeassistant: { enabled: false }, audio: { bufferChunks: 10_000 } }, { model });
    const rejected: string[] = [];
    service.on('rejected', (r) => rejected.push(r.reason));
    await service.start();
    const log = await MqttLog.connect(broker!.url, [], { protocolVersion: 5 });
    try {
      let sent = 0;
      let refusedExpected = 0;
      await fc.assert(
        // What a broker forwards: MQTT 5 strings hold no U+0000 (mosquitto disconnects such a sender) and a
        // user-property list is absent or not empty (mqtt.js cannot encode an empty one).
        fc.asyncProperty(payload.filter((p) => p.length <= 5000), fc.option(contentType.filter(noNul), { nil: undefined }), fc.option(fc.dictionary(fc.constantFrom('rate', 'width', 'channels', 'seq', 'timestamp', 'type', 'format'), propValue.filter(noNul), { minKeys: 1, maxKeys: 5 }), { nil: undefined }), async (bytes, ct, up) => {
          let ok = true;
          try {
            parseAudioMessage('evil', bytes, { ...(ct !== undefined && { contentType: ct }), ...(up !== undefined && { userProperties: up }) }, FORMAT, { maxPayloadBytes: 262_144, maxChunkMs: 1000 }, 0);
          } catch {
            ok = false;
          }
          if (!ok) refusedExpected++;
          sent++;
          const published = log.client.publishAsync('p5/evil/audio', Buffer.from(bytes), { qos: 1, properties: { ...(ct !== undefined && { contentType: ct }), ...(up !== undefined && { userProperties: up }) } });
          assert.equal(await Promise.race([published.then(() => 'ok'), sleep(3000).then(() => 'timeout')]), 'ok', 'the broker took the message');
        }),
        runs(60),
      );
      // QoS 1 publishes are in the broker; wait until the service has seen them all.
      await until(() => rejected.filter((r) => r !== 'nonfinite_audio').length >= refusedExpected, `${refusedExpected} refusals`, 10_000);
      await sleep(200);
      assert.equal(rejected.filter((r) => r !== 'nonfinite_audio' && r !== 'pipeline_error').length, refusedExpected, `refusals of ${sent} messages`);
      assert.equal(rejected.filter((r) => r === 'pipeline_error').length, 0, 'no device pipeline failed');
      // Another device streams cleanly.
      const good = s16le(testSignal(16000, 0.5, 2));
      for (let o = 0; o < good.length; o += 640) await log.client.publishAsync('p5/good/audio', Buffer.from(good.subarray(o, o + 640)));
      await until(() => service.health().devices.good?.chunks === Math.ceil(good.length / 640), 'the good device\'s chunks');
      assert.ok(service.running);
    } finally {
      await log.close();
      await service.stop();
      await broker?.close();
    }
  });
});
