import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { firstValueFrom, from, toArray } from 'rxjs';
import { randomLmuformerModel } from '../../models/lmuformer/random_model.js';
import { loadModel } from '../../runtime/model/load_model.js';
import type { Model } from '../../runtime/model/model.js';
import { keywordSpotting } from '../../runtime/operators/keyword_spotting.js';
import type { AudioChunk, DeviceKeywordEvent } from '../../runtime/operators/types.js';
import { subjectMappings } from '../../transports/cluster/subjects.js';
import { NatsCluster, NATS_SERVER_MISSING } from '../../transports/cluster/nats_server_process.js';
import { MqttAudioPublisher } from '../../transports/mqtt/audio_publisher.js';
import { startEmbeddedBroker } from '../../transports/mqtt/embedded_broker.js';
import type { ServiceConfigInput } from '../../transports/service/config.js';
import { createService, type EdgestreamService } from '../../transports/service/service.js';
import { webrtcPlugin } from '../../transports/webrtc/plugin.js';
import { WebRtcClient } from '../../transports/webrtc/webrtc_client.js';
import { f32le, s16le, testSignal } from '../helpers/audio_signal.js';
import { Mosquitto, MOSQUITTO_MISSING, mosquittoBinary } from '../helpers/mosquitto.js';
import { MqttLog, sleep, until, untilStalled } from '../helpers/mqtt_log.js';
import { TEST_TOKEN } from '../helpers/webrtc_server.js';
import { wrtcOrSkip } from '../helpers/wrtc.js';
import { natsServerBinary } from '../../transports/cluster/nats_server_process.js';

// One contract, every transport (issue 12 item 5): the keyword events the service publishes for a
// device equal the offline decisions (the same `keywordSpotting` pipeline run on an array) on the
// audio its pipeline received. Run over aedes (in process, MQTT 3.1.1), mosquitto (MQTT 5 with
// format properties: 48 kHz f32le stereo, seq, timestamps), a WebRTC peer (Opus: the audio that
// arrives is what the offline run gets), nats-server's MQTT listener, and a `serve --cluster`
// worker reading the same publishes from its JetStream stream. Small random LMUFormers at
// threshold 0: many events, no accuracy involved (these tests check the transports).

const DECISION = { threshold: 0.0, refractoryMs: 400 };
const CHUNK_MS = 20;

/** What a transport under test provides. */
interface Harness {
  base: string;
  service: EdgestreamService;
  /** Deliver `device`'s audio through the transport; resolves with the chunks the service's pipeline received, in order. */
  deliver(device: string): Promise<AudioChunk[]>;
  /** Subscribed to `<base>/+/keyword`. */
  events: MqttLog;
}

interface TransportUnderTest {
  name: string;
  skip: string | false;
  start(model: Model, cleanup: (fn: () => Promise<unknown>) => void): Promise<Harness>;
}

async function offline(model: Model, chunks: AudioChunk[]): Promise<string[]> {
  const out = await firstValueFrom(from(chunks).pipe(keywordSpotting(model, { decision: DECISION }), toArray()));
  return out.flatMap((o) => (o.type === 'keyword' ? [`${o.event.label}@${o.event.start_ms}-${o.event.end_ms}`] : []));
}

/** Service settings every transport shares: short idle time, so that a stream's tail is decided soon after it ends. */
function serviceConfig(base: string, mqttUrl: string, extra: ServiceConfigInput = {}): ServiceConfigInput {
  return { baseTopic: base, mqtt: { url: mqttUrl, reconnectMs: 300 }, http: { port: 0, host: '127.0.0.1' }, decision: DECISION, audio: { idleMs: 500, bufferChunks: 10_000 }, homeassistant: { enabled: false }, health: { intervalMs: 0 }, ...extra };
}

