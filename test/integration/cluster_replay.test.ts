import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { connect, type NatsConnection } from '@nats-io/transport-node';
import { partitionOf, publishInput, type PartitionRestore } from '../../transports/cluster/index.js';
import { childWorker, FAST, natsCluster, NATS_SERVER_MISSING, worker } from '../helpers/cluster.js';
import type { DeviceLog } from '../helpers/cluster_device_log.js';
import { sleep, until } from '../helpers/mqtt_log.js';

// Snapshot + replay on a real nats-server: a device's state (the list of inputs it absorbed) after
// a crash or a hand-over equals the exact input sequence: restored from the last checkpoint, then
// the stream's messages after it, none lost, none twice.

const cluster = await natsCluster(1, ['crash', 'handover']);
const skip = cluster ? false : NATS_SERVER_MISSING;
const DEVICES = Array.from({ length: 20 }, (_, i) => `dev-${i}`);

describe('snapshot and replay', { skip }, () => {
  let nc: NatsConnection;
  before(async () => {
    nc = await connect({ servers: cluster!.urls });
  });
  after(() => nc?.close());

  /** Publish `count` inputs round-robin over the devices (acknowledged by the stream); returns them per device. */
  async function publish(prefix: string, from: number, count: number, sent: Map<string, string[]>): Promise<void> {
    for (let i = from; i < from + count; i++) {
      const device = DEVICES[i % DEVICES.length]!;
      const text = `${device}#${i}`;
      await publishInput(nc, prefix, device, 'audio', new TextEncoder().encode(text));
      sent.set(device, [...(sent.get(device) ?? []), text]);
    }
  }

  function assertExact(logs: DeviceLog[], sent: Map<string, string[]>): void {
    for (const device of DEVICES) {
      const holders = logs.filter((l) => l.logs.has(device));
      assert.equal(holders.length, 1, `${device} is held by ${holders.length} workers`);
      assert.deepEqual(holders[0]!.logs.get(device), sent.get(device), `${device}: state differs from the inputs`);
    }
  }

  it('after kill -9 of the owner, the new owner restores the checkpoint and replays exactly the inputs after it', async (t) => {
    const sent = new Map<string, string[]>();
    const victim = childWorker({ servers: cluster!.urls, group: 'crash', subjectPrefix: 'crash', memberId: 'victim', ...FAST });
    await until(() => victim.events.some((e) => e.event === 'ready'), 'child worker ready', 20_000);
    await publish('crash', 0, 200, sent);
    // Let the periodic checkpoints cover those, then add inputs the next checkpoint will not see.
    const covered = (): number => victim.events.filter((e) => e.event === 'checkpoint').length;
    await until(() => covered() >= new Set(DEVICES.map((d) => partitionOf(d, 16))).size, 'checkpoints of every busy partition', 10_000);
    await publish('crash', 200, 60, sent);
    victim.proc.kill('SIGKILL');
    await victim.exited;
    // Inputs keep arriving while no worker runs.
    await publish('crash', 260, 100, sent);
    const { c, log } = await worker(cluster!.urls, 'heir', { group: 'crash', subjectPrefix: 'crash' });
    await until(() => DEVICES.every((d) => (log.logs.get(d)?.length ?? 0) >= sent.get(d)!.length), 'every input absorbed by the heir', 15_000);
    assertExact([log], sent);
    const restores = log.calls.filter((x) => x.kind === 'acquire').map((x) => ({ p: x.partition, r: x.restore! }));
    const fromSnapshots = restores.filter(({ r }) => r.snapshots.size > 0);
    assert.ok(fromSnapshots.length > 0, 'some partitions were restored from snapshots');
    for (const { p, r } of restores) {
      const replayed = log.handled.filter((h) => h.partition === p);
      assert.ok(replayed.every((h) => h.seq >= r.replayFrom), `partition ${p} handled inputs before its checkpoint`);
      assert.equal(r.lostPositions, 0);
    }
    const total = [...sent.values()].reduce((n, l) => n + l.length, 0);
    t.diagnostic(`${total} inputs; the heir restored ${fromSnapshots.length} partitions from checkpoints and handled ${log.handled.length} inputs after them`);
    assert.ok(log.handled.length < total, 'the snapshots spared replaying everything');
    assert.deepEqual(c.ownedPartitions().length, 16);
  });

  it('a graceful hand-over writes a final checkpoint: the next owner replays nothing and continues exactly', async () => {
    const sent = new Map<string, string[]>();
    const group = { group: 'handover', subjectPrefix: 'handover', checkpointMs: 0 }; // checkpoints only at hand-over
    const first = await worker(cluster!.urls, 'first', group);
    await publish('handover', 0, 150, sent);
    await until(() => first.log.handled.length === 150, 'first worker absorbed everything');
    const lastSeqOf = new Map<number, number>();
    for (const h of first.log.handled) lastSeqOf.set(h.partition, Math.max(lastSeqOf.get(h.partition) ?? 0, h.seq));
    const second = await worker(cluster!.urls, 'second', group);
    await until(() => second.c.ownedPartitions().length > 0 && first.c.ownedPartitions().length + second.c.ownedPartitions().length === 16 && second.log.calls.filter((x) => x.kind === 'acquire').length === second.c.ownedPartitions().length, 'hand-over to the second worker');
    const moved = second.log.calls.filter((x) => x.kind === 'acquire');
    assert.ok(moved.some((x) => lastSeqOf.has(x.partition)), 'busy partitions moved');
    for (const { partition, restore } of moved as { partition: number; restore: PartitionRestore }[]) {
      if (!lastSeqOf.has(partition)) continue;
      assert.equal(restore.replayFrom, lastSeqOf.get(partition)! + 1, `partition ${partition} resumes right after the last input its first owner handled`);
    }
    await publish('handover', 150, 150, sent);
    await until(() => first.log.handled.length + second.log.handled.length === 300, 'both absorbed the rest');
    assert.ok(second.log.handled.every((h) => !h.replay), 'nothing was replayed after a graceful hand-over');
    assertExact([first.log, second.log], sent);
    // And back: the first worker leaves, the second continues every device exactly.
    await first.c.stop();
    await until(() => second.c.ownedPartitions().length === 16 && second.log.calls.filter((x) => x.kind === 'acquire').length === 16, 'second owns everything');
    await publish('handover', 300, 40, sent);
    await until(() => DEVICES.every((d) => (second.log.logs.get(d)?.length ?? 0) >= sent.get(d)!.length), 'second absorbed the last inputs');
    await sleep(100); // anything extra (a duplicate) would arrive now
    assertExact([second.log], sent);
  });
});
