import { geluTanh, geluTanhGrad, lnFusedL2Grad } from '../math.js';
import type { Vec } from '../numeric.js';

/**
 * The inner model of TTT-Linear / TTT-MLP for one head, stepped one token at a time
 * (specs/ttt.md §2, the primal form of the official decode path):
 *
 *   gradient at W⁰:   ∇_t = ∂ ½‖LN(f_{W⁰}(k)) − (v − k)‖²           (never at the mid-batch W)
 *   accumulate:       G += η_t ∇_t                                    (the token's own gradient is in)
 *   output:           z̄ = f_{W⁰ − s·G}(q)                             (s = token scale of t mod K)
 *   last token of a mini-batch: W⁰ ← W⁰ − s·G, G ← 0                  (`commit`)
 *
 * State per head lives in one region of the stream's state array at `base`:
 *   linear: [W⁰ f×f | b⁰ f | G_W f×f | G_b f]       (W row-major [in, out], z = k W + b)
 *   mlp:    [W1⁰ f×H | b1⁰ H | W2⁰ H×f | b2⁰ f | G_W1 | G_b1 | G_W2 | G_b2]   (H = 4f)
 */
export interface InnerModel {
  /** Values of state per head. */
  readonly stateSize: number;
  /** Copy the initial weights of head `h` from the parameters into the state at `base`. */
  init(S: Vec, base: number, h: number): void;
  /**
   * One token: accumulate its gradient (unless `learn` is false) and write z̄ (length f) to `out`.
   * `lnW`/`lnB` at `lo` are this head's inner LayerNorm weight and bias.
   */
  step(S: Vec, base: number, q: Vec, qo: number, k: Vec, ko: number, v: Vec, vo: number, eta: number, s: number,
    lnW: Vec, lnB: Vec, lo: number, out: Vec, oo: number, learn: boolean): void;
  /** End of a mini-batch: W⁰ ← W⁰ − s·G, G ← 0. */
  commit(S: Vec, base: number, s: number): void;
}

const LN_EPS = 1e-6;

export class InnerLinear implements InnerModel {
  readonly stateSize: number;
  private readonly z: Vec;
  private readonly g: Vec;
  private readonly zq: Vec;
  private readonly zg: Vec;
  private readonly xhat: Vec;
  private readonly gh: Vec;

  constructor(private readonly f: number, private readonly W1: Vec, private readonly b1: Vec, alloc: (n: number) => Vec) {
    this.stateSize = 2 * (f * f + f);
    this.z = alloc(f); this.g = alloc(f); this.zq = alloc(f); this.zg = alloc(f); this.xhat = alloc(f); this.gh = alloc(f);
  }

  init(S: Vec, base: number, h: number): void {
    const f = this.f;
    for (let i = 0; i < f * f; i++) S[base + i] = this.W1[h * f * f + i]!;
    for (let i = 0; i < f; i++) S[base + f * f + i] = this.b1[h * f + i]!;
    S.fill(0, base + f * f + f, base + this.stateSize);
  }

