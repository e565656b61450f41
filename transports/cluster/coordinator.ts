import { EventEmitter } from 'node:events';
import { randomBytes } from 'node:crypto';
import type { NatsConnection } from '@nats-io/transport-node';
import { jetstreamManager, type PubAck } from '@nats-io/jetstream';
import type { KV } from '@nats-io/kv';
import type { Logger } from 'pino';
import { moduleLogger } from '../../runtime/log.js';
import { AnnounceMarkers } from './announce_markers.js';
import { openBucket, replicasFor } from './buckets.js';
import { parseClusterConfig, type ClusterConfig, type ClusterConfigInput } from './cluster_config.js';
import { ensureInputStream, publishInput } from './input_stream.js';
import { Membership } from './membership.js';
import { connectNats } from './nats_connection.js';
import { PartitionConsumer, type InputMessage } from './partition_consumer.js';
import { PartitionLeases, type Lease } from './partition_leases.js';
import { assignPartitions } from './rendezvous.js';
import { SnapshotStore, type DeviceSnapshot, type PartitionCheckpoint } from './snapshot_store.js';
import { clusterNames, type ClusterNames } from './subjects.js';

/** What a new owner gets before the first message of a partition. */
export interface PartitionRestore {
  /** First stream sequence that will be delivered (the checkpoint's position + 1). */
  replayFrom: number;
  /** The partition's last checkpoint, null when it never had one (then the whole retained stream replays). */
  checkpoint: PartitionCheckpoint | null;
  /** The devices to restore, by id: state as of `snapshot.inputSeq`; later inputs follow as messages. */
  snapshots: ReadonlyMap<string, DeviceSnapshot>;
  /** Inputs up to this sequence were already in the stream: they are replay (`InputMessage.replay`). */
  replayUntil: number;
  /**
   * Stream positions the retention limits removed before they could be replayed (0 normally). Not
   * all of them were this partition's; any > 0 means the restored state may miss inputs.
   */
  lostPositions: number;
}

/** A device's state for a checkpoint, as the pipeline serialised it. */
export interface DeviceState {
  device: string;
  data: Uint8Array;
  /**
   * The last input `data` includes, when it is not every input delivered so far: a device that
   * needs inputs again after a restore (a keyword stream replays its last seconds of audio) names
   * the input before the first one it needs. The next owner's replay starts there for this device.
   */
  inputSeq?: number;
}

export type ReleaseReason = 'handover' | 'shutdown' | 'lost';

/**
 * What the service plugs in: create/restore pipelines on acquire, feed them messages, serialise
 * them for checkpoints, close them on release. Calls for one partition never overlap: no message
 * is delivered while `acquire`, `snapshot` or `release` of that partition is pending.
 */
export interface PartitionHandlers {
  /** This worker now owns `partition`: restore the listed devices; the replay follows as messages. */
  acquire(partition: number, restore: PartitionRestore): void | Promise<void>;
  /** One input of an owned partition, in stream order. A throw is logged and counted; the partition goes on. */
  message(m: InputMessage): void | Promise<void>;
  /** Serialise every live device of the partition (state through every message delivered so far). */
  snapshot(partition: number): DeviceState[] | Promise<DeviceState[]>;
  /**
   * Optional: resolves when the outputs these states cover are durable elsewhere (e.g. acknowledged
   * by an MQTT broker), so that a next owner restoring them need not produce those outputs again.
   * Called after `snapshot`, while messages flow again; the checkpoint is written only after it
   * (a throw postpones it: counted as a checkpoint failure, the previous checkpoint stays).
   */
  outputsDurable?(partition: number, states: DeviceState[]): Promise<void>;
  /**
   * Close the partition's pipelines. After `handover`/`shutdown` their final state was just written
   * (from `snapshot`); after `lost` (lease expired or taken) nothing is written: another worker may own it.
   */
  release(partition: number, reason: ReleaseReason): void | Promise<void>;
}

export interface CoordinatorEvents {
  members: [members: string[]];
  acquired: [info: { partition: number; replayFrom: number; replayUntil: number; devices: number; lostPositions: number; ms: number }];
  released: [info: { partition: number; reason: ReleaseReason; checkpointSeq: number | null }];
  checkpoint: [info: { partition: number; throughSeq: number; devices: number; bytes: number; ms: number }];
  /** Leases renewed in one round; `sentAt` = Date.now() when the requests left (their expiry is TTL after it at the earliest). */
  renewed: [info: { partitions: number[]; sentAt: number }];
  /** Something failed and was handled (logged, retried later); never fatal. */
  problem: [info: { what: string; partition?: number; error: string }];
}

