import type { DenseLayer, Kernels } from '../kernels/types.js';
import type { StateLayout, StateSlot } from '../stream/state.js';
import type { Rows } from './rows.js';

/**
 * The classifier head on the cumulative mean of the features seen so far:
 * logits_t = W·(Σ_{s≤t} x_s / (t+1)) + b. The official `all_seq` output; its last frame is the
 * whole-clip logits. The running sum is float64 so it stays exact on long streams.
 */
export class MeanHead {
  readonly layer: DenseLayer;
  private readonly sum: StateSlot; // f64 [C + 1]: running sum, then the frame count
  private readonly mean: Float32Array; // workspace [maxBatch, C]

  constructor(private readonly kernels: Kernels, layout: StateLayout, name: string, w: Float32Array, b: Float32Array | null, readonly classes: number, readonly dim: number, maxBatch: number, int8 = false, shared: Map<string, DenseLayer> | null = null) {
    const key = `${name}${int8 ? ':int8' : ''}`;
    let layer = shared?.get(key);
    if (!layer) {
      layer = kernels.dense(w, b, classes, dim, { name, int8 });
      shared?.set(key, layer);
    }
    this.layer = layer;
    this.sum = layout.f64(`${name}.sum`, dim + 1);
    this.mean = kernels.alloc(maxBatch * dim);
  }

  step(rows: Rows, x: Float32Array, out: Float32Array): void {
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
}
