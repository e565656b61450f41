/**
 * float32 arithmetic as a SIMD unit does it, in JS numbers: every result rounded once to float32.
 * +, −, ×, ÷ of two float32 values computed in float64 and then rounded are correctly rounded
 * (float64 has more than 2·24 + 2 bits), so `Math.fround` suffices for them; fused multiply-add
 * needs the extra care of `fma32`. Also the double-float ("DF", an unevaluated sum hi + lo of two
 * float32 values) operations SLEEF builds its accurate kernels from, as they are defined for FMA
 * targets such as AVX2. Used by torch_trig32.ts and torch_pow32.ts.
 */
export const f32 = Math.fround;

const INT = new Int32Array(1);
const FLT = new Float32Array(INT.buffer);

/** The raw IEEE-754 bits of float32 `x` as a signed 32-bit integer. */
export function float32Bits(x: number): number {
  FLT[0] = x;
  return INT[0]!;
}

/** The float32 whose raw bits are `bits`. */
export function float32FromBits(bits: number): number {
  INT[0] = bits;
  return FLT[0]!;
}

/** Negative sign bit (true for −0 too), as SIMD sign tests see it. */
export function signBit(x: number): boolean {
  return x < 0 || Object.is(x, -0);
}

/** The float32 neighbour of float32 `x` in the direction of `toward`. */
function nextFloat32(x: number, toward: number): number {
  if (x === toward) return x;
  if (x === 0) return toward > 0 ? 1.401298464324817e-45 : -1.401298464324817e-45;
  FLT[0] = x;
  INT[0] += (toward > x) === (x > 0) ? 1 : -1;
  return FLT[0]!;
}

/** Fused multiply-add a·b + c of float32 values, rounded once to float32. */
export function fma32(a: number, b: number, c: number): number {
  const p = a * b; // exact: two 24-bit significands fit in 53 bits
  const s = p + c;
  // TwoSum: err is exactly (p + c) − s.
  const bp = s - c;
  const err = (p - bp) + (c - (s - bp));
  const r = f32(s);
  if (err === 0 || r === s) return r;
  // s is the double nearest the exact sum; only an exact float32 midpoint needs the error's sign.
  const other = nextFloat32(r, s);
  if (Math.abs(s - r) !== Math.abs(other - s)) return r;
  return (err > 0) === (other > r) ? other : r;
}

export const add = (a: number, b: number): number => f32(a + b);
export const sub = (a: number, b: number): number => f32(a - b);
export const mul = (a: number, b: number): number => f32(a * b);

/** Round to the nearest integer, ties to even (the SIMD rounding mode). */
export function rint(x: number): number {
  const r = Math.round(x);
  return r - x === 0.5 && r % 2 !== 0 ? r - 1 : r;
}

/** x · 2^n for a float32 `x` whose result stays a normal float32 (exact). */
export function scale2(x: number, n: number): number {
  return x * 2 ** n;
}

/** The unbiased exponent field of float32 `x` (biased exponent − 127; −127 for zero and subnormals). */
export function exponentField(x: number): number {
  return ((float32Bits(x) >>> 23) & 0xff) - 127;
}

/** hi + lo, |lo| ≤ ½ ulp(hi) after normalisation. */
export type DF = readonly [hi: number, lo: number];

/** Renormalise so that hi holds the rounded sum. */
export function dfNormalize(x: DF): DF {
  const s = add(x[0], x[1]);
  return [s, add(sub(x[0], s), x[1])];
}

/** x + y exactly as a DF, assuming |x| ≥ |y| (Fast2Sum). */
export function dfAddFF(x: number, y: number): DF {
  const s = add(x, y);
  return [s, add(sub(x, s), y)];
}

/** x + y exactly as a DF, for any magnitudes (TwoSum). */
export function dfAdd2FF(x: number, y: number): DF {
  const s = add(x, y);
  const v = sub(s, x);
  return [s, add(sub(x, sub(s, v)), sub(y, v))];
}

/** DF + float, |x| ≥ |y|. */
export function dfAddDF_F(x: DF, y: number): DF {
  const s = add(x[0], y);
  return [s, add(add(sub(x[0], s), y), x[1])];
}

/** DF + float, any magnitudes. */
export function dfAdd2DF_F(x: DF, y: number): DF {
  const s = add(x[0], y);
  const v = sub(s, x[0]);
  return [s, add(add(sub(x[0], sub(s, v)), sub(y, v)), x[1])];
}

/** float + DF, |x| ≥ |y|. */
export function dfAddF_DF(x: number, y: DF): DF {
  const s = add(x, y[0]);
  return [s, add(add(sub(x, s), y[0]), y[1])];
}

/** DF + DF, |x| ≥ |y|. */
export function dfAddDF(x: DF, y: DF): DF {
  const s = add(x[0], y[0]);
  return [s, add(add(add(sub(x[0], s), y[0]), x[1]), y[1])];
}

/** DF + DF, any magnitudes. */
export function dfAdd2DF(x: DF, y: DF): DF {
  const s = add(x[0], y[0]);
  const v = sub(s, x[0]);
  const lo = add(sub(x[0], sub(s, v)), sub(y[0], v));
  return [s, add(lo, add(x[1], y[1]))];
}

/** float × float as a DF (the FMA gives the rounding error exactly). */
export function dfMulFF(x: number, y: number): DF {
  const s = mul(x, y);
  return [s, fma32(x, y, -s)];
}

/** DF × float. */
export function dfMulDF_F(x: DF, y: number): DF {
  const s = mul(x[0], y);
  return [s, fma32(x[1], y, fma32(x[0], y, -s))];
}

/** DF × DF. */
export function dfMulDF(x: DF, y: DF): DF {
  const s = mul(x[0], y[0]);
  return [s, fma32(x[0], y[1], fma32(x[1], y[0], fma32(x[0], y[0], -s)))];
}

/** DF × DF rounded to one float. */
export function dfMulDFToF(x: DF, y: DF): number {
  return fma32(x[0], y[0], fma32(x[1], y[0], mul(x[0], y[1])));
}

/** DF². */
export function dfSquare(x: DF): DF {
  const s = mul(x[0], x[0]);
  return [s, fma32(add(x[0], x[0]), x[1], fma32(x[0], x[0], -s))];
}

/** DF × a float power of two (exact). */
export function dfScale(x: DF, s: number): DF {
  return [mul(x[0], s), mul(x[1], s)];
}

/** DF ÷ DF (one reciprocal and an FMA correction). */
export function dfDiv(n: DF, d: DF): DF {
  const t = f32(1 / d[0]);
  const qhi = mul(n[0], t);
  const u = fma32(t, n[0], -qhi);
  let qlo = fma32(-d[1], t, fma32(-d[0], t, 1));
  qlo = fma32(qhi, qlo, fma32(n[1], t, u));
  return [qhi, qlo];
}
