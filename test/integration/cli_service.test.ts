import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, it } from 'node:test';
import { randomLmuformerModel } from '../../models/lmuformer/random_model.js';
import { testSignal } from '../helpers/audio_signal.js';
import { runCli } from '../helpers/cli.js';
import { CLI, ROOT } from '../helpers/paths.js';
import { tempDir } from '../helpers/tmp.js';
import { makeWav } from '../helpers/wav.js';

// The service's command line as users run it: `edgestream demo` (npm start) and `edgestream serve`.

function run(args: string[], timeoutMs = 60_000): Promise<{ code: number | null; stdout: string; stderr: string }> {
  return new Promise((resolve) => {
    const p = spawn(process.execPath, [CLI, ...args], { cwd: ROOT, env: { ...process.env, EDGESTREAM_LOG: 'warn' } });
    let stdout = '';
    let stderr = '';
    p.stdout.on('data', (d: Buffer) => (stdout += d.toString()));
    p.stderr.on('data', (d: Buffer) => (stderr += d.toString()));
    const timer = setTimeout(() => p.kill('SIGKILL'), timeoutMs);
    p.once('exit', (code) => {
      clearTimeout(timer);
      resolve({ code, stdout, stderr });
    });
  });
}

describe('edgestream demo and serve (CLI)', () => {
  const dir = tempDir();
  const modelPath = join(dir, 'model.safetensors');
  writeFileSync(modelPath, randomLmuformerModel({ variant: 'lmu_rnn_conv1d', dim: 16, seed: 8 }).bytes);
  const wav = join(dir, 'speech.wav');
  writeFileSync(wav, makeWav(testSignal(16000, 2, 4), 16000, '16'));

  it('demo: embedded broker, the recording streamed as a device, detections printed as published, clean exit', async () => {
    // A random model scores every label near 0.5, so the default threshold (0.5) lets some through.
    const r = await run(['demo', '--model', modelPath, '--audio', wav, '--speed', '4']);
    assert.equal(r.code, 0, r.stderr);
    assert.match(r.stdout, /embedded broker mqtt:\/\/127\.0\.0\.1:\d+ \(MQTT 3\.1\.1\)/);
    assert.match(r.stdout, /streaming .*speech\.wav \(2\.0 s at 16000 Hz\) as device "demo"/);
    assert.match(r.stdout, /\d+ detections?\./);
    const json = await run(['demo', '--model', modelPath, '--audio', wav, '--speed', '4', '--json', '--device', 'hall']);
    assert.equal(json.code, 0, json.stderr);
    const events = json.stdout.split('\n').filter((l) => l.startsWith('{')).map((l) => JSON.parse(l) as { device: string; id: string });
    const count = Number(/(\d+) detections?\./.exec(json.stdout)?.[1]);
    assert.equal(events.length, count);
    for (const e of events) assert.equal(e.device, 'hall');
  });

  it('demo: a missing model or bad options give exit 2 with a clear message', async () => {
    const missing = await run(['demo', '--model', join(dir, 'nope.safetensors'), '--audio', wav]);
    assert.equal(missing.code, 2);
    assert.match(missing.stderr, /edgestream: E_IO: cannot read .*nope\.safetensors/);
    const speed = await run(['demo', '--speed', '0']);
    assert.equal(speed.code, 2);
    assert.match(speed.stderr, /--speed must be in \(0, 100\]/);
  });

  it('serve: an invalid config file lists every problem (exit 2, E_CONFIG)', () => {
    const cfg = join(dir, 'bad.yaml');
    writeFileSync(cfg, 'baseTopic: "a/#"\nmqtt:\n  keepalive: 1\n  protocol: 5\naudio:\n  format:\n    encoding: mp3\n');
    const r = runCli(['serve', '--config', cfg]);
    assert.equal(r.status, 2);
    assert.match(r.stderr, /edgestream: E_CONFIG: .*bad\.yaml is not valid/);
    for (const p of ['mqtt.keepalive', 'mqtt: Unrecognized key', 'audio.format.encoding']) assert.match(r.stderr, new RegExp(p.replace(/\./g, '\\.')), p);
  });

  it('serve: an unreachable broker fails start-up with E_MQTT naming the cause (exit 2), so systemd restarts it', () => {
    const cfg = join(dir, 'unreachable.yaml');
    writeFileSync(cfg, `model:\n  path: ${modelPath}\nmqtt:\n  url: mqtt://127.0.0.1:1\n  connectTimeoutMs: 800\nhttp:\n  enabled: false\n`);
    const r = runCli(['serve', '--config', cfg]);
    assert.equal(r.status, 2);
    assert.match(r.stderr, /edgestream: E_MQTT: no connection to the MQTT broker at mqtt:\/\/127\.0\.0\.1:1\/? within 800 ms: .*ECONNREFUSED/);
  });
});
