import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { after, describe, it } from 'node:test';
import { freePort, Mosquitto, MOSQUITTO_MISSING, mosquittoBinary } from '../helpers/mosquitto.js';
import { until } from '../helpers/mqtt_log.js';
import { CLI, ROOT } from '../helpers/paths.js';
import { tempDir } from '../helpers/tmp.js';
import { TEST_TOKEN } from '../helpers/webrtc_server.js';
import { wrtcOrSkip } from '../helpers/wrtc.js';

// Issue 13 row 4, its second case: SIGTERM while a WebRTC peer is in its disconnect grace period
// (its machine vanished: ICE went `disconnected`, the grace timer runs) and the MQTT broker is
// gone: `serve` must still exit within 3 s. Real processes: mosquitto, `edgestream serve` with
// WebRTC enabled, and a Node WebRTC peer in its own process, SIGKILLed.

const { skip: noWrtc } = wrtcOrSkip();
const skip = noWrtc || (mosquittoBinary() ? false : MOSQUITTO_MISSING);

describe('SIGTERM with a WebRTC peer in its disconnect grace period and the broker gone', { skip }, () => {
  it('serve exits within 3 s', async () => {
    const broker = (await Mosquitto.start())!;
    after(() => broker.close());
    const dir = tempDir();
    const port = await freePort();
    const config = join(dir, 'serve.json');
    // Long grace and audio timeouts: the peer stays in its grace period until the SIGTERM.
    writeFileSync(config, JSON.stringify({ mqtt: { url: broker.url, reconnectMs: 200 }, http: { port }, homeassistant: { enabled: false }, webrtc: { enabled: true, token: TEST_TOKEN, disconnectGraceMs: 120_000, audioTimeoutMs: 120_000 } }));
    const serve = spawn(process.execPath, [CLI, 'serve', '--config', config], { stdio: ['ignore', 'ignore', 'pipe'], env: { ...process.env, EDGESTREAM_LOG: 'debug', EDGESTREAM_LOG_PRETTY: '0' } });
    let log = '';
    serve.stderr!.on('data', (d: Buffer) => (log += d.toString()));
    const exited = new Promise<number | null>((r) => serve.once('exit', (code) => r(code)));
    after(() => serve.kill('SIGKILL'));
    await until(() => /edgestream: serving/.test(log), 'serve up', 30_000);

    const peer = spawn(process.execPath, ['--import', 'tsx', join(ROOT, 'test/helpers/webrtc_peer_process.ts'), `http://127.0.0.1:${port}/webrtc/offer`, TEST_TOKEN, 'vanishing'], { cwd: ROOT, stdio: ['ignore', 'pipe', 'pipe'] });
    after(() => peer.kill('SIGKILL'));
    let out = '';
    peer.stdout!.on('data', (d: Buffer) => (out += d.toString()));
    await until(() => /connected/.test(out) && /webrtc peer connected/.test(log), 'the peer connected', 20_000);
    peer.kill('SIGSTOP'); // the browser's machine vanishes: no close, no goodbye, its packets go unanswered
    await until(() => /"state":"disconnected"/.test(log), 'ICE disconnected (the grace period begins)', 30_000).catch((e: unknown) => {
      process.stderr.write(log.split('\n').filter((l) => /webrtc|state/.test(l)).slice(-20).join('\n'));
      throw e;
    });
    assert.doesNotMatch(log, /webrtc peer closed/, 'the peer is still in its grace period');
    await broker.close(); // and the broker goes away
    await until(() => /mqtt (connection lost|disconnected|offline|closed)|reconnect/i.test(log), 'the service notices the broker is gone', 10_000).catch(() => undefined);
    const t0 = Date.now();
    serve.kill('SIGTERM');
    const code = await exited;
    const ms = Date.now() - t0;
    assert.ok(ms <= 3000, `serve took ${ms} ms to exit after SIGTERM`);
    assert.ok(code === 0 || code === 1, `exit code ${code}: ${log.slice(-1500)}`);
    process.stderr.write(`# SIGTERM → exit in ${ms} ms (code ${code}) with the peer in its grace period and the broker gone\n`);
  });
});
