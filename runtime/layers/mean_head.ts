import type { DenseLayer, Kernels } from '../kernels/types.js';
import type { StateLayout, StateSlot } from '../stream/state.js';
import type { Rows } from './rows.js';

/**
 * The classifier head on the mean of the features:
 *  - cumulative (the official model): logits_t = W·(Σ_{s≤t} x_s / (t+1)) + b, the `all_seq` output
 *    whose last frame is the whole-clip logits; the running sum is float64 so it stays exact on
 *    long streams;
 *  - windowed (`window` > 0, for unbounded streams): the mean over the last `window` frames only,
 *    logits_t = b + (1/n)·Σ_{t−n<s≤t} W·x_s with n = min(t+1, window) — the head sees the same span
 *    as on a training clip without ever resetting the recurrent state. The head is linear, so the
 *    per-frame products W·x_s are kept in a ring (window × classes floats) instead of the features.
 */
export class MeanHead {
  readonly layer: DenseLayer;
  private readonly sum: StateSlot; // f64: cumulative [C + 1] (sum, count); windowed [K + 1] (sum, count)
  private readonly ring: StateSlot | null; // f32 [window, K]: per-frame W·x (windowed mode)
  private readonly mean: Float32Array; // workspace [maxBatch, C]
  private readonly frameLogits: Float32Array | null; // workspace [maxBatch, K] (windowed mode)
  private readonly bias: Float32Array | null;

  constructor(
    private readonly kernels: Kernels, layout: StateLayout, name: string, w: Float32Array, b: Float32Array | null,
    readonly classes: number, readonly dim: number, maxBatch: number, int8 = false, shared: Map<string, DenseLayer> | null = null,
    /** Frames of the windowed mean; 0 = the official cumulative mean. */
    readonly window = 0,
  ) {
    // The windowed head adds the bias after averaging, so its layer has none.
    const key = `${name}${int8 ? ':int8' : ''}${window > 0 ? ':nobias' : ''}`;
    let layer = shared?.get(key);
    if (!layer) {
      layer = kernels.dense(w, window > 0 ? null : b, classes, dim, { name, int8 });
      shared?.set(key, layer);
    }
    this.layer = layer;
    this.bias = window > 0 && b ? Float32Array.from(b) : null;
    this.sum = layout.f64(`${name}.sum`, (window > 0 ? classes : dim) + 1);
    this.ring = window > 0 ? layout.f32(`${name}.ring`, window * classes) : null;
    this.mean = kernels.alloc(maxBatch * dim);
    this.frameLogits = window > 0 ? kernels.alloc(maxBatch * classes) : null;
  }

  step(rows: Rows, x: Float32Array, out: Float32Array): void {
    if (this.window > 0) {
      this.stepWindowed(rows, x, out);
      return;
    }
    const C = this.dim;
    const so = this.sum.offset;
    const mean = this.mean;
    for (let r = 0; r < rows.n; r++) {
      const s = rows.states[r]!.f64;
      const n = (s[so + C] = s[so + C]! + 1);
      const xo = r * C;
      for (let i = 0; i < C; i++) {
        const v = (s[so + i] = s[so + i]! + x[xo + i]!);
        mean[xo + i] = v / n;
      }
    }
    this.kernels.matmul(this.layer, this.mean, out, rows.n);
  }

  private stepWindowed(rows: Rows, x: Float32Array, out: Float32Array): void {
    const K = this.classes;
    const W = this.window;
    const so = this.sum.offset;
    const ro = this.ring!.offset;
    const per = this.frameLogits!;
    this.kernels.matmul(this.layer, x, per, rows.n);
    for (let r = 0; r < rows.n; r++) {
      const st = rows.states[r]!;
      const s = st.f64;
      const ring = st.f32;
      const count = s[so + K]!;
      const slot = ro + (count % W) * K;
      const full = count >= W;
      for (let k = 0; k < K; k++) {
        const v = per[r * K + k]!;
        // Float32 values added and removed in float64 cancel exactly: no drift on long streams.
        s[so + k] = s[so + k]! + v - (full ? ring[slot + k]! : 0);
        ring[slot + k] = v;
      }
      s[so + K] = count + 1;
      const n = Math.min(count + 1, W);
      for (let k = 0; k < K; k++) out[r * K + k] = s[so + k]! / n + (this.bias ? this.bias[k]! : 0);
    }
  }
}
