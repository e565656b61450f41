import { fnv1a32 } from './fnv1a.js';

/** murmur3's 32-bit finaliser: spreads every input bit over the output. */
function mix32(x: number): number {
  x ^= x >>> 16;
  x = Math.imul(x, 0x85ebca6b);
  x ^= x >>> 13;
  x = Math.imul(x, 0xc2b2ae35);
  x ^= x >>> 16;
  return x >>> 0;
}

/** The weight of `member` for `partition`: independent across members and partitions. */
function weight(memberHash: number, partition: number): number {
  return mix32(mix32(memberHash) ^ mix32(Math.imul(partition + 1, 0x9e3779b9)));
}

function highestWeight(partition: number, members: readonly string[], hashes: readonly number[]): string | null {
  let best: string | null = null;
  let bestWeight = -1;
  for (let i = 0; i < members.length; i++) {
    const m = members[i]!;
    const w = weight(hashes[i]!, partition);
    if (w > bestWeight || (w === bestWeight && best !== null && m < best)) {
      best = m;
      bestWeight = w;
    }
  }
  return best;
}

/**
 * Rendezvous (highest random weight) hashing: the owner of a partition is the member with the
 * highest weight for it. Every worker computes the same answer from the same member set, and a
 * join or a leave only moves the partitions won or lost by that member (about 1/N of them).
 * Ties (vanishingly rare) go to the smaller member id. `null` when there are no members.
 */
export function rendezvousOwner(partition: number, members: readonly string[]): string | null {
  return highestWeight(partition, members, members.map((m) => fnv1a32(m)));
}

/** The owner of every partition `0 … partitions-1` for one member set (index = partition). */
export function assignPartitions(partitions: number, members: readonly string[]): (string | null)[] {
  const hashes = members.map((m) => fnv1a32(m));
  return Array.from({ length: partitions }, (_, p) => highestWeight(p, members, hashes));
}