export interface PartitionStatus {
  partition: number;
  acquiredAt: string;
  /** Last stream sequence handled. */
  lastSeq: number;
  /** Inputs the stream holds beyond `lastSeq` (replay lag), as of the last message delivered. */
  pending: number;
  /** The server said just now (an idle heartbeat after the last message) that it has nothing more to deliver. */
  caughtUp: boolean;
  handled: number;
  failures: number;
  checkpointSeq: number;
  /** ms since the last checkpoint (since the acquisition when none yet). */
  checkpointAgeMs: number;
  devices: number;
}

export interface CoordinatorStatus {
  member: string;
  members: string[];
  partitions: number;
  owned: PartitionStatus[];
  /** Counters since start. */
  acquisitions: number;
  handovers: number;
  lost: number;
  checkpoints: number;
  checkpointFailures: number;
}

interface Owned {
  lease: Lease;
  state: 'starting' | 'running' | 'releasing';
  consumer: PartitionConsumer | null;
  acquiredAt: string;
  /** Per device: sequence up to which its restored state already holds its inputs. */
  floors: Map<string, number>;
  checkpointSeq: number;
  checkpointAt: number;
  devices: number;
  /** Serialises this partition's checkpoint writes. */
  writes: Promise<unknown>;
  /** A periodic checkpoint is under way (the next one waits for it rather than queueing up). */
  checkpointing: boolean;
  renewing: boolean;
  /** The handlers were given the partition (their `acquire` was called): only then do they get a `release`. */
  handed: boolean;
}

export interface CoordinatorOptions {
  logger?: Logger;
  /** Use this connection instead of opening one (it is then not closed by `stop`). */
  connection?: NatsConnection;
}

const STOP_TIMEOUT_MS = 5000;

/** Resolve `p`, or undefined after `ms` (never hang a release on a dead connection). */
async function within<T>(p: Promise<T>, ms: number): Promise<T | undefined> {
  let timer: NodeJS.Timeout | undefined;
  const timeout = new Promise<undefined>((r) => (timer = setTimeout(() => r(undefined), ms)));
  try {
    return await Promise.race([p, timeout]);
  } finally {
    clearTimeout(timer);
  }
}

/**
 * One worker of a group: joins the membership, computes the rendezvous assignment over the live
 * members, holds leases on its partitions (acquire, renew, release), and for each owned partition
 * restores the last checkpoint, replays the inputs after it and delivers the live ones, writing
 * checkpoints periodically and at hand-over. The pipelines themselves are the caller's
 * (`PartitionHandlers`); this class knows devices, bytes and sequences only.
 */
export class ClusterCoordinator extends EventEmitter<CoordinatorEvents> {
  readonly config: ClusterConfig;
  readonly names: ClusterNames;
  private readonly log: Logger;
  private readonly owned = new Map<number, Owned>();
  private readonly acquiring = new Set<number>();
  private timers: NodeJS.Timeout[] = [];
  private leaseWatch: { stop(): void } | null = null;
  private rebalancing = false;
  private rebalanceAgain = false;
  private stopping = false;
  private counters = { acquisitions: 0, handovers: 0, lost: 0, checkpoints: 0, checkpointFailures: 0 };

  private constructor(
    config: ClusterConfig,
    readonly connection: NatsConnection,
    private readonly ownsConnection: boolean,
    private readonly handlers: PartitionHandlers,
    private readonly membership: Membership,
    private readonly leases: PartitionLeases,
    private readonly leaseKv: KV,
    readonly snapshots: SnapshotStore,
    /** Publish-once markers (Home Assistant discovery), in the snapshot bucket. */
    readonly markers: AnnounceMarkers,
    logger: Logger,
  ) {
    super();
    this.config = config;
    this.names = clusterNames(config.group);
    this.log = logger;
  }

