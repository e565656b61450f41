import type { StreamState } from '../../../runtime/stream/state.js';
import { stateArray, type StateVec, type Vec } from '../numeric.js';

/**
 * A depthwise causal Conv1d (kernel k, padding k−1, output cropped to the input length), streamed:
 *   y_t[c] = bias[c] + Σ_{j<k} w[c, j] · u_{t−k+1+j}[c]     (zeros before the stream start)
 * The window of the last k−1 inputs is per-stream state (oldest first).
 */
export class CausalWindow {
  constructor(readonly slot: StateVec, readonly channels: number, readonly kernel: number) {}

  /** Conv of the window plus the new input `u` (not yet pushed) with one weight set. */
  conv(state: StreamState, u: Vec, uo: number, weight: Vec, bias: Vec, out: Vec, oo: number): void {
    const S = stateArray(state, this.slot);
    const { channels: C, kernel: k } = this;
    const base = this.slot.offset;
    for (let c = 0; c < C; c++) {
      let acc = 0;
      for (let j = 0; j < k - 1; j++) acc += S[base + j * C + c]! * weight[c * k + j]!;
      acc += u[uo + c]! * weight[c * k + k - 1]!;
      out[oo + c] = acc + bias[c]!;
    }
  }

  /** Shift the window by one: drop the oldest input, append `u`. */
  push(state: StreamState, u: Vec, uo: number): void {
    const { channels: C, kernel: k } = this;
    if (k < 2) return;
    const S = stateArray(state, this.slot);
    const base = this.slot.offset;
    S.copyWithin(base, base + C, base + (k - 1) * C);
    for (let c = 0; c < C; c++) S[base + (k - 2) * C + c] = u[uo + c]!;
  }
}
