import {
  dfAdd2DF, dfAdd2DF_F, dfAdd2FF, dfAddDF_F, dfAddF_DF, dfAddFF, dfMulDF, dfMulDF_F, dfMulDFToF, dfMulFF,
  dfNormalize, dfSquare, exponentField, f32, fma32, mul, rint, scale2, signBit, type DF,
} from './float32_arith.js';
import { FIRST_EXPONENT, payneHanekTable } from './payne_hanek_table.js';

/**
 * float32 sin/cos bit for bit as PyTorch computes them on x86-64 CPUs. `torch.sin`/`torch.cos` on a
 * contiguous float32 tensor run SLEEF's `Sleef_sinf8_u10` / `Sleef_cosf8_u10` (AVX2, 1-ulp kernels) over
 * consecutive 8-lane vectors starting at element 0; a last partial vector is padded with zeros. Both
 * official codes build their RoPE tables that way in float32, even in float64 runs, and SLEEF's results
 * are not the correctly rounded ones (1 ulp off for a few % of angles), so the float64 reference path
 * needs them exactly to match an official float64 run to 1e-15 rather than 1e-8.
 *
 * SLEEF picks the argument reduction per vector, not per lane: if every lane has |x| < 125 it uses a
 * 3-part Cody–Waite reduction by π in double-float arithmetic, otherwise it reduces ALL eight lanes with
 * its Payne–Hanek routine (`rempif`, a 1/(2π) table). The two reductions round differently, so the
 * value for one angle can depend on the other seven angles of its vector. That is why the entry points
 * take a `wide` flag, and why `torchCosSinRange` takes the tensor's layout.
 * (The u10 kernels have no middle range; only SLEEF's u35 kernels add a 4-part Cody–Waite up to 39000.)
 *
 * Checked bit for bit against torch 1.13 (test/unit/torch_float32_rope.test.ts; models/ttt/tools/verify_torch_rope.ts
 * for millions of angles), and torch against libsleef 3.5.1 itself (models/ttt/tools/sleef_vs_torch.py).
 */

/** SLEEF's TRIGRANGEMAX2f: a vector with any lane not below it (or NaN) takes the Payne–Hanek path. */
export const SLEEF_SMALL_RANGE = 125;

/** Whether this lane forces its whole vector onto the Payne–Hanek path. */
export function needsWideReduction(x: number): boolean {
  return !(Math.abs(x) < SLEEF_SMALL_RANGE);
}

// π split for the Cody–Waite reduction (SLEEF's PI_A2f/PI_B2f/PI_C2f: A, B have trailing zero bits so
// that u·A and u·B are exact for the integers u that occur below 125).
const PI_A = f32(3.1414794921875);
const PI_B = f32(0.00011315941810607910156);
const PI_C = f32(1.9841872589410058936e-9);
const ONE_OVER_PI = f32(1 / Math.PI);
// π as float32 plus its float32 error: π = PI_HI + PI_LO to ~2^−50.
const PI_HI = f32(Math.PI);
const PI_LO = f32(Math.PI - PI_HI);
const TWO_PI: DF = [PI_HI * 2, PI_LO * 2];
// sin(x) ≈ x·(1 + s·(C4 + s·(C3 + s·(C2 + s·C1)))), s = x², minimax on [−π/2, π/2] (SLEEF's sinf_u1).
const C1 = f32(2.6083159809786593541503e-6);
const C2 = f32(-0.0001981069071916863322258);
const C3 = f32(0.00833307858556509017944336);
const C4 = f32(-0.166666597127914428710938);

/** sin(t) for a reduced argument t (|t| ≤ π/2), mostly in double-float. */
function sinKernel(t: DF): number {
  const s = dfSquare(t);
  let u = C1;
  u = fma32(u, s[0], C2);
  u = fma32(u, s[0], C3);
  const poly = dfAddF_DF(1, dfMulDF(dfAddFF(C4, mul(u, s[0])), s));
  return dfMulDFToF(t, poly);
}

