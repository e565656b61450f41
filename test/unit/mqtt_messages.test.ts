import assert from 'node:assert/strict';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, it } from 'node:test';
import { isEdgestreamError } from '../../runtime/errors.js';
import { parseSensorPayload } from '../../runtime/operators/sensor_payload.js';
import { AudioMessageError, parseAudioMessage, type AudioMessageProperties } from '../../transports/mqtt/audio_message.js';
import { audioMessageProperties } from '../../transports/mqtt/audio_publisher.js';
import { warmUpAudioReceive } from '../../transports/mqtt/warm_up_receive.js';
import { bridgeDiscovery, deviceDiscovery, deviceDiscoveryTopic } from '../../transports/mqtt/discovery.js';
import { scoresPayload } from '../../transports/mqtt/payloads.js';
import { TopicSchema, checkBaseTopic } from '../../transports/mqtt/topics.js';
import { loadServiceConfig, parseServiceConfig } from '../../transports/service/config.js';
import { tempDir } from '../helpers/tmp.js';

const S16 = { encoding: 's16le' as const, rate: 16000, channels: 1 };
const LIMITS = { maxPayloadBytes: 65536, maxChunkMs: 1000 };
const parse = (payload: Uint8Array, props: AudioMessageProperties = {}) => parseAudioMessage('kitchen', payload, props, S16, LIMITS, 1);

function rejects(fn: () => unknown, reason: string, pattern: RegExp): void {
  assert.throws(fn, (e: unknown) => {
    assert.ok(e instanceof AudioMessageError, `expected AudioMessageError, got ${String(e)}`);
    assert.equal(e.reason, reason);
    assert.match(e.message, pattern);
    return true;
  });
}

describe('topic schema', () => {
  const t = new TopicSchema('edgestream');
  it('parses device topics and refuses bad device ids and the reserved bridge id', () => {
    assert.deepEqual(t.parse('edgestream/kitchen_1/audio'), { ok: true, device: 'kitchen_1', kind: 'audio' });
    assert.deepEqual(t.parse('edgestream/k-2/threshold/set'), { ok: true, device: 'k-2', kind: 'threshold/set' });
    for (const bad of ['edgestream/kü che/audio', 'edgestream/a.b/audio', 'edgestream/bridge/set', `edgestream/${'x'.repeat(65)}/audio`, 'edgestream//audio']) {
      assert.equal(t.parse(bad).ok, false, bad);
      assert.equal((t.parse(bad) as { reason: string }).reason, 'bad_device', bad);
    }
    assert.deepEqual(t.parse('edgestream/kitchen/other'), { ok: false, reason: 'unknown_topic' });
    assert.deepEqual(t.parse('other/kitchen/audio'), { ok: false, reason: 'unknown_topic' });
  });
  it('refuses base topics with wildcards, empty levels or a leading $', () => {
    for (const bad of ['a/+/b', 'kws#', '', '/kws', 'kws/', 'a//b', '$SYS']) assert.throws(() => checkBaseTopic(bad), (e) => isEdgestreamError(e, 'E_CONFIG'), bad);
    assert.equal(checkBaseTopic('home/kws'), 'home/kws');
  });
});