  /** Connect, create what is missing (stream, buckets), check the group's settings, join and start owning partitions. */
  static async start(input: ClusterConfigInput | ClusterConfig, handlers: PartitionHandlers, opts: CoordinatorOptions = {}): Promise<ClusterCoordinator> {
    // A parsed configuration is valid input too: parsing again is harmless.
    const config = parseClusterConfig(input);
    const names = clusterNames(config.group);
    const log = (opts.logger ?? moduleLogger('cluster')).child({ member: config.memberId });
    const nc =
      opts.connection ??
      (await connectNats({
        servers: config.servers,
        name: `edgestream-${config.memberId}`,
        connectTimeoutMs: config.connectTimeoutMs,
        logger: log,
        ...(config.user !== undefined ? { user: config.user } : {}),
        ...(config.pass !== undefined ? { pass: config.pass } : {}),
        ...(config.token !== undefined ? { token: config.token } : {}),
      }));
    try {
      const replicas = replicasFor(nc, config.replicas);
      const [membersKv, leaseKv, snapshotKv] = await Promise.all([
        openBucket(nc, { name: names.membersBucket, ttlMs: config.memberTtlMs, history: 1, replicas, storage: 'memory', description: 'edgestream workers (heartbeats)' }),
        openBucket(nc, { name: names.leasesBucket, ttlMs: config.leaseTtlMs, history: 1, replicas, storage: 'file', description: 'edgestream partition leases' }),
        openBucket(nc, { name: names.snapshotsBucket, ttlMs: 0, history: 1, replicas, storage: 'file', description: 'edgestream device snapshots and partition checkpoints' }),
      ]);
      await ensureInputStream(nc, { name: names.inputStream, subjectPrefix: config.subjectPrefix, replicas, maxAgeMs: config.inputMaxAgeMs, maxBytes: config.inputMaxBytes }, log);
      const maxPayload = nc.info?.max_payload ?? 1024 * 1024;
      const store = new SnapshotStore(snapshotKv, config.memberId, maxPayload - 1024, log);
      await store.checkGroup({ partitions: config.partitions, subjectPrefix: config.subjectPrefix, leaseTtlMs: config.leaseTtlMs, memberTtlMs: config.memberTtlMs });
      const instance = randomBytes(4).toString('hex');
      const membership = await Membership.join(membersKv, config.memberId, instance, { heartbeatMs: config.heartbeatMs, ttlMs: config.memberTtlMs, logger: log });
      const leases = new PartitionLeases(leaseKv, config.memberId, instance, config.leaseTtlMs);
      const c = new ClusterCoordinator(config, nc, opts.connection === undefined, handlers, membership, leases, leaseKv, store, new AnnounceMarkers(snapshotKv), log);
      await c.run();
      return c;
    } catch (e) {
      if (opts.connection === undefined) await nc.close().catch(() => undefined);
      throw e;
    }
  }

  get memberId(): string {
    return this.config.memberId;
  }

  /** Live members as this worker sees them (sorted). */
  members(): string[] {
    return this.membership.live();
  }

  /** Partitions this worker owns now (sorted). */
  ownedPartitions(): number[] {
    return [...this.owned.keys()].sort((a, b) => a - b);
  }

  private async run(): Promise<void> {
    this.membership.on('change', (members) => {
      this.log.info({ members }, 'members changed');
      this.emit('members', members);
      void this.rebalance();
    });
    // A hand-over deletes the lease: the next owner hears it here and takes the partition at once.
    const watch = await this.leaseKv.watch({ include: 'updates' });
    this.leaseWatch = watch;
    void (async () => {
      for await (const e of watch) if (e.operation !== 'PUT') void this.rebalance();
    })();
    const every = (ms: number, fn: () => void): void => {
      const t = setInterval(fn, ms);
      t.unref();
      this.timers.push(t);
    };
    every(this.config.rebalanceMs, () => {
      this.checkDeadlines();
      void this.rebalance();
    });
    every(this.config.renewMs, () => void this.renewAll());
    if (this.config.checkpointMs > 0) every(Math.min(this.config.checkpointMs, 1000), () => this.checkpointDue());
    await this.rebalance();
  }

  private async rebalance(): Promise<void> {
    if (this.stopping) return;
    if (this.rebalancing) {
      this.rebalanceAgain = true;
      return;
    }
    this.rebalancing = true;
    try {
      do {
        this.rebalanceAgain = false;
        const owners = assignPartitions(this.config.partitions, this.membership.live());
        const work: Promise<void>[] = [];
        for (let p = 0; p < owners.length; p++) {
          const o = this.owned.get(p);
          if (o && o.state === 'running' && owners[p] !== this.memberId) void this.releasePartition(p, 'handover');
          if (!o && owners[p] === this.memberId && !this.acquiring.has(p)) work.push(this.acquire(p));
        }
        await Promise.all(work);
      } while (this.rebalanceAgain && !this.stopping);
    } finally {
      this.rebalancing = false;
    }
  }

