import { madd, store16, store8 } from './simd';

// int8 dense layers with one float32 scale per output row (the JS tier's quantizeRows):
//   out[r, o] = scale[o]·Σ_i q[o, i]·x[r, i] + b[o]
// Weights packed in panels of 64 outputs, one byte each, so a panel row is one 64-byte cache line:
//   q[(p·inDim + i)·64 + j] = Q[64p + j, i]   (zero past outDim); scale and bias padded to 64·panels.
// Real-valued inputs: the int8 weights are widened to float32 and multiplied exactly as the JS
// oracle does (only the summation order differs). Spike inputs: the active columns are summed in
// integers (exact), then scaled once.

const PANEL_BYTES: usize = 64;

export function dense_i8(q: usize, scale: usize, bias: usize, x: usize, out: usize, rows: i32, inDim: i32, outDim: i32): void {
  const panels = (outDim + 63) >> 6;
  const xRow = <usize>inDim << 2;
  const oRow = <usize>outDim << 2;
  for (let p = 0; p < panels; p++) {
    const qp = q + <usize>p * <usize>inDim * PANEL_BYTES;
    // Each panel is processed as four blocks of 16 outputs (a 16-byte slice of every panel row).
    for (let s = 0; s < 4; s++) {
      const c0 = (p << 6) + (s << 4);
      if (c0 >= outDim) break;
      const cols = min(16, outDim - c0);
      const sp = qp + (<usize>s << 4);
      const sc = scale + (<usize>c0 << 2);
      const bp = bias + (<usize>c0 << 2);
      const op = out + (<usize>c0 << 2);
      let r = 0;
      for (; r + 4 <= rows; r += 4) {
        const xr = x + <usize>r * xRow;
        const or = op + <usize>r * oRow;
        block4x8(sp, sc, bp, xr, xRow, or, oRow, inDim, min(cols, 8));
        if (cols > 8) block4x8(sp + 8, sc + 32, bp + 32, xr, xRow, or + 32, oRow, inDim, cols - 8);
      }
      for (; r < rows; r++) block1x16(sp, sc, bp, x + <usize>r * xRow, op + <usize>r * oRow, inDim, cols);
    }
  }
}

@inline function widen(v: v128, half: i32): v128 {
  return f32x4.convert_i32x4_s(half == 0 ? i32x4.extend_low_i16x8_s(v) : i32x4.extend_high_i16x8_s(v));
}

@inline function block1x16(qp: usize, sc: usize, bp: usize, xp: usize, op: usize, inDim: i32, cols: i32): void {
  let a0 = f32x4.splat(0);
  let a1 = f32x4.splat(0);
  let a2 = f32x4.splat(0);
  let a3 = f32x4.splat(0);
  for (let i: usize = 0, n = <usize>inDim << 2; i < n; i += 4) {
    const s = v128.load32_splat(xp + i);
    const lo = v128.load8x8_s(qp);
    const hi = v128.load8x8_s(qp, 8);
    a0 = madd(widen(lo, 0), s, a0);
    a1 = madd(widen(lo, 1), s, a1);
    a2 = madd(widen(hi, 0), s, a2);
    a3 = madd(widen(hi, 1), s, a3);
    qp += PANEL_BYTES;
  }
  store16(op,
    f32x4.add(f32x4.mul(a0, v128.load(sc)), v128.load(bp)),
    f32x4.add(f32x4.mul(a1, v128.load(sc, 16)), v128.load(bp, 16)),
    f32x4.add(f32x4.mul(a2, v128.load(sc, 32)), v128.load(bp, 32)),
    f32x4.add(f32x4.mul(a3, v128.load(sc, 48)), v128.load(bp, 48)), cols);
}

/** Four streams × 8 outputs: each widened weight vector serves four streams. */
@inline function block4x8(qp: usize, sc: usize, bp: usize, xp: usize, xRow: usize, op: usize, oRow: usize, inDim: i32, cols: i32): void {
  let a00 = f32x4.splat(0);
  let a01 = f32x4.splat(0);
  let a10 = f32x4.splat(0);
  let a11 = f32x4.splat(0);
  let a20 = f32x4.splat(0);
  let a21 = f32x4.splat(0);
  let a30 = f32x4.splat(0);
  let a31 = f32x4.splat(0);
  const x1 = xp + xRow;
  const x2 = x1 + xRow;
  const x3 = x2 + xRow;
  for (let i: usize = 0, n = <usize>inDim << 2; i < n; i += 4) {
    const v = v128.load8x8_s(qp);
    const w0 = widen(v, 0);
    const w1 = widen(v, 1);
    let s = v128.load32_splat(xp + i);
    a00 = madd(w0, s, a00);
    a01 = madd(w1, s, a01);
    s = v128.load32_splat(x1 + i);
    a10 = madd(w0, s, a10);
    a11 = madd(w1, s, a11);
    s = v128.load32_splat(x2 + i);
    a20 = madd(w0, s, a20);
    a21 = madd(w1, s, a21);
    s = v128.load32_splat(x3 + i);
    a30 = madd(w0, s, a30);
    a31 = madd(w1, s, a31);
    qp += PANEL_BYTES;
  }
  const s0 = v128.load(sc);
  const s1 = v128.load(sc, 16);
  const b0 = v128.load(bp);
  const b1 = v128.load(bp, 16);
  store8(op, f32x4.add(f32x4.mul(a00, s0), b0), f32x4.add(f32x4.mul(a01, s1), b1), cols);
  store8(op + oRow, f32x4.add(f32x4.mul(a10, s0), b0), f32x4.add(f32x4.mul(a11, s1), b1), cols);
  store8(op + 2 * oRow, f32x4.add(f32x4.mul(a20, s0), b0), f32x4.add(f32x4.mul(a21, s1), b1), cols);
  store8(op + 3 * oRow, f32x4.add(f32x4.mul(a30, s0), b0), f32x4.add(f32x4.mul(a31, s1), b1), cols);
}

