// Small SIMD helpers shared by the kernels. Compiled twice (scripts/build_wasm.mjs): once for
// baseline SIMD and once with relaxed SIMD, where `madd` becomes a fused multiply-add when the
// engine has one. `ASC_FEATURE_RELAXED_SIMD` is a compile-time constant, so the unused branch
// disappears.

/** `a·b + c` lane-wise (fused or not, as the engine likes, in the relaxed build). */
@inline export function madd(a: v128, b: v128, c: v128): v128 {
  if (ASC_FEATURE_RELAXED_SIMD) return f32x4.relaxed_madd(a, b, c);
  return f32x4.add(f32x4.mul(a, b), c);
}

/** Store the first `n` (0..4) lanes of `v` at `p`. */
@inline export function storeLanes(p: usize, v: v128, n: i32): void {
  if (n >= 4) {
    v128.store(p, v);
    return;
  }
  if (n > 0) store<f32>(p, f32x4.extract_lane(v, 0));
  if (n > 1) store<f32>(p, f32x4.extract_lane(v, 1), 4);
  if (n > 2) store<f32>(p, f32x4.extract_lane(v, 2), 8);
}

/** Store `n` (0..16) floats of four vectors at `p`. */
@inline export function store16(p: usize, a0: v128, a1: v128, a2: v128, a3: v128, n: i32): void {
  if (n >= 16) {
    v128.store(p, a0);
    v128.store(p, a1, 16);
    v128.store(p, a2, 32);
    v128.store(p, a3, 48);
    return;
  }
  storeLanes(p, a0, n);
  storeLanes(p + 16, a1, n - 4);
  storeLanes(p + 32, a2, n - 8);
  storeLanes(p + 48, a3, n - 12);
}

/** Store `n` (0..8) floats of two vectors at `p`. */
@inline export function store8(p: usize, a0: v128, a1: v128, n: i32): void {
  storeLanes(p, a0, n);
  storeLanes(p + 16, a1, n - 4);
}
