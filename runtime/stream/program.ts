import type { StreamState } from './state.js';

/**
 * What a model family implements to be streamed: a step over a batch of streams, and a flush
 * for one stream. `Session` (one stream) and `Engine` (many) are built on this alone.
 */
export interface StreamProgram {
  /** Values per input frame (mel bins, sensor channels, model width). */
  readonly inputDim: number;
  /** Values per output (classes, forecast dims). */
  readonly outputDim: number;
  /** Frames between an input and the output it produces (LMUFormer: 5). */
  readonly delay: number;
  /** Sizes of the per-stream state arrays. */
  readonly stateSizes: { readonly f32: number; readonly f64: number };
  /** Largest batch `step` accepts. */
  readonly maxBatch: number;

  /**
   * Advance `rows` streams by one frame each. `input` is `[rows, inputDim]`. For every row that
   * produces an output, writes it to `out` row r and sets `ready[r] = 1` (else 0).
   */
  step(states: readonly StreamState[], rows: number, input: Float32Array, out: Float32Array, ready: Uint8Array): void;

  /** End one stream: return its remaining (delayed) outputs, in order. The state is spent afterwards. */
  flush(state: StreamState): Float32Array[];

  /**
   * A fresh (all-zero) state where this program's kernels address it directly (optional; without
   * it, and for any other state, callers use `createState(stateSizes)`, which `step` accepts too).
   */
  createState?(): StreamState;

  /** A state from `createState` that will not be used again (optional; unreleased ones are reclaimed when collected). */
  releaseState?(state: StreamState): void;
}
