import { EdgestreamError } from '../../runtime/errors.js';
import type { DenseLayer, Kernels } from '../../runtime/kernels/types.js';
import type { StateLayout, StreamState } from '../../runtime/stream/state.js';

/**
 * The two arithmetic paths of the TTT layers. One implementation serves both: every buffer is a
 * `Vec`, and the path decides what a `Vec` is.
 *  - `float32` (runtime default): weights, state and activations stored as float32, projections
 *    through the `Kernels` tier (so the WASM tiers apply), per-token sums in JS numbers.
 *  - `float64` (reference): everything Float64Array / JS numbers; state lives in `StreamState.f64`.
 */
export type Precision = 'float32' | 'float64';
export type Vec = Float32Array | Float64Array;

/** A region of a stream's state in the array of the path's precision (or always f64 for counters). */
export interface StateVec {
  readonly offset: number;
  readonly length: number;
  /** Lives in `state.f64` (float64 path, or a counter) rather than `state.f32`. */
  readonly wide: boolean;
}

export function stateArray(state: StreamState, v: StateVec): Vec {
  return v.wide ? state.f64 : state.f32;
}

/** `y = W x + b` over `[rows, inDim]`; W is `[outDim, inDim]` (PyTorch Linear layout). */
export interface Projection {
  readonly outDim: number;
  readonly inDim: number;
  apply(x: Vec, out: Vec, rows: number): void;
}

class KernelProjection implements Projection {
  constructor(private readonly kernels: Kernels, private readonly layer: DenseLayer) {}
  get outDim(): number { return this.layer.outDim; }
  get inDim(): number { return this.layer.inDim; }
  apply(x: Vec, out: Vec, rows: number): void {
    this.kernels.matmul(this.layer, x as Float32Array, out as Float32Array, rows);
  }
}

/** The float64 reference projection: plain loops, one rounding per output (JS numbers). */
class Float64Projection implements Projection {
  constructor(private readonly w: Float64Array, private readonly b: Float64Array | null, readonly outDim: number, readonly inDim: number) {}
  apply(x: Vec, out: Vec, rows: number): void {
    const { w, b, outDim, inDim } = this;
    for (let r = 0; r < rows; r++) {
      const xo = r * inDim;
      const oo = r * outDim;
      for (let o = 0; o < outDim; o++) {
        let acc = 0;
        const wo = o * inDim;
        for (let i = 0; i < inDim; i++) acc += w[wo + i]! * x[xo + i]!;
        out[oo + o] = b ? acc + b[o]! : acc;
      }
    }
  }
}

/** Allocation and projections for one precision path. */
export class Numerics {
  constructor(readonly precision: Precision, private readonly kernels: Kernels | null) {
    if (precision === 'float32' && !kernels) throw new EdgestreamError('E_BACKEND', 'the float32 TTT path needs a kernel tier');
  }

  get wide(): boolean { return this.precision === 'float64'; }

  /** A zeroed buffer of this precision (float32: from the kernel tier, so kernels can address it). */
  alloc(length: number): Vec {
    return this.wide ? new Float64Array(length) : this.kernels!.alloc(length);
  }

  /** A constant (weights that are not per stream), rounded to this precision. */
  constant(values: ArrayLike<number>): Vec {
    return this.wide ? Float64Array.from(values) : Float32Array.from(values);
  }

  dense(name: string, w: Float64Array, b: Float64Array | null, outDim: number, inDim: number): Projection {
    if (this.wide) return new Float64Projection(Float64Array.from(w), b ? Float64Array.from(b) : null, outDim, inDim);
    const k = this.kernels!;
    return new KernelProjection(k, k.dense(Float32Array.from(w), b ? Float32Array.from(b) : null, outDim, inDim, { name }));
  }

  /** A per-stream state region of this precision. */
  state(layout: StateLayout, name: string, length: number): StateVec {
    const slot = this.wide ? layout.f64(name, length) : layout.f32(name, length);
    return { offset: slot.offset, length, wide: this.wide };
  }
}

/** A per-stream float64 counter (token index): exact for any stream length. */
export function counterSlot(layout: StateLayout, name: string): StateVec {
  const slot = layout.f64(name, 1);
  return { offset: slot.offset, length: 1, wide: true };
}

/** Parameters by official name, as float64 (float32 files are widened losslessly). */
export type ParamSource = (key: string) => Float64Array;