// ---------------------------------------------------------------------------------------------
// Payne–Hanek reduction

/** Splits float32 v (a multiple of 1/4 turns plus a remainder) into v − k/4 and k, k = rint(4v) − 4·rint(v). */
function dropWholeTurns(v: number): [number, number] {
  const quarters = rint(mul(v, 4));
  const k = Math.trunc(quarters - rint(v) * 4);
  return [f32(v - quarters * 0.25), k];
}

/**
 * x − q·π/2 as a double-float and q (quarter turns; only q mod 4 matters), for any finite float32 x.
 * x/(2π) is accumulated from x times the four table pieces of x's exponent row, removing whole
 * turns as soon as they appear, then multiplied back by 2π.
 */
function reduceQuarterTurns(x: number): { r: DF; q: number } {
  const tab = payneHanekTable();
  let row = exponentField(x) - FIRST_EXPONENT;
  const a = row > 65 ? scale2(x, -64) : x; // the table rows beyond exponent 90 are stored × 2^64
  if (row < 0) row = 0;
  const i = row * 4;

  let v = dfMulFF(a, tab[i]!);
  let [hi, q] = dropWholeTurns(v[0]);
  v = dfNormalize([hi, v[1]]);
  v = dfAdd2DF(v, dfMulFF(a, tab[i + 1]!));
  let k: number;
  [hi, k] = dropWholeTurns(v[0]);
  q += k;
  v = dfNormalize([hi, v[1]]);
  v = dfAdd2DF(v, dfMulDF_F([tab[i + 2]!, tab[i + 3]!], a));
  v = dfNormalize(v);
  v = dfMulDF(v, TWO_PI);
  if (Math.abs(a) < 0.7) v = [a, 0]; // small lanes: the product chain would only lose accuracy
  return { r: v, q };
}

const HALF_PI_HI = PI_HI * 0.5;
const HALF_PI_LO = PI_LO * 0.5;

/** sin(d) from d's Payne–Hanek reduction (r, q). */
function sinWide(r: DF, q: number): number {
  // Fold odd quarter turns into r so that sin(d) = ±sin(r'), r' = r ∓ π/2 (toward zero).
  const halfTurns = ((q & 3) * 2 + (r[0] > 0 ? 2 : 1)) >> 2;
  if ((q & 1) === 1) {
    const toward = signBit(r[0]) ? 1 : -1;
    r = dfAdd2DF(r, [toward * HALF_PI_HI, toward * HALF_PI_LO]);
  }
  const u = sinKernel(dfNormalize(r));
  return (halfTurns & 1) === 1 ? -u : u;
}

/** cos(d) from d's Payne–Hanek reduction (r, q). */
function cosWide(r: DF, q: number): number {
  // cos(d) = ±sin(r ∓ π/2) for even q (the kernel only evaluates sin); odd q already is a sine.
  const n = ((q & 3) * 2 + (r[0] > 0 ? 8 : 7)) >> 1;
  if ((q & 1) === 0) {
    const toward = r[0] > 0 ? -1 : 1;
    r = dfAdd2DF(r, [toward * HALF_PI_HI, toward * HALF_PI_LO]);
  }
  const u = sinKernel(dfNormalize(r));
  return (n & 2) === 0 ? -u : u;
}

// ---------------------------------------------------------------------------------------------
// Cody–Waite reduction (every lane of the vector below 125)

function sinNarrow(d: number): number {
  const u = rint(mul(d, ONE_OVER_PI)); // half turns
  const v = fma32(u, -PI_A, d);
  let s = dfAdd2FF(v, mul(u, -PI_B));
  s = dfAddDF_F(s, mul(u, -PI_C));
  const r = sinKernel(s);
  return (u & 1) === 1 ? -r : r;
}

