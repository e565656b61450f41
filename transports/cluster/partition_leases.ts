import type { KV } from '@nats-io/kv';
import { clusterError, isWrongLastSequence } from './buckets.js';
import { distinctKeys } from './kv_keys.js';

/** The value of a lease key `p.<n>`. */
export interface LeaseRecord {
  owner: string;
  /** The owner's process instance (a restarted worker with the same id is another owner). */
  instance: string;
  acquiredAt: string;
  renewedAt: string;
}

/** A lease this worker holds. */
export interface Lease {
  partition: number;
  /** KV revision of our last write: the compare-and-set token of the next renewal. */
  revision: number;
  acquiredAt: string;
  /**
   * Local monotonic time (performance.now()) until which we may act as owner: the send time of the
   * last successful write + TTL − safety margin. The server measures the TTL from when it stored the
   * write, which is later, so nobody else can hold the partition before this instant.
   */
  validUntil: number;
}

export type RenewResult = 'renewed' | 'lost' | 'unreachable';

export function leaseKey(partition: number): string {
  return `p.${partition}`;
}

/**
 * Partition leases in a KV bucket whose TTL is the lease lifetime. Acquire = `create` (succeeds only
 * when the key is absent: never written, deleted by a hand-over, or expired), renew = `update` with
 * the revision we wrote last (fails if anyone else wrote since), release = `delete` with the same
 * revision. So at most one worker holds a partition at a time, and a dead owner's lease frees itself.
 */
export class PartitionLeases {
  constructor(
    private readonly kv: KV,
    private readonly owner: string,
    private readonly instance: string,
    private readonly ttlMs: number,
    /** Margin kept between our own deadline and the server's expiry (scheduling delays, clock rate). */
    private readonly safetyMs: number = Math.max(100, Math.floor(ttlMs / 10)),
  ) {}

  private record(acquiredAt: string): Uint8Array {
    const r: LeaseRecord = { owner: this.owner, instance: this.instance, acquiredAt, renewedAt: new Date().toISOString() };
    return new TextEncoder().encode(JSON.stringify(r));
  }

  /** Take a free partition; null when someone holds it. Throws `E_CLUSTER` when NATS fails. */
  async tryAcquire(partition: number): Promise<Lease | null> {
    const acquiredAt = new Date().toISOString();
    const sentAt = performance.now();
    try {
      const revision = await this.kv.create(leaseKey(partition), this.record(acquiredAt));
      return { partition, revision, acquiredAt, validUntil: sentAt + this.ttlMs - this.safetyMs };
    } catch (e) {
      if (isWrongLastSequence(e)) return null;
      throw clusterError(`cannot acquire partition ${partition}`, e);
    }
  }

  /** Extend a held lease; `lost` when someone else wrote the key (or it expired), `unreachable` on NATS errors. */
  async renew(lease: Lease): Promise<RenewResult> {
    const sentAt = performance.now();
    try {
      lease.revision = await this.kv.update(leaseKey(lease.partition), this.record(lease.acquiredAt), lease.revision);
      lease.validUntil = sentAt + this.ttlMs - this.safetyMs;
      return 'renewed';
    } catch (e) {
      return isWrongLastSequence(e) ? 'lost' : 'unreachable';
    }
  }

  /** Give a lease back (only if it is still ours), so that the next owner can take it at once. */
  async release(lease: Lease): Promise<void> {
    try {
      await this.kv.delete(leaseKey(lease.partition), { previousSeq: lease.revision });
    } catch (e) {
      if (!isWrongLastSequence(e)) throw clusterError(`cannot release partition ${lease.partition}`, e);
    }
  }
}

/** The current holder of every leased partition (for status and tools). */
export async function readLeases(kv: KV): Promise<Map<number, LeaseRecord & { revision: number }>> {
  const out = new Map<number, LeaseRecord & { revision: number }>();
  for (const key of await distinctKeys(kv, 'p.*')) {
    const e = await kv.get(key);
    if (!e || e.operation !== 'PUT') continue;
    out.set(Number(key.slice(2)), { ...e.json<LeaseRecord>(), revision: e.revision });
  }
  return out;
}
