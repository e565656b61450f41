import type { DenseLayer, InputKind, Kernels } from '../kernels/types.js';
import type { StateLayout, StateSlot } from '../stream/state.js';
import { RowSet, type Rows } from './rows.js';

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
 * from PyTorch's [out, in, k] to [out, k·in]), so a batch of streams is one matrix product. The
 * window is assembled and the line buffers advanced by row copies (one kernel call each per
 * batch, reading and writing the streams' state in place).
 */
export class StreamingConv3 {
  readonly layer: DenseLayer;
  private readonly lines: StateSlot; // f32 [2·inDim + carryDim]: x[t−1], x[t], carry[t]
  private readonly count: StateSlot; // f64 [1]: frames received, capped at 2
  private readonly window: Float32Array; // workspace [maxBatch, 3·inDim]
  /** Rows that emit this step (returned to the caller) and, for each, its row in the input. */
  private readonly emit: RowSet;
  private readonly emitFrom: Int32Array;
  /** Streams seeing their first frame (they only fill their line buffer). */
  private readonly first: RowSet;

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
      const w = new Float32Array(outDim * 3 * inDim);
      for (let o = 0; o < outDim; o++) {
        for (let i = 0; i < inDim; i++) {
          for (let k = 0; k < 3; k++) w[o * 3 * inDim + k * inDim + i] = weight[(o * inDim + i) * 3 + k]!;
        }
      }
      layer = kernels.dense(w, bias, outDim, 3 * inDim, { input, name, int8 });
      shared?.set(key, layer);
    }
    this.layer = layer;
    this.lines = layout.f32(`${name}.lines`, 2 * inDim + carryDim);
    this.count = layout.f64(`${name}.count`, 1);
    this.window = kernels.alloc(maxBatch * 3 * inDim);
    this.emit = new RowSet(maxBatch);
    this.emitFrom = new Int32Array(maxBatch);
    this.first = new RowSet(maxBatch);
  }

  /**
   * Push one frame per row (`x` is `[rows.n, inDim]`, `carryIn` `[rows.n, carryDim]`), or flush
   * when `x` is null. Returns the rows that produced an output (valid until the next call),
   * compacted into `out` (`[n, outDim]`) and `carryOut` (`[n, carryDim]`).
   */
  step(rows: Rows, x: Float32Array | null, out: Float32Array, carryIn?: Float32Array, carryOut?: Float32Array): Rows {
    const { inDim, carryDim, kernels, emit, emitFrom, first } = this;
    const lo = this.lines.offset;
    const co = this.count.offset;
    const win = this.window;
    const w3 = 3 * inDim;
    let n = 0;
    let nf = 0;
    for (let r = 0; r < rows.n; r++) {
      const st = rows.states[r]!;
      const seen = st.f64[co]!;
      if (seen === 0) {
        if (x === null) continue; // nothing was ever pushed: nothing to flush
        first.states[nf] = st;
        first.index[nf++] = r;
        st.f64[co] = 1;
        continue;
      }
      emit.states[n] = st;
      emit.index[n] = rows.index[r]!;
      emitFrom[n++] = r;
      st.f64[co] = x === null ? 0 : 2;
    }
    emit.n = n;
    first.n = nf;
    if (x !== null && nf > 0) {
      // First frame: it becomes x[t] of the line buffer (x[t−1] stays zero).
      kernels.scatterState(x, 0, inDim, first.index, first.states, lo + inDim, inDim, nf);
      if (carryDim) kernels.scatterState(carryIn!, 0, carryDim, first.index, first.states, lo + 2 * inDim, carryDim, nf);
    }
    if (n === 0) return emit;
    kernels.gatherState(win, 0, w3, emit.states, lo, 2 * inDim, n);
    if (x === null) {
      for (let j = 0; j < n; j++) win.fill(0, j * w3 + 2 * inDim, (j + 1) * w3);
    } else {
      kernels.copyRows(win, 2 * inDim, w3, x, 0, inDim, emitFrom, inDim, n);
    }
    if (carryDim) kernels.gatherState(carryOut!, 0, carryDim, emit.states, lo + 2 * inDim, carryDim, n);
    if (x !== null) {
      // Advance the line buffer: (x[t−1], x[t]) ← (x[t], x[t+1]), the window's last two frames.
      kernels.scatterState(win, inDim, w3, null, emit.states, lo, 2 * inDim, n);
      if (carryDim) kernels.scatterState(carryIn!, 0, carryDim, emitFrom, emit.states, lo + 2 * inDim, carryDim, n);
    }
    kernels.matmul(this.layer, win, out, n);
    return emit;
  }
}