/**
 * Spike input, event-driven: per stream and panel, the int8 columns of the active inputs are
 * summed in int16 lanes (at most 256 columns at a time, so |sum| ≤ 256·127 never overflows),
 * widened into int32 totals in `acc` (scratch, 256 bytes), then scaled: exact integer sums.
 */
export function dense_i8_sparse(q: usize, scale: usize, bias: usize, idx: usize, cnt: usize, out: usize, rows: i32, inDim: i32, outDim: i32, acc: usize): void {
  const panels = (outDim + 63) >> 6;
  const iRow = <usize>inDim << 2;
  const oRow = <usize>outDim << 2;
  for (let p = 0; p < panels; p++) {
    const qp = q + <usize>p * <usize>inDim * PANEL_BYTES;
    for (let r = 0; r < rows; r++) {
      let ip = idx + <usize>r * iRow;
      const n = load<i32>(cnt + (<usize>r << 2));
      for (let j: usize = 0; j < 256; j += 16) v128.store(acc + j, i32x4.splat(0));
      let k = 0;
      while (k < n) {
        const end = min(n, k + 256);
        let h0 = i16x8.splat(0);
        let h1 = i16x8.splat(0);
        let h2 = i16x8.splat(0);
        let h3 = i16x8.splat(0);
        let h4 = i16x8.splat(0);
        let h5 = i16x8.splat(0);
        let h6 = i16x8.splat(0);
        let h7 = i16x8.splat(0);
        for (; k < end; k++) {
          const pa = qp + (<usize>load<i32>(ip) << 6);
          ip += 4;
          let v = v128.load(pa);
          h0 = i16x8.add(h0, i16x8.extend_low_i8x16_s(v));
          h1 = i16x8.add(h1, i16x8.extend_high_i8x16_s(v));
          v = v128.load(pa, 16);
          h2 = i16x8.add(h2, i16x8.extend_low_i8x16_s(v));
          h3 = i16x8.add(h3, i16x8.extend_high_i8x16_s(v));
          v = v128.load(pa, 32);
          h4 = i16x8.add(h4, i16x8.extend_low_i8x16_s(v));
          h5 = i16x8.add(h5, i16x8.extend_high_i8x16_s(v));
          v = v128.load(pa, 48);
          h6 = i16x8.add(h6, i16x8.extend_low_i8x16_s(v));
          h7 = i16x8.add(h7, i16x8.extend_high_i8x16_s(v));
        }
        widenInto(acc, h0);
        widenInto(acc + 32, h1);
        widenInto(acc + 64, h2);
        widenInto(acc + 96, h3);
        widenInto(acc + 128, h4);
        widenInto(acc + 160, h5);
        widenInto(acc + 192, h6);
        widenInto(acc + 224, h7);
      }
      const c0 = p << 6;
      const op = out + <usize>r * oRow + (<usize>c0 << 2);
      const sc = scale + (<usize>c0 << 2);
      const bp = bias + (<usize>c0 << 2);
      const cols = min(64, outDim - c0);
      for (let s = 0; s < 4 && (s << 4) < cols; s++) {
        const o = <usize>s << 6;
        store16(op + o,
          scaled(acc + o, sc + o, bp + o),
          scaled(acc + o + 16, sc + o + 16, bp + o + 16),
          scaled(acc + o + 32, sc + o + 32, bp + o + 32),
          scaled(acc + o + 48, sc + o + 48, bp + o + 48), cols - (s << 4));
      }
    }
  }
}

@inline function widenInto(p: usize, h: v128): void {
  v128.store(p, i32x4.add(v128.load(p), i32x4.extend_low_i16x8_s(h)));
  v128.store(p, i32x4.add(v128.load(p, 16), i32x4.extend_high_i16x8_s(h)), 16);
}

@inline function scaled(a: usize, s: usize, b: usize): v128 {
  return f32x4.add(f32x4.mul(f32x4.convert_i32x4_s(v128.load(a)), v128.load(s)), v128.load(b));
}
