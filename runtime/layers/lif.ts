import type { Kernels } from '../kernels/types.js';
import type { StateSlot } from '../stream/state.js';
import type { Affine } from './batch_norm.js';
import type { Rows } from './rows.js';

const fround = Math.fround;

/** Optional activity recorder (calibration, spike-rate reports): per-channel input moments and spike counts. */
export interface LifObserver {
  /** Σ x and Σ x² per channel, of the LIF input after its affine. */
  sum: Float64Array;
  sumSq: Float64Array;
  spikes: number;
  /** Neuron updates observed (channels × frames). */
  updates: number;
}

/**
 * Multi-step LIF neuron (spikingjelly MultiStepLIFNode: tau 2, decay_input, hard reset to 0),
 * one membrane per channel per stream, advanced one frame at a time, in place:
 *   h = v + (x − v)/2 ;  s = h ≥ θ ;  v = s ? 0 : h ;  x ← s
 * Every operation is rounded to float32 as PyTorch does, so identical inputs fire identically.
 * An optional per-channel affine (a BatchNorm that feeds the LIF) is applied to x first.
 * The membranes live in each stream's state; a step gathers them into a kernel buffer, runs the
 * tier's `lif` kernel over the whole batch and scatters them back.
 */
export class Lif {
  observer: LifObserver | null = null;
  private readonly v: Float32Array; // workspace [maxBatch, channels]
  private readonly scale: Float32Array | null;
  private readonly shift: Float32Array | null;

  constructor(
    private readonly kernels: Kernels,
    /** The BatchNorm that feeds this neuron layer (official name), for reports and calibration. */
    readonly name: string,
    readonly slot: StateSlot,
    readonly channels: number,
    maxBatch: number,
    readonly threshold = 1.0,
    readonly affine: Affine | null = null,
  ) {
    this.v = kernels.alloc(maxBatch * channels);
    this.scale = affine ? kernels.alloc(channels) : null;
    this.shift = affine ? kernels.alloc(channels) : null;
    if (affine) {
      this.scale!.set(affine.scale);
      this.shift!.set(affine.shift);
    }
  }

  step(rows: Rows, x: Float32Array): void {
    const n = this.channels;
    const o = this.slot.offset;
    if (this.observer) this.observeInputs(rows.n, x);
    for (let r = 0; r < rows.n; r++) this.v.set(rows.states[r]!.f32.subarray(o, o + n), r * n);
    this.kernels.lif(x, this.v, rows.n, n, this.threshold, this.scale, this.shift);
    for (let r = 0; r < rows.n; r++) rows.states[r]!.f32.set(this.v.subarray(r * n, (r + 1) * n), o);
    if (this.observer) {
      for (let i = 0; i < rows.n * n; i++) this.observer.spikes += x[i]!;
      this.observer.updates += rows.n * n;
    }
  }

  /** The input moments after the affine, exactly as the kernel computes it (float32). */
  private observeInputs(rows: number, x: Float32Array): void {
    const obs = this.observer!;
    const n = this.channels;
    const scale = this.affine?.scale;
    const shift = this.affine?.shift;
    for (let r = 0; r < rows; r++) {
      for (let i = 0; i < n; i++) {
        const xi = scale ? fround(fround(x[r * n + i]! * scale[i]!) + shift![i]!) : x[r * n + i]!;
        obs.sum[i] += xi;
        obs.sumSq[i] += xi * xi;
      }
    }
  }
}

/** The LIF step on plain arrays (the JS tier's kernel; see `Kernels.lif`). */
export function lifStep(x: Float32Array, v: Float32Array, rows: number, dim: number, threshold: number, scale: Float32Array | null, shift: Float32Array | null): void {
  for (let r = 0; r < rows; r++) {
    const ro = r * dim;
    for (let i = 0; i < dim; i++) {
      const xi = scale ? fround(fround(x[ro + i]! * scale[i]!) + shift![i]!) : x[ro + i]!;
      const vi = v[ro + i]!;
      const h = fround(vi + fround(xi - vi) * 0.5);
      const s = h >= threshold;
      v[ro + i] = s ? 0 : h;
      x[ro + i] = s ? 1 : 0;
    }
  }
}
