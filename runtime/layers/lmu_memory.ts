import type { DenseLayer, Kernels } from '../kernels/types.js';
import type { StateLayout, StateSlot } from '../stream/state.js';
import type { Rows } from './rows.js';

/**
 * The Legendre Memory Unit's linear memory, as a recurrence: m_t = A·m_{t−1} + B·u_t, m_{−1} = 0,
 * with A [M, M] and B [M] the checkpoint's zero-order-hold matrices (the official parallel
 * forward computes the same thing as an FFT convolution with the impulse response H).
 *
 * Computed as one dense layer [A | B] over [m_{t−1}; u_t], so that a batch of streams is one
 * matrix product (A and B stay float32 even in int8 models: they do not survive quantisation).
 */
export class LmuMemory {
  readonly a: DenseLayer;
  private readonly slot: StateSlot; // f32 [M]
  private readonly input: Float32Array; // workspace [maxBatch, M + 1]: m_{t−1}, u_t

  constructor(private readonly kernels: Kernels, layout: StateLayout, name: string, a: Float32Array, b: Float32Array, readonly size: number, maxBatch: number, shared: Map<string, DenseLayer> | null = null) {
    const M = size;
    const key = `${name}.A`;
    let layer = shared?.get(key);
    if (!layer) {
      const ab = new Float32Array(M * (M + 1));
      for (let o = 0; o < M; o++) {
        ab.set(a.subarray(o * M, (o + 1) * M), o * (M + 1));
        ab[o * (M + 1) + M] = b[o]!;
      }
      layer = kernels.dense(ab, null, M, M + 1, { name: key });
      shared?.set(key, layer);
    }
    this.a = layer;
    this.slot = layout.f32(`${name}.m`, M);
    this.input = kernels.alloc(maxBatch * (M + 1));
  }

  /** `u` holds one scalar per row; writes the new memory to `out` `[rows.n, M]` and to the state. */
  step(rows: Rows, u: Float32Array, out: Float32Array): void {
    const M = this.size;
    const n = rows.n;
    const k = this.kernels;
    k.gatherState(this.input, 0, M + 1, rows.states, this.slot.offset, M, n);
    k.copyRows(this.input, M, M + 1, u, 0, 1, null, 1, n);
    k.matmul(this.a, this.input, out, n);
    k.scatterState(out, 0, M, null, rows.states, this.slot.offset, M, n);
  }
}
