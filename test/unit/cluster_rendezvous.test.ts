import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { assignPartitions, rendezvousOwner } from '../../transports/cluster/rendezvous.js';

// Rendezvous hashing as a pure function: the same answer on every worker, and a join or a leave
// moves only the partitions that member wins or loses, about 1/N of them.

/** A small seeded generator, so that failures reproduce. */
function rng(seed: number): () => number {
  let s = seed >>> 0;
  return () => {
    s = (Math.imul(s, 1664525) + 1013904223) >>> 0;
    return s / 2 ** 32;
  };
}

function randomMembers(n: number, next: () => number): string[] {
  const out = new Set<string>();
  while (out.size < n) out.add(`worker-${Math.floor(next() * 1e9).toString(36)}`);
  return [...out];
}

describe('rendezvous assignment', () => {
  it('does not depend on the order in which members are listed', () => {
    const members = ['w-a', 'w-b', 'w-c', 'w-d', 'w-e'];
    const base = assignPartitions(64, members);
    assert.deepEqual(assignPartitions(64, [...members].reverse()), base);
    assert.deepEqual(assignPartitions(64, ['w-c', 'w-a', 'w-e', 'w-b', 'w-d']), base);
    for (let p = 0; p < 64; p++) assert.equal(rendezvousOwner(p, members), base[p]);
  });

  it('has no owner without members and one owner for a single member', () => {
    assert.deepEqual(assignPartitions(3, []), [null, null, null]);
    assert.deepEqual(assignPartitions(3, ['solo']), ['solo', 'solo', 'solo']);
  });

  it('a join moves partitions only to the new member, about 1/(N+1) of them', () => {
    const next = rng(1);
    for (const n of [1, 2, 3, 4, 7]) {
      let moved = 0;
      const trials = 200;
      for (let t = 0; t < trials; t++) {
        const members = randomMembers(n + 1, next);
        const before = assignPartitions(64, members.slice(0, n));
        const after = assignPartitions(64, members);
        for (let p = 0; p < 64; p++) {
          if (before[p] === after[p]) continue;
          assert.equal(after[p], members[n], `partition ${p} moved from ${before[p]} to ${after[p]}, not to the joining member`);
          moved++;
        }
      }
      const fraction = moved / (64 * trials);
      // Binomial over 12,800 partitions: the standard deviation is below 0.005.
      assert.ok(Math.abs(fraction - 1 / (n + 1)) < 0.02, `join to ${n + 1} members moved ${fraction.toFixed(3)} of the partitions, expected ~${(1 / (n + 1)).toFixed(3)}`);
    }
  });

  it('a leave moves exactly the leaving member’s partitions, spread over the others', () => {
    const next = rng(2);
    const members = randomMembers(5, next);
    const before = assignPartitions(1024, members);
    const gone = members[2]!;
    const after = assignPartitions(1024, members.filter((m) => m !== gone));
    const receivers = new Map<string, number>();
    for (let p = 0; p < 1024; p++) {
      if (before[p] !== gone) assert.equal(after[p], before[p], `partition ${p} of a remaining member moved`);
      else receivers.set(after[p]!, (receivers.get(after[p]!) ?? 0) + 1);
    }
    const moved = [...receivers.values()].reduce((a, b) => a + b, 0);
    assert.ok(Math.abs(moved / 1024 - 1 / 5) < 0.05, `leave moved ${moved} of 1024`);
    assert.equal(receivers.size, 4, 'every remaining member takes a share');
  });

  it('spreads partitions evenly', () => {
    const members = randomMembers(4, rng(3));
    const counts = new Map<string, number>();
    for (const o of assignPartitions(4096, members)) counts.set(o!, (counts.get(o!) ?? 0) + 1);
    // 1024 expected each; sigma = sqrt(4096 * 1/4 * 3/4) ≈ 28.
    for (const [m, c] of counts) assert.ok(Math.abs(c - 1024) < 140, `${m} owns ${c} of 4096`);
  });
});