describe('audio messages', () => {
  it('defaults to the configured format; MQTT 5 properties override it', () => {
    const c = parse(new Uint8Array(640));
    assert.deepEqual(c.format, S16);
    assert.equal(c.kind, 'chunk');
    const d = parse(new Uint8Array(48 * 20 * 8), {
      contentType: 'audio/pcm;rate=48000;channels=2;format=f32le',
      userProperties: { seq: '17', timestamp: '340', type: 'chunk', width: '4' },
    });
    assert.deepEqual(d.format, { encoding: 'f32le', rate: 48000, channels: 2 });
    assert.equal(d.seq, 17);
    assert.equal(d.timestampMs, 340);
    const e = parse(new Uint8Array(0), { userProperties: { type: 'start' } });
    assert.equal(e.kind, 'start');
  });

  it('refuses payloads that are not whole frames, empty chunks and oversized chunks', () => {
    rejects(() => parse(new Uint8Array(641)), 'odd_length', /641 bytes is not a whole number of 2-byte frames/);
    rejects(() => parse(new Uint8Array(642), { userProperties: { width: '4' } }), 'odd_length', /4-byte frames/);
    rejects(() => parse(new Uint8Array(0)), 'empty', /empty/);
    rejects(() => parse(new Uint8Array(70000)), 'oversized', /70000 bytes exceeds the limit of 65536/);
    rejects(() => parse(new Uint8Array(16000 * 2 * 2)), 'oversized', /2000 ms exceeds the limit of 1000 ms/);
  });

  it('refuses wrong or contradictory format properties with a message that says what to send', () => {
    rejects(() => parse(new Uint8Array(640), { contentType: 'audio/L16;rate=16000' }), 'bad_format', /big-endian/);
    rejects(() => parse(new Uint8Array(640), { contentType: 'audio/mpeg' }), 'bad_format', /not supported/);
    rejects(() => parse(new Uint8Array(640), { userProperties: { rate: '16k' } }), 'bad_format', /rate="16k"/);
    rejects(() => parse(new Uint8Array(640), { userProperties: { rate: '100' } }), 'bad_format', /8000…192000/);
    rejects(() => parse(new Uint8Array(640), { userProperties: { channels: '0' } }), 'bad_format', /channels/);
    rejects(() => parse(new Uint8Array(640), { userProperties: { width: '3' } }), 'bad_format', /width="3"/);
    rejects(() => parse(new Uint8Array(640), { contentType: 'audio/pcm;format=s16le', userProperties: { width: '4' } }), 'bad_format', /contradicts/);
    rejects(() => parse(new Uint8Array(640), { contentType: 'audio/pcm;rate=16000', userProperties: { rate: '48000' } }), 'bad_format', /contradicts/);
    rejects(() => parse(new Uint8Array(640), { contentType: 'audio/pcm;format=mu-law' }), 'bad_format', /mu-law/);
    rejects(() => parse(new Uint8Array(640), { userProperties: { seq: '-1' } }), 'bad_metadata', /seq/);
    rejects(() => parse(new Uint8Array(640), { userProperties: { timestamp: 'noon' } }), 'bad_metadata', /timestamp/);
    rejects(() => parse(new Uint8Array(640), { userProperties: { type: 'pause' } }), 'bad_metadata', /chunk, start, stop/);
  });

  it('reads back what MqttAudioPublisher sends (format, seq, stream time, start/stop markers)', () => {
    const f32 = { encoding: 'f32le' as const, rate: 48000, channels: 2 };
    const c = parse(new Uint8Array(48 * 20 * 8), audioMessageProperties(f32, 'chunk', 41, 820.4));
    assert.deepEqual({ format: c.format, seq: c.seq, timestampMs: c.timestampMs, kind: c.kind }, { format: f32, seq: 41, timestampMs: 820, kind: 'chunk' });
    const stop = parse(new Uint8Array(0), audioMessageProperties(S16, 'stop', 42, 840));
    assert.equal(stop.kind, 'stop');
    assert.equal(stop.seq, undefined);
  });

  it('the start-up warm-up of the receive path runs on any configured format, even one its limits refuse', () => {
    assert.ok(warmUpAudioReceive(new TopicSchema('warm'), S16, LIMITS, 200) > 0);
    // 20 ms of 48 kHz stereo f32le is 7,680 bytes: over a 1 KiB packet limit, refused and skipped.
    assert.ok(warmUpAudioReceive(new TopicSchema('warm'), { encoding: 'f32le', rate: 48000, channels: 2 }, { maxPayloadBytes: 1024, maxChunkMs: 1000 }, 200) > 0);
  });
});

