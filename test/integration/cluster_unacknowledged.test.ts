import assert from 'node:assert/strict';
import { createServer, type Socket } from 'node:net';
import { after, before, describe, it } from 'node:test';
import { Aedes } from 'aedes';
import { connect } from '@nats-io/transport-node';
import { loadModel } from '../../runtime/model/load_model.js';
import type { Model } from '../../runtime/model/model.js';
import type { DeviceKeywordEvent } from '../../runtime/operators/types.js';
import { assignPartitions, partitionOf, publishInput } from '../../transports/cluster/index.js';
import { natsCluster, NATS_SERVER_MISSING } from '../helpers/cluster.js';
import { eventKey, KEYWORD_MODEL, offlineEvents, samplePcm, serveWorker } from '../helpers/cluster_service.js';
import { MqttLog, sleep, untilStalled } from '../helpers/mqtt_log.js';
import { tempDir } from '../helpers/tmp.js';

// A worker that dies with keyword events it decided but the MQTT broker never acknowledged: the
// next owner must publish them. The broker (aedes, in process) stops authorising the first
// worker's publishes, so they stay unacknowledged; its checkpoints must then not move past them
// (they wait for the broker's PUBACKs), and after `kill -9` the other worker, restoring the last
// checkpoint, decides and publishes them again (same ids).

const BASE = 'unacked';
const cluster = await natsCluster(1, [BASE]);
const skip = cluster ? false : NATS_SERVER_MISSING;
const CHUNK_MS = 100;
const CHUNK_BYTES = 3200;
const SECONDS = 14;

/** An aedes broker whose `blocked` clients' publishes are never authorised (never delivered, never PUBACKed). */
async function holdingBroker(): Promise<{ url: string; blocked: Set<string>; close: () => Promise<void> }> {
  const blocked = new Set<string>();
  const broker = await Aedes.createBroker({
    authorizePublish: (client, _packet, callback) => {
      if (client && blocked.has(client.id)) return; // held: the publish is neither delivered nor acknowledged
      callback(null);
    },
  });
  const sockets = new Set<Socket>();
  const server = createServer((s) => {
    sockets.add(s);
    s.on('close', () => sockets.delete(s));
    broker.handle(s);
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', () => r()));
  const port = (server.address() as { port: number }).port;
  return {
    url: `mqtt://127.0.0.1:${port}`,
    blocked,
    close: async () => {
      for (const s of sockets) s.destroy();
      await new Promise<void>((r) => broker.close(() => r()));
      await new Promise<void>((r) => server.close(() => r()));
    },
  };
}

describe('serve --cluster: outputs the broker never acknowledged', { skip }, () => {
  let model: Model;
  before(async () => {
    model = await loadModel(KEYWORD_MODEL, { backend: 'wasm' });
  });

  it('a worker killed with unacknowledged keyword events: its checkpoints did not move past them, and the next owner publishes them', async () => {
    const dir = tempDir();
    const broker = await holdingBroker();
    after(() => broker.close());
    const log = await MqttLog.connect(broker.url, [`${BASE}/+/keyword`], { protocolVersion: 4 });
    after(() => log.close());
    const worker = (id: string) =>
      serveWorker({ dir, base: BASE, memberId: `${BASE}-${id}`, natsUrls: cluster!.urls, mqttUrl: broker.url, extra: { mqtt: { url: broker.url, reconnectMs: 300, clientId: `${BASE}-${id}` }, audio: { idleMs: 1500, bufferChunks: 1000, shedAboveLatencyMs: 0 } } });
    const a = await worker('a');
    const b = await worker('b');
    // Devices on a's partitions (rendezvous over the two members, as the workers compute it).
    const owners = assignPartitions(16, [a.id, b.id]);
    const devices: { id: string; offset: number }[] = [];
    for (let i = 0; devices.length < 4; i++) if (owners[partitionOf(`u${i}`, 16)] === a.id) devices.push({ id: `u${i}`, offset: [0, 2000, 4000, 6000][devices.length]! });
    const pcm = devices.map((d) => samplePcm(d.offset));
    const nc = await connect({ servers: cluster!.urls });
    after(() => nc.close());
    const t0 = Date.now();
    let checkpointsBeforeHold = 0;
    for (let k = 0; k < SECONDS * 10; k++) {
      if (k === 40) {
        checkpointsBeforeHold = (await a.health()).cluster!.checkpoints;
        broker.blocked.add(a.id); // from 4 s on, nothing a publishes reaches anyone
      }
      if (k === 90) {
        const h = await a.health();
        assert.ok(h.cluster!.checkpoint_failures > 0, 'a postponed its checkpoints while its outputs were unacknowledged');
        a.proc.kill('SIGKILL');
      }
      const wait = t0 + k * CHUNK_MS - Date.now();
      if (wait > 0) await sleep(wait);
      await Promise.all(devices.map((d, i) => publishInput(nc, BASE, d.id, 'audio', pcm[i]!.subarray(k * CHUNK_BYTES, (k + 1) * CHUNK_BYTES), { seq: String(k), timestamp: String(k * CHUNK_MS) }, { msgId: `${d.id}-${k}` })));
    }
    assert.ok(checkpointsBeforeHold > 0, 'a wrote checkpoints before the broker held its publishes');
    await a.exited;
    const want = await Promise.all(devices.map((d) => offlineEvents(model, samplePcm(d.offset), CHUNK_BYTES, SECONDS)));
    // Events a decided between 4 s and its death were held: at least one per device must have been.
    const inHold = want.flat().filter((k) => { const end = Number(k.split('-').at(-1)); return end >= 4000 && end < 8500; });
    assert.ok(inHold.length >= 2, `events decided while the broker held a's publishes: ${inHold.join(' ')}`);
    const byDevice = (): Map<string, string[]> => {
      const out = new Map<string, Map<string, string>>();
      for (const m of log.messages) {
        const e = JSON.parse(m.text) as DeviceKeywordEvent;
        const ids = out.get(e.device) ?? new Map<string, string>();
        out.set(e.device, ids);
        ids.set(e.id, eventKey(e));
      }
      return new Map([...out].map(([d, ids]) => [d, [...ids.values()].sort((x, y) => Number(x.split('@')[1]!.split('-')[0]) - Number(y.split('@')[1]!.split('-')[0]))]));
    };
    await untilStalled(() => devices.every((d, i) => (byDevice().get(d.id)?.length ?? 0) >= want[i]!.length), () => log.messages.length, 'every event of every device');
    await sleep(500);
    for (const [i, d] of devices.entries()) assert.deepEqual(byDevice().get(d.id), want[i], `${d.id}: events (distinct ids) equal the single-process run's`);
    assert.ok((await b.health()).cluster!.devices_restored >= devices.length, 'b restored the devices from a checkpoint');
    b.proc.kill('SIGTERM');
    assert.equal(await b.exited, 0);
  });
});
