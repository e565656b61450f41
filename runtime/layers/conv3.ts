import type { DenseLayer, InputKind, Kernels } from '../kernels/types.js';
import type { StateLayout, StateSlot, StreamState } from '../stream/state.js';
import type { Rows } from './rows.js';

/**
 * Conv1d over time with kernel 3, padding 1, stride 1 (no bias), streamed:
 *   y[t] = W0·x[t−1] + W1·x[t] + W2·x[t+1]   (zeros outside the sequence)
 * y[t] needs x[t+1], so a stream's first frame produces nothing and every later frame produces
 * the output of the frame before it; `flush` produces the last output with a zero look-ahead at
 * this layer's own input, which is exactly what padding=1 means.
 *
 * State per stream: the line buffer (x[t−1], x[t]) and a frame counter. An optional `carry`
 * vector rides along with the same one-frame delay: it aligns a residual (`e = x + rpe(x)`)
 * with the conv output it is added to.
 *
 * The three taps are one dense layer over the window [x[t−1]; x[t]; x[t+1]] (weights reordered
 * from PyTorch's [out, in, k] to [out, k·in]), so a batch of streams is one matrix product.
 */
export class StreamingConv3 {
  readonly layer: DenseLayer;
  private readonly lines: StateSlot; // f32 [2·inDim + carryDim]: x[t−1], x[t], carry[t]
  private readonly count: StateSlot; // f64 [1]: frames received, capped at 2
  private readonly window: Float32Array; // workspace [maxBatch, 3·inDim]

  constructor(
    private readonly kernels: Kernels,
    layout: StateLayout,
    readonly name: string,
    /** PyTorch layout [outDim, inDim, 3], already multiplied by any folded BatchNorm. */
    weight: Float32Array,
    bias: Float32Array | null,
    readonly outDim: number,
    readonly inDim: number,
    readonly carryDim: number,
    maxBatch: number,
    input: InputKind,
    int8 = false,
  ) {
    const w = new Float32Array(outDim * 3 * inDim);
    for (let o = 0; o < outDim; o++) {
      for (let i = 0; i < inDim; i++) {
        for (let k = 0; k < 3; k++) w[o * 3 * inDim + k * inDim + i] = weight[(o * inDim + i) * 3 + k]!;
      }
    }
    this.layer = kernels.dense(w, bias, outDim, 3 * inDim, { input, name, int8 });
    this.lines = layout.f32(`${name}.lines`, 2 * inDim + carryDim);
    this.count = layout.f64(`${name}.count`, 1);
    this.window = kernels.alloc(maxBatch * 3 * inDim);
  }

  /**
   * Push one frame per row (`x` is `[rows.n, inDim]`, `carryIn` `[rows.n, carryDim]`), or flush
   * when `x` is null. Returns the rows that produced an output, compacted into `out`
   * (`[n, outDim]`) and `carryOut` (`[n, carryDim]`).
   */
  step(rows: Rows, x: Float32Array | null, out: Float32Array, carryIn?: Float32Array, carryOut?: Float32Array): Rows {
    const { inDim, carryDim } = this;
    const lo = this.lines.offset;
    const co = this.count.offset;
    const win = this.window;
    const states: StreamState[] = [];
    const index: number[] = [];
    for (let r = 0; r < rows.n; r++) {
      const st = rows.states[r]!;
      const buf = st.f32;
      const seen = st.f64[co]!;
      if (x === null) {
        if (seen === 0) continue; // nothing was ever pushed: nothing to flush
      } else if (seen === 0) {
        buf.set(x.subarray(r * inDim, (r + 1) * inDim), lo + inDim);
        if (carryDim) buf.set(carryIn!.subarray(r * carryDim, (r + 1) * carryDim), lo + 2 * inDim);
        st.f64[co] = 1;
        continue;
      }
      const j = states.length;
      const wo = j * 3 * inDim;
      win.set(buf.subarray(lo, lo + 2 * inDim), wo);
      if (x === null) win.fill(0, wo + 2 * inDim, wo + 3 * inDim);
      else win.set(x.subarray(r * inDim, (r + 1) * inDim), wo + 2 * inDim);
      if (carryDim) carryOut!.set(buf.subarray(lo + 2 * inDim, lo + 2 * inDim + carryDim), j * carryDim);
      if (x !== null) {
        buf.copyWithin(lo, lo + inDim, lo + 2 * inDim);
        buf.set(x.subarray(r * inDim, (r + 1) * inDim), lo + inDim);
        if (carryDim) buf.set(carryIn!.subarray(r * carryDim, (r + 1) * carryDim), lo + 2 * inDim);
        st.f64[co] = 2;
      } else {
        st.f64[co] = 0;
      }
      states.push(st);
      index.push(rows.index[r]!);
    }
    if (states.length > 0) this.kernels.matmul(this.layer, win, out, states.length);
    return { n: states.length, states, index };
  }
}