  step(S: Vec, base: number, q: Vec, qo: number, k: Vec, ko: number, v: Vec, vo: number, eta: number, s: number,
    lnW: Vec, lnB: Vec, lo: number, out: Vec, oo: number, learn: boolean): void {
    const { f, z, g, zq, zg } = this;
    const wo = base;
    const bo = base + f * f;
    const gwo = bo + f;
    const gbo = gwo + f * f;
    // Pass 1 over W⁰: z = k W⁰ + b⁰ and q W⁰.
    for (let j = 0; j < f; j++) { z[j] = 0; zq[j] = 0; }
    for (let i = 0; i < f; i++) {
      const ki = k[ko + i]!;
      const qi = q[qo + i]!;
      const row = wo + i * f;
      for (let j = 0; j < f; j++) {
        const w = S[row + j]!;
        z[j] += ki * w;
        zq[j] += qi * w;
      }
    }
    if (learn) {
      for (let j = 0; j < f; j++) z[j] += S[bo + j]!;
      lnFusedL2Grad(g, 0, z, 0, f, v, vo, k, ko, lnW, lo, lnB, lo, LN_EPS, this.xhat, this.gh);
      // Pass 2 over G: G_W += η kᵀg (rank one), then q·G_W with the updated G.
      for (let j = 0; j < f; j++) { zg[j] = 0; S[gbo + j] = S[gbo + j]! + eta * g[j]!; }
      for (let i = 0; i < f; i++) {
        const eki = eta * k[ko + i]!;
        const qi = q[qo + i]!;
        const row = gwo + i * f;
        for (let j = 0; j < f; j++) {
          const gw = S[row + j]! + eki * g[j]!;
          S[row + j] = gw;
          zg[j] += qi * gw;
        }
      }
      for (let j = 0; j < f; j++) out[oo + j] = zq[j]! - s * zg[j]! + (S[bo + j]! - s * S[gbo + j]!);
    } else {
      for (let j = 0; j < f; j++) out[oo + j] = zq[j]! + S[bo + j]!;
    }
  }

  commit(S: Vec, base: number, s: number): void {
    const n = this.f * this.f + this.f;
    for (let i = 0; i < n; i++) {
      S[base + i] = S[base + i]! - s * S[base + n + i]!;
      S[base + n + i] = 0;
    }
  }
}

export class InnerMlp implements InnerModel {
  readonly stateSize: number;
  private readonly H: number;
  private readonly z1: Vec; private readonly x2: Vec; private readonly z2: Vec; private readonly g2: Vec;
  private readonly g1: Vec; private readonly zq1: Vec; private readonly zg1: Vec; private readonly xb2: Vec;
  private readonly zb2: Vec; private readonly zg2: Vec; private readonly xhat: Vec; private readonly gh: Vec;

  constructor(private readonly f: number, private readonly W1: Vec, private readonly b1: Vec, private readonly W2: Vec, private readonly b2: Vec, alloc: (n: number) => Vec) {
    const H = (this.H = 4 * f);
    this.stateSize = 2 * (f * H + H + H * f + f);
    this.z1 = alloc(H); this.x2 = alloc(H); this.z2 = alloc(f); this.g2 = alloc(f); this.g1 = alloc(H);
    this.zq1 = alloc(H); this.zg1 = alloc(H); this.xb2 = alloc(H); this.zb2 = alloc(f); this.zg2 = alloc(f);
    this.xhat = alloc(f); this.gh = alloc(f);
  }

  init(S: Vec, base: number, h: number): void {
    const { f, H } = this;
    let p = base;
    for (let i = 0; i < f * H; i++) S[p++] = this.W1[h * f * H + i]!;
    for (let i = 0; i < H; i++) S[p++] = this.b1[h * H + i]!;
    for (let i = 0; i < H * f; i++) S[p++] = this.W2[h * H * f + i]!;
    for (let i = 0; i < f; i++) S[p++] = this.b2[h * f + i]!;
    S.fill(0, p, base + this.stateSize);
  }