/** 2.4 s of test signal as s16le 16 kHz mono, published in 20 ms chunks over MQTT 3.1.1 (no properties). */
async function publishPlain(url: string, base: string, device: string): Promise<AudioChunk[]> {
  const bytes = s16le(testSignal(16000, 2.4, 7));
  const client = await MqttLog.connect(url, [], { protocolVersion: 4 });
  const chunks: AudioChunk[] = [];
  const n = (16000 * 2 * CHUNK_MS) / 1000;
  for (let o = 0, i = 0; o < bytes.length; o += n, i++) {
    const data = bytes.subarray(o, o + n);
    chunks.push({ device, kind: 'chunk', data, format: { encoding: 's16le', rate: 16000, channels: 1 } });
    await client.client.publishAsync(`${base}/${device}/audio`, Buffer.from(data), { qos: 0 });
    if (i % 10 === 0) await sleep(2);
  }
  await client.client.endAsync(); // not forced: the last publishes go out first
  return chunks;
}

async function mqttHarness(model: Model, url: string, base: string, extra: ServiceConfigInput, cleanup: (fn: () => Promise<unknown>) => void): Promise<Omit<Harness, 'deliver'>> {
  const events = await MqttLog.connect(url, [`${base}/+/keyword`], { protocolVersion: 4 });
  cleanup(() => events.close());
  const service = createService(serviceConfig(base, url, extra), { model });
  cleanup(() => service.stop());
  await service.start();
  return { base, service, events };
}

const { wrtc, skip: noWrtc } = wrtcOrSkip();

const TRANSPORTS: TransportUnderTest[] = [
  {
    name: 'aedes (in-process broker, MQTT 3.1.1)',
    skip: false,
    async start(model, cleanup) {
      const broker = await startEmbeddedBroker();
      cleanup(() => broker.close());
      const h = await mqttHarness(model, broker.url, 'ct-aedes', {}, cleanup);
      return { ...h, deliver: (device) => publishPlain(broker.url, h.base, device) };
    },
  },
  {
    name: 'mosquitto (MQTT 5: 48 kHz f32le stereo described by properties, seq, timestamps)',
    skip: mosquittoBinary() ? false : MOSQUITTO_MISSING,
    async start(model, cleanup) {
      const broker = (await Mosquitto.start())!;
      cleanup(() => broker.close());
      const h = await mqttHarness(model, broker.url, 'ct-mosq', {}, cleanup);
      assert.equal(h.service.protocolVersion, 5);
      return {
        ...h,
        async deliver(device) {
          const log = await MqttLog.connect(broker.url, [], { protocolVersion: 5 });
          const bytes = f32le(testSignal(48000, 2.4, 5), 2);
          const pub = new MqttAudioPublisher(log.client, { baseTopic: h.base, device, format: { encoding: 'f32le', rate: 48000, channels: 2 }, chunkMs: CHUNK_MS });
          const chunks: AudioChunk[] = [];
          for (let o = 0, i = 0; o < bytes.length; o += pub.chunkBytes, i++) {
            chunks.push({ device, kind: 'chunk', data: bytes.subarray(o, o + pub.chunkBytes), format: pub.format, seq: i, timestampMs: i * CHUNK_MS });
            pub.push(bytes.subarray(o, o + pub.chunkBytes));
            if (i % 10 === 0) await sleep(2);
          }
          await pub.end();
          await log.client.endAsync();
          // Every chunk arrived, in order (the properties' seq numbers): no gap.
          await until(() => h.service.health().devices[device]?.chunks === chunks.length, `${chunks.length} chunks`);
          assert.equal(h.service.health().devices[device]!.gaps, 0);
          return chunks;
        },
      };
    },
  },
  {
    name: 'WebRTC (a Node peer through the HTTP signalling, Opus, RTCAudioSink; events on MQTT via aedes)',
    skip: noWrtc,
    async start(model, cleanup) {
      const broker = await startEmbeddedBroker();
      cleanup(() => broker.close());
      const plugin = webrtcPlugin({ token: TEST_TOKEN, wrtc: wrtc!, env: {} });
      const base = 'ct-webrtc';
      const events = await MqttLog.connect(broker.url, [`${base}/+/keyword`], { protocolVersion: 4 });
      cleanup(() => events.close());
      const service = createService(serviceConfig(base, broker.url), { model, plugins: [plugin] });
      cleanup(() => service.stop());
      await service.start();
      const received: AudioChunk[] = [];
      plugin.webrtc!.audio$.subscribe((c) => received.push(c));
      return {
        base,
        service,
        events,
        async deliver(device) {
          const client = await WebRtcClient.connect({ url: `http://127.0.0.1:${service.httpPort}/webrtc/offer`, token: TEST_TOKEN, device, sampleRate: 16000 });
          await client.play(testSignal(16000, 2.4, 7));
          client.close();
          await until(() => received.some((c) => c.device === device && c.kind === 'stop'), 'the end of the WebRTC stream', 5000);
          return received.filter((c) => c.device === device);
        },
      };
    },
  },
  {
    name: "nats-server's MQTT listener (a single serve subscribed to it)",
    skip: natsServerBinary() ? false : NATS_SERVER_MISSING,
    async start(model, cleanup) {
      const nats = (await NatsCluster.start(1))!;
      cleanup(() => nats.close());
      const url = nats.nodes[0]!.mqttUrl;
      const h = await mqttHarness(model, url, 'ct-nats', {}, cleanup);
      return { ...h, deliver: (device) => publishPlain(url, h.base, device) };
    },
  },
  {
    name: 'serve --cluster (a worker reading the MQTT publishes from its NATS JetStream partitions)',
    skip: natsServerBinary() ? false : NATS_SERVER_MISSING,
    async start(model, cleanup) {
      const base = 'ctcluster';
      const mappings = `mappings {\n${Object.entries(subjectMappings(base, 16)).map(([k, v]) => `  "${k}": "${v}"\n`).join('')}}\n`;
      const nats = (await NatsCluster.start(1, { mappings }))!;
      cleanup(() => nats.close());
      const url = nats.nodes[0]!.mqttUrl;
      const h = await mqttHarness(model, url, base, { cluster: { servers: nats.urls, memberId: 'ct-worker', leaseTtlMs: 1500, heartbeatMs: 250, rebalanceMs: 100, checkpointMs: 500 } }, cleanup);
      return { ...h, deliver: (device) => publishPlain(url, h.base, device) };
    },
  },
];

