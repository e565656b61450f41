import type { StateSlot } from '../stream/state.js';
import type { Affine } from './batch_norm.js';
import type { Rows } from './rows.js';

const fround = Math.fround;

/**
 * Multi-step LIF neuron (spikingjelly MultiStepLIFNode: tau 2, decay_input, hard reset to 0),
 * one membrane per channel per stream, advanced one frame at a time, in place:
 *   h = v + (x − v)/2 ;  s = h ≥ θ ;  v = s ? 0 : h ;  x ← s
 * Every operation is rounded to float32 as PyTorch does, so identical inputs fire identically.
 * An optional per-channel affine (a BatchNorm that feeds the LIF) is applied to x first.
 */
/** Optional activity recorder (calibration, spike-rate reports): per-channel input moments and spike counts. */
export interface LifObserver {
  /** Σ x and Σ x² per channel, of the LIF input after its affine. */
  sum: Float64Array;
  sumSq: Float64Array;
  spikes: number;
  /** Neuron updates observed (channels × frames). */
  updates: number;
}

export class Lif {
  observer: LifObserver | null = null;

  constructor(
    /** The BatchNorm that feeds this neuron layer (official name), for reports and calibration. */
    readonly name: string,
    readonly slot: StateSlot,
    readonly channels: number,
    readonly threshold = 1.0,
    readonly affine: Affine | null = null,
  ) {}

  step(rows: Rows, x: Float32Array): void {
    const n = this.channels;
    const th = this.threshold;
    const scale = this.affine?.scale;
    const shift = this.affine?.shift;
    const obs = this.observer;
    for (let r = 0; r < rows.n; r++) {
      const v = rows.states[r]!.f32;
      const vo = this.slot.offset;
      const xo = r * n;
      for (let i = 0; i < n; i++) {
        const xi = scale ? fround(fround(x[xo + i]! * scale[i]!) + shift![i]!) : x[xo + i]!;
        const vi = v[vo + i]!;
        const h = fround(vi + fround(xi - vi) * 0.5);
        const s = h >= th;
        v[vo + i] = s ? 0 : h;
        x[xo + i] = s ? 1 : 0;
        if (obs) {
          obs.sum[i] += xi;
          obs.sumSq[i] += xi * xi;
          if (s) obs.spikes++;
        }
      }
      if (obs) obs.updates += n;
    }
  }
}
