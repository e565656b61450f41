import { EdgestreamError } from '../../../runtime/errors.js';
import type { StateLayout, StreamState } from '../../../runtime/stream/state.js';
import { silu, sigmoid } from '../math.js';
import { NS5_COEFFICIENTS, nsApply, nsGram, nsInit, nsPoly, nsStore } from './newton_schulz.js';
import { counterSlot, stateArray, type Numerics, type StateVec, type Vec } from '../numeric.js';
import { planUnits, spreadUnits, type Unit } from './update_plan.js';

/**
 * LaCT's SwiGLU fast-weight function (ttt_operation.py `block_causal_lact_swiglu` and
 * `prenorm_block_causal_lact_swiglu`) streamed one token at a time, per head:
 *
 *   APPLY   o = W1 (silu(W0 q) ⊙ (W2 q))            with W = W_c, c = ⌊t / Ck⌋ (apply, then update)
 *   ACCUM   a = W0 k, b = W2 k, u = W1ᵀ v
 *           G1 += lr1·v (silu(a)⊙b)ᵀ ; G0 += lr0·(u⊙b⊙silu'(a)) kᵀ ; G2 += lr2·(u⊙silu(a)) kᵀ
 *   BOUNDARY (t+1) % Ck == 0:
 *           dW = G + m̄·M ; M = dW (momentum) ; dW = NS5(dW) (Muon) ;
 *           post-norm: W ← rownorm(W + dW)·n    pre-norm: W_main += dW ; W ← rownorm(W_main)·n
 *
 * Schedules (the engine picks, see `resolveSchedule`):
 *  - incremental: ACCUM as each token arrives (rank-one updates); the boundary costs only the update.
 *  - deferred: buffer k, v, lr, mom of the chunk; the boundary recomputes ACCUM as products over the
 *    chunk (the official order of operations). With `spread` S > 1 that work, and Muon's, is cut into
 *    units run over the next S tokens (the first S − 1 tokens of a chunk then still see W_{c−1}).
 *
 * Weights are `[out, in]` row-major per head (column vectors, as in LaCT): W0, W2 `[dh, d]`, W1 `[d, dh]`.
 */
export interface FastWeightShape {
  heads: number;
  d: number;
  dh: number;
  chunk: number;
  muon: boolean;
  momentum: boolean;
  prenorm: boolean;
}

export interface FastWeightSchedule {
  deferred: boolean;
  /** Tokens the boundary update is spread over (≤ 1: all at the boundary). */
  spread: number;
  /** false: never update (frozen fast weights). */
  learn: boolean;
}

/** `auto` → incremental without Muon (no stall), deferred with Muon (the boundary already stalls). */
export function resolveSchedule(schedule: 'auto' | 'incremental' | 'deferred', muon: boolean, spread: number, chunk: number, what: string): { deferred: boolean; spread: number } {
  if (spread > chunk) throw new EdgestreamError('E_CONFIG', `${what}: muon_spread_tokens ${spread} exceeds the chunk size ${chunk} (the update must land before the next boundary)`);
  if (spread > 1 && schedule === 'incremental') {
    throw new EdgestreamError('E_CONFIG', `${what}: spreading the boundary update needs the deferred schedule (incremental accumulation over stale weights would change the trajectory)`);
  }
  const deferred = schedule === 'deferred' || (schedule === 'auto' && (muon || spread > 1));
  return { deferred, spread: spread > 1 ? spread : 0 };
}

export class SwigluFastWeights {
  /** Multiply-adds per token (apply + accumulate, boundary amortised). */
  readonly macsPerToken: number;
  /** Multiply-adds of one boundary update. */
  readonly boundaryMacs: number;

