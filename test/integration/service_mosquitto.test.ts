import assert from 'node:assert/strict';
import { execFileSync, spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { chmodSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { firstValueFrom, from, toArray } from 'rxjs';
import { randomLmuformerModel } from '../../models/lmuformer/random_model.js';
import { loadModel } from '../../runtime/model/load_model.js';
import type { Model } from '../../runtime/model/model.js';
import { keywordSpotting } from '../../runtime/operators/keyword_spotting.js';
import type { AudioChunk, DeviceKeywordEvent } from '../../runtime/operators/types.js';
import type { ServiceConfigInput } from '../../transports/service/config.js';
import { createService, type EdgestreamService } from '../../transports/service/service.js';
import { s16le, testSignal } from '../helpers/audio_signal.js';
import { Mosquitto, MOSQUITTO_MISSING } from '../helpers/mosquitto.js';
import { MqttLog, sleep, until } from '../helpers/mqtt_log.js';
import { CLI } from '../helpers/paths.js';
import { tempDir } from '../helpers/tmp.js';

// The service against a real mosquitto (Debian package), started by the test on a free loopback
// port, with real mqtt.js clients: MQTT 5 properties, 3.1.1, oversized packets, the Will, the
// SIGTERM order of `edgestream serve`, and a broker restart in the middle of a stream.

const DECISION = { threshold: 0.0, refractoryMs: 400 };
const broker = await Mosquitto.start();
const skip = broker ? false : MOSQUITTO_MISSING;

async function offline(model: Model, chunks: AudioChunk[]): Promise<string[]> {
  const out = await firstValueFrom(from(chunks).pipe(keywordSpotting(model, { decision: DECISION }), toArray()));
  return out.flatMap((o) => (o.type === 'keyword' ? [`${o.event.label}@${o.event.end_ms}`] : []));
}

/** Run `edgestream serve` as a separate process (what systemd runs). */
function serve(configPath: string): { proc: ChildProcess; stderr: () => string; exited: Promise<number | null> } {
  const proc = spawn(process.execPath, [CLI, 'serve', '--config', configPath], { stdio: ['ignore', 'ignore', 'pipe'], env: { ...process.env, EDGESTREAM_LOG: 'info', EDGESTREAM_LOG_PRETTY: '0' } });
  let err = '';
  proc.stderr!.on('data', (d: Buffer) => (err += d.toString()));
  const exited = new Promise<number | null>((r) => proc.once('exit', (code) => r(code)));
  return { proc, stderr: () => err, exited };
}

describe('stream service on mosquitto', { skip }, () => {
  let model: Model;
  let modelPath: string;
  const dir = tempDir();
  const services: EdgestreamService[] = [];
  const logs: MqttLog[] = [];

  async function start(config: ServiceConfigInput): Promise<EdgestreamService> {
    const s = createService({ mqtt: { url: broker!.url, reconnectMs: 300 }, http: { enabled: false }, decision: DECISION, audio: { bufferChunks: 10_000 }, ...config }, { model });
    services.push(s);
    await s.start();
    return s;
  }
  async function listen(topics: string[], protocolVersion: 4 | 5 = 5): Promise<MqttLog> {
    const l = await MqttLog.connect(broker!.url, topics, { protocolVersion });
    logs.push(l);
    return l;
  }

  before(async () => {
    const m = randomLmuformerModel({ variant: 'lmu_rnn_conv1d', dim: 16, seed: 3 });
    modelPath = join(dir, 'model.safetensors');
    writeFileSync(modelPath, m.bytes);
    model = await loadModel(m.bytes, { backend: 'js' });
  });
  after(async () => {
    for (const s of services) await s.stop();
    for (const l of logs) await l.close();
    await broker?.close();
  });

  // MQTT 5 with format properties (48 kHz f32le stereo, seq, timestamps) giving the offline events is
  // the transport contract's mosquitto case (transport_contract.test.ts).

  it('wrong format properties are refused and counted; a seq gap restarts the stream (counted, warm-up applied)', async () => {
    const log = await listen([]);
    const service = await start({ baseTopic: 'fmt' });
    const rejected: string[] = [];
    service.on('rejected', (r) => rejected.push(r.reason));
    const pcm = Buffer.from(s16le(testSignal(16000, 0.02)));
    await log.client.publishAsync('fmt/a/audio', pcm, { properties: { contentType: 'audio/L16;rate=16000' } });
    await log.client.publishAsync('fmt/a/audio', pcm, { properties: { userProperties: { rate: 'fast' } } });
    await log.client.publishAsync('fmt/a/audio', pcm, { properties: { userProperties: { width: '4', channels: '3' } } });
    await log.client.publishAsync('fmt/a/audio', pcm, { properties: { contentType: 'audio/pcm;format=s16le', userProperties: { width: '4' } } });
    await until(() => rejected.length === 4, '4 rejections');
    assert.deepEqual(rejected.sort(), ['bad_format', 'bad_format', 'bad_format', 'odd_length']);
    for (const seq of [0, 1, 2, 5, 6]) await log.client.publishAsync('fmt/b/audio', pcm, { properties: { userProperties: { seq: String(seq), timestamp: String(seq * 20) } } });
    await until(() => (service.health().devices.b?.chunks ?? 0) === 5, '5 chunks');
    await sleep(50);
    assert.equal(service.health().devices.b!.gaps, 1);
    assert.equal(service.health().devices.b!.resets, 1);
  });

  it('oversized messages: MQTT 5 tells the broker our maximum packet size (it drops them); on 3.1.1 the service refuses them; the stream goes on', async () => {
    const log = await listen([]);
    const s5 = await start({ baseTopic: 'big5', mqtt: { url: broker!.url, maxPacketBytes: 8192 } });
    const s4 = await start({ baseTopic: 'big4', mqtt: { url: broker!.url, maxPacketBytes: 8192, protocolVersion: 4 } });
    assert.equal(s4.protocolVersion, 4);
    const rejected: string[] = [];
    s4.on('rejected', (r) => rejected.push(r.reason));
    const ok = Buffer.from(s16le(testSignal(16000, 0.02)));
    for (const base of ['big5', 'big4']) {
      await log.client.publishAsync(`${base}/x/audio`, ok);
      await log.client.publishAsync(`${base}/x/audio`, Buffer.alloc(64_000));
      await log.client.publishAsync(`${base}/x/audio`, ok);
    }
    await until(() => s5.health().devices.x?.chunks === 2 && s4.health().devices.x?.chunks === 2, 'the normal chunks around the big one');
    assert.equal(s5.health().messages_rejected, 0, 'the broker never delivered the big packet');
    assert.deepEqual(rejected, ['oversized']);
    assert.ok(s5.mqttConnected && s4.mqttConnected, 'still connected');
  });

  it('the Will: a service that dies without DISCONNECT leaves bridge availability offline (retained)', async () => {
    const cfg = join(dir, 'will.yaml');
    writeFileSync(cfg, `baseTopic: will\nmodel:\n  path: ${modelPath}\n  backend: js\nmqtt:\n  url: ${broker!.url}\nhttp:\n  enabled: false\n`);
    const log = await listen(['will/bridge/availability']);
    const child = serve(cfg);
    try {
      await log.waitFor((m) => m.text === 'online', 'birth online', 20_000);
      child.proc.kill('SIGKILL');
      await child.exited;
      await log.waitFor((m) => m.text === 'offline', 'the Will', 10_000);
      const late = await listen(['will/bridge/availability']);
      const retained = await late.waitFor(() => true, 'retained availability');
      assert.equal(retained.text, 'offline');
      assert.equal(retained.retain, true);
    } finally {
      child.proc.kill('SIGKILL');
    }
  });

  it('SIGTERM: offline is published for the devices and the bridge first, then a clean DISCONNECT (no Will), exit 0', async () => {
    const cfg = join(dir, 'term.yaml');
    writeFileSync(cfg, `baseTopic: term\nmodel:\n  path: ${modelPath}\n  backend: js\nmqtt:\n  url: ${broker!.url}\n  clientId: edgestream-sigterm-test\nhttp:\n  enabled: false\n`);
    const log = await listen(['term/#']);
    const child = serve(cfg);
    try {
      await log.waitFor((m) => m.topic === 'term/bridge/availability' && m.text === 'online', 'birth', 20_000);
      const pcm = Buffer.from(s16le(testSignal(16000, 0.2)));
      for (let o = 0; o < pcm.length; o += 640) await log.client.publishAsync('term/mic/audio', pcm.subarray(o, o + 640));
      await log.waitFor((m) => m.topic === 'term/mic/availability' && m.text === 'online', 'device online');
      const mark = log.messages.length;
      child.proc.kill('SIGTERM');
      assert.equal(await child.exited, 0, child.stderr());
      await log.waitFor((m) => m.topic === 'term/bridge/availability' && m.text === 'offline', 'bridge offline');
      const afterTerm = log.messages.slice(mark).map((m) => `${m.topic}=${m.text}`);
      assert.deepEqual(afterTerm.filter((t) => t.includes('availability')), ['term/mic/availability=offline', 'term/bridge/availability=offline']);
      // mosquitto logs a DISCONNECT as "disconnected"; a Will-triggering drop as "closed its connection".
      await until(() => /Client edgestream-sigterm-test (disconnected|closed)/.test(broker!.log), 'the broker logging the disconnect', 5000);
      assert.match(broker!.log, /Client edgestream-sigterm-test disconnected\./);
      assert.doesNotMatch(broker!.log, /edgestream-sigterm-test closed its connection/);
      assert.match(child.stderr(), /"msg":"stopping"[\s\S]*"msg":"stopped"/);
    } finally {
      child.proc.kill('SIGKILL');
    }
  });

  it('a broker restart mid-stream: the service reconnects, resubscribes, re-announces and keeps detecting', async () => {
    const log = await listen([]);
    const service = await start({ baseTopic: 'rs' });
    const connections: boolean[] = [];
    service.on('connection', (c) => connections.push(c.connected));
    const pcm = s16le(testSignal(16000, 6, 11));
    const device = await MqttLog.connect(broker!.url, [], { protocolVersion: 5, reconnectPeriod: 100 });
    logs.push(device);
    let sent = 0;
    let stop = false;
    // A device streaming in (4×) real time the whole time.
    const streaming = (async () => {
      for (let o = 0; o < pcm.length && !stop; o += 640) {
        if (device.client.connected) {
          await device.client.publishAsync('rs/live/audio', Buffer.from(pcm.subarray(o, o + 640))).catch(() => undefined);
          sent++;
        }
        await sleep(5);
      }
    })();
    await until(() => (service.health().devices.live?.chunks ?? 0) > 50, 'chunks before the restart');
    const eventsBefore = service.health().devices.live!.events;
    await broker!.restart(300);
    await until(() => connections.includes(false) && service.mqttConnected, 'reconnected', 15_000);
    const sub = await listen(['rs/live/keyword', 'rs/bridge/availability']);
    await sub.waitFor((m) => m.topic === 'rs/bridge/availability' && m.text === 'online', 're-announced birth (the restarted broker kept nothing)');
    const chunksAt = service.health().devices.live!.chunks;
    await until(() => service.health().devices.live!.chunks > chunksAt + 20, 'chunks after the restart (resubscribed)', 10_000);
    await sub.waitFor((m) => m.topic === 'rs/live/keyword', 'a detection after the restart', 10_000);
    stop = true;
    await streaming;
    assert.ok(service.running);
    assert.ok(service.health().devices.live!.events > eventsBefore);
    assert.ok(sent > 0);
  });
});

describe('broker security: username/password and TLS (real mosquitto)', { skip }, () => {
  // mosquitto drops root privileges to its own user: the files it reads must be world-readable (test secrets only).
  const dir = tempDir();
  chmodSync(dir, 0o755);
  const readable = (...files: string[]): void => files.forEach((f) => chmodSync(f, 0o644));
  let model: Model;
  before(async () => {
    model = await loadModel(randomLmuformerModel({ variant: 'lmu_rnn_conv1d', dim: 8, seed: 1 }).bytes, { backend: 'js' });
  });

  it('the right username/password connect; wrong ones fail start() with E_MQTT (not a hang)', async () => {
    const pw = join(dir, 'passwd');
    execFileSync('mosquitto_passwd', ['-b', '-c', pw, 'kws', 'right-secret']);
    readable(pw);
    const b = await Mosquitto.start(`password_file ${pw}`, { allowAnonymous: false });
    try {
      const good = createService({ baseTopic: 'auth', mqtt: { url: b!.url, username: 'kws', password: 'right-secret' }, http: { enabled: false } }, { model });
      await good.start();
      assert.ok(good.mqttConnected);
      await good.stop();
      const bad = createService({ baseTopic: 'auth', mqtt: { url: b!.url, username: 'kws', password: 'wrong', connectTimeoutMs: 1500 }, http: { enabled: false } }, { model });
      await assert.rejects(bad.start(), (e: unknown) => e instanceof Error && (e as { code?: string }).code === 'E_MQTT' && /no connection.*Not authorized/i.test(e.message));
    } finally {
      await b?.close();
    }
  });

  const noOpenssl = spawnSync('openssl', ['version']).status === 0 ? false : 'openssl is not installed (Debian package `openssl`), needed to make the test certificates';
  it('mqtts: with the broker CA the service connects over TLS; without it the certificate is refused', { skip: noOpenssl }, async () => {
    const pem = (name: string): string => join(dir, name);
    const ssl = (...args: string[]): void => void execFileSync('openssl', args, { stdio: 'ignore' });
    ssl('req', '-x509', '-newkey', 'rsa:2048', '-nodes', '-days', '2', '-subj', '/CN=edgestream test CA', '-keyout', pem('ca.key'), '-out', pem('ca.crt'));
    ssl('req', '-newkey', 'rsa:2048', '-nodes', '-subj', '/CN=localhost', '-keyout', pem('server.key'), '-out', pem('server.csr'));
    writeFileSync(pem('san.ext'), 'subjectAltName=DNS:localhost,IP:127.0.0.1\n');
    ssl('x509', '-req', '-in', pem('server.csr'), '-CA', pem('ca.crt'), '-CAkey', pem('ca.key'), '-CAcreateserial', '-days', '2', '-extfile', pem('san.ext'), '-out', pem('server.crt'));
    readable(pem('ca.crt'), pem('server.crt'), pem('server.key'));
    const b = await Mosquitto.start('', { scheme: 'mqtts', listener: [`cafile ${pem('ca.crt')}`, `certfile ${pem('server.crt')}`, `keyfile ${pem('server.key')}`] });
    try {
      const secure = createService({ baseTopic: 'tls', mqtt: { url: b!.url, tls: { ca: pem('ca.crt') } }, http: { enabled: false } }, { model });
      await secure.start();
      assert.ok(secure.mqttConnected);
      const log = await MqttLog.connect(b!.url, ['tls/bridge/availability'], { ca: readFileSync(pem('ca.crt')) });
      assert.equal((await log.waitFor(() => true, 'birth over TLS')).text, 'online');
      await log.close();
      await secure.stop();
      const untrusted = createService({ baseTopic: 'tls', mqtt: { url: b!.url, connectTimeoutMs: 1500 }, http: { enabled: false } }, { model });
      await assert.rejects(untrusted.start(), (e: unknown) => (e as { code?: string }).code === 'E_MQTT' && /certificate/i.test((e as Error).message));
    } finally {
      await b?.close();
    }
  });
});
