import type { StreamState } from '../../../runtime/stream/state.js';
import type { Vec } from '../numeric.js';

/**
 * A streaming sequence layer `[C] → [C]` with per-stream state: one token per stream per step.
 * `x` and `out` are `[n, C]` workspace buffers of the layer's precision (`out` may not alias `x`).
 */
export interface TokenMixer {
  readonly dim: number;
  step(states: readonly StreamState[], n: number, x: Vec, out: Vec): void;
  /** Multiply-adds per token in steady state (projections + inner work, boundary amortised). */
  readonly macsPerToken: number;
  /** Parameters, as PyTorch counts them. */
  readonly parameters: number;
}
