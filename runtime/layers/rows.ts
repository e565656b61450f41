import type { StreamState } from '../stream/state.js';

/**
 * The streams of a batch that are still "live" at some point of the graph. Layers with a
 * look-ahead (conv3) emit nothing for a stream's first frame, so the batch shrinks there:
 * `states[j]` belongs to original batch row `index[j]`, and activations are compacted to match.
 * Only the first `n` entries of `states` and `index` count (the arrays are reused, step after step).
 */
export interface Rows {
  readonly n: number;
  readonly states: readonly StreamState[];
  readonly index: ArrayLike<number>;
}

/** A `Rows` that layers refill in place every step, so that stepping allocates nothing. */
export class RowSet implements Rows {
  n = 0;
  readonly states: StreamState[];
  readonly index: Int32Array;

  constructor(capacity: number) {
    this.states = new Array<StreamState>(capacity);
    this.index = new Int32Array(capacity);
  }

  /** The first `n` streams of a batch, rows 0 … n−1. */
  fill(states: readonly StreamState[], n: number): this {
    for (let r = 0; r < n; r++) {
      this.states[r] = states[r]!;
      this.index[r] = r;
    }
    this.n = n;
    return this;
  }
}

export function allRows(states: readonly StreamState[], n: number): Rows {
  return new RowSet(n).fill(states, n);
}
