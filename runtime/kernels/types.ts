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
 * Every kernel is batch-invariant: row r of an output depends only on row r of the inputs,
 * bit for bit, whatever the other rows hold and however many there are, so a stream's results
 * never depend on which streams an engine batches it with.
 */
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
}
