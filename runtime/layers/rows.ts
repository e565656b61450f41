import type { StreamState } from '../stream/state.js';

/**
 * The streams of a batch that are still "live" at some point of the graph. Layers with a
 * look-ahead (conv3) emit nothing for a stream's first frame, so the batch shrinks there:
 * `states[j]` belongs to original batch row `index[j]`, and activations are compacted to match.
 */
export interface Rows {
  readonly n: number;
  readonly states: readonly StreamState[];
  readonly index: readonly number[];
}

export function allRows(states: readonly StreamState[], n: number): Rows {
  return { n, states: states.slice(0, n), index: Array.from({ length: n }, (_, i) => i) };
}
