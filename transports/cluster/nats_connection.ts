import { connect, type NatsConnection } from '@nats-io/transport-node';
import type { Logger } from 'pino';
import { EdgestreamError } from '../../runtime/errors.js';
import { moduleLogger } from '../../runtime/log.js';

export interface NatsConnectOptions {
  /** URLs or host:port of any servers of the cluster (the client learns the others from them). */
  servers: string[];
  /** Client name shown by the server's monitoring (`/connz`). */
  name: string;
  user?: string;
  pass?: string;
  token?: string;
  /** How long to keep trying the first connection. */
  connectTimeoutMs: number;
  logger?: Logger;
}

/**
 * Connect to NATS: retry the first connection until `connectTimeoutMs` (a worker may start before
 * the servers), then reconnect forever with jitter. Failure is `E_CLUSTER` naming the servers.
 */
export async function connectNats(opts: NatsConnectOptions): Promise<NatsConnection> {
  const log = opts.logger ?? moduleLogger('cluster');
  const deadline = Date.now() + opts.connectTimeoutMs;
  let lastError: unknown;
  for (let attempt = 0; ; attempt++) {
    try {
      const nc = await connect({
        servers: opts.servers,
        name: opts.name,
        ...(opts.user !== undefined ? { user: opts.user } : {}),
        ...(opts.pass !== undefined ? { pass: opts.pass } : {}),
        ...(opts.token !== undefined ? { token: opts.token } : {}),
        maxReconnectAttempts: -1,
        reconnectTimeWait: 250,
        reconnectJitter: 250,
        timeout: Math.min(5000, Math.max(500, deadline - Date.now())),
      });
      void logStatus(nc, log);
      return nc;
    } catch (e) {
      lastError = e;
      const message = (e as Error).message ?? String(e);
      // Bad credentials will not get better by waiting.
      if (/authoriz|authentic|permission/i.test(message)) break;
      if (Date.now() + 250 > deadline) break;
      if (attempt === 0) log.warn({ servers: opts.servers, err: message }, 'NATS not reachable yet, retrying');
      await new Promise((r) => setTimeout(r, 250));
    }
  }
  throw new EdgestreamError('E_CLUSTER', `cannot connect to NATS at ${opts.servers.join(', ')}: ${(lastError as Error)?.message ?? String(lastError)}`, { servers: opts.servers }, { cause: lastError });
}

async function logStatus(nc: NatsConnection, log: Logger): Promise<void> {
  for await (const s of nc.status()) {
    if (s.type === 'disconnect' || s.type === 'reconnect') log.warn({ event: s.type, server: (s as { server?: string }).server }, `NATS ${s.type}`);
    else if (s.type === 'error') log.warn({ err: String((s as { error?: unknown }).error) }, 'NATS error');
  }
}