  private readonly P: number;
  private readonly head: {
    w: number[]; main: number[]; acc: number[]; mom: number[]; msum: number; buf: number; stride: number;
  };
  private readonly tokStride: number;
  private readonly nbuf: number;
  private readonly state: StateVec;
  private readonly counter: StateVec;
  private readonly units: Unit[];
  private readonly slotStart: Int32Array | null;
  /** Job scratch: in the stream state when the job spans tokens, else workspace. */
  private readonly scratchState: StateVec | null;
  private readonly scratchWork: Vec | null;
  private readonly scr: { h: number; d0: number; d2: number; x: number; y: number; a: number; b: number; size: number };
  private readonly init: Vec[];
  private readonly norms: Vec[];
  private readonly dims: [number, number][];
  // per-token workspace
  private readonly va: Vec; private readonly vb: Vec; private readonly vu: Vec; private readonly vh: Vec;
  private readonly d0: Vec; private readonly d2: Vec;

  constructor(num: Numerics, layout: StateLayout, readonly name: string, readonly shape: FastWeightShape, readonly schedule: FastWeightSchedule,
    /** Initial weights `[heads, dh, d]`, `[heads, d, dh]`, `[heads, dh, d]`. */
    w0: Float64Array, w1: Float64Array, w2: Float64Array) {
    const { heads, d, dh, chunk, momentum, prenorm, muon } = shape;
    const P = (this.P = d * dh);
    this.dims = [[dh, d], [d, dh], [dh, d]];
    this.init = [num.constant(w0), num.constant(w1), num.constant(w2)];
    // Target row norms: those of the sequence-start weights (constant for the model).
    this.norms = this.dims.map(([rows, cols], j) => {
      const src = [w0, w1, w2][j]!;
      const n = new Float64Array(heads * rows);
      for (let r = 0; r < heads * rows; r++) {
        let ss = 0;
        for (let c = 0; c < cols; c++) ss += src[r * cols + c]! * src[r * cols + c]!;
        n[r] = Math.sqrt(ss);
      }
      return num.constant(n);
    });

    // Per-head state layout.
    let p = 0;
    const take = (n: number): number => { p += n; return p - n; };
    const w = [take(P), take(P), take(P)];
    const main = prenorm ? [take(P), take(P), take(P)] : [];
    const acc = [take(P), take(P), take(P)];
    const mom = momentum ? [take(P), take(P), take(P)] : [];
    const msum = take(1);
    this.tokStride = 2 * d + 4;
    this.nbuf = schedule.deferred ? (schedule.spread > 1 ? 2 : 1) : 0;
    const buf = take(this.nbuf * chunk * this.tokStride);
    this.head = { w, main, acc, mom, msum, buf, stride: p };
    this.state = num.state(layout, `${name}.fast_weights`, heads * p);
    this.counter = counterSlot(layout, `${name}.t`);

    // Job scratch: forward results (deferred) and Newton–Schulz buffers (Muon).
    const m = Math.min(d, dh);
    const n = Math.max(d, dh);
    let q = 0;
    const s = (k: number): number => { q += k; return q - k; };
    const hOff = schedule.deferred ? s(chunk * dh) : 0;
    const d0Off = schedule.deferred ? s(chunk * dh) : 0;
    const d2Off = schedule.deferred ? s(chunk * dh) : 0;
    const xOff = muon ? s(m * n) : 0;
    const yOff = muon ? s(m * n) : 0;
    const aOff = muon ? s(m * m) : 0;
    const bOff = muon ? s(m * m) : 0;
    this.scr = { h: hOff, d0: d0Off, d2: d2Off, x: xOff, y: yOff, a: aOff, b: bOff, size: q };
    const spread = schedule.spread > 1;
    this.scratchState = spread && q > 0 ? num.state(layout, `${name}.update_scratch`, q) : null;
    this.scratchWork = !spread && q > 0 ? num.alloc(q) : null;

    this.units = planUnits({ heads, d, dh, chunk, deferred: schedule.deferred, momentum, muon });
    this.slotStart = spread ? spreadUnits(this.units, schedule.spread) : null;
    this.boundaryMacs = this.units.reduce((a, u) => a + u.cost, 0);

    this.va = num.alloc(dh); this.vb = num.alloc(dh); this.vu = num.alloc(dh); this.vh = num.alloc(dh);
    this.d0 = num.alloc(dh); this.d2 = num.alloc(dh);
    const perToken = heads * (3 * P + (schedule.deferred ? 0 : 9 * P));
    this.macsPerToken = perToken + this.boundaryMacs / chunk;
  }

