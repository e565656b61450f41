import assert from 'node:assert/strict';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { randomLmuformerModel } from '../../models/lmuformer/random_model.js';
import { loadModel } from '../../runtime/model/load_model.js';
import type { Model } from '../../runtime/model/model.js';
import { createService, type EdgestreamService } from '../../transports/service/service.js';
import { f32le, s16le, testSignal } from '../helpers/audio_signal.js';
import { runCli } from '../helpers/cli.js';
import { Mosquitto, MOSQUITTO_MISSING } from '../helpers/mosquitto.js';
import { MqttLog, sleep, until } from '../helpers/mqtt_log.js';
import { ROOT } from '../helpers/paths.js';
import { wavBytes } from '../helpers/wav_bytes.js';

// Issue 13 rows 1 and 2: NaN/Inf float audio used to throw inside the model session and escape
// RxJS (`serve` exited, taking every device down; `listen` died with a stack trace). It is now
// refused where PCM is decoded, with E_NONFINITE_INPUT.

const broker = await Mosquitto.start();
const skip = broker ? false : MOSQUITTO_MISSING;
const NANS = Buffer.from(new Float32Array(8000).fill(Number.NaN).buffer);
const F32_PROPS = { properties: { contentType: 'audio/pcm;rate=16000;channels=1;format=f32le' } };
const DEMO = join(ROOT, 'models/lmuformer/demo/kws35.safetensors');

describe('NaN/Inf audio over MQTT 5 (real mosquitto): a counted rejection, every stream goes on', { skip }, () => {
  let model: Model;
  let service: EdgestreamService;
  let log: MqttLog;
  before(async () => {
    model = await loadModel(randomLmuformerModel({ variant: 'lmu_rnn_conv1d', dim: 16, seed: 3 }).bytes, { backend: 'js' });
    service = createService({ mqtt: { url: broker!.url }, http: { enabled: false }, baseTopic: 'nf', decision: { threshold: 0, refractoryMs: 400 }, audio: { bufferChunks: 10_000, warmupMs: 0 }, homeassistant: { enabled: false } }, { model });
    await service.start();
    log = await MqttLog.connect(broker!.url, ['nf/+/keyword'], { protocolVersion: 5 });
  });
  after(async () => {
    await log?.close();
    await service?.stop();
    await broker?.close();
  });

  it('8,000 float32 NaNs (the issue\'s message) and an Inf chunk are rejected as nonfinite_audio; the device and another device keep their events', async () => {
    const rejected: { reason: string; message: string; device?: string }[] = [];
    service.on('rejected', (r) => rejected.push(r));
    const good = Buffer.from(s16le(testSignal(16000, 1.6, 9)));
    const goodF32 = Buffer.from(f32le(testSignal(16000, 1.6, 9)));
    const streamGood = async (): Promise<void> => {
      for (let o = 0; o < good.length; o += 640) {
        await log.client.publishAsync('nf/clean/audio', good.subarray(o, o + 640));
        if (o % 6400 === 0) await sleep(2);
      }
    };
    const streaming = streamGood();
    await log.client.publishAsync('nf/bad/audio', NANS, F32_PROPS);
    const inf = new Float32Array(320).fill(0.1);
    inf[17] = Infinity;
    await log.client.publishAsync('nf/bad/audio', Buffer.from(inf.buffer), F32_PROPS);
    await until(() => rejected.filter((r) => r.reason === 'nonfinite_audio').length === 2, 'both bad chunks rejected');
    // The bad device's stream goes on: its later finite chunks are processed and detected.
    for (let o = 0; o < goodF32.length; o += 1280) await log.client.publishAsync('nf/bad/audio', goodF32.subarray(o, o + 1280), F32_PROPS);
    await streaming;
    await log.waitFor((m) => m.topic === 'nf/bad/keyword', 'an event of the bad device after its NaN chunks');
    await log.waitFor((m) => m.topic === 'nf/clean/keyword', 'an event of the clean device');
    assert.ok(service.running, 'the service is still running');
    const nf = rejected.filter((r) => r.reason === 'nonfinite_audio');
    assert.ok(nf.every((r) => r.device === 'bad' && /E_NONFINITE_INPUT/.test(r.message)), JSON.stringify(nf));
    assert.equal(rejected.filter((r) => r.reason === 'pipeline_error').length, 0);
    await until(() => service.health().devices.clean?.chunks === Math.ceil(good.length / 640), 'every clean chunk counted');
  });
});

describe('listen on NaN/Inf float audio: the clear E_NONFINITE_INPUT error, no stack trace', () => {
  it('--format f32le on stdin', () => {
    const r = runCli(['listen', DEMO, '-', '--format', 'f32le', '--rate', '16000'], { input: new Uint8Array(NANS) });
    assert.notEqual(r.status, 0);
    assert.match(r.stderr, /E_NONFINITE_INPUT/);
    assert.doesNotMatch(r.stderr, /TypeError|\n\s+at .*\.(js|ts):\d+/, r.stderr);
  });

  it('a float32 WAV holding Infinity', () => {
    const x = new Float32Array(16000).fill(0.01);
    x[4000] = -Infinity;
    const r = runCli(['listen', DEMO, '-'], { input: wavBytes(new Uint8Array(x.buffer), { formatTag: 3, bitsPerSample: 32 }) });
    assert.notEqual(r.status, 0);
    assert.match(r.stderr, /E_NONFINITE_INPUT/);
    assert.doesNotMatch(r.stderr, /TypeError|\n\s+at .*\.(js|ts):\d+/, r.stderr);
  });
});
