import {
  add, dfAdd2DF_F, dfAdd2FF, dfAdd2DF, dfAddDF, dfAddF_DF, dfDiv, dfMulDF, dfMulDF_F, dfNormalize, dfScale,
  dfSquare, exponentField, f32, float32Bits, float32FromBits, fma32, mul, rint, scale2, type DF,
} from './float32_arith.js';

/**
 * `scalar ** tensor` on a float32 tensor as PyTorch 1.13 computes it on x86-64 (AVX2): the vectorised
 * loop takes 16 elements per step (two 8-lane `Sleef_powf8_u10` calls) and hands the last n mod 16
 * elements to the scalar `std::pow(float, float)`, which is glibc's `powf`. Both are 1-ulp functions
 * that round differently from each other and from the correctly rounded power, so RoPE's
 * `inv_freq = 1 / base ** (arange(0, dim, 2) / dim)` needs both to be exact in a float64 run.
 * Checked bit for bit against torch, libsleef 3.5.1 and glibc 2.36 (tools/gen_trig_fixture.py).
 *
 * Domain: finite base > 0 and finite exponents with a normal float32 result (what RoPE uses).
 */

// ---------------------------------------------------------------------------------------------
// SLEEF powf (u10): exp(y · log x) with log and exp in double-float

const LN2: DF = [f32(0.69314718246459960938), f32(-1.904654323148236017e-9)];
// log(m) = 2·atanh(x), x = (m − 1)/(m + 1): x·(2 + x²·(c + x²·P(x²))) with c in double-float.
const LOG_C: DF = [f32(0.66666662693023681640625), f32(3.69183861259614332084311e-9)];
const LOG_P = [0.240320354700088500976562, 0.285112679004669189453125, 0.400007992982864379882812].map(f32);
const R_LN2 = f32(1.442695040888963407359924681001892137426645954152985934135449406931);
const LN2_HI = f32(0.693145751953125); // trailing zeros: q · LN2_HI is exact
const LN2_LO = f32(1.428606765330187045e-6);
const EXP_P = [0.00136324646882712841033936, 0.00836596917361021041870117, 0.0416710823774337768554688,
  0.166665524244308471679688, 0.499999850988388061523438].map(f32);

/** log(d) as a double-float, d a positive normal float32. */
function logDF(d: number): DF {
  // d = m · 2^e with m in [0.75, 1.5).
  const e = exponentField(mul(d, f32(1 / 0.75)));
  const m = scale2(d, -e);
  const x = dfDiv(dfAdd2FF(-1, m), dfAdd2FF(1, m));
  const x2 = dfSquare(x);
  let t = LOG_P[0]!;
  t = fma32(t, x2[0], LOG_P[1]!);
  t = fma32(t, x2[0], LOG_P[2]!);
  let s = dfMulDF_F(LN2, e);
  s = dfAddDF(s, dfScale(x, 2));
  return dfAddDF(s, dfMulDF(dfMulDF(x2, x), dfAdd2DF(dfMulDF_F(x2, t), LOG_C)));
}

/** exp(d) rounded to float32, d a double-float. */
function expDF(d: DF): number {
  const q = rint(mul(add(d[0], d[1]), R_LN2));
  let s = dfAdd2DF_F(d, mul(q, -LN2_HI));
  s = dfAdd2DF_F(s, mul(q, -LN2_LO));
  s = dfNormalize(s);
  let u = EXP_P[0]!;
  for (let i = 1; i < EXP_P.length; i++) u = fma32(u, s[0], EXP_P[i]!);
  let t = dfAddDF(s, dfMulDF_F(dfSquare(s), u));
  t = dfAddF_DF(1, t);
  if (d[0] < -104) return 0;
  return f32(scale2(add(t[0], t[1]), q));
}

/** One lane of `Sleef_powf8_u10(x, y)` for x > 0 (float32 in, float32 out). */
export function sleefPowf(x: number, y: number): number {
  x = f32(x); y = f32(y);
  if (y === 0 || x === 1) return 1;
  return expDF(dfMulDF_F(logDF(x), y));
}

// ---------------------------------------------------------------------------------------------
// glibc powf (sysdeps/ieee754/flt-32/e_powf.c, from Arm's optimized-routines): log2 and exp2 in
// double precision with small tables; the x86-64 FMA build fuses every a·b + c.

const F64 = new Float64Array(1);
const U64 = new BigUint64Array(F64.buffer);