  /** Bytes of per-stream state per element size (for describe()). */
  get stateValues(): number {
    return this.state.length + (this.scratchState?.length ?? 0);
  }

  /**
   * One token of one stream. Head h reads q, k, v (length d) at `qo/ko/vo + h·d`, its three
   * learning rates at `lro + 3h + {0,1,2}`, its momentum gate at `mo + h` (if momentum), and
   * writes its output (length d) at `oo + h·d`.
   */
  step(st: StreamState, q: Vec, qo: number, k: Vec, ko: number, v: Vec, vo: number, lr: Vec, lro: number, mom: Vec | null, mo: number, out: Vec, oo: number): void {
    const { heads, d, chunk } = this.shape;
    const S = stateArray(st, this.state);
    const base = this.state.offset;
    const t = st.f64[this.counter.offset]!;
    if (t === 0) this.initialise(S, base);
    const pos = t % chunk;
    const c = Math.floor(t / chunk);
    const { learn, deferred, spread } = this.schedule;

    // A spread update of the previous chunk: this token's share of the units, before its apply.
    if (learn && spread > 1 && c >= 1 && pos < spread) {
      this.runUnits(st, S, base, this.slotStart![pos]!, this.slotStart![pos + 1]!, (c - 1) % 2);
    }
    for (let h = 0; h < heads; h++) this.apply(S, base + h * this.head.stride, q, qo + h * d, out, oo + h * d);
    if (learn) {
      for (let h = 0; h < heads; h++) {
        const hb = base + h * this.head.stride;
        const g = mom ? mom[mo + h]! : 0;
        if (deferred) {
          const tb = hb + this.head.buf + ((c % this.nbuf) * chunk + pos) * this.tokStride;
          for (let i = 0; i < d; i++) { S[tb + i] = k[ko + h * d + i]!; S[tb + d + i] = v[vo + h * d + i]!; }
          S[tb + 2 * d] = lr[lro + 3 * h]!; S[tb + 2 * d + 1] = lr[lro + 3 * h + 1]!; S[tb + 2 * d + 2] = lr[lro + 3 * h + 2]!;
          S[tb + 2 * d + 3] = g;
        } else {
          this.accumulate(S, hb, k, ko + h * d, v, vo + h * d, lr[lro + 3 * h]!, lr[lro + 3 * h + 1]!, lr[lro + 3 * h + 2]!);
          S[hb + this.head.msum] = S[hb + this.head.msum]! + g;
        }
      }
      if (pos === chunk - 1 && !(spread > 1)) this.runUnits(st, S, base, 0, this.units.length, 0);
    }
    st.f64[this.counter.offset] = t + 1;
  }

  private initialise(S: Vec, base: number): void {
    const { heads } = this.shape;
    const P = this.P;
    S.fill(0, base, base + heads * this.head.stride);
    for (let h = 0; h < heads; h++) {
      const hb = base + h * this.head.stride;
      for (let j = 0; j < 3; j++) {
        for (let i = 0; i < P; i++) S[hb + this.head.w[j]! + i] = this.init[j]![h * P + i]!;
        if (this.shape.prenorm) for (let i = 0; i < P; i++) S[hb + this.head.main[j]! + i] = this.init[j]![h * P + i]!;
      }
    }
  }

  /** o = W1 (silu(W0 q) ⊙ (W2 q)) for one head. */
  private apply(S: Vec, hb: number, q: Vec, qo: number, out: Vec, oo: number): void {
    const { d, dh } = this.shape;
    const [w0, w1, w2] = this.head.w as [number, number, number];
    const hv = this.vh;
    for (let a = 0; a < dh; a++) {
      let g = 0;
      let u = 0;
      const r0 = hb + w0 + a * d;
      const r2 = hb + w2 + a * d;
      for (let i = 0; i < d; i++) {
        const qi = q[qo + i]!;
        g += S[r0 + i]! * qi;
        u += S[r2 + i]! * qi;
      }
      hv[a] = silu(g) * u;
    }
    for (let p = 0; p < d; p++) {
      let acc = 0;
      const r1 = hb + w1 + p * dh;
      for (let a = 0; a < dh; a++) acc += S[r1 + a]! * hv[a]!;
      out[oo + p] = acc;
    }
  }

