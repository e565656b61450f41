import { createServer, type Server, type Socket } from 'node:net';
import { Aedes } from 'aedes';
import { EdgestreamError } from '../../runtime/errors.js';

/** An in-process MQTT 3.1.1 broker (aedes) on a loopback TCP port: the zero-install default. */
export interface EmbeddedBroker {
  /** `mqtt://127.0.0.1:<port>`. */
  url: string;
  port: number;
  close(): Promise<void>;
}

export async function startEmbeddedBroker(options: { host?: string; port?: number } = {}): Promise<EmbeddedBroker> {
  const host = options.host ?? '127.0.0.1';
  const broker = await Aedes.createBroker();
  const sockets = new Set<Socket>();
  const server: Server = createServer((socket) => {
    sockets.add(socket);
    socket.on('close', () => sockets.delete(socket));
    broker.handle(socket);
  });
  await new Promise<void>((resolve, reject) => {
    server.once('error', (e) => reject(new EdgestreamError('E_MQTT', `cannot start the embedded broker on ${host}:${options.port ?? 0}: ${e.message}`)));
    server.listen(options.port ?? 0, host, () => resolve());
  });
  const address = server.address();
  const port = typeof address === 'object' && address ? address.port : 0;
  return {
    url: `mqtt://${host}:${port}`,
    port,
    close: async () => {
      await new Promise<void>((r) => broker.close(() => r()));
      for (const s of sockets) s.destroy();
      await new Promise<void>((r) => server.close(() => r()));
    },
  };
}