describe('sensor payloads', () => {
  const bad = (bytes: Uint8Array | string, pattern: RegExp, opts = {}): void => {
    const b = typeof bytes === 'string' ? new TextEncoder().encode(bytes) : bytes;
    assert.throws(() => parseSensorPayload(b, opts), (e: unknown) => isEdgestreamError(e, 'E_TRANSPORT_INPUT') && pattern.test(e.message));
  };
  it('reads JSON and binary float32 frames with their metadata', () => {
    const j = parseSensorPayload(new TextEncoder().encode(' {"seq": 3, "timestamp": 1700000000123, "values": [1.5, -2]} '));
    assert.deepEqual([...j.values], [1.5, -2]);
    assert.equal(j.seq, 3);
    assert.equal(j.timestampMs, 1700000000123);
    const bin = new Uint8Array(new Float32Array([0.25, 4]).buffer);
    const b = parseSensorPayload(bin, { userProperties: { seq: '9' } });
    assert.deepEqual([...b.values], [0.25, 4]);
    assert.equal(b.seq, 9);
    const forced = parseSensorPayload(new Uint8Array(new Float32Array([1]).buffer), { contentType: 'application/octet-stream' });
    assert.deepEqual([...forced.values], [1]);
  });
  it('refuses malformed JSON, missing/non-numeric values, NaN, wrong sizes', () => {
    bad('{"values": [1, 2', /not valid JSON/);
    bad('{"seq": 1}', /values/);
    bad('{"values": ["a"]}', /values\.0/);
    bad('{"values": []}', /values/);
    bad('{"values": [1e999]}', /values\.0/); // Infinity from JSON
    bad('{"values": [1], "seq": -4}', /seq/);
    bad('{"values": [1, 2, 3]}', /3 values, the model expects 2/, { expectedValues: 2 });
    bad(new Uint8Array(7), /not a whole number of float32/);
    bad(new Uint8Array(new Float32Array([1, Number.NaN]).buffer), /value 1 is NaN/);
    bad(new Uint8Array(0), /empty/);
    bad('{"values":[1]}', /content type "text\/plain"/, { contentType: 'text/plain' });
    bad(new Uint8Array(new Float32Array(5000).buffer), /5000 values \(at most 4096\)/);
  });
});

describe('Home Assistant discovery', () => {
  const topics = new TopicSchema('kws');
  const o = { topics, discoveryPrefix: 'homeassistant', eventTypes: ['yes', 'no'], swVersion: '1.2.3', modelName: 'kws35', audio: true, sensor: false };
  it('device discovery: stable ids, availability of bridge and device, the keyword event entity', () => {
    assert.equal(deviceDiscoveryTopic(o, 'kitchen'), 'homeassistant/device/kws_kitchen/config');
    const d = deviceDiscovery(o, { device: 'kitchen', name: 'Kitchen mic', area: 'Kitchen' }) as Record<string, any>;
    assert.deepEqual(d.dev.ids, ['kws_kitchen']);
    assert.equal(d.dev.name, 'Kitchen mic');
    assert.equal(d.dev.via_device, 'kws_bridge');
    assert.deepEqual(d.availability, [{ topic: 'kws/bridge/availability' }, { topic: 'kws/kitchen/availability' }]);
    assert.equal(d.availability_mode, 'all');
    assert.equal(d.cmps.keyword.p, 'event');
    assert.equal(d.cmps.keyword.state_topic, 'kws/kitchen/keyword');
    assert.deepEqual(d.cmps.keyword.event_types, ['yes', 'no']);
    assert.equal(d.cmps.keyword.unique_id, 'kws_kitchen_keyword');
    assert.equal(d.cmps.listening.command_topic, 'kws/kitchen/set');
    assert.equal(d.cmps.threshold.command_topic, 'kws/kitchen/threshold/set');
    assert.ok(!('object_id' in d.cmps.keyword), 'object_id is deprecated: default_entity_id is used');
    const b = bridgeDiscovery(o) as Record<string, any>;
    assert.deepEqual(b.dev.ids, ['kws_bridge']);
    assert.equal(b.cmps.dropped.entity_category, 'diagnostic');
    assert.equal(b.cmps.dropped.state_topic, 'kws/bridge/health');
  });
  it('scores payload: top-k labels by score', () => {
    const p = JSON.parse(scoresPayload({ device: 'k', end_ms: 100, scores: Float32Array.from([0.1, 0.9, 0.5]), labels: ['a', 'b', 'c'] }, 2));
    assert.deepEqual(p.top, [{ label: 'b', score: 0.9 }, { label: 'c', score: 0.5 }]);
  });
});

