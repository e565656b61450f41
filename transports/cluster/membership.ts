import { EventEmitter } from 'node:events';
import { hostname } from 'node:os';
import type { KV } from '@nats-io/kv';
import type { Logger } from 'pino';
import { EdgestreamError } from '../../runtime/errors.js';
import { clusterError, isWrongLastSequence } from './buckets.js';
import { distinctKeys } from './kv_keys.js';

/** What a worker writes under its id in the members bucket on every heartbeat. */
export interface MemberRecord {
  id: string;
  /** Random per process: tells a restarted worker with a fixed id from its dead predecessor. */
  instance: string;
  host: string;
  pid: number;
  startedAt: string;
  heartbeatAt: string;
}

export interface MembershipOptions {
  heartbeatMs: number;
  /** Gone after this long without a heartbeat (the bucket's TTL is the same). */
  ttlMs: number;
  logger: Logger;
}

interface MembershipEvents {
  /** The sorted ids of the live members changed. */
  change: [members: string[]];
}

/**
 * Group membership on a KV bucket with a TTL: each worker puts its record every heartbeat; the
 * others see the puts through a watch and forget a member when its heartbeats stop for `ttlMs`
 * (the server drops the record then too, without telling watchers: nats-server 2.9 has no delete
 * markers for expired keys) or at once when it leaves (its record is deleted).
 * Liveness is judged by local receipt time, so clocks of different machines never matter.
 */
export class Membership extends EventEmitter<MembershipEvents> {
  private readonly lastSeen = new Map<string, number>();
  private readonly records = new Map<string, MemberRecord>();
  private members: string[] = [];
  private heartbeatTimer: NodeJS.Timeout | null = null;
  private sweepTimer: NodeJS.Timeout | null = null;
  private watcher: { stop(): void } | null = null;
  private revision = 0;
  private stopped = false;
  private lastSweepAt = performance.now();

  private constructor(
    private readonly kv: KV,
    private readonly self: MemberRecord,
    private readonly opts: MembershipOptions,
  ) {
    super();
  }

  /**
   * Join: claim the id (refused with `E_CLUSTER` while another live process keeps using it; the
   * record of a dead predecessor is waited out), read the current members, then heartbeat and watch.
   */
  static async join(kv: KV, id: string, instance: string, opts: MembershipOptions): Promise<Membership> {
    const now = new Date().toISOString();
    const self: MemberRecord = { id, instance, host: hostname(), pid: process.pid, startedAt: now, heartbeatAt: now };
    const m = new Membership(kv, self, opts);
    await m.claim();
    // Watch first, then read: a member joining between the two is seen either way (read the other
    // way round it stayed unseen until its next heartbeat).
    await m.startWatch();
    await m.loadMembers();
    m.heartbeatTimer = setInterval(() => void m.heartbeat(), opts.heartbeatMs);
    m.lastSweepAt = performance.now(); // not construction time: claiming the id may have waited
    m.sweepTimer = setInterval(() => m.sweep(), m.sweepMs);
    m.heartbeatTimer.unref();
    m.sweepTimer.unref();
    return m;
  }

  private get sweepMs(): number {
    return Math.max(20, Math.floor(this.opts.heartbeatMs / 2));
  }

  get id(): string {
    return this.self.id;
  }

  /** Live member ids, sorted; always includes this worker while it runs. */
  live(): string[] {
    return this.members;
  }

  record(id: string): MemberRecord | undefined {
    return this.records.get(id);
  }

  /** Stop heartbeating and delete the record so that the others see the leave at once. */
  async leave(): Promise<void> {
    if (this.stopped) return;
    this.stopped = true;
    if (this.heartbeatTimer) clearInterval(this.heartbeatTimer);
    if (this.sweepTimer) clearInterval(this.sweepTimer);
    this.watcher?.stop();
    try {
      await this.kv.delete(this.self.id, { previousSeq: this.revision });
    } catch (e) {
      // Expired or already replaced: nothing of ours to remove.
      if (!isWrongLastSequence(e)) this.opts.logger.warn({ err: (e as Error).message }, 'could not delete member record');
    }
  }

