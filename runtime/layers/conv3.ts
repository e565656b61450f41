import type { DenseLayer, InputKind, Kernels } from '../kernels/types.js';
import type { StateLayout, StateSlot } from '../stream/state.js';
import { RowSet, type Rows } from './rows.js';

/**
 * Conv1d over time with kernel 3, padding 1, stride 1, streamed:
 *   y[t] = b + W0·x[t−1] + W1·x[t] + W2·x[t+1]   (zeros outside the sequence)
 * y[t] needs x[t+1], so a stream's first frame produces nothing and every later frame produces
 * the output of the frame before it; `flush` produces the last output with a zero look-ahead at
 * this layer's own input, which is exactly what padding=1 means.
 *
 * Each frame is multiplied by the three taps once, when it arrives: one dense layer
 * [W2; W1; W0] (3·outDim outputs, the bias on W2's) gives Q2, Q1, Q0, and the stream keeps the
 * partial sums still waiting for later frames:
 *   S1 = W0·x[t−1] + W1·x[t]   (needs W2·x[t+1] + b)      S0 = W0·x[t]   (needs W1·x[t+1] …)
 *   on frame x[t+1]:  y[t] = S1 + Q2;  S1 ← S0 + Q1;  S0 ← Q0
 * so y[t] = (W0·x[t−1] + W1·x[t]) + (W2·x[t+1] + b), whatever the batch. A spike frame is scanned
 * once (not once per window position) and each active input's weights are one contiguous row.
 *
 * State per stream: S1, S0 and a frame counter. An optional `carry` vector rides along with a
 * one-frame delay: it aligns a residual (`e = x + rpe(x)`) with the conv output it is added to.
 */
export class StreamingConv3 {
  readonly layer: DenseLayer;
  private readonly partials: StateSlot; // f32 [2·outDim + carryDim]: S1, S0, carry[t]
  private readonly count: StateSlot; // f64 [1]: frames received, capped at 2
  private readonly taps: Float32Array; // workspace [maxBatch, 3·outDim]: Q2, Q1, Q0 per row
  private readonly zeros: Float32Array; // [maxBatch, inDim], all zero: the look-ahead of a flush
  /** Rows that emit this step (returned to the caller), and each live row's output row (−1: none). */
  private readonly emit: RowSet;
  private readonly outRow: Int32Array;
  /** Flush: the rows that hold a frame. */
  private readonly held: RowSet;

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
    /** Prepared layers shared between programs of one model (by name), if any. */
    shared: Map<string, DenseLayer> | null = null,
  ) {
    const key = `${name}${int8 ? ':int8' : ''}`;
    let layer = shared?.get(key);
    if (!layer) {
      // Rows [W2; W1; W0]: tap k of output o is weight[(o·inDim + i)·3 + k].
      const w = new Float32Array(3 * outDim * inDim);
      for (let j = 0; j < 3; j++) {
        const k = 2 - j;
        for (let o = 0; o < outDim; o++) {
          for (let i = 0; i < inDim; i++) w[(j * outDim + o) * inDim + i] = weight[(o * inDim + i) * 3 + k]!;
        }
      }
      const b = new Float32Array(3 * outDim);
      if (bias) b.set(bias);
      layer = kernels.dense(w, b, 3 * outDim, inDim, { input, name, int8 });
      shared?.set(key, layer);
    }
    this.layer = layer;
    this.partials = layout.f32(`${name}.partials`, 2 * outDim + carryDim);
    this.count = layout.f64(`${name}.count`, 1);
    this.taps = kernels.alloc(maxBatch * 3 * outDim);
    this.zeros = kernels.alloc(maxBatch * inDim);
    this.emit = new RowSet(maxBatch);
    this.outRow = new Int32Array(maxBatch);
    this.held = new RowSet(maxBatch);
  }

  /**
   * Push one frame per row (`x` is `[rows.n, inDim]`, `carryIn` `[rows.n, carryDim]`), or flush
   * when `x` is null. Returns the rows that produced an output (valid until the next call),
   * compacted into `out` (`[n, outDim]`) and `carryOut` (`[n, carryDim]`).
   */
  step(rows: Rows, x: Float32Array | null, out: Float32Array, carryIn?: Float32Array, carryOut?: Float32Array): Rows {
    const { outDim, carryDim, kernels, emit, outRow } = this;
    const po = this.partials.offset;
    const co = this.count.offset;
    const carryAt = po + 2 * outDim;
    // Live rows: every row when a frame arrives; on a flush, the rows holding a frame.
    let live: Rows = rows;
    if (x === null) {
      const held = this.held;
      let m = 0;
      for (let r = 0; r < rows.n; r++) {
        const st = rows.states[r]!;
        if (st.f64[co] === 0) continue; // nothing was ever pushed: nothing to flush
        held.states[m] = st;
        held.index[m++] = rows.index[r]!;
      }
      held.n = m;
      live = held;
    }
    let n = 0;
    for (let r = 0; r < live.n; r++) {
      const st = live.states[r]!;
      const seen = st.f64[co]!;
      st.f64[co] = x === null ? 0 : seen === 0 ? 1 : 2;
      if (x !== null && seen === 0) {
        outRow[r] = -1; // a stream's first frame: no output yet
        continue;
      }
      emit.states[n] = st;
      emit.index[n] = live.index[r]!;
      outRow[r] = n++;
    }
    emit.n = n;
    if (live.n === 0) return emit;
    kernels.matmul(this.layer, x ?? this.zeros, this.taps, live.n);
    if (carryDim) {
      if (n > 0) kernels.gatherState(carryOut!, 0, carryDim, emit.states, carryAt, carryDim, n);
      if (x !== null) kernels.scatterState(carryIn!, 0, carryDim, null, live.states, carryAt, carryDim, live.n);
    }
    kernels.convStep(this.taps, live.states, po, outDim, out, n === live.n ? null : outRow, live.n);
    return emit;
  }
}
