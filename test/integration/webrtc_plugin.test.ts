import assert from 'node:assert/strict';
import { EventEmitter } from 'node:events';
import { writeFileSync } from 'node:fs';
import { createServer, type IncomingMessage, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { join } from 'node:path';
import { after, describe, it } from 'node:test';
import { pino } from 'pino';
import { filter, firstValueFrom, timeout, type Observable, type Subscription } from 'rxjs';
import { randomLmuformerModel } from '../../models/lmuformer/random_model.js';
import { isEdgestreamError } from '../../runtime/errors.js';
import { loadModel } from '../../runtime/model/load_model.js';
import { startEmbeddedBroker } from '../../transports/mqtt/embedded_broker.js';
import { parseServiceConfig } from '../../transports/service/config.js';
import { createService } from '../../transports/service/service.js';
import type { AudioChunk, DeviceKeywordEvent } from '../../runtime/operators/types.js';
import { webrtcPlugin, webrtcPluginFromConfig, type WebRtcHost } from '../../transports/webrtc/plugin.js';
import type { ScoresLike } from '../../transports/webrtc/ingress.js';
import { WebRtcClient } from '../../transports/webrtc/webrtc_client.js';
import { tempDir } from '../helpers/tmp.js';
import { waitFor } from '../helpers/webrtc_server.js';
import { wrtcOrSkip } from '../helpers/wrtc.js';

// The WebRTC plugin mounted on a host with the service's surface (routes, attached audio
// sources, keyword/scores events): audio reaches the host, the host's events reach the browser.

const { skip } = wrtcOrSkip();

interface HostEvents {
  keyword: [DeviceKeywordEvent];
  scores: [ScoresLike];
}

/** The parts of EdgestreamService the plugin uses, on a real HTTP server. */
class TestHost extends EventEmitter<HostEvents> implements WebRtcHost {
  readonly model = { name: 'test-model', labels: ['yes', 'no', 'up'], frontend: { sampleRate: 16000 } };
  readonly logged: { level: string; obj: Record<string, unknown>; msg: string }[] = [];
  readonly log = pino({ level: 'info' }, { write: (line: string) => void this.logged.push(parseLog(line)) });
  readonly chunks: AudioChunk[] = [];
  readonly routes = new Map<string, (req: IncomingMessage, res: ServerResponse) => void | Promise<void>>();
  readonly server = createServer((req, res) => {
    const h = this.routes.get(`${req.method} ${(req.url ?? '/').split('?')[0]}`);
    if (h) void h(req, res);
    else res.writeHead(404).end();
  });
  route(method: string, path: string, handler: (req: IncomingMessage, res: ServerResponse) => void | Promise<void>): void {
    this.routes.set(`${method} ${path}`, handler);
  }
  attachAudioSource(source: Observable<AudioChunk>): Subscription {
    return source.subscribe((c) => this.chunks.push(c));
  }
  async listen(): Promise<string> {
    await new Promise<void>((r) => this.server.listen(0, '127.0.0.1', () => r()));
    after(() => {
      this.server.closeAllConnections();
      this.server.close();
    });
    return `http://127.0.0.1:${(this.server.address() as AddressInfo).port}`;
  }
}

function parseLog(line: string): { level: string; obj: Record<string, unknown>; msg: string } {
  const o = JSON.parse(line) as Record<string, unknown>;
  return { level: String(o.level), obj: o, msg: String(o.msg) };
}

describe('WebRTC service plugin', { skip }, () => {
  it('mounts the endpoint and page, feeds browser audio to the host and sends the host events back', async () => {
    const host = new TestHost();
    const plugin = webrtcPlugin({ token: 'plugin-token-123456', env: {} });
    plugin.start(host);
    after(() => plugin.stop());
    assert.deepEqual([...host.routes.keys()].sort(), ['GET /webrtc', 'GET /webrtc/', 'GET /webrtc/app.js', 'GET /webrtc/style.css', 'POST /webrtc/offer']);
    const origin = await host.listen();
    const client = await WebRtcClient.connect({ url: `${origin}/webrtc/offer`, token: 'plugin-token-123456', device: 'den' });
    after(() => client.close());
    const hello = await firstValueFrom(client.messages$.pipe(filter((m) => m.type === 'hello'), timeout(2000)));
    assert.deepEqual(hello, { type: 'hello', device: 'den', sampleRate: 16000, model: 'test-model', labels: ['yes', 'no', 'up'] });
    client.write(new Float32Array(3200));
    await waitFor(() => host.chunks.filter((c) => c.kind === 'chunk').length >= 10, 3000, 'audio at the host');
    assert.equal(host.chunks[0]!.kind, 'start');
    assert.equal(host.chunks[0]!.device, 'den');

    const event: DeviceKeywordEvent = { event_type: 'yes', label: 'yes', score: 0.91, threshold: 0.5, start_ms: 120, end_ms: 900, frame: 90, device: 'den', id: 'den-120', ts: new Date().toISOString(), model: 'test-model', model_version: '1' };
    host.emit('keyword', { ...event, device: 'elsewhere', id: 'elsewhere-120' }); // another device's event stays there
    host.emit('keyword', event);
    const got = await firstValueFrom(client.messages$.pipe(filter((m) => m.type === 'keyword'), timeout(2000)));
    assert.deepEqual(got, { type: 'keyword', event });
    host.emit('scores', { device: 'den', labels: ['yes', 'no', 'up'], scores: Float32Array.of(0.1, 0.7, 0.2), end_ms: 1000 });
    const scores = await firstValueFrom(client.messages$.pipe(filter((m) => m.type === 'scores'), timeout(2000)));
    assert.deepEqual(scores, { type: 'scores', end_ms: 1000, top: [{ label: 'no', score: 0.7 }, { label: 'up', score: 0.2 }, { label: 'yes', score: 0.1 }] });

    await plugin.stop();
    assert.equal(host.listenerCount('keyword'), 0);
    assert.equal(host.listenerCount('scores'), 0);
    assert.equal(host.chunks.at(-1)!.kind, 'stop', 'stopping ends the browser streams');
  });

  it('takes the token from EDGESTREAM_WEBRTC_TOKEN, then token, then tokenFile, else makes one and logs the page link', async () => {
    const dir = tempDir();
    const file = join(dir, 'token');
    writeFileSync(file, 'token-from-file-1234\n');
    const tryToken = async (options: Parameters<typeof webrtcPlugin>[0], token: string): Promise<number> => {
      const host = new TestHost();
      const plugin = webrtcPlugin(options);
      plugin.start(host);
      const origin = await host.listen();
      const res = await fetch(`${origin}/webrtc/offer`, { method: 'POST', headers: { authorization: `Bearer ${token}`, 'content-type': 'application/json' }, body: '{}' });
      await plugin.stop();
      return res.status; // 400 (bad body) once past the token check, 401 otherwise
    };
    assert.equal(await tryToken({ token: 'token-in-config-1', tokenFile: file, env: { EDGESTREAM_WEBRTC_TOKEN: 'token-from-env-123' } }, 'token-from-env-123'), 400);
    assert.equal(await tryToken({ token: 'token-in-config-1', tokenFile: file, env: { EDGESTREAM_WEBRTC_TOKEN: 'token-from-env-123' } }, 'token-in-config-1'), 401);
    assert.equal(await tryToken({ token: 'token-in-config-1', tokenFile: file, env: {} }, 'token-in-config-1'), 400);
    assert.equal(await tryToken({ tokenFile: file, env: {} }, 'token-from-file-1234'), 400);

    const host = new TestHost();
    const plugin = webrtcPlugin({ env: {} });
    plugin.start(host);
    after(() => plugin.stop());
    const warning = host.logged.find((l) => /webrtc.token is not set/.test(l.msg));
    assert.ok(warning, 'the generated token is announced');
    const link = String(warning.obj.page);
    assert.match(link, /^\/webrtc\/#token=[A-Za-z0-9_-]{24}$/);
  });

  it('follows the service configuration: a plugin only when `webrtc.enabled`', () => {
    assert.equal(webrtcPluginFromConfig(undefined), null);
    assert.equal(webrtcPluginFromConfig({ enabled: false, token: 'x' }), null); // not validated when off
    const p = webrtcPluginFromConfig({ enabled: true, token: 'config-token-1234', maxPeers: 3, basePath: '/mic' });
    assert.equal(p?.config.maxPeers, 3);
    assert.equal(p?.config.basePath, '/mic');
    assert.throws(() => webrtcPluginFromConfig({ enabled: true, maxPeers: 0 }), (e: unknown) => isEdgestreamError(e, 'E_CONFIG') && /webrtc\.maxPeers/.test(e.message));
  });

  it('a service whose configuration says webrtc.enabled serves the page and the endpoint', async () => {
    assert.throws(() => parseServiceConfig({ webrtc: { enabled: true, maxPeers: 0 } }), (e: unknown) => isEdgestreamError(e, 'E_CONFIG') && /webrtc\.maxPeers/.test(e.message));
    assert.throws(() => parseServiceConfig({ webrtc: { enabled: true, tokn: 'typo' } }), (e: unknown) => isEdgestreamError(e, 'E_CONFIG') && /tokn/.test(e.message));
    const broker = await startEmbeddedBroker();
    const model = await loadModel(randomLmuformerModel({ variant: 'lmu_rnn_conv1d', dim: 16, seed: 3 }).bytes, { backend: 'js' });
    const service = createService({ mqtt: { url: broker.url }, http: { port: 0 }, homeassistant: { enabled: false }, health: { intervalMs: 0 }, webrtc: { enabled: true, token: 'service-token-1234' } }, { model, logger: pino({ level: 'silent' }) });
    try {
      await service.start();
      const origin = `http://127.0.0.1:${service.httpPort}`;
      assert.equal((await fetch(`${origin}/webrtc/`)).status, 200);
      const refused = await fetch(`${origin}/webrtc/offer`, { method: 'POST', headers: { authorization: 'Bearer nope-nope-nope', 'content-type': 'application/json' }, body: '{}' });
      assert.equal(refused.status, 401);
      const client = await WebRtcClient.connect({ url: `${origin}/webrtc/offer`, token: 'service-token-1234', device: 'attic' });
      client.write(new Float32Array(16000));
      await waitFor(() => (service.health().devices.attic?.chunks ?? 0) >= 50, 5000, 'the browser audio in the service pipeline');
      let metrics = await (await fetch(`${origin}/metrics`)).text();
      assert.match(metrics, /^edgestream_webrtc_peers 1$/m);
      assert.match(metrics, /^edgestream_webrtc_offers_refused_total\{reason="unauthorized"\} 1$/m);
      client.close();
      for (let i = 0; i < 100 && !/^edgestream_webrtc_peers 0$/m.test(metrics); i++) {
        await new Promise((r) => setTimeout(r, 30));
        metrics = await (await fetch(`${origin}/metrics`)).text();
      }
      assert.match(metrics, /^edgestream_webrtc_peers 0$/m);
      assert.match(metrics, /^edgestream_webrtc_peers_closed_total\{reason="remote_closed"\} 1$/m);
    } finally {
      await service.stop();
      await broker.close();
    }
  });

  it('refuses bad settings with E_CONFIG naming the field', () => {
    assert.throws(() => webrtcPlugin({ token: 'short' }), (e: unknown) => isEdgestreamError(e, 'E_CONFIG') && /webrtc\.token/.test(e.message));
    assert.throws(() => webrtcPlugin({ maxPeers: -1 }), (e: unknown) => isEdgestreamError(e, 'E_CONFIG') && /webrtc\.maxPeers/.test(e.message));
    assert.throws(() => webrtcPlugin({ bogus: 1 } as Parameters<typeof webrtcPlugin>[0]), (e: unknown) => isEdgestreamError(e, 'E_CONFIG') && /bogus/.test(e.message));
    const host = new TestHost();
    assert.throws(() => webrtcPlugin({ tokenFile: '/nonexistent/token', env: {} }).start(host), (e: unknown) => isEdgestreamError(e, 'E_CONFIG') && /webrtc.tokenFile \/nonexistent\/token cannot be read/.test(e.message));
  });
});
