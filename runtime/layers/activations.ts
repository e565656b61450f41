/** Stateless activations, in place over `[rows, n]` buffers (only the first `count` values). */

export function relu(x: Float32Array, count: number): void {
  for (let i = 0; i < count; i++) if (!(x[i]! > 0)) x[i] = 0;
}

export function gelu(x: Float32Array, count: number): void {
  for (let i = 0; i < count; i++) x[i] = geluExact(x[i]!);
}

/** GELU with the exact (erf) form PyTorch's nn.GELU() uses by default. */
export function geluExact(v: number): number {
  return 0.5 * v * (1 + erf(v * Math.SQRT1_2));
}

const TWO_OVER_SQRT_PI = 1.1283791670955126;

/**
 * erf to about 1e-15 (float64): the everywhere-positive series
 * erf(z) = 2/√π · e^(−z²) · Σ (2z²)^n z / (1·3·…·(2n+1)) for |z| < 3, and the continued fraction
 * for erfc beyond (it converges quickly there). float32 callers lose nothing.
 */
export function erf(z: number): number {
  if (Number.isNaN(z)) return z;
  const a = Math.abs(z);
  if (a < 3) {
    const z2 = a * a;
    let term = a;
    let sum = a;
    for (let n = 1; n < 200 && term > sum * 1e-17; n++) {
      term *= (2 * z2) / (2 * n + 1);
      sum += term;
    }
    const r = TWO_OVER_SQRT_PI * Math.exp(-z2) * sum;
    return z < 0 ? -r : r;
  }
  if (a > 6) return z < 0 ? -1 : 1;
  // erfc(a) = e^(−a²)/√π · 1/(a + 1/2/(a + 1/(a + 3/2/(a + 2/(a + …))))) evaluated bottom-up.
  let f = a;
  for (let k = 60; k >= 1; k--) f = a + (k / 2) / f;
  const erfc = Math.exp(-a * a) / (Math.sqrt(Math.PI) * f);
  return z < 0 ? erfc - 1 : 1 - erfc;
}

export function sigmoid(v: number): number {
  return v >= 0 ? 1 / (1 + Math.exp(-v)) : Math.exp(v) / (1 + Math.exp(v));
}
