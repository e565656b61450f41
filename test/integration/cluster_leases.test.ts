import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { Kvm } from '@nats-io/kv';
import { connect } from '@nats-io/transport-node';
import { assignPartitions, clusterNames, type ClusterCoordinator } from '../../transports/cluster/index.js';
import { openBucket } from '../../transports/cluster/buckets.js';
import { Membership } from '../../transports/cluster/membership.js';
import { readLeases } from '../../transports/cluster/partition_leases.js';
import { moduleLogger } from '../../runtime/log.js';
import type { DeviceLog } from '../helpers/cluster_device_log.js';
import { childWorker, FAST, natsCluster, NATS_SERVER_MISSING, worker } from '../helpers/cluster.js';
import { sleep, until } from '../helpers/mqtt_log.js';

// Partition ownership on a real nats-server: leases are exclusive under concurrent workers and
// churn, the rendezvous assignment moves ~1/N partitions on a join or a leave, and the leases of a
// worker killed with SIGKILL expire and are taken over within 2 s of their expiry.

const cluster = await natsCluster(1);
const skip = cluster ? false : NATS_SERVER_MISSING;

type Worker = { c: ClusterCoordinator; log: DeviceLog; id: string; live: boolean };

/** True when every live worker owns exactly its rendezvous share over the live set, and nothing else. */
function settled(workers: Worker[], partitions: number): boolean {
  const live = workers.filter((w) => w.live);
  const owners = assignPartitions(partitions, live.map((w) => w.id).sort());
  return live.every((w) => {
    const mine = owners.flatMap((o, p) => (o === w.id ? [p] : []));
    const owned = w.c.ownedPartitions();
    return owned.length === mine.length && owned.every((p, i) => p === mine[i]) && w.c.members().length === live.length;
  });
}

/** Ownership intervals of each partition from every worker's acquire/release calls (one clock: this process). */
function assertExclusive(workers: Worker[], partitions: number): number {
  let intervals = 0;
  // Each worker's handlers saw acquire, release, acquire, … per partition (a release before a late
  // acquire once left a worker holding a partition another owned).
  for (const w of workers) assert.deepEqual(w.log.orderErrors, [], `${w.id}: handler calls out of order`);
  for (let p = 0; p < partitions; p++) {
    const spans: { from: number; to: number; who: string }[] = [];
    for (const w of workers) {
      let open: number | null = null;
      for (const call of w.log.calls.filter((c) => c.partition === p)) {
        if (call.kind === 'acquire') {
          assert.equal(open, null, `${w.id} acquired partition ${p} twice without a release`);
          open = call.t;
        } else if (open !== null) {
          spans.push({ from: open, to: call.t, who: w.id });
          open = null;
        }
      }
      if (open !== null) spans.push({ from: open, to: Infinity, who: w.id });
    }
    spans.sort((a, b) => a.from - b.from);
    for (let i = 1; i < spans.length; i++) {
      assert.ok(spans[i]!.from >= spans[i - 1]!.to, `partition ${p}: ${spans[i]!.who} acquired it at ${spans[i]!.from.toFixed(1)} while ${spans[i - 1]!.who} held it until ${spans[i - 1]!.to.toFixed(1)}`);
    }
    intervals += spans.length;
  }
  return intervals;
}

