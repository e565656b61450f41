// Machine probes for scripts/roofline.mjs (AssemblyScript, compiled at run time, never shipped):
// how fast one core reads memory and multiplies-adds with 128-bit WebAssembly SIMD.

/** Read `bytes` (a multiple of 128) from `p`, `reps` times: loads only (or-reduced on the integer side). */
export function read(p: usize, bytes: usize, reps: i32): i32 {
  let a0 = i32x4.splat(0);
  let a1 = i32x4.splat(0);
  let a2 = i32x4.splat(0);
  let a3 = i32x4.splat(0);
  for (let r = 0; r < reps; r++) {
    for (let q = p, end = p + bytes; q < end; q += 128) {
      a0 = v128.or(a0, v128.or(v128.load(q), v128.load(q, 16)));
      a1 = v128.or(a1, v128.or(v128.load(q, 32), v128.load(q, 48)));
      a2 = v128.or(a2, v128.or(v128.load(q, 64), v128.load(q, 80)));
      a3 = v128.or(a3, v128.or(v128.load(q, 96), v128.load(q, 112)));
    }
  }
  return i32x4.extract_lane(v128.or(v128.or(a0, a1), v128.or(a2, a3)), 0);
}

/** `n` iterations of 10 independent chains acc = acc + x·y (4 lanes each): 40·n multiply-adds. */
export function muladd(n: i32): f32 {
  let a0 = f32x4.splat(0); let a1 = f32x4.splat(0); let a2 = f32x4.splat(0); let a3 = f32x4.splat(0); let a4 = f32x4.splat(0);
  let a5 = f32x4.splat(0); let a6 = f32x4.splat(0); let a7 = f32x4.splat(0); let a8 = f32x4.splat(0); let a9 = f32x4.splat(0);
  const x = f32x4.splat(1.0000001);
  const y = f32x4.splat(0.9999999);
  for (let i = 0; i < n; i++) {
    a0 = f32x4.add(a0, f32x4.mul(x, y)); a1 = f32x4.add(a1, f32x4.mul(x, x));
    a2 = f32x4.add(a2, f32x4.mul(y, x)); a3 = f32x4.add(a3, f32x4.mul(y, y));
    a4 = f32x4.add(a4, f32x4.mul(x, y)); a5 = f32x4.add(a5, f32x4.mul(x, x));
    a6 = f32x4.add(a6, f32x4.mul(y, x)); a7 = f32x4.add(a7, f32x4.mul(y, y));
    a8 = f32x4.add(a8, f32x4.mul(x, y)); a9 = f32x4.add(a9, f32x4.mul(x, x));
  }
  return f32x4.extract_lane(f32x4.add(f32x4.add(f32x4.add(f32x4.add(a0, a1), f32x4.add(a2, a3)), f32x4.add(f32x4.add(a4, a5), f32x4.add(a6, a7))), f32x4.add(a8, a9)), 0);
}

/** The same with fused multiply-add (relaxed SIMD builds only; 0 otherwise). */
export function fma(n: i32): f32 {
  if (!ASC_FEATURE_RELAXED_SIMD) return 0;
  let a0 = f32x4.splat(0); let a1 = f32x4.splat(0); let a2 = f32x4.splat(0); let a3 = f32x4.splat(0); let a4 = f32x4.splat(0);
  let a5 = f32x4.splat(0); let a6 = f32x4.splat(0); let a7 = f32x4.splat(0); let a8 = f32x4.splat(0); let a9 = f32x4.splat(0);
  const x = f32x4.splat(1.0000001);
  const y = f32x4.splat(0.9999999);
  for (let i = 0; i < n; i++) {
    a0 = f32x4.relaxed_madd(x, y, a0); a1 = f32x4.relaxed_madd(x, y, a1); a2 = f32x4.relaxed_madd(x, y, a2);
    a3 = f32x4.relaxed_madd(x, y, a3); a4 = f32x4.relaxed_madd(x, y, a4); a5 = f32x4.relaxed_madd(x, y, a5);
    a6 = f32x4.relaxed_madd(x, y, a6); a7 = f32x4.relaxed_madd(x, y, a7); a8 = f32x4.relaxed_madd(x, y, a8);
    a9 = f32x4.relaxed_madd(x, y, a9);
  }
  return f32x4.extract_lane(f32x4.add(f32x4.add(f32x4.add(f32x4.add(a0, a1), f32x4.add(a2, a3)), f32x4.add(f32x4.add(a4, a5), f32x4.add(a6, a7))), f32x4.add(a8, a9)), 0);
}