  private async acquire(p: number): Promise<void> {
    this.acquiring.add(p);
    const t0 = performance.now();
    let lease: Lease | null = null;
    try {
      lease = await this.leases.tryAcquire(p);
      if (!lease || this.stopping) {
        if (lease) await this.leases.release(lease);
        return;
      }
      const o: Owned = { lease, state: 'starting', consumer: null, acquiredAt: lease.acquiredAt, floors: new Map(), checkpointSeq: 0, checkpointAt: performance.now(), devices: 0, writes: Promise.resolve(), checkpointing: false, renewing: false, handed: false };
      this.owned.set(p, o);
      const { checkpoint, snapshots } = await this.snapshots.loadPartition(p);
      const info = await (await jetstreamManager(this.connection)).streams.info(this.names.inputStream);
      const from = (checkpoint?.throughSeq ?? 0) + 1;
      const firstSeq = info.state.messages > 0 ? info.state.first_seq : info.state.last_seq + 1;
      const lostPositions = Math.max(0, firstSeq - from);
      // Positions are stream-wide: for a partition without device state they are most likely other partitions' inputs.
      if (lostPositions > 0 && snapshots.size > 0) this.log.warn({ partition: p, replayFrom: from, firstAvailable: firstSeq }, 'inputs after the checkpoint were removed by the stream limits: restored state may miss inputs (raise inputMaxAgeMs/inputMaxBytes)');
      // A device's snapshot may hold fewer inputs than the record (it asked for some again) or more
      // (written after the record): its replay starts after its own position either way.
      for (const [d, s] of snapshots) o.floors.set(d, s.inputSeq);
      const consumeFrom = Math.min(from, ...[...o.floors.values()].map((f) => f + 1));
      o.checkpointSeq = from - 1;
      o.devices = snapshots.size;
      const restore: PartitionRestore = { replayFrom: from, checkpoint, snapshots, replayUntil: info.state.last_seq, lostPositions };
      // Lost (lease deadline) or released (stop) while loading: the handlers never had it, so they get
      // neither an acquire nor a release (an acquire after the release left them holding a partition).
      if (this.owned.get(p) !== o || o.state !== 'starting') return;
      o.handed = true;
      await this.handlers.acquire(p, restore);
      if (this.owned.get(p) !== o || o.state !== 'starting') return; // lost while restoring
      o.consumer = await PartitionConsumer.start(this.connection, {
        streamName: this.names.inputStream,
        subjectPrefix: this.config.subjectPrefix,
        partition: p,
        fromSeq: consumeFrom,
        replayUntil: info.state.last_seq,
        skipUpTo: o.floors,
        skipOthersUpTo: from - 1,
        handle: (m) => this.handlers.message(m),
        logger: this.log,
      });
      if (this.owned.get(p) !== o || o.state !== 'starting') {
        await o.consumer.stop();
        return;
      }
      o.state = 'running';
      this.counters.acquisitions++;
      const ms = Math.round(performance.now() - t0);
      this.log.info({ partition: p, replayFrom: from, replayUntil: info.state.last_seq, devices: snapshots.size, ms }, 'partition acquired');
      this.emit('acquired', { partition: p, replayFrom: from, replayUntil: info.state.last_seq, devices: snapshots.size, lostPositions, ms });
    } catch (e) {
      this.problem('acquire', e, p);
      // Give the partition back so that this or another worker retries from a clean start.
      const o = this.owned.get(p);
      if (o && lease && o.lease === lease) {
        this.owned.delete(p);
        await o.consumer?.stop();
        if (o.handed) await this.safeRelease(p, 'lost');
        await this.leases.release(lease).catch(() => undefined);
      }
    } finally {
      this.acquiring.delete(p);
    }
  }

