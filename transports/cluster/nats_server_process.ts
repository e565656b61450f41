import { spawn, type ChildProcess } from 'node:child_process';
import { copyFileSync, existsSync, mkdtempSync, readFileSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import { createConnection, createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { connect } from '@nats-io/transport-node';
import { jetstreamManager } from '@nats-io/jetstream';
import { EdgestreamError } from '../../runtime/errors.js';

/**
 * Real nats-server processes (1 or 3 nodes) on free loopback ports, run from the shipped
 * configurations in deploy/nats with their `ES_` variable lines replaced: what tests and benchmarks
 * start. Restartable on the same ports and JetStream directory.
 */

const CANDIDATES = ['/usr/sbin/nats-server', '/usr/bin/nats-server', '/usr/local/bin/nats-server'];

export function natsServerBinary(): string | null {
  return CANDIDATES.find((p) => existsSync(p)) ?? null;
}

/** What to tell the user (or a skipped test) when the server is not installed. */
export const NATS_SERVER_MISSING = 'nats-server is not installed (Debian package `nats-server`; .ci/run installs it)';

/** deploy/nats of this package (from the sources or from dist/). */
export function deployNatsDir(): string {
  let dir = dirname(fileURLToPath(import.meta.url));
  for (let i = 0; i < 6; i++) {
    if (existsSync(join(dir, 'deploy/nats/single.conf'))) return join(dir, 'deploy/nats');
    dir = dirname(dir);
  }
  throw new EdgestreamError('E_IO', 'deploy/nats not found beside the package');
}

export async function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const s = createServer();
    s.once('error', reject);
    s.listen(0, '127.0.0.1', () => {
      const a = s.address();
      const port = typeof a === 'object' && a ? a.port : 0;
      s.close(() => resolve(port));
    });
  });
}

async function portOpen(port: number): Promise<boolean> {
  return new Promise<boolean>((resolve) => {
    const c = createConnection({ host: '127.0.0.1', port }, () => {
      c.destroy();
      resolve(true);
    });
    c.once('error', () => resolve(false));
  });
}

/** Replace `NAME: value` lines of a configuration; every name must be present. */
export function setConfigVariables(text: string, vars: Record<string, string>): string {
  let out = text;
  for (const [name, value] of Object.entries(vars)) {
    const re = new RegExp(`^${name}:.*$`, 'm');
    if (!re.test(out)) throw new EdgestreamError('E_CONFIG', `configuration has no ${name} line`);
    out = out.replace(re, `${name}: ${value}`);
  }
  return out;
}

export interface NatsNodeSpec {
  /** Shipped top-level file: single.conf or cluster-node-<n>.conf. */
  template: string;
  name: string;
  clientPort: number;
  mqttPort: number;
  monitorPort: number;
  /** Cluster nodes only. */
  clusterPort?: number;
  routePorts?: number[];
  /** Replaces edgestream-mappings.conf (e.g. another partition count). */
  mappings?: string;
}

export class NatsServerProcess {
  private proc: ChildProcess | null = null;
  private exited: Promise<void> = Promise.resolve();
  /** The server's log (stderr), for assertions and failure messages. */
  log = '';

  private constructor(
    private readonly binary: string,
    readonly spec: NatsNodeSpec,
    readonly dir: string,
  ) {}

  get url(): string {
    return `nats://127.0.0.1:${this.spec.clientPort}`;
  }

  get mqttUrl(): string {
    return `mqtt://127.0.0.1:${this.spec.mqttPort}`;
  }

  get pid(): number | null {
    return this.proc?.pid ?? null;
  }

  get running(): boolean {
    return this.proc !== null && this.proc.exitCode === null && this.proc.signalCode === null;
  }

  /** Write the node's configuration (shipped file, variables replaced) into a fresh temp directory and start it. */
  static async start(spec: NatsNodeSpec): Promise<NatsServerProcess | null> {
    const bin = natsServerBinary();
    if (!bin) return null;
    const dir = mkdtempSync(join(tmpdir(), `edgestream-nats-${spec.name}-`));
    const src = deployNatsDir();
    for (const f of readdirSync(src)) if (f.endsWith('.conf')) copyFileSync(join(src, f), join(dir, f));
    if (spec.mappings !== undefined) writeFileSync(join(dir, 'edgestream-mappings.conf'), spec.mappings);
    const vars: Record<string, string> = {
      ES_SERVER_NAME: `"${spec.name}"`,
      ES_CLIENT_LISTEN: `"127.0.0.1:${spec.clientPort}"`,
      ES_MQTT_LISTEN: `"127.0.0.1:${spec.mqttPort}"`,
      ES_MONITOR_LISTEN: `"127.0.0.1:${spec.monitorPort}"`,
      ES_STORE_DIR: `"${join(dir, 'jetstream')}"`,
      ES_MAX_FILE_STORE: '1GB',
    };
    if (spec.clusterPort !== undefined) {
      vars.ES_CLUSTER_LISTEN = `"127.0.0.1:${spec.clusterPort}"`;
      (spec.routePorts ?? []).forEach((p, i) => (vars[`ES_ROUTE_${i + 1}`] = `"nats-route://127.0.0.1:${p}"`));
    }
    writeFileSync(join(dir, 'node.conf'), setConfigVariables(readFileSync(join(src, spec.template), 'utf8'), vars));
    const node = new NatsServerProcess(bin, spec, dir);
    await node.startProcess();
    return node;
  }