describe('transport contract: the events published for a device equal the offline decisions on the same audio', () => {
  let model: Model;
  before(async () => {
    model = await loadModel(randomLmuformerModel({ variant: 'lmu_rnn_conv1d', dim: 16, seed: 3 }).bytes, { backend: 'js' });
  });

  for (const t of TRANSPORTS) {
    it(t.name, { skip: t.skip }, async () => {
      const cleanups: (() => Promise<unknown>)[] = [];
      after(async () => {
        for (const fn of cleanups.reverse()) await fn().catch(() => undefined);
      });
      const h = await t.start(model, (fn) => cleanups.push(fn));
      const chunks = await h.deliver('kitchen');
      const expected = await offline(model, chunks);
      assert.ok(expected.length >= 3, `the offline run has ${expected.length} events`);
      const topic = `${h.base}/kitchen/keyword`;
      // While events still arrive (a loaded machine can be slow), keep waiting; a lost one shows as a stall.
      await untilStalled(() => h.events.on(topic).length >= expected.length, () => h.events.messages.length, `${expected.length} events on ${topic}`);
      await sleep(300);
      const events = h.events.on(topic).map((m) => JSON.parse(m.text) as DeviceKeywordEvent);
      assert.deepEqual(events.map((e) => `${e.label}@${e.start_ms}-${e.end_ms}`), expected);
      for (const e of events) {
        assert.equal(e.device, 'kitchen');
        assert.equal(e.event_type, e.label);
        // <device>-<stream origin, wall ms>-<offset from the stream's first sample>
        assert.match(e.id, /^kitchen-\d{13}-\d+$/);
      }
      assert.ok(h.events.on(topic).every((m) => m.qos === 1), 'events are QoS 1');
    });
  }
});