  private async renewAll(): Promise<void> {
    const sentAt = Date.now();
    const renewed: number[] = [];
    await Promise.all(
      [...this.owned].map(async ([p, o]) => {
        if (o.renewing || o.state === 'releasing') return;
        o.renewing = true;
        try {
          const r = await this.leases.renew(o.lease);
          if (r === 'renewed') renewed.push(p);
          if (this.owned.get(p) !== o) {
            // Declared lost meanwhile but the renewal went through: give the key back.
            if (r === 'renewed') await this.leases.release(o.lease).catch(() => undefined);
            return;
          }
          if (r === 'lost') void this.losePartition(p, o, 'lease taken or expired');
          else if (r === 'unreachable') this.log.warn({ partition: p, validForMs: Math.round(o.lease.validUntil - performance.now()) }, 'lease renewal failed (NATS unreachable)');
        } finally {
          o.renewing = false;
        }
      }),
    );
    if (renewed.length > 0) this.emit('renewed', { partitions: renewed.sort((a, b) => a - b), sentAt });
  }

  /** A lease we could not renew in time is gone: stop at once, before anyone else can take it. */
  private checkDeadlines(): void {
    const now = performance.now();
    for (const [p, o] of this.owned) if (o.state !== 'releasing' && now > o.lease.validUntil) void this.losePartition(p, o, 'lease deadline passed without renewal');
  }

  private async losePartition(p: number, o: Owned, why: string): Promise<void> {
    if (o.state === 'releasing' || this.owned.get(p) !== o) return;
    o.state = 'releasing';
    this.log.warn({ partition: p, why }, 'partition lost');
    await within(o.consumer?.stop() ?? Promise.resolve(), STOP_TIMEOUT_MS);
    if (o.handed) await this.safeRelease(p, 'lost');
    if (this.owned.get(p) === o) this.owned.delete(p);
    this.counters.lost++;
    this.emit('released', { partition: p, reason: 'lost', checkpointSeq: null });
    void this.rebalance();
  }

  /** Hand a partition over: stop delivery, write the final checkpoint, close pipelines, delete the lease. */
  private async releasePartition(p: number, reason: 'handover' | 'shutdown'): Promise<void> {
    const o = this.owned.get(p);
    if (!o || o.state === 'releasing') return;
    o.state = 'releasing';
    await within(o.consumer?.stop() ?? Promise.resolve(), STOP_TIMEOUT_MS);
    let checkpointSeq: number | null = null;
    if (o.consumer) {
      const written = await this.writeCheckpoint(p, o);
      checkpointSeq = written ? written.throughSeq : null;
    }
    if (o.handed) await this.safeRelease(p, reason);
    try {
      await this.leases.release(o.lease);
    } catch (e) {
      this.problem('release lease', e, p); // it expires by itself
    }
    if (this.owned.get(p) === o) this.owned.delete(p);
    this.counters.handovers++;
    this.log.info({ partition: p, reason, checkpointSeq }, 'partition released');
    this.emit('released', { partition: p, reason, checkpointSeq });
  }

  private async safeRelease(p: number, reason: ReleaseReason): Promise<void> {
    try {
      await this.handlers.release(p, reason);
    } catch (e) {
      this.problem('release handler', e, p);
    }
  }

  private checkpointDue(): void {
    const now = performance.now();
    for (const [p, o] of this.owned) {
      if (o.state !== 'running' || !o.consumer || o.checkpointing) continue;
      if (now - o.checkpointAt < this.config.checkpointMs) continue;
      if (o.consumer.lastSeq === o.checkpointSeq) {
        o.checkpointAt = now; // nothing new: no write
        continue;
      }
      o.checkpointAt = now;
      o.checkpointing = true;
      void this.writeCheckpoint(p, o).finally(() => (o.checkpointing = false));
    }
  }

