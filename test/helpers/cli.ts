import { spawnSync } from 'node:child_process';
import { CLI, ROOT } from './paths.js';

export interface CliResult {
  status: number;
  stdout: string;
  stderr: string;
}

/** Run the built `edgestream` command (as a user would) and capture its output. */
export function runCli(args: string[], options: { input?: string | Uint8Array; env?: Record<string, string>; timeoutMs?: number; cwd?: string } = {}): CliResult {
  const r = spawnSync(process.execPath, [CLI, ...args], {
    // A hang becomes a failed test (status -1, SIGTERM) instead of a stuck suite.
    ...(options.timeoutMs !== undefined && { timeout: options.timeoutMs }),
    cwd: options.cwd ?? ROOT,
    input: options.input,
    env: { ...process.env, EDGESTREAM_LOG: 'silent', ...options.env },
    encoding: 'utf8',
    maxBuffer: 64 << 20,
  });
  return { status: r.status ?? -1, stdout: r.stdout, stderr: r.stderr };
}
