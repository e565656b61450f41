import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { readFileSync, readdirSync } from 'node:fs';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { connect, headers as natsHeaders, type NatsConnection } from '@nats-io/transport-node';
import { jetstreamManager } from '@nats-io/jetstream';
import mqtt, { type MqttClient } from 'mqtt';
import { clusterNames, partitionOf, publishInput } from '../../transports/cluster/index.js';
import { deployNatsDir, natsServerBinary, type NatsCluster } from '../../transports/cluster/nats_server_process.js';
import { Mosquitto, MOSQUITTO_MISSING, mosquittoBinary } from '../helpers/mosquitto.js';
import { natsCluster, NATS_SERVER_MISSING, worker } from '../helpers/cluster.js';
import { sleep, until } from '../helpers/mqtt_log.js';

// What nats-server 2.9's MQTT listener does with edgestream's topics, checked against a real
// server started from deploy/nats/single.conf: the partition mapping, the stream capture, QoS,
// retained messages, MQTT 5, '.' in topics, and the mosquitto bridge of deploy/nats.

const cluster = await natsCluster(1);
const skip = cluster ? false : NATS_SERVER_MISSING;
const DEVICES = Array.from({ length: 24 }, (_, i) => (i % 3 === 0 ? `dev_${i}` : i % 3 === 1 ? `kitchen-${i}` : `Mic${i}`));