  /** a = W0 k, b = W2 k, u = W1ᵀ v into the per-token workspace; h, δ0, δ2 from them. */
  private forward(S: Vec, hb: number, k: Vec, ko: number, v: Vec, vo: number, H: Vec, ho: number, D0: Vec, d0o: number, D2: Vec, d2o: number): void {
    const { d, dh } = this.shape;
    const [w0, w1, w2] = this.head.w as [number, number, number];
    const { va, vb, vu } = this;
    for (let a = 0; a < dh; a++) {
      let x = 0;
      let y = 0;
      const r0 = hb + w0 + a * d;
      const r2 = hb + w2 + a * d;
      for (let i = 0; i < d; i++) {
        const ki = k[ko + i]!;
        x += S[r0 + i]! * ki;
        y += S[r2 + i]! * ki;
      }
      va[a] = x;
      vb[a] = y;
      vu[a] = 0;
    }
    for (let p = 0; p < d; p++) {
      const vp = v[vo + p]!;
      const r1 = hb + w1 + p * dh;
      for (let a = 0; a < dh; a++) vu[a] = vu[a]! + S[r1 + a]! * vp;
    }
    for (let a = 0; a < dh; a++) {
      const x = va[a]!;
      const sg = sigmoid(x);
      const sx = silu(x);
      H[ho + a] = sx * vb[a]!;
      D0[d0o + a] = ((vu[a]! * vb[a]!) * sg) * (1 + x * (1 - sg));
      D2[d2o + a] = vu[a]! * sx;
    }
  }

  /** Incremental ACCUM: rank-one updates of the accumulators for one head. */
  private accumulate(S: Vec, hb: number, k: Vec, ko: number, v: Vec, vo: number, lr0: number, lr1: number, lr2: number): void {
    const { d, dh } = this.shape;
    const [a0, a1, a2] = this.head.acc as [number, number, number];
    const H = this.vh, D0 = this.d0, D2 = this.d2;
    this.forward(S, hb, k, ko, v, vo, H, 0, D0, 0, D2, 0);
    for (let p = 0; p < d; p++) {
      const vp = v[vo + p]!;
      const r = hb + a1 + p * dh;
      for (let a = 0; a < dh; a++) S[r + a] = S[r + a]! + vp * (H[a]! * lr1);
    }
    for (let a = 0; a < dh; a++) {
      const g0 = D0[a]!;
      const g2 = D2[a]!;
      const r0 = hb + a0 + a * d;
      const r2 = hb + a2 + a * d;
      for (let i = 0; i < d; i++) {
        const ki = k[ko + i]!;
        S[r0 + i] = S[r0 + i]! + g0 * (ki * lr0);
        S[r2 + i] = S[r2 + i]! + g2 * (ki * lr2);
      }
    }
  }

  /** Run units [from, to) of the boundary job whose chunk sits in buffer `b`. */
  private runUnits(st: StreamState, S: Vec, base: number, from: number, to: number, b: number): void {
    const X: Vec = this.scratchState ? stateArray(st, this.scratchState) : this.scratchWork ?? S;
    const xb = this.scratchState ? this.scratchState.offset : 0;
    for (let i = from; i < to; i++) this.runUnit(this.units[i]!, S, base, X, xb, b);
  }

