import type { KV } from '@nats-io/kv';

/**
 * The distinct keys of a KV bucket (optionally under a filter). The client lists keys through an
 * ordered consumer over the bucket's stream; a key written again while the listing runs (a
 * heartbeat, a lease renewal) can come twice, so the listing is de-duplicated here.
 */
export async function distinctKeys(kv: KV, filter?: string): Promise<string[]> {
  const seen = new Set<string>();
  for await (const key of await kv.keys(filter)) seen.add(key);
  return [...seen];
}