  /**
   * Snapshot the partition between two messages, then write the snapshots and the record
   * (serialised per partition; skipped when our lease may already have expired).
   */
  private async writeCheckpoint(p: number, o: Owned): Promise<PartitionCheckpoint | null> {
    const consumer = o.consumer!;
    const t0 = performance.now();
    let taken: { seq: number; states: DeviceState[] } | null = null;
    try {
      taken = await consumer.exclusive(async () => ({ seq: consumer.lastSeq, states: await this.handlers.snapshot(p) }));
    } catch (e) {
      this.counters.checkpointFailures++;
      this.problem('snapshot handler', e, p);
      return null;
    }
    const { seq, states } = taken;
    const write = o.writes.then(async () => {
      await this.handlers.outputsDurable?.(p, states);
      if (performance.now() > o.lease.validUntil) return null;
      // Restored devices whose snapshot was newer than the record keep that position until the stream passes it.
      const written = await this.snapshots.writeCheckpoint(p, seq, states.map((s) => ({ device: s.device, data: s.data, inputSeq: s.inputSeq ?? Math.max(o.floors.get(s.device) ?? seq, seq) })));
      o.checkpointSeq = Math.max(o.checkpointSeq, seq);
      o.checkpointAt = performance.now();
      o.devices = states.length;
      this.counters.checkpoints++;
      const bytes = states.reduce((n, s) => n + s.data.length, 0);
      this.emit('checkpoint', { partition: p, throughSeq: seq, devices: states.length, bytes, ms: Math.round(performance.now() - t0) });
      return written;
    });
    o.writes = write.catch(() => undefined);
    try {
      return await write;
    } catch (e) {
      this.counters.checkpointFailures++;
      this.problem('checkpoint', e, p);
      return null;
    }
  }

  /**
   * Forget a device whose stream ended (its pipeline was closed): its snapshot is deleted so that a
   * later owner starts it fresh, as this worker would.
   */
  async forgetDevice(partition: number, device: string): Promise<void> {
    this.owned.get(partition)?.floors.delete(device);
    await this.snapshots.deleteDevice(partition, device);
  }

  /** Publish a device input through JetStream (for NATS-side ingress, e.g. WebRTC); resolves on the stream's ack. */
  publishInput(device: string, kind: string, payload: Uint8Array, headers?: Record<string, string>, msgId?: string): Promise<PubAck> {
    return publishInput(this.connection, this.config.subjectPrefix, device, kind, payload, headers, msgId !== undefined ? { msgId } : {});
  }

  status(): CoordinatorStatus {
    const now = performance.now();
    return {
      member: this.memberId,
      members: this.membership.live(),
      partitions: this.config.partitions,
      owned: [...this.owned]
        .filter(([, o]) => o.state === 'running' && o.consumer)
        .sort(([a], [b]) => a - b)
        .map(([p, o]) => ({
          partition: p,
          acquiredAt: o.acquiredAt,
          lastSeq: o.consumer!.lastSeq,
          pending: o.consumer!.pending,
          caughtUp: o.consumer!.caughtUp(),
          handled: o.consumer!.handled,
          failures: o.consumer!.failures,
          checkpointSeq: o.checkpointSeq,
          checkpointAgeMs: Math.round(now - o.checkpointAt),
          devices: o.devices,
        })),
      ...this.counters,
    };
  }

  private problem(what: string, e: unknown, partition?: number): void {
    const error = (e as Error)?.message ?? String(e);
    this.log.warn({ what, partition, err: error }, 'cluster operation failed');
    this.emit('problem', { what, error, ...(partition !== undefined ? { partition } : {}) });
  }

  /** Leave: the others see it at once; every owned partition is checkpointed and handed over; then disconnect. */
  async stop(): Promise<void> {
    if (this.stopping) return;
    this.stopping = true;
    for (const t of this.timers) clearInterval(t);
    await this.membership.leave();
    await Promise.all(this.ownedPartitions().map((p) => this.releasePartition(p, 'shutdown')));
    this.leaseWatch?.stop();
    if (this.ownsConnection) await within(this.connection.drain(), STOP_TIMEOUT_MS);
  }

  /**
   * Stop without a goodbye, as a crash looks to the others (leases and the member record expire;
   * nothing is checkpointed). For tests of failure handling.
   */
  async crash(): Promise<void> {
    this.stopping = true;
    for (const t of this.timers) clearInterval(t);
    this.membership.abandon();
    this.leaseWatch?.stop();
    for (const o of this.owned.values()) o.state = 'releasing';
    await Promise.all([...this.owned.values()].map((o) => within(o.consumer?.stop() ?? Promise.resolve(), 1000)));
    this.owned.clear();
    await this.connection.close().catch(() => undefined);
  }
}

/** Start one worker of a group (see `ClusterCoordinator`). */
export function startClusterCoordinator(config: ClusterConfigInput | ClusterConfig, handlers: PartitionHandlers, opts: CoordinatorOptions = {}): Promise<ClusterCoordinator> {
  return ClusterCoordinator.start(config, handlers, opts);
}