  private async startProcess(): Promise<void> {
    const proc = spawn(this.binary, ['-c', join(this.dir, 'node.conf')], { stdio: ['ignore', 'ignore', 'pipe'] });
    proc.stderr!.on('data', (d: Buffer) => (this.log += d.toString()));
    this.proc = proc;
    this.exited = new Promise<void>((r) => proc.once('exit', () => r()));
    const failed = this.exited.then(() => {
      throw new EdgestreamError('E_CLUSTER', `nats-server ${this.spec.name} exited at start-up: ${this.log.trim().split('\n').slice(-3).join(' | ')}`);
    });
    const ready = (async () => {
      const deadline = Date.now() + 10_000;
      while (!(await portOpen(this.spec.clientPort)) || !(await portOpen(this.spec.mqttPort))) {
        if (Date.now() > deadline) throw new EdgestreamError('E_CLUSTER', `nats-server ${this.spec.name} did not listen within 10 s`);
        await new Promise((r) => setTimeout(r, 25));
      }
    })();
    await Promise.race([ready, failed]);
    failed.catch(() => undefined);
  }

  /** Send a signal and wait for the process to exit (SIGKILL: a crash; SIGTERM: a clean stop). */
  async kill(signal: NodeJS.Signals = 'SIGKILL'): Promise<void> {
    const p = this.proc;
    if (!p || !this.running) return;
    p.kill(signal);
    await this.exited;
  }

  /** Start again on the same ports with the same JetStream directory. */
  async restart(): Promise<void> {
    await this.kill('SIGTERM');
    await this.startProcess();
  }

  async close(): Promise<void> {
    await this.kill('SIGKILL');
    rmSync(this.dir, { recursive: true, force: true });
  }
}

/** 1 or 3 nats-server nodes; `ready()` resolves once JetStream answers (a meta leader exists). */
export class NatsCluster {
  private constructor(readonly nodes: NatsServerProcess[]) {}

  /** Client URLs of every node (give all of them to clients). */
  get urls(): string[] {
    return this.nodes.map((n) => n.url);
  }

  static async start(size: 1 | 3, opts: { mappings?: string } = {}): Promise<NatsCluster | null> {
    if (!natsServerBinary()) return null;
    const ports = async (): Promise<{ clientPort: number; mqttPort: number; monitorPort: number; clusterPort: number }> => ({
      clientPort: await freePort(),
      mqttPort: await freePort(),
      monitorPort: await freePort(),
      clusterPort: await freePort(),
    });
    const specs: NatsNodeSpec[] = [];
    for (let i = 0; i < size; i++) {
      const p = await ports();
      specs.push(
        size === 1
          ? { template: 'single.conf', name: 'n1', clientPort: p.clientPort, mqttPort: p.mqttPort, monitorPort: p.monitorPort, ...(opts.mappings !== undefined ? { mappings: opts.mappings } : {}) }
          : { template: `cluster-node-${i + 1}.conf`, name: `n${i + 1}`, ...p, ...(opts.mappings !== undefined ? { mappings: opts.mappings } : {}) },
      );
    }
    if (size === 3) for (const s of specs) s.routePorts = specs.map((o) => o.clusterPort!);
    const nodes = await Promise.all(specs.map((s) => NatsServerProcess.start(s)));
    const cluster = new NatsCluster(nodes as NatsServerProcess[]);
    await cluster.ready();
    return cluster;
  }

  /** Wait until JetStream answers through every running node. */
  async ready(timeoutMs = 20_000): Promise<void> {
    const deadline = Date.now() + timeoutMs;
    for (const node of this.nodes.filter((n) => n.running)) {
      for (;;) {
        try {
          const nc = await connect({ servers: node.url, timeout: 1000 });
          try {
            await (await jetstreamManager(nc, { timeout: 1000 })).getAccountInfo();
            break;
          } finally {
            await nc.close();
          }
        } catch (e) {
          if (Date.now() > deadline) throw new EdgestreamError('E_CLUSTER', `JetStream not ready on ${node.spec.name} within ${timeoutMs} ms: ${(e as Error).message}`);
          await new Promise((r) => setTimeout(r, 100));
        }
      }
    }
  }

  async close(): Promise<void> {
    await Promise.all(this.nodes.map((n) => n.close()));
  }
}
