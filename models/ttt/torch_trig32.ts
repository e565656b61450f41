/**
 * float32 sin/cos exactly as PyTorch computes them on x86-64 CPUs (AVX2 build): the SLEEF
 * `Sleef_sinf8_u10` / `Sleef_cosf8_u10` kernels, whose results are not always the correctly
 * rounded value (1 ulp off for ~5 % of RoPE angles). Both official codes build their RoPE tables
 * with these in float32, so the float64 reference path needs them bit for bit to agree with an
 * official float64 run to 1e-15 rather than 1e-8.
 *
 * This emulates SLEEF's algorithm for |x| < 125 (Cody–Waite reduction in double-float arithmetic
 * with fused multiply-adds); every operation is rounded to float32 exactly as the vector unit does.
 * SLEEF switches a whole 8-lane vector to Payne–Hanek reduction when any lane is ≥ 125; for those
 * lanes this falls back to the correctly rounded value (≤ 1 ulp from SLEEF's).
 */
const f = Math.fround;
const INT = new Int32Array(1);
const FLT = new Float32Array(INT.buffer);

/** The float32 neighbour of float32 `x` in the direction of `toward`. */
function nextFloat32(x: number, toward: number): number {
  if (x === toward) return x;
  if (x === 0) return toward > 0 ? 1.401298464324817e-45 : -1.401298464324817e-45;
  FLT[0] = x;
  INT[0] += (toward > x) === (x > 0) ? 1 : -1;
  return FLT[0]!;
}

/** Fused multiply-add rounded once to float32 (a·b is exact in a double; the sum is fixed up with TwoSum). */
export function fma32(a: number, b: number, c: number): number {
  const p = a * b;
  const s = p + c;
  const bp = s - c;
  const err = (p - bp) + (c - (s - bp));
  const r = f(s);
  if (err === 0 || r === s) return r;
  // s is the double nearest the exact sum; only an exact float32 midpoint needs the error's sign.
  const other = nextFloat32(r, s);
  if (Math.abs(s - r) !== Math.abs(other - s)) return r;
  const up = err > 0;
  return up === (other > r) ? other : r;
}

const add = (a: number, b: number): number => f(a + b);
const sub = (a: number, b: number): number => f(a - b);
const mul = (a: number, b: number): number => f(a * b);

function rint(x: number): number {
  const r = Math.round(x);
  return r - x === 0.5 && r % 2 !== 0 ? r - 1 : r;
}

type DF = [number, number];

function dfadd2_ff(x: number, y: number): DF {
  const s = add(x, y);
  const v = sub(s, x);
  return [s, add(sub(x, sub(s, v)), sub(y, v))];
}
function dfadd2_df_f(x: DF, y: number): DF {
  const s = add(x[0], y);
  const v = sub(s, x[0]);
  const t = add(sub(x[0], sub(s, v)), sub(y, v));
  return [s, add(t, x[1])];
}
function dfadd_df_f(x: DF, y: number): DF {
  const s = add(x[0], y);
  return [s, add(add(sub(x[0], s), y), x[1])];
}
function dfadd_ff(x: number, y: number): DF {
  const s = add(x, y);
  return [s, add(sub(x, s), y)];
}
function dfadd_f_df(x: number, y: DF): DF {
  const s = add(x, y[0]);
  return [s, add(add(sub(x, s), y[0]), y[1])];
}
function dfsqu(x: DF): DF {
  const s = mul(x[0], x[0]);
  return [s, fma32(add(x[0], x[0]), x[1], fma32(x[0], x[0], -s))];
}
function dfmul(x: DF, y: DF): DF {
  const s = mul(x[0], y[0]);
  return [s, fma32(x[0], y[1], fma32(x[1], y[0], fma32(x[0], y[0], -s)))];
}
function dfmulToF(x: DF, y: DF): number {
  return fma32(x[0], y[0], fma32(x[1], y[0], mul(x[0], y[1])));
}

const PI_A2 = f(3.1414794921875);
const PI_B2 = f(0.00011315941810607910156);
const PI_C2 = f(1.9841872589410058936e-9);
const ONE_OVER_PI = f(1 / Math.PI);
const C1 = f(2.6083159809786593541503e-6);
const C2 = f(-0.0001981069071916863322258);
const C3 = f(0.00833307858556509017944336);
const C4 = f(-0.166666597127914428710938);
/** SLEEF's TRIGRANGEMAX2f: beyond it a vector uses Payne–Hanek reduction. */
export const SLEEF_SMALL_RANGE = 125;

function polynomial(s: DF, t: DF): number {
  const sq = dfsqu(s);
  let u = C1;
  u = fma32(u, sq[0], C2);
  u = fma32(u, sq[0], C3);
  const x = dfadd_f_df(1, dfmul(dfadd_ff(C4, mul(u, sq[0])), sq));
  return dfmulToF(t, x);
}

/** float32 sin of a float32 `d` as SLEEF u10 computes it (|d| < 125; else correctly rounded). */
export function sinf32(d: number): number {
  d = f(d);
  if (!(Math.abs(d) < SLEEF_SMALL_RANGE)) return f(Math.sin(d));
  const u = rint(mul(d, ONE_OVER_PI));
  const q = u;
  const v = fma32(u, -PI_A2, d);
  let s = dfadd2_ff(v, mul(u, -PI_B2));
  s = dfadd_df_f(s, mul(u, -PI_C2));
  let r = polynomial(s, s);
  if ((q & 1) === 1) r = -r;
  if (Object.is(d, -0)) return d;
  return r;
}

/** float32 cos of a float32 `d` as SLEEF u10 computes it (|d| < 125; else correctly rounded). */
export function cosf32(d: number): number {
  d = f(d);
  if (!(Math.abs(d) < SLEEF_SMALL_RANGE)) return f(Math.cos(d));
  const dq = fma32(rint(fma32(d, ONE_OVER_PI, -0.5)), 2, 1);
  const q = dq;
  let s = dfadd2_ff(d, mul(dq, f(-PI_A2 * 0.5)));
  s = dfadd2_df_f(s, mul(dq, f(-PI_B2 * 0.5)));
  s = dfadd2_df_f(s, mul(dq, f(-PI_C2 * 0.5)));
  let r = polynomial(s, s);
  if ((q & 2) === 0) r = -r;
  return r;
}
