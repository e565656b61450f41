import type { Command } from 'commander';
import { EdgestreamError } from '../../runtime/errors.js';
import { readClusterStatus, type ClusterStatusReport } from '../../transports/cluster/cluster_status.js';
import { connectNats } from '../../transports/cluster/nats_connection.js';
import { parseNumber } from '../options.js';

interface StatusOptions {
  cluster?: string;
  group: string;
  json?: boolean;
  timeoutMs: string;
}

function age(ms: number | null): string {
  return ms === null ? '?' : ms < 10_000 ? `${ms} ms` : `${Math.round(ms / 1000)} s`;
}

function printStatus(r: ClusterStatusReport): void {
  const out: string[] = [];
  const s = r.settings;
  out.push(`group ${r.group}: ${s ? `${s.partitions} partitions, subjects ${s.subjectPrefix}.part.<p>.<device>.<kind>, lease TTL ${s.leaseTtlMs} ms` : 'no settings recorded (no worker has started yet)'}`);
  if (r.input) out.push(`input stream ${r.input.stream}: ${r.input.messages} messages (${(r.input.bytes / 1e6).toFixed(1)} MB), seq ${r.input.firstSeq}..${r.input.lastSeq}, ${r.input.replicas} replica(s)`);
  out.push(`members (${r.members.length}):`);
  for (const m of r.members) {
    const owned = r.partitions.filter((p) => p.owner === m.id).map((p) => p.partition);
    out.push(`  ${m.id.padEnd(28)} ${`${m.host} pid ${m.pid}`.padEnd(28)} heartbeat ${age(m.lastHeartbeatAgeMs)} ago  partitions ${owned.length ? owned.join(',') : '-'}`);
  }
  out.push('partitions:');
  out.push('  p    owner                        assigned                     checkpoint seq  devices');
  for (const p of r.partitions) {
    const flag = p.owner === null ? '  (free)' : p.owner !== p.assigned ? '  (moving)' : '';
    out.push(`  ${String(p.partition).padEnd(4)} ${(p.owner ?? '-').padEnd(28)} ${(p.assigned ?? '-').padEnd(28)} ${String(p.checkpointSeq ?? '-').padEnd(15)} ${p.devices ?? '-'}${flag}`);
  }
  process.stdout.write(`${out.join('\n')}\n`);
}

export function registerCluster(program: Command): void {
  const cluster = program.command('cluster').description('workers on a NATS JetStream cluster (docs/cluster.md, "Cluster")');
  cluster
    .command('status')
    .description('list the members of a worker group and who owns each partition, from the NATS KV buckets')
    .option('--cluster <urls>', 'NATS server URL(s), comma-separated (env EDGESTREAM_CLUSTER)')
    .option('--group <name>', 'worker group', 'edgestream')
    .option('--json', 'print JSON')
    .option('--timeout-ms <ms>', 'how long to try to reach NATS', '5000')
    .action(async (opts: StatusOptions) => {
      const urls = opts.cluster ?? process.env.EDGESTREAM_CLUSTER;
      if (!urls) throw new EdgestreamError('E_USAGE', '--cluster nats://host:port is required (or EDGESTREAM_CLUSTER)');
      const nc = await connectNats({ servers: urls.split(',').map((u) => u.trim()).filter(Boolean), name: 'edgestream-cluster-status', connectTimeoutMs: parseNumber(opts.timeoutMs, '--timeout-ms') });
      try {
        const report = await readClusterStatus(nc, opts.group);
        if (opts.json) process.stdout.write(`${JSON.stringify(report, null, 2)}\n`);
        else printStatus(report);
      } finally {
        await nc.close();
      }
    });
}
