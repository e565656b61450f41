/**
 * Embedding the stream service in an existing Node service: an app with its own HTTP API starts
 * `createService` beside it, reacts to detections in-process (typed events, no MQTT round trip),
 * shows them on its own endpoint, and shuts both down together on SIGTERM.
 *
 *   npx tsx examples/embedding/service_in_app.ts --broker mqtt://localhost:1883 [--port 3000]
 *   curl localhost:3000/keywords
 */
import { createServer, type Server } from 'node:http';
import { realpathSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { createService, type DeviceKeywordEvent, type EdgestreamService, type Model } from 'edgestream';

export interface App {
  service: EdgestreamService;
  server: Server;
  port: number;
  /** The app's own state, updated from the service's events. */
  lastByDevice: Map<string, DeviceKeywordEvent>;
  stop(): Promise<void>;
}

export async function startApp(options: { broker: string; port?: number; baseTopic?: string; model?: Model; threshold?: number }): Promise<App> {
  const lastByDevice = new Map<string, DeviceKeywordEvent>();
  const service = createService(
    {
      baseTopic: options.baseTopic ?? 'edgestream',
      mqtt: { url: options.broker },
      http: { enabled: false }, // the app has its own server
      ...(options.threshold !== undefined && { decision: { threshold: options.threshold } }),
    },
    options.model ? { model: options.model } : {},
  );
  service.on('keyword', (e) => lastByDevice.set(e.device, e));
  service.on('availability', ({ device, availability }) => {
    if (availability === 'offline') lastByDevice.delete(device);
  });
  await service.start();

  // The existing app: its own routes, now with what the microphones heard.
  const server = createServer((req, res) => {
    if (req.url === '/keywords') {
      res.writeHead(200, { 'content-type': 'application/json' });
      res.end(JSON.stringify(Object.fromEntries([...lastByDevice].map(([d, e]) => [d, { keyword: e.label, score: e.score, at: e.ts }]))));
    } else if (req.url === '/health') {
      const h = service.health();
      res.writeHead(h.status === 'ok' ? 200 : 503, { 'content-type': 'application/json' });
      res.end(JSON.stringify({ app: 'ok', edgestream: h.status, devices: h.devices_active }));
    } else {
      res.writeHead(404).end();
    }
  });
  await new Promise<void>((r) => server.listen(options.port ?? 0, '127.0.0.1', () => r()));
  const addr = server.address();
  return {
    service,
    server,
    port: typeof addr === 'object' && addr ? addr.port : 0,
    lastByDevice,
    stop: async () => {
      await new Promise<void>((r) => server.close(() => r()));
      await service.stop(); // availability offline first, then a clean disconnect
    },
  };
}

const isMain = process.argv[1] !== undefined && fileURLToPath(import.meta.url) === realpathSync(process.argv[1]);
if (isMain) {
  const arg = (name: string): string | undefined => {
    const i = process.argv.indexOf(`--${name}`);
    return i >= 0 ? process.argv[i + 1] : undefined;
  };
  const app = await startApp({ broker: arg('broker') ?? 'mqtt://localhost:1883', port: Number(arg('port') ?? 3000) });
  process.stderr.write(`app on http://127.0.0.1:${app.port}/keywords, edgestream on ${app.service.config.mqtt.url}\n`);
  process.once('SIGTERM', () => void app.stop());
  process.once('SIGINT', () => void app.stop());
}
