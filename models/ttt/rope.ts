import type { Vec } from './numeric.js';
import { cosf32, sinf32, SLEEF_SMALL_RANGE } from './torch_trig32.js';

/**
 * Rotary position embedding with float32 tables, as both official codes build them (inverse
 * frequencies, angles, cos and sin all computed in float32, then widened), so the float64 path
 * sees the same tables as an official float64 run.
 */
const f32 = Math.fround;

/** `1 / base^(2i/dim)` in float32, i = 0 … dim/2 − 1. */
export function inverseFrequencies(dim: number, base: number): Float64Array {
  const half = dim >> 1;
  const inv = new Float64Array(half);
  for (let i = 0; i < half; i++) inv[i] = f32(1 / f32(Math.pow(base, f32(f32(2 * i) / dim))));
  return inv;
}

/**
 * cos/sin of `position · inv[i]`: the angle rounded to float32, then PyTorch's float32 cos/sin
 * (torch_trig32.ts). PyTorch evaluates the table 8 values at a time and SLEEF picks its reduction
 * per 8-lane vector, so lanes share the fallback decision of their vector (exact when the half
 * dim is a multiple of 8, which every usual head size is).
 */
export function ropeAngles(position: number, inv: Float64Array, cos: Vec, sin: Vec): void {
  const p = f32(position);
  const half = inv.length;
  for (let v = 0; v < half; v += 8) {
    const end = Math.min(half, v + 8);
    let large = false;
    for (let i = v; i < end; i++) if (!(Math.abs(f32(p * inv[i]!)) < SLEEF_SMALL_RANGE)) large = true;
    for (let i = v; i < end; i++) {
      const a = f32(p * inv[i]!);
      cos[i] = large ? f32(Math.cos(a)) : cosf32(a);
      sin[i] = large ? f32(Math.sin(a)) : sinf32(a);
    }
  }
}

/**
 * Interleaved (GPT-J) rotation of one head in place: pairs (x[2i], x[2i+1]) rotated by angle i.
 * This is what ttt.py's permute_qk → rotate_half → undo_permute_qk amounts to.
 */
export function rotateInterleaved(x: Vec, xo: number, half: number, cos: Vec, co: number, sin: Vec, so: number): void {
  for (let i = 0; i < half; i++) {
    const a = x[xo + 2 * i]!;
    const b = x[xo + 2 * i + 1]!;
    const c = cos[co + i]!;
    const s = sin[so + i]!;
    x[xo + 2 * i] = a * c + -b * s;
    x[xo + 2 * i + 1] = b * c + a * s;
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
