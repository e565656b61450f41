import type { DenseLayer, Kernels } from '../kernels/types.js';
import type { StateLayout, StateSlot } from '../stream/state.js';
import type { Rows } from './rows.js';

/**
 * The Legendre Memory Unit's linear memory, as a recurrence: m_t = A·m_{t−1} + B·u_t, m_{−1} = 0,
 * with A [M, M] and B [M] the checkpoint's zero-order-hold matrices (the official parallel
 * forward computes the same thing as an FFT convolution with the impulse response H).
 */
export class LmuMemory {
  readonly a: DenseLayer;
  private readonly b: Float32Array;
  private readonly slot: StateSlot; // f32 [M]
  private readonly mPrev: Float32Array; // workspace [maxBatch, M]

  constructor(private readonly kernels: Kernels, layout: StateLayout, name: string, a: Float32Array, b: Float32Array, readonly size: number, maxBatch: number) {
    this.a = kernels.dense(a, null, size, size, { name: `${name}.A` }); // A stays float32 even in int8 models
    this.b = Float32Array.from(b);
    this.slot = layout.f32(`${name}.m`, size);
    this.mPrev = kernels.alloc(maxBatch * size);
  }

  /** `u` holds one scalar per row; writes the new memory to `out` `[rows.n, M]` and to the state. */
  step(rows: Rows, u: Float32Array, out: Float32Array): void {
    const M = this.size;
    const so = this.slot.offset;
    for (let r = 0; r < rows.n; r++) this.mPrev.set(rows.states[r]!.f32.subarray(so, so + M), r * M);
    this.kernels.matmul(this.a, this.mPrev, out, rows.n);
    const b = this.b;
    for (let r = 0; r < rows.n; r++) {
      const ur = u[r]!;
      const o = r * M;
      if (ur !== 0) for (let i = 0; i < M; i++) out[o + i] = out[o + i]! + b[i]! * ur;
      rows.states[r]!.f32.set(out.subarray(o, o + M), so);
    }
  }
}
