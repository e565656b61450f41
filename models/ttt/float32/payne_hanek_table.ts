import { f32, float32Bits, float32FromBits } from './float32_arith.js';

/**
 * The 1/(2π) table SLEEF's float32 Payne–Hanek reduction (`rempif`) multiplies by, rebuilt from π
 * instead of copied. For a float32 x with unbiased exponent e ≥ 25, the bits of 1/(2π) worth 2^−(e−23)
 * or more only contribute whole turns to x/(2π) (x is a multiple of 2^(e−23)), so row e keeps just
 * the lower bits, r_e = (1/(2π)) mod 2^−(e−23). Rows for e > 90 are stored × 2^64 (the reduction
 * scales such x by 2^−64 first so products stay in range). Each row is r_e split into four float32
 * pieces: the first three are rounded (to double, then float32) and have their two lowest significand
 * bits cleared so that x · piece is exact in a float32 product plus its FMA error term; the fourth is
 * the rounded remainder. Row e lives at index 4·(e − 25); smaller exponents use row 25.
 */
export const FIRST_EXPONENT = 25;
const LAST_EXPONENT = 127;
const FRACTION_BITS = 640n; // fixed-point precision of 1/(2π): far below anything a row needs
const GUARD_BITS = 32n;

/** atan(1/x) · 2^bits, by its Taylor series. */
function arctanInverse(x: bigint, bits: bigint): bigint {
  const one = 1n << bits;
  const x2 = x * x;
  let power = one / x; // 1/x^(2k+1)
  let sum = power;
  for (let k = 1n; power !== 0n; k++) {
    power /= x2;
    const term = power / (2n * k + 1n);
    sum += k % 2n === 1n ? -term : term;
  }
  return sum;
}

/** ⌊2^FRACTION_BITS / (2π)⌋ via Machin's formula π = 16·atan(1/5) − 4·atan(1/239). */
function inverseTwoPi(): bigint {
  const bits = FRACTION_BITS + GUARD_BITS;
  const pi = 16n * arctanInverse(5n, bits) - 4n * arctanInverse(239n, bits);
  return (1n << (FRACTION_BITS + bits)) / (2n * pi);
}

/** The exact value of float32 `x` as an integer count of 2^−scale units (scale large enough). */
function float32ToFixed(x: number, scale: bigint): bigint {
  const bits = float32Bits(x);
  const biased = (bits >>> 23) & 0xff;
  const mantissa = BigInt((bits & 0x7fffff) | (biased === 0 ? 0 : 0x800000));
  const exponent = BigInt((biased === 0 ? 1 : biased) - 127 - 23);
  const v = mantissa << (scale + exponent);
  return bits < 0 ? -v : v;
}

/** Nearest double to v · 2^−scale, then nearest float32 (the generator's double rounding). */
function fixedToFloat32(v: bigint, scale: bigint): number {
  return f32(Number(v) * 2 ** -Number(scale));
}

let table: Float32Array | null = null;

/** The table, built on first use (about a millisecond). */
export function payneHanekTable(): Float32Array {
  if (table) return table;
  const invTwoPi = inverseTwoPi();
  const rows = LAST_EXPONENT - FIRST_EXPONENT + 1;
  const out = new Float32Array(rows * 4);
  for (let e = FIRST_EXPONENT; e <= LAST_EXPONENT; e++) {
    const dropped = BigInt(e - 23);
    let rest = invTwoPi % (1n << (FRACTION_BITS - dropped));
    const scale = e > 90 ? FRACTION_BITS - 64n : FRACTION_BITS;
    const row = (e - FIRST_EXPONENT) * 4;
    for (let k = 0; k < 4; k++) {
      let piece = fixedToFloat32(rest, scale);
      if (k < 3) piece = float32FromBits(float32Bits(piece) & ~3);
      out[row + k] = piece;
      rest -= float32ToFixed(piece, scale);
    }
  }
  table = out;
  return out;
}
