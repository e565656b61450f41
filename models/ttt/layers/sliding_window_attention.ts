import type { StateLayout, StreamState } from '../../../runtime/stream/state.js';
import { stateArray, type Numerics, type StateVec, type Vec } from '../numeric.js';

/**
 * Causal sliding-window softmax attention, streamed: a ring buffer of the last W (RoPE'd) keys and
 * values per stream. Token t attends to keys t−W+1 … t (flash_attn `window_size=(W−1, 0)`),
 * scale 1/√Da, per head.
 */
export class SlidingWindowAttention {
  private readonly keys: StateVec;
  private readonly values: StateVec;
  private readonly scores: Float64Array;
  private readonly scale: number;

  constructor(num: Numerics, layout: StateLayout, name: string, readonly dim: number, readonly heads: number, readonly window: number) {
    this.keys = num.state(layout, `${name}.swa_keys`, window * dim);
    this.values = num.state(layout, `${name}.swa_values`, window * dim);
    this.scores = new Float64Array(window);
    this.scale = 1 / Math.sqrt(dim / heads);
  }

  /** Append token t's key/value, then attend with its query. */
  step(st: StreamState, t: number, q: Vec, qo: number, k: Vec, ko: number, v: Vec, vo: number, out: Vec, oo: number): void {
    const { dim: C, heads, window: W, scores } = this;
    const Ks = stateArray(st, this.keys);
    const Vs = stateArray(st, this.values);
    const kb = this.keys.offset;
    const vb = this.values.offset;
    const slot = t % W;
    for (let c = 0; c < C; c++) {
      Ks[kb + slot * C + c] = k[ko + c]!;
      Vs[vb + slot * C + c] = v[vo + c]!;
    }
    const count = Math.min(t + 1, W);
    const first = t + 1 - count;
    const Da = C / heads;
    for (let h = 0; h < heads; h++) {
      const ho = h * Da;
      let max = -Infinity;
      for (let j = 0; j < count; j++) {
        const s = ((first + j) % W) * C + ho;
        let dot = 0;
        for (let i = 0; i < Da; i++) dot += q[qo + ho + i]! * Ks[kb + s + i]!;
        const sc = dot * this.scale;
        scores[j] = sc;
        if (sc > max) max = sc;
      }
      let sum = 0;
      for (let j = 0; j < count; j++) {
        const e = Math.exp(scores[j]! - max);
        scores[j] = e;
        sum += e;
      }
      for (let i = 0; i < Da; i++) {
        let acc = 0;
        for (let j = 0; j < count; j++) acc += scores[j]! * Vs[vb + ((first + j) % W) * C + ho + i]!;
        out[oo + ho + i] = acc / sum;
      }
    }
  }
}