describe('partition leases and assignment', { skip }, () => {
  it('a partition is owned by exactly one live worker at a time under concurrent start, joins, leaves and crashes', async () => {
    const urls = cluster!.urls;
    const group = { group: 'excl', subjectPrefix: 'excl' };
    const workers: Worker[] = [];
    const add = async (id: string): Promise<void> => {
      const w = await worker(urls, id, group);
      workers.push({ ...w, id, live: true });
    };
    // Five workers start at the same moment and race for the same 16 leases.
    await Promise.all(['w1', 'w2', 'w3', 'w4', 'w5'].map(add));
    await until(() => settled(workers, 16), 'five workers settled', 10_000);
    // Churn: a graceful leave, a crash (leases left to expire), two joins, all overlapping.
    const w2 = workers.find((w) => w.id === 'w2')!;
    const w4 = workers.find((w) => w.id === 'w4')!;
    w2.live = false;
    w4.live = false;
    const crashed = w4.c.ownedPartitions();
    const crash = w4.c.crash().then(() => {
      // A crashed worker handles nothing from here on: its ownership ends now (its leases live on until they expire).
      const t = performance.now();
      for (const p of crashed) w4.log.calls.push({ t, kind: 'release', partition: p, reason: 'lost' });
    });
    await Promise.all([w2.c.stop(), crash, add('w6'), sleep(100).then(() => add('w7'))]);
    await until(() => settled(workers, 16), 'settled after churn', 10_000);
    const spans = assertExclusive(workers, 16);
    assert.ok(spans > 16, 'partitions changed hands');
    // The server agrees: each lease is held by the worker that thinks it owns the partition.
    const nc = await connect({ servers: urls });
    const leases = await readLeases(await new Kvm(nc).open(clusterNames('excl').leasesBucket));
    await nc.close();
    for (const w of workers.filter((x) => x.live)) for (const p of w.c.ownedPartitions()) assert.equal(leases.get(p)?.owner, w.id, `lease of partition ${p}`);
    assert.equal(leases.size, 16);
  });

  it('a join moves ~1/N partitions, all to the new worker; a leave moves exactly the leaver’s', async () => {
    const urls = cluster!.urls;
    const group = { group: 'move', subjectPrefix: 'move', partitions: 64 };
    const workers: Worker[] = [];
    for (const id of ['m1', 'm2', 'm3', 'm4']) workers.push({ ...(await worker(urls, id, group)), id, live: true });
    await until(() => settled(workers, 64), 'four workers settled', 10_000);
    const ownerOf = (): Map<number, string> => new Map(workers.filter((w) => w.live).flatMap((w) => w.c.ownedPartitions().map((p) => [p, w.id] as [number, string])));
    const before = ownerOf();
    workers.push({ ...(await worker(urls, 'm5', group)), id: 'm5', live: true });
    await until(() => settled(workers, 64), 'five workers settled', 10_000);
    const afterJoin = ownerOf();
    const moved = [...afterJoin].filter(([p, o]) => before.get(p) !== o);
    assert.ok(moved.every(([, o]) => o === 'm5'), `partitions moved between old workers: ${JSON.stringify(moved)}`);
    // 64/5 = 12.8 expected; the binomial spread (sigma 3.2) allows 6..20 without flakiness for these ids.
    assert.ok(moved.length >= 6 && moved.length <= 20, `a join to 5 workers moved ${moved.length} of 64`);
    const m2 = workers.find((w) => w.id === 'm2')!;
    const m2Had = m2.c.ownedPartitions();
    m2.live = false;
    await m2.c.stop();
    await until(() => settled(workers, 64), 'four workers settled again', 10_000);
    const afterLeave = ownerOf();
    const movedOnLeave = [...afterLeave].filter(([p, o]) => afterJoin.get(p) !== o).map(([p]) => p).sort((a, b) => a - b);
    assert.deepEqual(movedOnLeave, m2Had);
    assert.equal(afterLeave.size, 64);
  });

  it('after kill -9 of a worker its leases expire and are owned again within 2 s of expiry, never before', async (t) => {
    const urls = cluster!.urls;
    const config = { servers: urls, group: 'kill', subjectPrefix: 'kill', memberId: 'victim', ...FAST };
    const victim = childWorker(config);
    await until(() => victim.events.some((e) => e.event === 'ready'), 'child worker ready', 20_000).catch((e: Error) => {
      throw new Error(`${e.message}; its stderr: ${victim.stderr()}`);
    });
    await until(() => victim.events.some((e) => e.event === 'renewed' && (e.partitions as number[]).length === 16), 'child owns and renews all 16 partitions', 10_000);
    const survivor = await worker(urls, 'survivor', { group: 'kill', subjectPrefix: 'kill' });
    const acquiredAt = new Map<number, number>();
    survivor.c.on('acquired', (i) => acquiredAt.set(i.partition, Date.now()));
    const workers: Worker[] = [{ ...survivor, id: 'survivor', live: true }];
    await until(() => survivor.c.ownedPartitions().length === assignPartitions(16, ['survivor', 'victim']).filter((o) => o === 'survivor').length, 'survivor took its share', 10_000);
    const victimHas = assignPartitions(16, ['survivor', 'victim']).flatMap((o, p) => (o === 'victim' ? [p] : []));
    assert.ok(victimHas.length > 0);
    await sleep(400); // a renewal round or two of the victim's remaining leases
    victim.proc.kill('SIGKILL');
    await victim.exited;
    // The victim's last renewal of each partition (send time): its lease expires TTL later at the earliest.
    const lastRenewal = new Map<number, number>();
    for (const e of victim.events) if (e.event === 'renewed') for (const p of e.partitions as number[]) lastRenewal.set(p, e.sentAt as number);
    await until(() => settled(workers, 16) && victimHas.every((p) => acquiredAt.has(p)), 'survivor owns every partition', 10_000);
    const delays: number[] = [];
    for (const p of victimHas) {
      const expiry = lastRenewal.get(p)! + FAST.leaseTtlMs;
      const took = acquiredAt.get(p)!;
      delays.push(took - expiry);
      assert.ok(took >= expiry, `partition ${p} taken ${expiry - took} ms before the victim's lease could expire`);
      assert.ok(took - expiry <= 2000, `partition ${p} taken ${took - expiry} ms after its lease expired`);
    }
    t.diagnostic(`${victimHas.length} partitions taken over ${Math.min(...delays)}..${Math.max(...delays)} ms after the earliest expiry of their lease (TTL ${FAST.leaseTtlMs} ms)`);
  });

  it('a worker blocked for longer than the member TTL keeps its view: members heard from meanwhile are not dropped', async () => {
    const nc = await connect({ servers: cluster!.urls });
    try {
      const ttlMs = 1000;
      const heartbeatMs = 100;
      const kv = await openBucket(nc, { name: 'blocked_members', ttlMs, history: 1, replicas: 1, storage: 'memory', description: 'test' });
      const logger = moduleLogger('test');
      const a = await Membership.join(kv, 'a', 'ia', { heartbeatMs, ttlMs, logger });
      const b = await Membership.join(kv, 'b', 'ib', { heartbeatMs, ttlMs, logger });
      await until(() => a.live().length === 2 && b.live().length === 2, 'both see both', 5000);
      const changes: string[][] = [];
      a.on('change', (m) => changes.push(m));
      b.on('change', (m) => changes.push(m));
      // Both heartbeat timers are due when the block ends; the sweep used to run before the
      // heartbeats queued in the socket were read, and dropped the other worker for a moment.
      const blockedUntil = performance.now() + ttlMs * 1.5;
      while (performance.now() < blockedUntil);
      await sleep(heartbeatMs * 5);
      assert.deepEqual(changes, [], 'no member dropped and re-added after the block');
      assert.deepEqual([a.live(), b.live()], [['a', 'b'], ['a', 'b']]);
      // A member that really stops heartbeating is still dropped after the TTL.
      b.abandon();
      await until(() => changes.length > 0, 'a drops the silent member', ttlMs * 3);
      assert.deepEqual(a.live(), ['a']);
      await a.leave();
    } finally {
      await nc.close();
    }
  });
});