describe('service configuration', () => {
  it('defaults: every field optional', () => {
    const c = parseServiceConfig({});
    assert.equal(c.baseTopic, 'edgestream');
    assert.equal(c.mqtt.url, 'mqtt://localhost:1883');
    assert.equal(c.mqtt.protocolVersion, 'auto');
    assert.deepEqual(c.audio.format, { encoding: 's16le', rate: 16000, channels: 1 });
    assert.equal(c.homeassistant.discoveryPrefix, 'homeassistant');
    // No threshold pinned: the one stored with the model applies (else DEFAULT_THRESHOLD).
    assert.equal(c.decision.threshold, undefined);
  });
  it('lists every problem with its path; unknown keys are errors (typos do not pass silently)', () => {
    assert.throws(
      () => parseServiceConfig({ mqtt: { url: 'mqtt://x', protocolVersion: 6 }, audio: { format: { rate: 7 } }, devices: { 'bad id': {} }, mqttt: {} }),
      (e: unknown) => {
        assert.ok(isEdgestreamError(e, 'E_CONFIG'));
        for (const p of ['mqtt.protocolVersion', 'audio.format.rate', 'devices.bad id', 'mqttt']) assert.match(e.message, new RegExp(p.replace('.', '\\.')), p);
        return true;
      },
    );
    assert.throws(() => parseServiceConfig({ baseTopic: 'a/+' }), (e) => isEdgestreamError(e, 'E_CONFIG') && /wildcards/.test(e.message));
  });
  it('reads YAML or JSON files, resolves paths next to the file, takes secrets from the environment', () => {
    const dir = tempDir();
    const yaml = join(dir, 'edgestream.yaml');
    writeFileSync(yaml, 'baseTopic: kws\nmodel:\n  path: models/kws.safetensors\nmqtt:\n  url: mqtt://broker:1883\n  username: pi\n  passwordFile: secret.txt\ndevices:\n  kitchen:\n    name: Kitchen\n    threshold: 0.8\n');
    const c = loadServiceConfig(yaml, { EDGESTREAM_MQTT_PASSWORD: 's3cret', EDGESTREAM_MQTT_URL: 'mqtts://other:8883' });
    assert.equal(c.baseTopic, 'kws');
    assert.equal(c.model.path, join(dir, 'models/kws.safetensors'));
    assert.equal(c.mqtt.url, 'mqtts://other:8883');
    assert.equal(c.mqtt.password, 's3cret');
    assert.equal(c.mqtt.passwordFile, undefined, 'the environment password replaces the file one');
    assert.equal(c.devices.kitchen?.threshold, 0.8);
    const json = join(dir, 'c.json');
    writeFileSync(json, JSON.stringify({ mqtt: { passwordFile: 'pw' } }));
    assert.equal(loadServiceConfig(json, {}).mqtt.passwordFile, join(dir, 'pw'));
    writeFileSync(join(dir, 'bad.yaml'), 'mqtt: [1, 2\n');
    assert.throws(() => loadServiceConfig(join(dir, 'bad.yaml'), {}), (e) => isEdgestreamError(e, 'E_CONFIG') && /not valid YAML/.test(e.message));
    writeFileSync(join(dir, 'list.yaml'), '- a\n- b\n');
    assert.throws(() => loadServiceConfig(join(dir, 'list.yaml'), {}), (e) => isEdgestreamError(e, 'E_CONFIG') && /mapping/.test(e.message));
    assert.throws(() => loadServiceConfig(join(dir, 'missing.yaml'), {}), (e) => isEdgestreamError(e, 'E_CONFIG') && /cannot read/.test(e.message));
  });
});
