/**
 * Per-stream recurrent state: every buffer a stream carries from one frame to the next lives in
 * two flat arrays, so that a session is one object, a snapshot is a byte copy, and nothing about
 * a stream hides in a layer object or a module global.
 *  - `f32`: activations the model keeps (conv line buffers, LIF membranes, LMU memory, fast weights).
 *  - `f64`: counters and running sums that must stay exact over unbounded streams.
 */
export interface StreamState {
  readonly f32: Float32Array;
  readonly f64: Float64Array;
}

/** A named region of a `StreamState` array, handed out by `StateLayout`. */
export interface StateSlot {
  readonly name: string;
  readonly offset: number;
  readonly length: number;
}

/**
 * Assigns each stateful layer its region of the per-stream arrays at model build time
 * (llama2.c's RunState, but per stream). Regions never overlap; `sizes` is what a session allocates.
 */
export class StateLayout {
  private f32Size = 0;
  private f64Size = 0;
  readonly slots: StateSlot[] = [];

  f32(name: string, length: number): StateSlot {
    const slot = { name: `f32:${name}`, offset: this.f32Size, length };
    this.f32Size += length;
    this.slots.push(slot);
    return slot;
  }

  f64(name: string, length: number): StateSlot {
    const slot = { name: `f64:${name}`, offset: this.f64Size, length };
    this.f64Size += length;
    this.slots.push(slot);
    return slot;
  }

  get sizes(): { f32: number; f64: number } {
    return { f32: this.f32Size, f64: this.f64Size };
  }

  /** Bytes of state one stream holds. */
  get bytes(): number {
    return this.f32Size * 4 + this.f64Size * 8;
  }
}

export function createState(sizes: { f32: number; f64: number }): StreamState {
  return { f32: new Float32Array(sizes.f32), f64: new Float64Array(sizes.f64) };
}
