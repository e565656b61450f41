import type { NatsConnection } from '@nats-io/transport-node';
import { Kvm, type KV, type KvOptions } from '@nats-io/kv';
import { EdgestreamError } from '../../runtime/errors.js';

/** Replicas for streams and buckets this worker creates: `auto` = min(3, servers the cluster advertises). */
export function replicasFor(nc: NatsConnection, setting: 'auto' | 1 | 3 | 5): number {
  if (setting !== 'auto') return setting;
  const servers = nc.info?.connect_urls?.length ?? 1;
  return servers >= 3 ? 3 : 1;
}

export interface BucketSpec {
  name: string;
  /** Entry lifetime (ms) measured from each write; 0 = forever. Must match an existing bucket's. */
  ttlMs: number;
  history: number;
  replicas: number;
  storage: 'file' | 'memory';
  description: string;
}

/**
 * Bind to a KV bucket, creating it when missing. An existing bucket whose TTL differs is refused
 * (`E_CONFIG`): workers that disagree on lease or member lifetimes would break exclusivity.
 */
export async function openBucket(nc: NatsConnection, spec: BucketSpec): Promise<KV> {
  const kvm = new Kvm(nc);
  let kv: KV;
  try {
    kv = await kvm.open(spec.name, { bindOnly: true } as Partial<KvOptions>);
    const status = await kv.status();
    if (status.ttl !== spec.ttlMs) {
      throw new EdgestreamError(
        'E_CONFIG',
        `KV bucket ${spec.name} has a TTL of ${status.ttl} ms but this worker is configured for ${spec.ttlMs} ms: every worker of a group must use the same value (or delete the bucket's stream KV_${spec.name} while no worker runs)`,
        { bucket: spec.name, existing: status.ttl, configured: spec.ttlMs },
      );
    }
    return kv;
  } catch (e) {
    if (e instanceof EdgestreamError) throw e;
    if (!/not found/i.test((e as Error).message)) throw clusterError(`cannot open KV bucket ${spec.name}`, e);
  }
  try {
    kv = await kvm.create(spec.name, {
      ttl: spec.ttlMs,
      history: spec.history,
      replicas: spec.replicas,
      storage: spec.storage === 'memory' ? ('memory' as const) : ('file' as const),
      description: spec.description,
    } as Partial<KvOptions>);
  } catch (e) {
    throw clusterError(`cannot create KV bucket ${spec.name} (${spec.replicas} replica(s))`, e);
  }
  return kv;
}

/** `E_CLUSTER` with the NATS error's message and the operation that failed. */
export function clusterError(what: string, e: unknown): EdgestreamError {
  return new EdgestreamError('E_CLUSTER', `${what}: ${(e as Error)?.message ?? String(e)}`, undefined, { cause: e });
}

/** True for JetStream's "wrong last sequence" (a compare-and-set that lost). */
export function isWrongLastSequence(e: unknown): boolean {
  const code = (e as { code?: unknown })?.code;
  if (code === 10071 || code === 10164) return true;
  return /wrong last sequence/i.test((e as Error)?.message ?? '');
}
