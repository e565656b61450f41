import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { describe, it } from 'node:test';
import { promisify } from 'node:util';
import { assignPartitions, type ClusterStatusReport } from '../../transports/cluster/index.js';
import { freePort } from '../../transports/cluster/nats_server_process.js';
import { natsCluster, NATS_SERVER_MISSING, worker } from '../helpers/cluster.js';
import { until } from '../helpers/mqtt_log.js';
import { CLI, ROOT } from '../helpers/paths.js';

// `edgestream cluster status` (the built command, run as a separate process while two workers of
// the group run in this one) lists the members and who owns each partition.

const cluster = await natsCluster(1);
const skip = cluster ? false : NATS_SERVER_MISSING;
const run = promisify(execFile);

/** Run the CLI without blocking this process (the workers here must keep heartbeating). */
async function cli(args: string[]): Promise<{ status: number; stdout: string; stderr: string }> {
  try {
    const r = await run(process.execPath, [CLI, ...args], { cwd: ROOT, env: { ...process.env, EDGESTREAM_LOG: 'silent' } });
    return { status: 0, stdout: r.stdout, stderr: r.stderr };
  } catch (e) {
    const x = e as { code?: number; stdout?: string; stderr?: string };
    return { status: typeof x.code === 'number' ? x.code : -1, stdout: x.stdout ?? '', stderr: x.stderr ?? '' };
  }
}

describe('edgestream cluster status', { skip }, () => {
  it('lists members and partition ownership from the KV buckets', async () => {
    const urls = cluster!.urls;
    const a = await worker(urls, 'status-a', { leaseTtlMs: 5000, renewMs: 500 });
    const b = await worker(urls, 'status-b', { leaseTtlMs: 5000, renewMs: 500 });
    const expected = assignPartitions(16, ['status-a', 'status-b']);
    await until(() => a.c.ownedPartitions().length + b.c.ownedPartitions().length === 16 && a.c.members().length === 2, 'two workers settled');
    const json = await cli(['cluster', 'status', '--cluster', urls.join(','), '--json']);
    assert.equal(json.status, 0, json.stderr);
    const report = JSON.parse(json.stdout) as ClusterStatusReport;
    assert.deepEqual(report.members.map((m) => m.id), ['status-a', 'status-b']);
    assert.equal(report.settings?.partitions, 16);
    assert.deepEqual(report.partitions.map((p) => p.owner), expected);
    assert.deepEqual(report.partitions.map((p) => p.assigned), expected);
    assert.equal(report.input?.stream, 'edgestream-input');
    const text = await cli(['cluster', 'status', '--cluster', urls[0]!]);
    assert.equal(text.status, 0, text.stderr);
    assert.match(text.stdout, /^group edgestream: 16 partitions/);
    assert.match(text.stdout, /members \(2\):/);
    const aLine = text.stdout.split('\n').find((l) => l.trim().startsWith('status-a'))!;
    assert.match(aLine, new RegExp(`partitions ${a.c.ownedPartitions().join(',')}$`));
  });

  it('fails with E_CLUSTER when NATS cannot be reached, and E_USAGE without --cluster', async () => {
    const port = await freePort();
    const down = await cli(['cluster', 'status', '--cluster', `nats://127.0.0.1:${port}`, '--timeout-ms', '300']);
    assert.equal(down.status, 2);
    assert.match(down.stderr, /E_CLUSTER: cannot connect to NATS at nats:\/\/127\.0\.0\.1:\d+/);
    const usage = await cli(['cluster', 'status']);
    assert.equal(usage.status, 2);
    assert.match(usage.stderr, /E_USAGE: --cluster/);
  });
});