  step(S: Vec, base: number, q: Vec, qo: number, k: Vec, ko: number, v: Vec, vo: number, eta: number, s: number,
    lnW: Vec, lnB: Vec, lo: number, out: Vec, oo: number, learn: boolean): void {
    const { f, H, z1, x2, z2, g2, g1, zq1, zg1, xb2, zb2, zg2 } = this;
    const w1 = base, b1 = w1 + f * H, w2 = b1 + H, b2 = w2 + H * f;
    const half = this.stateSize / 2;
    const gw1 = base + half, gb1 = gw1 + f * H, gw2 = gb1 + H, gb2 = gw2 + H * f;
    // Pass 1 over W1⁰: z1 = k W1 + b1, q W1.
    for (let a = 0; a < H; a++) { z1[a] = 0; zq1[a] = 0; }
    for (let i = 0; i < f; i++) {
      const ki = k[ko + i]!;
      const qi = q[qo + i]!;
      const row = w1 + i * H;
      for (let a = 0; a < H; a++) {
        const w = S[row + a]!;
        z1[a] += ki * w;
        zq1[a] += qi * w;
      }
    }
    if (!learn) {
      for (let a = 0; a < H; a++) xb2[a] = geluTanh(zq1[a]! + S[b1 + a]!);
      for (let j = 0; j < f; j++) zb2[j] = 0;
      for (let a = 0; a < H; a++) {
        const xa = xb2[a]!;
        const row = w2 + a * f;
        for (let j = 0; j < f; j++) zb2[j] += xa * S[row + j]!;
      }
      for (let j = 0; j < f; j++) out[oo + j] = zb2[j]! + S[b2 + j]!;
      return;
    }
    for (let a = 0; a < H; a++) {
      z1[a] += S[b1 + a]!;
      x2[a] = geluTanh(z1[a]!);
    }
    // Pass 2 over W2⁰: z2 = x2 W2 + b2; its LN-L2 gradient g2.
    for (let j = 0; j < f; j++) z2[j] = 0;
    for (let a = 0; a < H; a++) {
      const xa = x2[a]!;
      const row = w2 + a * f;
      for (let j = 0; j < f; j++) z2[j] += xa * S[row + j]!;
    }
    for (let j = 0; j < f; j++) z2[j] += S[b2 + j]!;
    lnFusedL2Grad(g2, 0, z2, 0, f, v, vo, k, ko, lnW, lo, lnB, lo, LN_EPS, this.xhat, this.gh);
    // Pass 3 over W2⁰: g1 = (g2 W2ᵀ) ⊙ gelu'(z1).
    for (let a = 0; a < H; a++) {
      const row = w2 + a * f;
      let acc = 0;
      for (let j = 0; j < f; j++) acc += g2[j]! * S[row + j]!;
      g1[a] = acc * geluTanhGrad(z1[a]!);
    }
    // Pass 4 over G_W1: accumulate η kᵀ g1, then q·G_W1; first layer output.
    for (let a = 0; a < H; a++) { zg1[a] = 0; S[gb1 + a] = S[gb1 + a]! + eta * g1[a]!; }
    for (let i = 0; i < f; i++) {
      const eki = eta * k[ko + i]!;
      const qi = q[qo + i]!;
      const row = gw1 + i * H;
      for (let a = 0; a < H; a++) {
        const gw = S[row + a]! + eki * g1[a]!;
        S[row + a] = gw;
        zg1[a] += qi * gw;
      }
    }
    for (let a = 0; a < H; a++) xb2[a] = geluTanh(zq1[a]! - s * zg1[a]! + (S[b1 + a]! - s * S[gb1 + a]!));
    // Pass 5 over W2⁰ and G_W2: accumulate η x2ᵀ g2, then x̄2 W2 and x̄2 G_W2.
    for (let j = 0; j < f; j++) { zb2[j] = 0; zg2[j] = 0; S[gb2 + j] = S[gb2 + j]! + eta * g2[j]!; }
    for (let a = 0; a < H; a++) {
      const ex = eta * x2[a]!;
      const xb = xb2[a]!;
      const row = w2 + a * f;
      const grow = gw2 + a * f;
      for (let j = 0; j < f; j++) {
        const gw = S[grow + j]! + ex * g2[j]!;
        S[grow + j] = gw;
        zb2[j] += xb * S[row + j]!;
        zg2[j] += xb * gw;
      }
    }
    for (let j = 0; j < f; j++) out[oo + j] = zb2[j]! - s * zg2[j]! + (S[b2 + j]! - s * S[gb2 + j]!);
  }

  commit(S: Vec, base: number, s: number): void {
    const half = this.stateSize / 2;
    for (let i = 0; i < half; i++) {
      S[base + i] = S[base + i]! - s * S[base + half + i]!;
      S[base + half + i] = 0;
    }
  }
}