  /** Stop without deleting the record (a crash as the others see it; tests use it). */
  abandon(): void {
    this.stopped = true;
    if (this.heartbeatTimer) clearInterval(this.heartbeatTimer);
    if (this.sweepTimer) clearInterval(this.sweepTimer);
    this.watcher?.stop();
  }

  private encode(): Uint8Array {
    this.self.heartbeatAt = new Date().toISOString();
    return new TextEncoder().encode(JSON.stringify(this.self));
  }

  private async claim(): Promise<void> {
    const deadline = Date.now() + this.opts.ttlMs * 2 + this.opts.heartbeatMs;
    let holder: MemberRecord | null = null;
    for (;;) {
      try {
        this.revision = await this.kv.create(this.self.id, this.encode());
        return;
      } catch (e) {
        if (!isWrongLastSequence(e)) throw clusterError(`cannot join group as ${this.self.id}`, e);
      }
      const entry = await this.kv.get(this.self.id);
      holder = entry && entry.operation === 'PUT' ? (entry.json<MemberRecord>() ?? null) : null;
      if (Date.now() > deadline) break;
      await new Promise((r) => setTimeout(r, this.opts.heartbeatMs));
    }
    throw new EdgestreamError('E_CLUSTER', `member id "${this.self.id}" is in use by a live worker${holder ? ` (${holder.host}, pid ${holder.pid})` : ''}: give each worker its own memberId`, { member: this.self.id });
  }

  private async loadMembers(): Promise<void> {
    const now = performance.now();
    for (const key of await distinctKeys(this.kv)) {
      const entry = await this.kv.get(key);
      if (!entry || entry.operation !== 'PUT') continue;
      this.remember(entry.json<MemberRecord>(), now);
    }
    this.remember(this.self, now);
    this.recompute();
  }

  private async startWatch(): Promise<void> {
    const iter = await this.kv.watch({ include: 'updates' });
    this.watcher = iter;
    void (async () => {
      for await (const e of iter) {
        if (e.operation === 'PUT') {
          try {
            this.remember(e.json<MemberRecord>(), performance.now());
          } catch {
            this.opts.logger.warn({ key: e.key }, 'unreadable member record ignored');
          }
        } else {
          this.lastSeen.delete(e.key);
          this.records.delete(e.key);
        }
        this.recompute();
      }
    })();
  }

  private remember(r: MemberRecord, at: number): void {
    if (typeof r?.id !== 'string') return;
    this.lastSeen.set(r.id, at);
    this.records.set(r.id, r);
  }

  private async heartbeat(): Promise<void> {
    if (this.stopped) return;
    try {
      this.revision = await this.kv.put(this.self.id, this.encode());
    } catch (e) {
      this.opts.logger.warn({ err: (e as Error).message }, 'heartbeat failed');
    }
  }

  private sweep(): void {
    const now = performance.now();
    const blockedMs = now - this.lastSweepAt - this.sweepMs;
    this.lastSweepAt = now;
    // This process was blocked (CPU starved, a long GC): after a block Node runs timers before it
    // reads the sockets, so the heartbeats that arrived meanwhile are still unread. Dropping members
    // now would flap the membership (and move partitions twice); judge them on the next sweep.
    if (blockedMs > this.opts.ttlMs / 4) {
      this.opts.logger.warn({ blockedMs: Math.round(blockedMs), memberTtlMs: this.opts.ttlMs }, 'this worker was blocked: members are judged again once their heartbeats are read');
      return;
    }
    for (const [id, at] of this.lastSeen) {
      if (id !== this.self.id && now - at > this.opts.ttlMs) {
        this.lastSeen.delete(id);
        this.records.delete(id);
      }
    }
    this.recompute();
  }

  private recompute(): void {
    if (this.stopped) return;
    this.lastSeen.set(this.self.id, performance.now());
    this.records.set(this.self.id, this.self);
    const next = [...this.lastSeen.keys()].sort();
    if (next.length === this.members.length && next.every((m, i) => m === this.members[i])) return;
    this.members = next;
    this.emit('change', next);
  }
}
