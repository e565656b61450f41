import assert from 'node:assert/strict';
import { request } from 'node:http';
import { after, describe, it } from 'node:test';
import { isEdgestreamError } from '../../runtime/errors.js';
import { AudioSourceWriter } from '../../transports/webrtc/audio_source_writer.js';
import { createWebRtcIngress } from '../../transports/webrtc/ingress.js';
import { WebRtcClient } from '../../transports/webrtc/webrtc_client.js';
import type { Wrtc } from '../../transports/webrtc/wrtc.js';
import { startIngressServer, TEST_TOKEN, waitFor } from '../helpers/webrtc_server.js';
import { wrtcOrSkip } from '../helpers/wrtc.js';

// Bad input on the signalling endpoint: every refusal is a clear status and message, never a
// crash, never a peer left behind, and a wrong token learns nothing.

const { wrtc, skip } = wrtcOrSkip();

/** A real browser-like offer (audio track + data channel, all candidates) from a Node peer. */
async function makeOffer(w: Wrtc): Promise<string> {
  const pc = new w.RTCPeerConnection();
  const writer = new AudioSourceWriter(w, 48000);
  pc.addTrack(writer.track);
  pc.createDataChannel('events');
  await pc.setLocalDescription(await pc.createOffer());
  await waitFor(() => pc.iceGatheringState === 'complete', 5000, 'ICE gathering');
  const sdp = pc.localDescription!.sdp;
  writer.stop();
  pc.close();
  return sdp;
}

async function post(url: string, body: string | object, headers: Record<string, string> = {}): Promise<{ status: number; json: Record<string, unknown>; headers: Headers }> {
  const res = await fetch(url, {
    method: 'POST',
    headers: { authorization: `Bearer ${TEST_TOKEN}`, 'content-type': 'application/json', ...headers },
    body: typeof body === 'string' ? body : JSON.stringify(body),
  });
  const text = await res.text();
  let json: Record<string, unknown> = {};
  try {
    json = JSON.parse(text) as Record<string, unknown>;
  } catch {
    json = { raw: text };
  }
  return { status: res.status, json, headers: res.headers };
}