function cosNarrow(d: number): number {
  // Odd multiple of π/2 nearest d: cos(d) = ±sin(d − n·π/2).
  const n = fma32(rint(fma32(d, ONE_OVER_PI, -0.5)), 2, 1);
  let s = dfAdd2FF(d, mul(n, f32(-PI_A * 0.5)));
  s = dfAdd2DF_F(s, mul(n, f32(-PI_B * 0.5)));
  s = dfAdd2DF_F(s, mul(n, f32(-PI_C * 0.5)));
  const r = sinKernel(s);
  return (n & 2) === 0 ? -r : r;
}

// ---------------------------------------------------------------------------------------------
// Public entry points

/**
 * float32 sin of float32 `d` as one lane of `Sleef_sinf8_u10`; `wide` = the vector takes the
 * Payne–Hanek path (some lane needs it). A lane that itself needs it must pass `wide = true`.
 */
export function sleefSinf(d: number, wide: boolean): number {
  d = f32(d);
  if (Object.is(d, -0)) return -0;
  if (!wide) {
    if (needsWideReduction(d)) throw new RangeError(`sleefSinf: ${d} needs the wide reduction`);
    return sinNarrow(d);
  }
  if (!Number.isFinite(d)) return NaN;
  const { r, q } = reduceQuarterTurns(d);
  return sinWide(r, q);
}

/** float32 cos of float32 `d` as one lane of `Sleef_cosf8_u10` (see `sleefSinf`). */
export function sleefCosf(d: number, wide: boolean): number {
  d = f32(d);
  if (!wide) {
    if (needsWideReduction(d)) throw new RangeError(`sleefCosf: ${d} needs the wide reduction`);
    return cosNarrow(d);
  }
  if (!Number.isFinite(d)) return NaN;
  const { r, q } = reduceQuarterTurns(d);
  return cosWide(r, q);
}

/** torch.sin of a lone float32 (its vector's other lanes small, e.g. a one-element tensor). */
export function sinf32(d: number): number {
  return sleefSinf(d, needsWideReduction(f32(d)));
}

/** torch.cos of a lone float32 (see `sinf32`). */
export function cosf32(d: number): number {
  return sleefCosf(d, needsWideReduction(f32(d)));
}

const LANES = 8;

/**
 * torch.cos and torch.sin of the elements [start, end) of a contiguous float32 tensor whose element k
 * holds `angleAt(k)` (a float32), written to cos[offset + k − start] / sin[…]. Elements outside the
 * range are only read to decide their vector's reduction. The tensor is taken to extend past `end`
 * (pass `numel` when it does not: PyTorch pads its last vector with zeros, which never widen it).
 *
 * This assumes a single-threaded kernel (this machine's torch default) or thread chunks that start at
 * multiples of 8: with more threads PyTorch splits the element range evenly, and a chunk that starts
 * mid-vector regroups the lanes after it.
 */
export function torchCosSinRange(angleAt: (k: number) => number, start: number, end: number,
  cos: Float32Array | Float64Array, sin: Float32Array | Float64Array, offset: number, numel = Infinity): void {
  for (let v = start - (start % LANES); v < end; v += LANES) {
    const last = Math.min(v + LANES, numel);
    let wide = false;
    for (let k = v; k < last && !wide; k++) wide = needsWideReduction(angleAt(k));
    for (let k = Math.max(v, start); k < Math.min(last, end); k++) {
      const a = f32(angleAt(k));
      const o = offset + k - start;
      if (!wide) {
        cos[o] = cosNarrow(a);
        sin[o] = Object.is(a, -0) ? -0 : sinNarrow(a);
      } else if (!Number.isFinite(a)) {
        cos[o] = sin[o] = NaN;
      } else {
        const { r, q } = reduceQuarterTurns(a); // one reduction serves both
        cos[o] = cosWide(r, q);
        sin[o] = Object.is(a, -0) ? -0 : sinWide(r, q);
      }
    }
  }
}
