import { f32 } from '../float32/float32_arith.js';
import type { Vec } from '../numeric.js';
import { torchScalarPow32 } from '../float32/torch_pow32.js';
import { SLEEF_SMALL_RANGE, torchCosSinRange } from '../float32/torch_trig32.js';

/**
 * Rotary position embedding with the float32 tables both official codes build, bit for bit: inverse
 * frequencies, angles, cos and sin all computed by PyTorch in float32 (then widened), so the float64
 * path sees exactly the tables of an official float64 run. cos/sin come from torch_trig32.ts, which
 * needs the table's memory layout: SLEEF reduces 8 consecutive elements together.
 */

/** `1 / base ** (arange(0, dim, 2) / dim)` in float32 as PyTorch evaluates it (torch_pow32.ts). */
export function inverseFrequencies(dim: number, base: number): Float64Array {
  const half = dim >> 1;
  const exponents = Float32Array.from({ length: half }, (_, i) => f32(2 * i) / dim);
  const powers = torchScalarPow32(base, exponents);
  return Float64Array.from(powers, (p) => f32(1 / p));
}

/**
 * fla's RotaryEmbedding (LaCT): one float32 tensor `cos/sin(outer(arange(rows), inv_freq))` of shape
 * [rows, half], rows = max(sequence length, max_position_embeddings); token t reads row t. Element k of
 * the tensor is angle ⌊k/half⌋ · inv[k mod half], and the SLEEF vectors are elements 8j … 8j + 7, so
 * when half is not a multiple of 8 a row shares vectors with its neighbours. The table is taken to
 * extend past the current row (true while the stream is shorter than the official run's table).
 */
export class FlaRopeTable {
  readonly half: number;
  private readonly angleAt: (k: number) => number;
  private readonly numel: number;

  /** `tableRows`: the official table's row count when known (only its last vector depends on it). */
  constructor(inv: Float64Array, tableRows = Infinity) {
    const half = (this.half = inv.length);
    this.angleAt = (k) => f32(Math.floor(k / half) * inv[k % half]!);
    this.numel = tableRows * half;
  }

  /** cos/sin of row `position` into cos[offset …], sin[offset …] (half values each). */
  row(position: number, cos: Vec, sin: Vec, offset = 0): void {
    const h = this.half;
    torchCosSinRange(this.angleAt, position * h, (position + 1) * h, cos, sin, offset, this.numel);
  }
}

/**
 * ttt.py's RotaryEmbedding (TTT-Linear/MLP): `emb = cat(freqs, freqs)` of shape [L, f] (f = 2·half)
 * with freqs[t, i] = (t mod K) · inv[i], then emb.cos()/emb.sin(). Row t therefore holds every angle
 * twice, and the two copies can sit in differently reduced SLEEF vectors; `row` returns all f values.
 * Rows depend only on t mod K (and are precomputable) when f is a multiple of 8 or when no angle
 * reaches SLEEF's wide range (K − 1 < 125, inv[0] = 1); otherwise neighbouring rows matter.
 */
export class TttRopeTable {
  readonly width: number;
  readonly dependsOnTokenIndex: boolean;
  private readonly angleAt: (k: number) => number;

  private readonly numel: number;

  /** `tokens`: the official sequence length L when known (only the table's last vector depends on it). */
  constructor(inv: Float64Array, readonly miniBatch: number, tokens = Infinity) {
    const half = inv.length;
    const f = (this.width = 2 * half);
    this.angleAt = (k) => f32((Math.floor(k / f) % miniBatch) * inv[(k % f) % half]!);
    this.dependsOnTokenIndex = f % 8 !== 0 && miniBatch - 1 >= SLEEF_SMALL_RANGE;
    this.numel = tokens * f;
  }

  /** cos/sin of token t's row into cos[offset …], sin[offset …] (f values each). */
  row(t: number, cos: Vec, sin: Vec, offset = 0): void {
    const f = this.width;
    torchCosSinRange(this.angleAt, t * f, (t + 1) * f, cos, sin, offset, this.numel);
  }
}

/**
 * Interleaved (GPT-J) rotation of one head in place: pairs (x[2i], x[2i+1]) rotated by angle i. This is
 * what ttt.py's permute_qk → rotate_half → undo_permute_qk amounts to; element 2i reads the first copy
 * of the angle in the ttt.py row (cos[co + i]) and element 2i + 1 the second (cos[co + half + i]).
 */
export function rotateInterleaved(x: Vec, xo: number, half: number, cos: Vec, co: number, sin: Vec, so: number): void {
  for (let i = 0; i < half; i++) {
    const a = x[xo + 2 * i]!;
    const b = x[xo + 2 * i + 1]!;
    x[xo + 2 * i] = a * cos[co + i]! + -b * sin[so + i]!;
    x[xo + 2 * i + 1] = b * cos[co + half + i]! + a * sin[so + half + i]!;
  }
}

/** Rotate-half (GPT-NeoX / fla) rotation of one head in place: pairs (x[i], x[i + half]). */
export function rotateHalf(x: Vec, xo: number, half: number, cos: Vec, co: number, sin: Vec, so: number): void {
  for (let i = 0; i < half; i++) {
    const a = x[xo + i]!;
    const b = x[xo + i + half]!;
    const c = cos[co + i]!;
    const s = sin[so + i]!;
    x[xo + i] = a * c + -b * s;
    x[xo + i + half] = b * c + a * s;
  }
}