  private runUnit(u: Unit, S: Vec, base: number, X: Vec, xb: number, b: number): void {
    const { d, dh, chunk } = this.shape;
    const P = this.P;
    const hb = base + u.head * this.head.stride;
    const sc = this.scr;
    const buf = hb + this.head.buf + b * chunk * this.tokStride;
    const ts = this.tokStride;
    const m = Math.min(d, dh);
    const n = Math.max(d, dh);
    switch (u.kind) {
      case 'forward': {
        const tb = buf + u.index * ts;
        this.forward(S, hb, S, tb, S, tb + d, X, xb + sc.h + u.index * dh, X, xb + sc.d0 + u.index * dh, X, xb + sc.d2 + u.index * dh);
        return;
      }
      case 'gradient': {
        const A = hb + this.head.acc[u.index]!;
        if (u.index === 1) {
          // G1[p, a] = Σ_i v_i[p] · (h_i[a] · lr1_i)
          for (let p = 0; p < d; p++) {
            for (let a = 0; a < dh; a++) {
              let acc = 0;
              for (let i = 0; i < chunk; i++) acc += S[buf + i * ts + d + p]! * (X[xb + sc.h + i * dh + a]! * S[buf + i * ts + 2 * d + 1]!);
              S[A + p * dh + a] = acc;
            }
          }
        } else {
          // G0/G2[a, c] = Σ_i δ_i[a] · (k_i[c] · lr_i)
          const D = u.index === 0 ? sc.d0 : sc.d2;
          const l = u.index === 0 ? 0 : 2;
          for (let a = 0; a < dh; a++) {
            for (let c = 0; c < d; c++) {
              let acc = 0;
              for (let i = 0; i < chunk; i++) acc += X[xb + D + i * dh + a]! * (S[buf + i * ts + c]! * S[buf + i * ts + 2 * d + l]!);
              S[A + a * d + c] = acc;
            }
          }
        }
        return;
      }
      case 'momentum': {
        // m̄ = mean of the chunk's gates; dW = G + m̄·M ; M = dW.
        let sum = 0;
        if (this.schedule.deferred) for (let i = 0; i < chunk; i++) sum += S[buf + i * ts + 2 * d + 3]!;
        else sum = S[hb + this.head.msum]!;
        const mbar = sum / chunk;
        const A = hb + this.head.acc[u.index]!;
        const M = hb + this.head.mom[u.index]!;
        for (let i = 0; i < P; i++) {
          const dw = S[A + i]! + S[M + i]! * mbar;
          S[A + i] = dw;
          S[M + i] = dw;
        }
        return;
      }
      case 'ns-init': {
        const [rows, cols] = this.dims[u.index]!;
        nsInit(S, hb + this.head.acc[u.index]!, rows, cols, X, xb + sc.x);
        return;
      }
      case 'ns-gram': {
        const src = u.iteration % 2 === 0 ? sc.x : sc.y;
        nsGram(X, xb + src, m, n, X, xb + sc.a);
        return;
      }
      case 'ns-poly': {
        const [, bc, cc] = NS5_COEFFICIENTS[u.iteration]!;
        nsPoly(X, xb + sc.a, m, bc, cc, X, xb + sc.b);
        return;
      }
      case 'ns-apply': {
        const [ac] = NS5_COEFFICIENTS[u.iteration]!;
        const src = u.iteration % 2 === 0 ? sc.x : sc.y;
        const dst = u.iteration % 2 === 0 ? sc.y : sc.x;
        nsApply(X, xb + src, X, xb + sc.b, m, n, ac, X, xb + dst);
        return;
      }
      case 'ns-store': {
        const [rows, cols] = this.dims[u.index]!;
        // 5 iterations: the result is in y (odd count of swaps).
        nsStore(X, xb + sc.y, rows, cols, S, hb + this.head.acc[u.index]!);
        return;
      }
      case 'commit': {
        const [rows, cols] = this.dims[u.index]!;
        const A = hb + this.head.acc[u.index]!;
        const W = hb + this.head.w[u.index]!;
        const src = this.shape.prenorm ? hb + this.head.main[u.index]! : W;
        const norms = this.norms[u.index]!;
        for (let i = 0; i < P; i++) S[src + i] = S[src + i]! + S[A + i]!;
        for (let r = 0; r < rows; r++) {
          let ss = 0;
          for (let c = 0; c < cols; c++) ss += S[src + r * cols + c]! * S[src + r * cols + c]!;
          const den = Math.sqrt(ss) + 1e-5;
          const target = norms[u.head * rows + r]!;
          for (let c = 0; c < cols; c++) S[W + r * cols + c] = (S[src + r * cols + c]! / den) * target;
        }
        S.fill(0, A, A + P);
        if (u.index === 2) S[hb + this.head.msum] = 0;
        return;
      }
    }
  }
}
