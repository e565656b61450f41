import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { Logger } from 'pino';
import { EdgestreamError } from '../../runtime/errors.js';

/** Handles one request on a registered route; may be async. Unhandled throws become a 500. */
export type HttpHandler = (req: IncomingMessage, res: ServerResponse) => void | Promise<void>;

/**
 * The service's small HTTP surface: `/healthz`, `/metrics`, and whatever plugins register
 * (the WebRTC signalling endpoint and page). Exact-path routing; anything else is a 404.
 */
export class ServiceHttpServer {
  private readonly routes = new Map<string, HttpHandler>();
  private server: Server | null = null;

  constructor(private readonly log: Logger) {}

  /** Register `method path` (e.g. `GET /healthz`); a route registered twice is an error. */
  route(method: string, path: string, handler: HttpHandler): void {
    const key = `${method.toUpperCase()} ${path}`;
    if (this.routes.has(key)) throw new EdgestreamError('E_CONFIG', `HTTP route ${key} is already registered`);
    this.routes.set(key, handler);
  }

  /** The bound port (after `listen`). */
  get port(): number | null {
    const a = this.server?.address();
    return typeof a === 'object' && a ? a.port : null;
  }

  async listen(host: string, port: number): Promise<void> {
    const server = createServer((req, res) => void this.handle(req, res));
    server.keepAliveTimeout = 5000;
    server.headersTimeout = 10_000;
    server.requestTimeout = 30_000;
    await new Promise<void>((resolve, reject) => {
      server.once('error', (e) => reject(new EdgestreamError('E_CONFIG', `cannot serve HTTP on ${host}:${port}: ${e.message} (set http.port, or http.enabled: false)`)));
      server.listen(port, host, () => resolve());
    });
    this.server = server;
    this.log.info({ host, port: this.port }, 'http listening');
  }

  private async handle(req: IncomingMessage, res: ServerResponse): Promise<void> {
    const path = (req.url ?? '/').split('?')[0]!;
    const handler = this.routes.get(`${req.method ?? 'GET'} ${path}`) ?? (req.method === 'HEAD' ? this.routes.get(`GET ${path}`) : undefined);
    if (!handler) {
      req.resume(); // read and discard a body we will not use: answering before it is read resets the connection
      const allowed = [...this.routes.keys()].filter((k) => k.endsWith(` ${path}`)).map((k) => k.split(' ')[0]);
      res.writeHead(allowed.length > 0 ? 405 : 404, { 'content-type': 'text/plain', ...(allowed.length > 0 && { allow: allowed.join(', ') }) });
      res.end(allowed.length > 0 ? 'method not allowed\n' : 'not found\n');
      return;
    }
    try {
      await handler(req, res);
    } catch (e) {
      this.log.error({ err: (e as Error)?.message, path }, 'http handler failed');
      if (!res.headersSent) res.writeHead(500, { 'content-type': 'text/plain' });
      res.end('internal error\n');
    }
  }

  async close(): Promise<void> {
    const s = this.server;
    if (!s) return;
    this.server = null;
    s.closeAllConnections();
    await new Promise<void>((r) => s.close(() => r()));
  }
}

/** Send a JSON body. */
export function sendJson(res: ServerResponse, status: number, body: unknown): void {
  const text = JSON.stringify(body);
  res.writeHead(status, { 'content-type': 'application/json', 'content-length': Buffer.byteLength(text), 'cache-control': 'no-store' });
  res.end(text);
}
