import type { Vec } from './numeric.js';

/**
 * Scalar and row functions shared by the TTT layers, written to mirror the PyTorch formulas
 * term by term (so the float64 path agrees with the official float64 runs to ~1e-15).
 * Row functions take (array, offset) pairs: no subarray views are made in the hot path.
 */

export function sigmoid(v: number): number {
  return v >= 0 ? 1 / (1 + Math.exp(-v)) : Math.exp(v) / (1 + Math.exp(v));
}

export function silu(v: number): number {
  return v * sigmoid(v);
}

/** torch.nn.functional.softplus (beta 1, threshold 20). */
export function softplus(v: number): number {
  return v > 20 ? v : Math.log1p(Math.exp(v));
}

/** inverse softplus, as LaCT's `inv_softplus` computes it for a Python float. */
export function invSoftplus(y: number): number {
  return y + Math.log(-Math.expm1(-y));
}

const GELU_BETA = Math.SQRT2 * (2 / Math.sqrt(Math.PI)) * 0.5; // √(2/π), full precision (F.gelu tanh)
const GELU_KAPPA = 0.044715;

/** F.gelu(x, approximate="tanh"). */
export function geluTanh(x: number): number {
  const inner = GELU_BETA * (x + GELU_KAPPA * x * x * x);
  return 0.5 * x * (1 + Math.tanh(inner));
}

/** ttt.py `gelu_bwd`: the derivative with the truncated constants the official code uses. */
export function geluTanhGrad(x: number): number {
  const t = Math.tanh(0.79788456 * x * (1 + 0.044715 * x * x));
  return 0.5 * x * ((1 - t * t) * (0.79788456 + 0.1070322243 * x * x)) + 0.5 * (1 + t);
}

/**
 * LayerNorm of `n` values: out = γ ⊙ (x − μ)/√(var + eps) + β (biased variance).
 * `out` may alias `x`.
 */
export function layerNorm(out: Vec, oo: number, x: Vec, xo: number, n: number, gamma: Vec, go: number, beta: Vec, bo: number, eps: number): void {
  let mu = 0;
  for (let i = 0; i < n; i++) mu += x[xo + i]!;
  mu /= n;
  let v = 0;
  for (let i = 0; i < n; i++) {
    const d = x[xo + i]! - mu;
    v += d * d;
  }
  const std = Math.sqrt(v / n + eps);
  for (let i = 0; i < n; i++) out[oo + i] = gamma[go + i]! * ((x[xo + i]! - mu) / std) + beta[bo + i]!;
}

/**
 * Gradient of ½‖LN(z) − target‖² with respect to z (ttt.py `ln_fused_l2_bwd`):
 *   x̂ = (z−μ)/σ, ĝ = (γx̂ + β − target) ⊙ γ,  ∂/∂z = (n·ĝ − Σĝ − x̂·Σ(ĝ⊙x̂)) / (n·σ).
 * `target` is given as v − k through two arrays (`tv` at `vo`, `tk` at `ko`). `xhat` and `gh` are
 * scratch of length n. Writes into `out` at `oo`.
 */
export function lnFusedL2Grad(
  out: Vec, oo: number, z: Vec, zo: number, n: number,
  tv: Vec, vo: number, tk: Vec, ko: number,
  gamma: Vec, go: number, beta: Vec, bo: number, eps: number, xhat: Vec, gh: Vec,
): void {
  let mu = 0;
  for (let i = 0; i < n; i++) mu += z[zo + i]!;
  mu /= n;
  let v = 0;
  for (let i = 0; i < n; i++) {
    const d = z[zo + i]! - mu;
    v += d * d;
  }
  const std = Math.sqrt(v / n + eps);
  let sumG = 0;
  let sumGX = 0;
  for (let i = 0; i < n; i++) {
    const xh = (z[zo + i]! - mu) / std;
    const g = gamma[go + i]!;
    const y = g * xh + beta[bo + i]!;
    const gi = (y - (tv[vo + i]! - tk[ko + i]!)) * g;
    xhat[i] = xh;
    gh[i] = gi;
    sumG += gi;
    sumGX += gi * xh;
  }
  for (let i = 0; i < n; i++) out[oo + i] = ((1.0 / n) * (n * gh[i]! - sumG - xhat[i]! * sumGX)) / std;
}

/** RMSNorm: out = x / √(mean(x²) + eps) ⊙ w  (`w` null: no affine). `out` may alias `x`. */
export function rmsNorm(out: Vec, oo: number, x: Vec, xo: number, n: number, w: Vec | null, wo: number, eps: number): void {
  let ss = 0;
  for (let i = 0; i < n; i++) ss += x[xo + i]! * x[xo + i]!;
  const r = 1 / Math.sqrt(ss / n + eps);
  for (let i = 0; i < n; i++) out[oo + i] = w ? x[xo + i]! * r * w[wo + i]! : x[xo + i]! * r;
}

/** x / (‖x‖₂ + eps), in place (LaCT's `l2_norm`). */
export function l2Normalize(x: Vec, xo: number, n: number, eps: number): void {
  let ss = 0;
  for (let i = 0; i < n; i++) ss += x[xo + i]! * x[xo + i]!;
  const d = Math.sqrt(ss) + eps;
  for (let i = 0; i < n; i++) x[xo + i] = x[xo + i]! / d;
}

/** True if any of `n` values from `xo` is NaN or ±Infinity. */
export function hasNonFinite(x: Vec, xo: number, n: number): boolean {
  for (let i = 0; i < n; i++) if (!Number.isFinite(x[xo + i]!)) return true;
  return false;
}