describe('nats-server MQTT listener and subject mapping', { skip }, () => {
  let n: NatsCluster;
  let nc: NatsConnection;
  const clients: MqttClient[] = [];
  const mqttClient = async (opts: mqtt.IClientOptions = {}): Promise<MqttClient> => {
    const c = await mqtt.connectAsync(n.nodes[0]!.mqttUrl, { protocolVersion: 4, reconnectPeriod: 0, ...opts });
    clients.push(c);
    return c;
  };

  before(async () => {
    n = cluster!;
    nc = await connect({ servers: n.urls });
  });
  after(async () => {
    for (const c of clients) c.end(true);
    await nc?.close();
  });

  it('every shipped configuration is valid (nats-server -t)', () => {
    const dir = deployNatsDir();
    const tops = readdirSync(dir).filter((f) => f === 'single.conf' || f.startsWith('cluster-node-'));
    assert.equal(tops.length, 4);
    for (const f of tops) {
      const r = spawnSync(natsServerBinary()!, ['-t', '-c', join(dir, f)], { encoding: 'utf8' });
      assert.equal(r.status, 0, `${f}: ${r.stderr}${r.stdout}`);
    }
  });

  it('maps edgestream/<device>/<kind> onto partition FNV-1a(device) mod 16, keeps the QoS in Nmqtt-Pub, and the stream captures it', async () => {
    // The worker creates the input stream; it also receives what it owns (all 16 partitions, alone).
    const { log } = await worker(n.urls, 'mqtt-w1', { group: 'mqtt' });
    const seen: { subject: string; qos: string | undefined; text: string }[] = [];
    const sub = nc.subscribe('edgestream.part.>');
    void (async () => {
      for await (const m of sub) seen.push({ subject: m.subject, qos: m.headers?.get('Nmqtt-Pub'), text: m.string() });
    })();
    await nc.flush();
    const pub = await mqttClient();
    for (const [i, d] of DEVICES.entries()) await pub.publishAsync(`edgestream/${d}/audio`, `a${i}`, { qos: (i % 2) as 0 | 1 });
    await pub.publishAsync('edgestream/thermo/sensor', 's0', { qos: 1 });
    await pub.publishAsync('edgestream/kitchen-1/keyword', 'not an input', { qos: 0 });
    await until(() => seen.length >= DEVICES.length + 1, 'mapped messages');
    for (const [i, d] of DEVICES.entries()) {
      const m = seen.find((s) => s.text === `a${i}`);
      assert.deepEqual(m, { subject: `edgestream.part.${partitionOf(d, 16)}.${d}.audio`, qos: String(i % 2), text: `a${i}` });
    }
    assert.ok(seen.some((s) => s.subject === `edgestream.part.${partitionOf('thermo', 16)}.thermo.sensor`));
    assert.ok(!seen.some((s) => s.text === 'not an input'), 'unmapped kinds stay outside the partitions');
    assert.ok(new Set(DEVICES.map((d) => partitionOf(d, 16))).size > 8, 'the devices spread over the partitions');
    // The same messages, in order, in the stream and at the worker.
    const jsm = await jetstreamManager(nc);
    const info = await jsm.streams.info(clusterNames('mqtt').inputStream);
    assert.equal(info.state.messages, DEVICES.length + 1);
    const first = await jsm.streams.getMessage(clusterNames('mqtt').inputStream, { seq: info.state.first_seq });
    assert.equal(first!.subject, `edgestream.part.${partitionOf(DEVICES[0]!, 16)}.${DEVICES[0]}.audio`);
    await until(() => log.handled.length === DEVICES.length + 1, 'worker received every input');
    for (const [i, d] of DEVICES.entries()) assert.deepEqual(log.logs.get(d), [`a${i}`]);
    assert.deepEqual(log.logs.get('thermo'), ['s0']);
    assert.equal(log.handled.find((x) => x.device === 'thermo')?.partition, partitionOf('thermo', 16));
    sub.unsubscribe();
  });

  it('a JetStream publish to the unmapped subject is mapped too and acknowledged by the input stream', async () => {
    const ack = await publishInput(nc, 'edgestream', 'js-dev', 'audio', new Uint8Array([1, 2]), { rate: '16000' });
    assert.equal(ack.stream, clusterNames('mqtt').inputStream);
    const m = await (await jetstreamManager(nc)).streams.getMessage(ack.stream, { seq: ack.seq });
    assert.equal(m!.subject, `edgestream.part.${partitionOf('js-dev', 16)}.js-dev.audio`);
    assert.equal(m!.header.get('rate'), '16000');
  });

  it('refuses MQTT 5 clients (no user properties: metadata must travel in the topic or payload)', async () => {
    await assert.rejects(mqtt.connectAsync(n.nodes[0]!.mqttUrl, { protocolVersion: 5, reconnectPeriod: 0, connectTimeout: 3000 }), /Unacceptable protocol version/);
  });

  it("closes a client that publishes to a topic with '.'", async () => {
    const c = await mqttClient();
    const closed = new Promise<void>((r) => c.once('close', () => r()));
    c.publish('edgestream/kit.chen/audio', 'x', { qos: 0 });
    await closed;
    assert.match(n.nodes[0]!.log, /characters ' ' and '\.' not supported for MQTT topics/);
  });

  it('delivers NATS publishes to MQTT QoS 1 subscribers at QoS 0, drops them when they carry Nmqtt-Pub, and keeps retained MQTT publishes', async () => {
    const sub = await mqttClient();
    const got: { topic: string; qos: number; retain: boolean; text: string }[] = [];
    sub.on('message', (topic, p, pk) => got.push({ topic, qos: pk.qos, retain: pk.retain, text: p.toString() }));
    await sub.subscribeAsync('edgestream/+/keyword', { qos: 1 });
    nc.publish('edgestream.hall.keyword', 'from-nats');
    const h = natsHeaders();
    h.set('Nmqtt-Pub', '1');
    nc.publish('edgestream.hall.keyword', 'from-nats-with-header', { headers: h });
    const pub = await mqttClient();
    await pub.publishAsync('edgestream/hall/keyword', 'from-mqtt', { qos: 1 });
    await pub.publishAsync('edgestream/hall/state', '{"listening":true}', { qos: 1, retain: true });
    await until(() => got.length >= 2, 'keyword messages');
    await sleep(200);
    assert.deepEqual(
      got.map((g) => [g.text, g.qos]),
      [
        ['from-nats', 0],
        ['from-mqtt', 1],
      ],
    );
    const late = await mqttClient();
    const retained = new Promise<{ qos: number; retain: boolean; text: string }>((r) => late.once('message', (_t, p, pk) => r({ qos: pk.qos, retain: pk.retain, text: p.toString() })));
    await late.subscribeAsync('edgestream/hall/state', { qos: 1 });
    assert.deepEqual(await retained, { qos: 1, retain: true, text: '{"listening":true}' });
  });

  it('PUBACKs an MQTT QoS 1 publish whether or not a stream stored it', async () => {
    // No stream captures this subject: the publish is acknowledged all the same (nats-server acks
    // MQTT QoS 1 on receipt, not on storage).
    const c = await mqttClient();
    await c.publishAsync('nostream/dev/audio', 'x', { qos: 1 });
  });

  it('a mosquitto bridged with deploy/nats/mosquitto-bridge.conf carries inputs to NATS and outputs back', { skip: mosquittoBinary() === null ? MOSQUITTO_MISSING : false }, async () => {
    const conf = readFileSync(join(deployNatsDir(), 'mosquitto-bridge.conf'), 'utf8').replace(/^address .*$/m, `address 127.0.0.1:${n.nodes[0]!.spec.mqttPort}`);
    const broker = (await Mosquitto.start(conf))!;
    after(() => broker.close());
    const inputs: string[] = [];
    const sub = nc.subscribe('edgestream.part.*.bridged.audio');
    void (async () => {
      for await (const m of sub) inputs.push(`${m.subject} ${m.string()}`);
    })();
    const device = await mqtt.connectAsync(broker.url, { protocolVersion: 4 });
    clients.push(device);
    const outputs: string[] = [];
    device.on('message', (t, p) => outputs.push(`${t} ${p.toString()}`));
    await device.subscribeAsync('edgestream/bridged/keyword', { qos: 1 });
    // The bridge connects asynchronously: publish until the first input comes through.
    await until(() => {
      device.publish('edgestream/bridged/audio', 'pcm', { qos: 0 });
      return inputs.length > 0;
    }, 'an input through the bridge');
    assert.equal(inputs[0], `edgestream.part.${partitionOf('bridged', 16)}.bridged.audio pcm`);
    const nats = await mqttClient();
    await until(() => {
      nats.publish('edgestream/bridged/keyword', '{"label":"yes"}', { qos: 1 });
      return outputs.length > 0;
    }, 'an output through the bridge');
    assert.equal(outputs[0], 'edgestream/bridged/keyword {"label":"yes"}');
    assert.doesNotMatch(broker.log, /refused|not authori/i);
    sub.unsubscribe();
  });
});
