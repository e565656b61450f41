import type { Vec } from '../numeric.js';

/**
 * Muon's orthogonalisation, `zeropower_via_newtonschulz5` (LaCT ttt_operation.py), split into
 * steps so that a boundary update can be spread over several tokens (update_plan.ts). Exact
 * arithmetic: the official code runs it in bfloat16, which is 1–2 % off this (specs/ttt.md §4.6).
 *
 *   X = G (transposed if rows > cols), X ← X / (‖X‖_F + 1e-7)
 *   5×: A = X Xᵀ ; B = b·A + c·A A ; X ← a·X + B X
 *   transpose back
 */
export const NS5_COEFFICIENTS: readonly (readonly [number, number, number])[] = [
  [4.0848, -6.8946, 2.927],
  [3.9505, -6.3029, 2.6377],
  [3.7418, -5.5913, 2.3037],
  [2.8769, -3.1427, 1.2046],
  [2.8366, -3.0525, 1.2012],
];

/** Load `rows × cols` G into X as `[m, n]` (m ≤ n) and normalise by its Frobenius norm. */
export function nsInit(G: Vec, go: number, rows: number, cols: number, X: Vec, xo: number): void {
  const t = rows > cols;
  let ss = 0;
  for (let i = 0; i < rows * cols; i++) ss += G[go + i]! * G[go + i]!;
  const d = Math.sqrt(ss) + 1e-7;
  if (!t) {
    for (let i = 0; i < rows * cols; i++) X[xo + i] = G[go + i]! / d;
  } else {
    for (let r = 0; r < rows; r++) for (let c = 0; c < cols; c++) X[xo + c * rows + r] = G[go + r * cols + c]! / d;
  }
}

/** A = X Xᵀ for X `[m, n]` (A symmetric `[m, m]`). */
export function nsGram(X: Vec, xo: number, m: number, n: number, A: Vec, ao: number): void {
  for (let i = 0; i < m; i++) {
    for (let j = i; j < m; j++) {
      let acc = 0;
      const ri = xo + i * n;
      const rj = xo + j * n;
      for (let p = 0; p < n; p++) acc += X[ri + p]! * X[rj + p]!;
      A[ao + i * m + j] = acc;
      A[ao + j * m + i] = acc;
    }
  }
}

/** B = b·A + c·(A A) for symmetric A `[m, m]`. */
export function nsPoly(A: Vec, ao: number, m: number, b: number, c: number, B: Vec, bo: number): void {
  for (let i = 0; i < m; i++) {
    for (let j = 0; j < m; j++) {
      let acc = 0;
      for (let p = 0; p < m; p++) acc += A[ao + i * m + p]! * A[ao + p * m + j]!;
      B[bo + i * m + j] = b * A[ao + i * m + j]! + c * acc;
    }
  }
}

/** Y = a·X + B X for X `[m, n]`, B `[m, m]` (sums in JS numbers, one rounding per element). */
export function nsApply(X: Vec, xo: number, B: Vec, bo: number, m: number, n: number, a: number, Y: Vec, yo: number): void {
  for (let i = 0; i < m; i++) {
    const br = bo + i * m;
    for (let p = 0; p < n; p++) {
      let acc = 0;
      for (let k = 0; k < m; k++) acc += B[br + k]! * X[xo + k * n + p]!;
      Y[yo + i * n + p] = a * X[xo + i * n + p]! + acc;
    }
  }
}

/** Write X `[m, n]` back into G `rows × cols` (undoing the transpose). */
export function nsStore(X: Vec, xo: number, rows: number, cols: number, G: Vec, go: number): void {
  if (rows <= cols) {
    for (let i = 0; i < rows * cols; i++) G[go + i] = X[xo + i]!;
  } else {
    for (let r = 0; r < rows; r++) for (let c = 0; c < cols; c++) G[go + r * cols + c] = X[xo + c * rows + r]!;
  }
}