describe('WebRTC signalling endpoint: bad input', { skip }, async () => {
  const srv = skip ? null : await startIngressServer({ maxPeers: 2, maxBodyBytes: 16 * 1024, bodyTimeoutMs: 300 });
  const offer = skip ? '' : await makeOffer(wrtc!);
  const clients: WebRtcClient[] = [];
  after(async () => {
    clients.forEach((c) => c.close());
    await srv?.close();
  });

  it('a wrong, missing or malformed token is a bare 401 that reveals nothing', async () => {
    const { offerUrl, ingress } = srv!;
    const valid = { type: 'offer', sdp: offer, device: 'kitchen' };
    for (const authorization of ['Bearer wrong-token-0123456789', `Bearer ${TEST_TOKEN.slice(0, -1)}`, `Bearer ${TEST_TOKEN}x`, `Basic ${TEST_TOKEN}`, TEST_TOKEN, 'Bearer ', '']) {
      const r = await post(offerUrl, valid, { authorization });
      assert.equal(r.status, 401, `authorization "${authorization}"`);
      assert.deepEqual(r.json, { error: 'unauthorized' });
      assert.equal(r.headers.get('www-authenticate'), 'Bearer realm="edgestream"');
    }
    // Unauthenticated garbage gets the same answer as an unauthenticated valid offer.
    const garbage = await post(offerUrl, 'not json at all', { authorization: 'Bearer nope-nope-nope' });
    assert.equal(garbage.status, 401);
    assert.deepEqual(garbage.json, { error: 'unauthorized' });
    assert.equal(ingress.stats().peers, 0);
    assert.equal(ingress.stats().rejected.unauthorized, 8);
  });

  it('refuses non-JSON bodies, wrong content types and bad device ids with 4xx and a useful message', async () => {
    const { offerUrl } = srv!;
    let r = await post(offerUrl, '{"type":"offer",', {});
    assert.equal(r.status, 400);
    assert.match(String(r.json.error), /not JSON/);
    r = await post(offerUrl, { type: 'offer', sdp: offer, device: 'kitchen' }, { 'content-type': 'text/plain' });
    assert.equal(r.status, 415);
    for (const device of ['kitchen/#', 'a+b', '', 'x'.repeat(65), 'küche']) {
      r = await post(offerUrl, { type: 'offer', sdp: offer, device });
      assert.equal(r.status, 400, `device "${device}"`);
      assert.match(String(r.json.error), /device must be 1–64 characters from \[A-Za-z0-9_-\]/);
    }
    r = await post(offerUrl, { type: 'answer', sdp: offer, device: 'kitchen' });
    assert.equal(r.status, 400);
    assert.match(String(r.json.error), /invalid offer at type/);
    r = await post(offerUrl, { sdp: 42, device: 'kitchen', type: 'offer' });
    assert.equal(r.status, 400);
    assert.match(String(r.json.error), /invalid offer at sdp/);
    r = await post(offerUrl, [1, 2, 3]);
    assert.equal(r.status, 400);
  });

  it('refuses malformed SDP: not SDP, no audio section, or rejected by the WebRTC stack; no peer is left', async () => {
    const { offerUrl, ingress } = srv!;
    let r = await post(offerUrl, { type: 'offer', sdp: 'hello', device: 'kitchen' });
    assert.equal(r.status, 400);
    assert.match(String(r.json.error), /must start with v=0/);
    r = await post(offerUrl, { type: 'offer', sdp: offer.replace(/^m=audio /m, 'm=video '), device: 'kitchen' });
    assert.equal(r.status, 400);
    assert.match(String(r.json.error), /no audio section/);
    r = await post(offerUrl, { type: 'offer', sdp: 'v=0\r\nm=audio 9 UDP/TLS/RTP/SAVPF 111\r\nthis is not sdp\r\n', device: 'kitchen' });
    assert.equal(r.status, 400);
    assert.match(String(r.json.error), /^the SDP offer was rejected: /);
    const truncated = offer.slice(0, Math.floor(offer.length / 2));
    r = await post(offerUrl, { type: 'offer', sdp: truncated, device: 'kitchen' });
    assert.equal(r.status, 400);
    assert.match(String(r.json.error), /^the SDP offer was rejected: /);
    assert.equal(ingress.stats().peers, 0);
  });

  it('refuses oversized bodies with 413, declared or streamed', async () => {
    const { offerUrl, origin } = srv!;
    const big = { type: 'offer', sdp: `${offer}a=x:${'y'.repeat(20_000)}\r\n`, device: 'kitchen' };
    const r = await post(offerUrl, big);
    assert.equal(r.status, 413);
    assert.match(String(r.json.error), /larger than 16384 bytes/);
    // Chunked, with no content-length: cut off while streaming.
    const status = await new Promise<number>((resolve, reject) => {
      const req = request(`${origin}/webrtc/offer`, { method: 'POST', headers: { authorization: `Bearer ${TEST_TOKEN}`, 'content-type': 'application/json', 'transfer-encoding': 'chunked' } }, (res) => {
        res.resume();
        resolve(res.statusCode ?? 0);
      });
      req.on('error', reject);
      const piece = 'x'.repeat(4096);
      let sent = 0;
      const pump = (): void => {
        while (sent < 64 && req.write(piece)) sent++;
        if (sent < 64) req.once('drain', pump);
        else req.end();
      };
      pump();
    });
    assert.equal(status, 413);
  });

  it('gives up on a body that does not arrive (408)', async () => {
    const { origin } = srv!;
    const status = await new Promise<number>((resolve, reject) => {
      const req = request(`${origin}/webrtc/offer`, { method: 'POST', headers: { authorization: `Bearer ${TEST_TOKEN}`, 'content-type': 'application/json', 'content-length': '1000' } }, (res) => {
        res.resume();
        resolve(res.statusCode ?? 0);
      });
      req.on('error', reject);
      req.write('{"type":"offer",'); // …and nothing more
    });
    assert.equal(status, 408);
  });

  it('answers only POST on the offer path, serves the page, and leaves other paths to the caller', async () => {
    const { origin, ingress } = srv!;
    let res = await fetch(`${origin}/webrtc/offer`);
    assert.equal(res.status, 405);
    assert.equal(res.headers.get('allow'), 'POST');
    res = await fetch(`${origin}/webrtc/`);
    assert.equal(res.status, 200);
    assert.match(res.headers.get('content-type') ?? '', /text\/html/);
    assert.match(res.headers.get('content-security-policy') ?? '', /script-src 'self'/);
    assert.match(await res.text(), /<script type="module" src="app.js"><\/script>/);
    res = await fetch(`${origin}/webrtc/app.js`);
    assert.match(res.headers.get('content-type') ?? '', /javascript/);
    assert.match(await res.text(), /getUserMedia/);
    res = await fetch(`${origin}/webrtc`, { redirect: 'manual' });
    assert.equal(res.status, 308);
    assert.equal(res.headers.get('location'), '/webrtc/');
    res = await fetch(`${origin}/elsewhere`);
    assert.equal(res.status, 404); // the test server's own fallback: handle() returned false
    assert.equal(ingress.routes.length, 5);
  });

  it('limits concurrent peers (503) and lets a device replace its own peer', async () => {
    const { offerUrl, ingress } = srv!;
    const closed: string[] = [];
    ingress.on('peer', (p) => p.state === 'closed' && closed.push(`${p.device}:${p.reason}`));
    const a = await WebRtcClient.connect({ url: offerUrl, token: TEST_TOKEN, device: 'a' });
    clients.push(a);
    const b = await WebRtcClient.connect({ url: offerUrl, token: TEST_TOKEN, device: 'b' });
    clients.push(b);
    const r = await post(offerUrl, { type: 'offer', sdp: offer, device: 'c' });
    assert.equal(r.status, 503);
    assert.equal(r.headers.get('retry-after'), '10');
    assert.match(String(r.json.error), /2 browsers are connected already/);
    // A broken offer for a connected device leaves its stream alone…
    const chunksOfA = (): number => srv!.chunks.filter((c) => c.device === 'a').length;
    const bad = await post(offerUrl, { type: 'offer', sdp: 'v=0\r\nm=audio 9 UDP/TLS/RTP/SAVPF 111\r\nnot sdp\r\n', device: 'a' });
    assert.equal(bad.status, 400);
    const before = chunksOfA();
    a.write(new Float32Array(1600));
    await waitFor(() => chunksOfA() > before + 5, 2000, 'a to keep streaming');
    assert.ok(!closed.some((c) => c.startsWith('a:')));
    // …and a good one replaces the old peer instead of counting twice.
    const a2 = await WebRtcClient.connect({ url: offerUrl, token: TEST_TOKEN, device: 'a' });
    clients.push(a2);
    await waitFor(() => closed.includes('a:replaced'), 2000, 'the old peer of a to close');
    // (the service side may see its connection come up a moment after the client does)
    await waitFor(() => ingress.devices.length === 2, 2000, 'the new peer of a to connect');
    assert.deepEqual(ingress.devices.sort(), ['a', 'b']);
  });

  it('drops a peer whose browser never completes the connection (connect timeout)', async () => {
    const own = await startIngressServer({ connectTimeoutMs: 1000 });
    try {
      const closed: string[] = [];
      own.ingress.on('peer', (p) => p.state === 'closed' && closed.push(`${p.device}:${p.reason}`));
      // An offer whose peer is gone: the answer is never applied, ICE never starts.
      const r = await post(own.offerUrl, { type: 'offer', sdp: offer, device: 'ghost' });
      assert.equal(r.status, 200);
      assert.equal(r.json.type, 'answer');
      assert.match(String(r.json.sdp), /^v=0/);
      assert.equal(own.ingress.stats().peers, 1);
      await waitFor(() => closed.includes('ghost:connect_timeout'), 3000, 'the connect timeout');
      assert.equal(own.ingress.stats().peers, 0);
      assert.equal(own.chunks.length, 0);
    } finally {
      await own.close();
    }
  });

  it('validates its settings and refuses offers once closed', async () => {
    assert.throws(() => createWebRtcIngress({ token: 'short', wrtc: wrtc! }), (e: unknown) => isEdgestreamError(e, 'E_CONFIG') && /token: the WebRTC token must have at least 8 characters/.test(e.message));
    assert.throws(() => createWebRtcIngress({ token: TEST_TOKEN, basePath: 'webrtc/', wrtc: wrtc! }), (e: unknown) => isEdgestreamError(e, 'E_CONFIG') && /basePath/.test(e.message));
    assert.throws(() => createWebRtcIngress({ token: TEST_TOKEN, maxPeers: 0, wrtc: wrtc! }), (e: unknown) => isEdgestreamError(e, 'E_CONFIG') && /maxPeers/.test(e.message));
    const own = await startIngressServer();
    await own.ingress.close();
    const r = await post(own.offerUrl, { type: 'offer', sdp: offer, device: 'kitchen' });
    await own.close();
    assert.equal(r.status, 503);
  });
});