function doubleToBits(x: number): bigint { F64[0] = x; return U64[0]!; }
function bitsToDouble(b: bigint): number { U64[0] = BigInt.asUintN(64, b); return F64[0]!; }

/** Finite double as integer · 2^exponent. */
function exactParts(x: number): [bigint, number] {
  const bits = doubleToBits(x);
  const biased = Number((bits >> 52n) & 0x7ffn);
  let m = bits & 0xfffffffffffffn;
  if (biased !== 0) m |= 1n << 52n;
  const sign = bits >> 63n ? -1n : 1n;
  return [sign * m, (biased === 0 ? 1 : biased) - 1075];
}

/** Fused multiply-add of doubles, rounded once (exact BigInt arithmetic; normal results). */
export function fma64(a: number, b: number, c: number): number {
  const [ma, ea] = exactParts(a);
  const [mb, eb] = exactParts(b);
  const [mc, ec] = exactParts(c);
  const ep = ea + eb;
  const e = Math.min(ep, ec);
  const exact = ((ma * mb) << BigInt(ep - e)) + (mc << BigInt(ec - e));
  if (exact === 0n) return a * b + c; // sign of zero as the hardware gives it
  // Keep 64 significant bits plus a sticky bit so Number() rounds once, correctly.
  const neg = exact < 0n;
  let mag = neg ? -exact : exact;
  let shift = mag.toString(2).length - 64;
  if (shift > 0) {
    const sticky = (mag & ((1n << BigInt(shift)) - 1n)) !== 0n ? 1n : 0n;
    mag = ((mag >> BigInt(shift)) << 1n) | sticky;
    shift -= 1;
  } else shift = 0;
  const r = Number(mag) * 2 ** (e + shift);
  return neg ? -r : r;
}

/** A C99 hexadecimal float literal ("0x1.8p+52"), exactly (JS has no such literals). */
function hex(literal: string): number {
  const m = /^0x([0-9a-f]+)(?:\.([0-9a-f]*))?p([+-]?\d+)$/.exec(literal);
  if (!m) throw new Error(`bad hex float ${literal}`);
  const digits = m[1]! + (m[2] ?? '');
  return Number(BigInt(`0x${digits}`)) * 2 ** (Number(m[3]) - 4 * (m[2] ?? '').length);
}

// log2 table (invc ≈ 1/c, logc = log2(c) for the centre c of each of 16 subintervals) and
// polynomial: the published constants of glibc's e_powf_log2_data.c.
const LOG2_TABLE: readonly (readonly [number, number])[] = [
  [hex('0x1.661ec79f8f3bep+0'), -hex('0x1.efec65b963019p-2')], [hex('0x1.571ed4aaf883dp+0'), -hex('0x1.b0b6832d4fca4p-2')],
  [hex('0x1.49539f0f010bp+0'), -hex('0x1.7418b0a1fb77bp-2')], [hex('0x1.3c995b0b80385p+0'), -hex('0x1.39de91a6dcf7bp-2')],
  [hex('0x1.30d190c8864a5p+0'), -hex('0x1.01d9bf3f2b631p-2')], [hex('0x1.25e227b0b8eap+0'), -hex('0x1.97c1d1b3b7afp-3')],
  [hex('0x1.1bb4a4a1a343fp+0'), -hex('0x1.2f9e393af3c9fp-3')], [hex('0x1.12358f08ae5bap+0'), -hex('0x1.960cbbf788d5cp-4')],
  [hex('0x1.0953f419900a7p+0'), -hex('0x1.a6f9db6475fcep-5')], [hex('0x1p+0'), 0],
  [hex('0x1.e608cfd9a47acp-1'), hex('0x1.338ca9f24f53dp-4')], [hex('0x1.ca4b31f026aap-1'), hex('0x1.476a9543891bap-3')],
  [hex('0x1.b2036576afce6p-1'), hex('0x1.e840b4ac4e4d2p-3')], [hex('0x1.9c2d163a1aa2dp-1'), hex('0x1.40645f0c6651cp-2')],
  [hex('0x1.886e6037841edp-1'), hex('0x1.88e9c2c1b9ff8p-2')], [hex('0x1.767dcf5534862p-1'), hex('0x1.ce0a44eb17bccp-2')],
];
const LOG2_POLY = [hex('0x1.27616c9496e0bp-2'), -hex('0x1.71969a075c67ap-2'), hex('0x1.ec70a6ca7baddp-2'), -hex('0x1.7154748bef6c8p-1'),
  hex('0x1.71547652ab82bp0')];
