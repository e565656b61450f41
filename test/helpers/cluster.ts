import { spawn, type ChildProcess } from 'node:child_process';
import { join } from 'node:path';
import { after } from 'node:test';
import { ClusterCoordinator, startClusterCoordinator, subjectMappings, type ClusterConfigInput } from '../../transports/cluster/index.js';
import { NatsCluster, NATS_SERVER_MISSING } from '../../transports/cluster/nats_server_process.js';
import { DeviceLog } from './cluster_device_log.js';
import { ROOT } from './paths.js';

export { NatsCluster, NATS_SERVER_MISSING };

/** Fast timings for tests: a dead worker's partitions are free 1.5 s after its last renewal. */
export const FAST = { leaseTtlMs: 1500, heartbeatMs: 250, renewMs: 300, rebalanceMs: 100, checkpointMs: 300, connectTimeoutMs: 5000 } as const;

/**
 * Start 1 or 3 nats-server nodes (from deploy/nats), closed after the file; null when nats-server is
 * missing. `prefixes`: map these subject prefixes over 16 partitions instead of the shipped
 * mapping (one group per prefix: their input streams must not overlap).
 */
export async function natsCluster(size: 1 | 3, prefixes?: string[]): Promise<NatsCluster | null> {
  const mappings = prefixes
    ? `mappings {\n${prefixes.flatMap((p) => Object.entries(subjectMappings(p, 16)).map(([k, v]) => `  "${k}": "${v}"\n`)).join('')}}\n`
    : undefined;
  const c = await NatsCluster.start(size, mappings !== undefined ? { mappings } : {});
  if (c) after(() => c.close());
  return c;
}

/** An in-process worker with a DeviceLog as its pipelines; stopped (if still running) after the file. */
export async function worker(servers: string[], memberId: string, config: Partial<ClusterConfigInput> = {}): Promise<{ c: ClusterCoordinator; log: DeviceLog }> {
  const log = new DeviceLog(memberId);
  const c = await startClusterCoordinator({ servers, memberId, ...FAST, ...config }, log);
  after(() => c.stop());
  return { c, log };
}

export interface ChildWorker {
  proc: ChildProcess;
  /** Parsed stdout lines, with `at`: Date.now() at arrival. */
  events: ({ event: string; t: number; at: number } & Record<string, unknown>)[];
  stderr: () => string;
  exited: Promise<void>;
}

/** A worker in its own process (test/helpers/cluster_worker.ts), for `kill -9`. */
export function childWorker(config: ClusterConfigInput): ChildWorker {
  const proc = spawn(process.execPath, ['--import', 'tsx', join(ROOT, 'test/helpers/cluster_worker.ts'), JSON.stringify(config)], {
    cwd: ROOT,
    stdio: ['ignore', 'pipe', 'pipe'],
    env: { ...process.env, EDGESTREAM_LOG: 'warn' },
  });
  const w: ChildWorker = { proc, events: [], stderr: () => err, exited: new Promise((r) => proc.once('exit', () => r())) };
  let err = '';
  let buf = '';
  proc.stderr!.on('data', (d: Buffer) => (err += d.toString()));
  proc.stdout!.on('data', (d: Buffer) => {
    buf += d.toString();
    for (let i = buf.indexOf('\n'); i >= 0; i = buf.indexOf('\n')) {
      const line = buf.slice(0, i);
      buf = buf.slice(i + 1);
      if (line.trim()) w.events.push({ ...(JSON.parse(line) as { event: string; t: number }), at: Date.now() });
    }
  });
  after(() => {
    if (proc.exitCode === null && proc.signalCode === null) proc.kill('SIGKILL');
  });
  return w;
}
