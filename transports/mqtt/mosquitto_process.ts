import { spawn, type ChildProcess } from 'node:child_process';
import { existsSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { createConnection, createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { EdgestreamError } from '../../runtime/errors.js';

/** Where Debian's `mosquitto` package puts the broker. */
const CANDIDATES = ['/usr/sbin/mosquitto', '/usr/bin/mosquitto', '/usr/local/sbin/mosquitto'];

export function mosquittoBinary(): string | null {
  return CANDIDATES.find((p) => existsSync(p)) ?? null;
}

/** What to tell the user (or a skipped test) when the broker is not installed. */
export const MOSQUITTO_MISSING = 'mosquitto is not installed (Debian package `mosquitto`; .ci/run installs it)';

/**
 * A real mosquitto broker run as a child process on a free loopback port with a temporary config
 * (tests and `edgestream bench-mqtt`); restartable on the same port.
 */

export interface MosquittoOptions {
  /** Lines for the listener (TLS: `cafile …`, `certfile …`, `keyfile …`). */
  listener?: string[];
  /** Default true. With false, give a `password_file` in the extra config. */
  allowAnonymous?: boolean;
  /** URL scheme of `url` (`mqtts` with TLS). Default `mqtt`. */
  scheme?: 'mqtt' | 'mqtts';
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

async function waitForPort(port: number, timeoutMs: number): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const ok = await new Promise<boolean>((resolve) => {
      const c = createConnection({ host: '127.0.0.1', port }, () => {
        c.destroy();
        resolve(true);
      });
      c.once('error', () => resolve(false));
    });
    if (ok) return;
    if (Date.now() > deadline) throw new EdgestreamError('E_MQTT', `mosquitto did not listen on ${port} within ${timeoutMs} ms`);
    await new Promise((r) => setTimeout(r, 50));
  }
}

export class Mosquitto {
  private proc: ChildProcess | null = null;
  private readonly dir: string;
  readonly url: string;
  /** The broker's log (stderr), for assertions and failure messages. */
  log = '';

  private constructor(
    private readonly binary: string,
    readonly port: number,
    extraConfig: string,
    options: MosquittoOptions,
  ) {
    this.dir = mkdtempSync(join(tmpdir(), 'edgestream-mosquitto-'));
    const lines = [
      `listener ${port} 127.0.0.1`,
      ...(options.listener ?? []),
      `allow_anonymous ${options.allowAnonymous === false ? 'false' : 'true'}`,
      'persistence false', 'log_dest stderr', 'log_type error', 'log_type warning', 'log_type notice',
      extraConfig,
    ];
    writeFileSync(join(this.dir, 'mosquitto.conf'), lines.join('\n') + '\n');
    this.url = `${options.scheme ?? 'mqtt'}://127.0.0.1:${port}`;
  }

  /** The broker's process id (while it runs). */
  get pid(): number | null {
    return this.proc?.pid ?? null;
  }

  /** The broker's temporary directory (config, password file). */
  get directory(): string {
    return this.dir;
  }

  /** Start a broker, or return null when mosquitto is not installed (the caller skips). */
  static async start(extraConfig = '', options: MosquittoOptions = {}): Promise<Mosquitto | null> {
    const bin = mosquittoBinary();
    if (!bin) return null;
    const m = new Mosquitto(bin, await freePort(), extraConfig, options);
    await m.startProcess();
    return m;
  }

  private async startProcess(): Promise<void> {
    const proc = spawn(this.binary, ['-c', join(this.dir, 'mosquitto.conf')], { stdio: ['ignore', 'ignore', 'pipe'] });
    proc.stderr!.on('data', (d: Buffer) => (this.log += d.toString()));
    this.proc = proc;
    const exited = new Promise<never>((_, reject) => proc.once('exit', (code) => reject(new EdgestreamError('E_MQTT', `mosquitto exited (${code}) at start-up: ${this.log.trim().split('\n').slice(-3).join(' | ')}`))));
    await Promise.race([waitForPort(this.port, 5000), exited]);
  }

  /** Stop the broker (SIGTERM) and wait for it to exit. */
  async stop(): Promise<void> {
    const p = this.proc;
    // a process killed by a signal has exitCode null and signalCode set: it is gone too
    if (!p || p.exitCode !== null || p.signalCode !== null) return;
    this.proc = null;
    await new Promise<void>((resolve) => {
      p.once('exit', () => resolve());
      p.kill('SIGTERM');
    });
  }

  /** Kill the broker at once (SIGKILL, synchronous): for `process.on('exit')` clean-up. */
  killNow(): void {
    const p = this.proc;
    if (p && p.exitCode === null && p.signalCode === null) p.kill('SIGKILL');
    this.proc = null;
  }

  /** Stop and start again on the same port (a broker restart; clients must reconnect and resubscribe). */
  async restart(downMs = 0): Promise<void> {
    await this.stop();
    if (downMs > 0) await new Promise((r) => setTimeout(r, downMs));
    await this.startProcess();
  }

  async close(): Promise<void> {
    await this.stop();
    rmSync(this.dir, { recursive: true, force: true });
  }
}