const EXP2_POLY = [hex('0x1.c6af84b912394p-5'), hex('0x1.ebfce50fac4f3p-3'), hex('0x1.62e42ff0c52d6p-1')];
const EXP2_BITS = 5;
const EXP2_SHIFT = hex('0x1.8p+52') / (1 << EXP2_BITS);
/** ⌊n^(1/k)⌋ by Newton's method on integers. */
function integerRoot(n: bigint, k: bigint): bigint {
  let x = 1n << BigInt(Math.ceil(n.toString(2).length / Number(k)) + 1);
  for (;;) {
    const next = ((k - 1n) * x + n / x ** (k - 1n)) / k;
    if (next >= x) return x;
    x = next;
  }
}
/**
 * The bits of 2^(i/32) (correctly rounded double) for i = 0..31, minus i/32's share of the exponent
 * field, so that adding k << 47 yields 2^(k/32) for any integer k (glibc's __exp2f_data.tab).
 */
const EXP2_TABLE: readonly bigint[] = Array.from({ length: 1 << EXP2_BITS }, (_, i) => {
  const root = integerRoot(1n << BigInt(i + 128 * 32), 32n); // 2^(i/32) · 2^128
  return doubleToBits(Number(root) * 2 ** -128) - (BigInt(i) << BigInt(52 - EXP2_BITS));
});

/** log2 of a positive normal float32 (raw bits ix), in double. */
function log2Double(ix: number): number {
  const OFF = 0x3f330000;
  const tmp = (ix - OFF) | 0;
  const i = (tmp >>> (23 - 4)) % 16;
  const top = tmp & 0xff800000;
  const z = float32FromBits((ix - top) | 0); // x = 2^k · z, z in [OFF, 2·OFF)
  const k = top >> 23;
  const [invc, logc] = LOG2_TABLE[i]!;
  const r = fma64(z, invc, -1);
  const y0 = logc + k;
  const A = LOG2_POLY;
  const r2 = r * r;
  let y = fma64(A[0]!, r, A[1]!);
  const p = fma64(A[2]!, r, A[3]!);
  const r4 = r2 * r2;
  let q = fma64(A[4]!, r, y0);
  q = fma64(p, r2, q);
  y = fma64(y, r4, q);
  return y;
}

/** 2^xd rounded to float32 (xd well inside the float range). */
function exp2ToFloat32(xd: number): number {
  const kd0 = xd + EXP2_SHIFT;
  const ki = doubleToBits(kd0);
  const kd = kd0 - EXP2_SHIFT; // k/32
  const r = xd - kd;
  const t = EXP2_TABLE[Number(ki % 32n)]! + (ki << BigInt(52 - EXP2_BITS));
  const s = bitsToDouble(t);
  const z = fma64(EXP2_POLY[0]!, r, EXP2_POLY[1]!);
  const r2 = r * r;
  let y = fma64(EXP2_POLY[2]!, r, 1);
  y = fma64(z, r2, y);
  return f32(y * s);
}

/** glibc 2.36 `powf(x, y)` on x86-64 with FMA, for x > 0 normal and a normal result. */
export function glibcPowf(x: number, y: number): number {
  x = f32(x); y = f32(y);
  if (y === 0 || x === 1) return 1;
  const ylogx = y * log2Double(float32Bits(x));
  if (ylogx > hex('0x1.fffffffd1d571p+6')) return Infinity; // glibc's overflow / underflow bounds
  if (ylogx <= -150) return 0;
  return exp2ToFloat32(ylogx);
}

// ---------------------------------------------------------------------------------------------

/** PyTorch's `base ** exponents` (float32 tensor, contiguous): SLEEF for whole 16-blocks, glibc for the rest. */
export function torchScalarPow32(base: number, exponents: ArrayLike<number>): Float32Array {
  const n = exponents.length;
  const out = new Float32Array(n);
  const vectorised = n - (n % 16);
  const x = f32(base);
  if (!(x > 0) || !Number.isFinite(x)) throw new RangeError(`torchScalarPow32: base ${base} must be a finite positive float32`);
  for (let i = 0; i < n; i++) out[i] = i < vectorised ? sleefPowf(x, exponents[i]!) : glibcPowf(x, exponents[i]!);
  return out;
}
