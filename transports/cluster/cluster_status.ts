import type { NatsConnection } from '@nats-io/transport-node';
import { Kvm, type KV } from '@nats-io/kv';
import { jetstreamManager } from '@nats-io/jetstream';
import { clusterError } from './buckets.js';
import type { MemberRecord } from './membership.js';
import { readLeases } from './partition_leases.js';
import { assignPartitions } from './rendezvous.js';
import { SnapshotStore, type GroupRecord, type PartitionCheckpoint } from './snapshot_store.js';
import { clusterNames } from './subjects.js';
import { moduleLogger } from '../../runtime/log.js';
import { distinctKeys } from './kv_keys.js';

export interface ClusterStatusReport {
  group: string;
  settings: GroupRecord | null;
  members: (MemberRecord & { lastHeartbeatAgeMs: number | null })[];
  partitions: {
    partition: number;
    /** Lease holder, null when free. */
    owner: string | null;
    /** Who should own it by rendezvous over the members listed. */
    assigned: string | null;
    renewedAt: string | null;
    checkpointSeq: number | null;
    checkpointAt: string | null;
    devices: number | null;
  }[];
  input: { stream: string; messages: number; bytes: number; firstSeq: number; lastSeq: number; replicas: number } | null;
}

async function bucket(nc: NatsConnection, name: string): Promise<KV | null> {
  try {
    return await new Kvm(nc).open(name, { bindOnly: true });
  } catch (e) {
    if (/not found/i.test((e as Error).message)) return null;
    throw clusterError(`cannot open KV bucket ${name}`, e);
  }
}

/**
 * Read a group's state from its buckets without joining it (`edgestream cluster status`): the
 * members with their last heartbeat, every partition's lease holder and rendezvous assignment, the
 * checkpoints, and the input stream's size.
 */
export async function readClusterStatus(nc: NatsConnection, group: string): Promise<ClusterStatusReport> {
  const names = clusterNames(group);
  const [membersKv, leasesKv, snapshotsKv] = await Promise.all([bucket(nc, names.membersBucket), bucket(nc, names.leasesBucket), bucket(nc, names.snapshotsBucket)]);
  const store = snapshotsKv ? new SnapshotStore(snapshotsKv, 'status', 0, moduleLogger('cluster')) : null;
  const settings = store ? await store.readGroup() : null;
  const members: ClusterStatusReport['members'] = [];
  if (membersKv) {
    for (const key of await distinctKeys(membersKv)) {
      const e = await membersKv.get(key);
      if (!e || e.operation !== 'PUT') continue;
      const r = e.json<MemberRecord>();
      const age = Date.parse(r.heartbeatAt);
      members.push({ ...r, lastHeartbeatAgeMs: Number.isFinite(age) ? Math.max(0, Date.now() - age) : null });
    }
  }
  members.sort((a, b) => a.id.localeCompare(b.id));
  const leases = leasesKv ? await readLeases(leasesKv) : new Map();
  const checkpoints = new Map<number, PartitionCheckpoint>();
  if (store) for (const c of await store.readCheckpoints()) checkpoints.set(c.partition, c);
  const count = settings?.partitions ?? Math.max(0, ...leases.keys(), ...checkpoints.keys()) + 1;
  const assigned = assignPartitions(count, members.map((m) => m.id));
  const partitions = Array.from({ length: count }, (_, p) => {
    const l = leases.get(p);
    const c = checkpoints.get(p);
    return {
      partition: p,
      owner: l?.owner ?? null,
      assigned: assigned[p] ?? null,
      renewedAt: l?.renewedAt ?? null,
      checkpointSeq: c?.throughSeq ?? null,
      checkpointAt: c?.writtenAt ?? null,
      devices: c ? c.devices.length : null,
    };
  });
  let input: ClusterStatusReport['input'] = null;
  try {
    const info = await (await jetstreamManager(nc)).streams.info(names.inputStream);
    input = { stream: names.inputStream, messages: info.state.messages, bytes: info.state.bytes, firstSeq: info.state.first_seq, lastSeq: info.state.last_seq, replicas: info.config.num_replicas };
  } catch (e) {
    if (!/not found/i.test((e as Error).message)) throw clusterError(`cannot read stream ${names.inputStream}`, e);
  }
  return { group, settings, members, partitions, input };
}
