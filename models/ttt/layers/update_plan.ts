/**
 * The chunk-boundary update of LaCT as a list of units with static costs, and how those units
 * are laid out over tokens. Run all at once (the official timing: the update sits between the
 * last token of chunk c and the first of c+1) or spread over S tokens to avoid a stall.
 */
export type UnitKind =
  | 'forward'   // deferred: recompute a, b, u for one buffered token
  | 'gradient'  // deferred: one of G0/G1/G2 as a product over the chunk
  | 'momentum'  // dW = G + m̄·M ; M = dW
  | 'ns-init' | 'ns-gram' | 'ns-poly' | 'ns-apply' | 'ns-store'
  | 'commit';   // W ← rownorm(W + dW) · n ; accumulators cleared

export interface Unit {
  readonly kind: UnitKind;
  readonly head: number;
  /** Weight matrix 0, 1, 2 (W0, W1, W2); for 'forward' the token index. */
  readonly index: number;
  /** Newton–Schulz iteration (0..4) for ns-gram/poly/apply. */
  readonly iteration: number;
  /** Multiply-adds. */
  readonly cost: number;
}

export interface PlanShape {
  heads: number;
  d: number;
  dh: number;
  chunk: number;
  deferred: boolean;
  momentum: boolean;
  muon: boolean;
}

/** Every unit of one boundary update, in execution order (all commits last). */
export function planUnits(s: PlanShape): Unit[] {
  const units: Unit[] = [];
  const P = s.d * s.dh;
  const m = Math.min(s.d, s.dh);
  const n = Math.max(s.d, s.dh);
  const u = (kind: UnitKind, head: number, index: number, iteration: number, cost: number): void => {
    units.push({ kind, head, index, iteration, cost });
  };
  for (let h = 0; h < s.heads; h++) {
    if (s.deferred) {
      for (let i = 0; i < s.chunk; i++) u('forward', h, i, 0, 3 * P);
      for (let j = 0; j < 3; j++) u('gradient', h, j, 0, s.chunk * P);
    }
    for (let j = 0; j < 3; j++) {
      if (s.momentum) u('momentum', h, j, 0, P);
      if (s.muon) {
        u('ns-init', h, j, 0, P);
        for (let it = 0; it < 5; it++) {
          u('ns-gram', h, j, it, (m * (m + 1) / 2) * n);
          u('ns-poly', h, j, it, m * m * m);
          u('ns-apply', h, j, it, m * m * n);
        }
        u('ns-store', h, j, 0, P);
      }
    }
  }
  for (let h = 0; h < s.heads; h++) for (let j = 0; j < 3; j++) u('commit', h, j, 0, 3 * P);
  return units;
}

/**
 * Assign units to `slots` tokens so that each token carries about the same cost. Commits all go
 * to the last slot, so the new weights appear at once (never half of the heads updated).
 * Returns the first unit index of each slot, plus the end: slot k runs units [start[k], start[k+1]).
 */
export function spreadUnits(units: readonly Unit[], slots: number): Int32Array {
  const start = new Int32Array(slots + 1);
  const firstCommit = units.findIndex((x) => x.kind === 'commit');
  const work = firstCommit < 0 ? units.length : firstCommit;
  let total = 0;
  for (let i = 0; i < work; i++) total += units[i]!.cost;
  let slot = 0;
  let acc = 0;
  for (let i = 0; i < work; i++) {
    // Move on to the next slot once this one holds its share.
    while (slot < slots - 1 && acc >= (total * (slot + 1)) / slots) start[++slot] = i;
    acc += units[i]!.cost;
  }
  while (slot < slots - 1) start[++slot] = work;
  start[slots] = units.length;
  return start;
}
