import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import type { AudioChunk } from '../../runtime/operators/types.js';
import { createWebRtcIngress, type WebRtcIngress, type WebRtcIngressOptions } from '../../transports/webrtc/ingress.js';

export const TEST_TOKEN = 'test-token-0123456789';

export interface IngressServer {
  ingress: WebRtcIngress;
  server: Server;
  /** `http://127.0.0.1:<port>` */
  origin: string;
  offerUrl: string;
  chunks: AudioChunk[];
  /** Close the ingress (its peers) and the server. */
  close(): Promise<void>;
}

/** A WebRTC ingress on a plain HTTP server on a free loopback port (call `close()` in an `after`). */
export async function startIngressServer(options: Partial<WebRtcIngressOptions> = {}): Promise<IngressServer> {
  const chunks: AudioChunk[] = [];
  const ingress = createWebRtcIngress({ token: TEST_TOKEN, ...options, onAudio: (c) => { chunks.push(c); options.onAudio?.(c); } });
  const server = createServer((req, res) => {
    if (!ingress.handle(req, res)) {
      res.writeHead(404);
      res.end();
    }
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', () => resolve()));
  const origin = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  const close = async (): Promise<void> => {
    await ingress.close();
    server.closeAllConnections();
    await new Promise<void>((r) => server.close(() => r()));
  };
  return { ingress, server, origin, offerUrl: `${origin}${ingress.settings.basePath}/offer`, chunks, close };
}

/** Poll until `cond()` holds (or fail after `ms`). */
export async function waitFor(cond: () => boolean, ms: number, what: string): Promise<void> {
  const end = Date.now() + ms;
  while (!cond()) {
    if (Date.now() > end) throw new Error(`timed out after ${ms} ms waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 20));
  }
}
