/**
 * The kernel interface every tier implements (tfjs-style: one interface, several backends).
 *
 * Buffers are Float32Arrays obtained from `alloc` of the same tier: the WASM tiers hand out
 * views into their linear memory so that kernels take pointers without copying. Dense layers
 * are prepared once (`dense`) so that a tier may keep its own weight layout (blocked, transposed
 * for spike-sparse input, int8 with per-row scales) behind the opaque `DenseLayer` handle.
 *
 * Layout conventions: activations are row-major `[rows, dim]` (one row per stream in a batch);
 * weights are row-major `[outDim, inDim]` (PyTorch's Linear/Conv1d-k1 layout).
 *
 * One name per operation on every tier: the method here is the JS tier's function (js/index.ts),
 * the WASM glue's method (wasm/index.ts) and the stem of the WASM export (`convStep` →
 * `convStep_f32` in assembly/), so `grep -rn convStep runtime/kernels` finds them all.
 *
 * Every kernel is batch-invariant: row r of an output depends only on row r of the inputs,
 * bit for bit, whatever the other rows hold and however many there are, so a stream's results
 * never depend on which streams an engine batches it with.
 */
import type { StreamState } from '../stream/state.js';

export type Tier = 'js' | 'wasm' | 'wasm-relaxed';
export const TIERS: readonly Tier[] = ['js', 'wasm', 'wasm-relaxed'];

/** What a dense layer's input looks like; tiers may pick a different kernel per kind. */
export type InputKind =
  /** Arbitrary real values. */
  | 'real'
  /** Only 0 or 1 (spikes): a tier may accumulate only the weight columns of active inputs. */
  | 'spikes';

export interface DenseOptions {
  /** Kind of input the layer will see (default 'real'). */
  input?: InputKind;
  /** Store weights as int8 with one float32 scale per output row (opt-in; default false). */
  int8?: boolean;
  /** Name for error messages and profiles, e.g. `block.0.mlp.fc1_conv`. */
  name?: string;
}

/** A prepared dense layer `y = W x + b`. Opaque: each tier keeps its own layout. */
export interface DenseLayer {
  readonly name: string;
  readonly outDim: number;
  readonly inDim: number;
  readonly input: InputKind;
  readonly int8: boolean;
  /** Bytes of weight storage held by this layer (for `inspect` and memory reports). */
  readonly bytes: number;
}

export interface Kernels {
  readonly tier: Tier;

  /** A zeroed float32 buffer that this tier's kernels can address. */
  alloc(length: number): Float32Array;

  /**
   * A zeroed buffer for one stream's state (`StreamState.f32`). It lives until `release` or until
   * the buffer object itself is garbage collected (keep the buffer, not only views of it).
   */
  allocState(length: number): Float32Array;

  /**
   * Give back a buffer from `alloc`/`allocState` that will not be used again (a closed stream's
   * state); tiers with their own heap reuse its memory. Other buffers are ignored.
   */
  release(buffer: Float32Array): void;

  /**
   * Prepare `y = W x + b`. `w` is `[outDim, inDim]` row-major float32 and is copied;
   * `b` (length outDim) may be null.
   */
  dense(w: Float32Array, b: Float32Array | null, outDim: number, inDim: number, options?: DenseOptions): DenseLayer;

  /**
   * `out[r, :] = W x[r, :] + b` for `r < rows`. `x` is `[rows, inDim]`, `out` is `[rows, outDim]`;
   * both must come from `alloc` of this tier. Spike layers require `x` to hold only 0 and 1.
   */
  matmul(layer: DenseLayer, x: Float32Array, out: Float32Array, rows: number): void;

  /** Release a prepared layer's storage (tiers with their own heap reclaim it). */
  free(layer: DenseLayer): void;

  /**
   * Free everything this kernel instance holds (every layer and buffer); using it afterwards is an
   * error. Tiers without a heap of their own may leave it out.
   */
  dispose?(): void;

  // Per-frame element-wise ops, in place. Every buffer must come from `alloc` of this tier.

  /** `x[i] = x[i] > 0 ? x[i] : 0` for `i < count` (NaN → 0). */
  relu(x: Float32Array, count: number): void;
  /** Exact-form GELU `x·(1 + erf(x/√2))/2` for `i < count` (WASM tiers: erf to ~3e-7 absolute). */
  gelu(x: Float32Array, count: number): void;
  /** `dst[i] += src[i]` for `i < count` (residual connections). */
  add(dst: Float32Array, src: Float32Array, count: number): void;
  /** `x[r, c] = x[r, c]·scale[c] + shift[c]` on `[rows, dim]` (an eval-mode BatchNorm). */
  affine(x: Float32Array, rows: number, dim: number, scale: Float32Array, shift: Float32Array): void;
  /**
   * One step of LIF neurons (tau 2, decay_input, hard reset to 0) on `[rows, dim]`, in place:
   * `x ← scale·x + shift` (when given), `h = v + (x − v)/2`, `s = h ≥ threshold`,
   * `v ← s ? 0 : h`, `x ← s`. Every operation rounds to float32 as PyTorch does, on every tier,
   * so the same inputs fire the same spikes.
   */
  lif(x: Float32Array, v: Float32Array, rows: number, dim: number, threshold: number, scale: Float32Array | null, shift: Float32Array | null): void;

  // Rows and per-stream state. Row r of a batch belongs to stream `states[r]`; a state whose `f32`
  // came from this tier's `alloc` is read and written in place, any other state is copied in and
  // out (same results). Offsets, strides and lengths count floats.

  /** `lif` with row r's membranes in its stream state: `states[r].f32[offset … offset + dim)`. */
  lifState(x: Float32Array, states: readonly StreamState[], offset: number, rows: number, dim: number, threshold: number, scale: Float32Array | null, shift: Float32Array | null): void;
  /** `dst[dstOffset + r·dstStride + k] = states[r].f32[offset + k]` for `k < len`, `r < rows`. */
  gatherState(dst: Float32Array, dstOffset: number, dstStride: number, states: readonly StreamState[], offset: number, len: number, rows: number): void;
  /** `states[r].f32[offset + k] = src[srcOffset + s·srcStride + k]` with `s = srcRows[r]` (or r when null). */
  scatterState(src: Float32Array, srcOffset: number, srcStride: number, srcRows: ArrayLike<number> | null, states: readonly StreamState[], offset: number, len: number, rows: number): void;
  /**
   * The state update of a kernel-3 convolution kept as partial sums (`StreamingConv3`): row r's
   * state holds S1 and S0 (`dim` values each) at `offset`, and `q` row r the new frame's tap
   * products [Q2 | Q1 | Q0] (`3·dim`). Writes `out` row `outRows[r]` (r when null, nothing when
   * negative) = S1 + Q2, then S1 ← S0 + Q1, S0 ← Q0, each a float32 addition on every tier.
   */
  convStep(q: Float32Array, states: readonly StreamState[], offset: number, dim: number, out: Float32Array, outRows: ArrayLike<number> | null, rows: number): void;
  /** `dst[dstOffset + r·dstStride + k] = src[srcOffset + s·srcStride + k]` with `s = srcRows[r]` (or r when null); dst and src do not overlap. */
  copyRows(dst: Float32Array, dstOffset: number, dstStride: number, src: Float32Array, srcOffset: number, srcStride: number, srcRows: ArrayLike<number> | null, len: number, rows: number): void;
}
