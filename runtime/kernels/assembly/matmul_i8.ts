import { madd, store16, store8 } from './simd';

// int8 dense layers, one float32 scale per output row (the JS tier's quantizeRows):
//  - real-valued inputs (dynamic quantisation): each input row is quantised to int16,
//      s_x = max|x| / 16383,  qx = round_half_even(x · (16383 / max|x|)),
//    and out[r, o] = Σ_i Q[o, i]·qx[i] · (scale[o]·s_x) + b[o], the sum exact in int32
//    (i32x4.dot_i16x8_s: eight multiply-adds per instruction, twice float32's rate here);
//  - spike inputs (0/1): out[r, o] = scale[o]·Σ_{active i} Q[o, i] + b[o], summed exactly in
//    integers over the active inputs only; a spike layer given non-binary input falls back to
//    the weight-only form scale[o]·Σ_i Q[o, i]·x[i] + b[o] for that row.
// The JS tier computes the same three formulas (runtime/kernels/js/index.ts).

// Spike layers: panels of 64 outputs, one byte each, so a panel row is one 64-byte cache line:
//   q[(p·inDim + i)·64 + j] = Q[64p + j, i]   (zero past outDim); scale and bias padded to 64·panels.
const PANEL_BYTES: usize = 64;

/** Weight-only form for one non-binary row of a spike layer: scale[o]·Σ_i Q[o, i]·x[i] + b[o]. */
function matmulI8Row(q: usize, scale: usize, bias: usize, xr: usize, or: usize, inDim: i32, outDim: i32): void {
  const panels = (outDim + 63) >> 6;
  for (let p = 0; p < panels; p++) {
    const qp = q + <usize>p * <usize>inDim * PANEL_BYTES;
    // Each panel is processed as four blocks of 16 outputs (a 16-byte slice of every panel row).
    for (let s = 0; s < 4; s++) {
      const c0 = (p << 6) + (s << 4);
      if (c0 >= outDim) break;
      block1x16(qp + (<usize>s << 4), scale + (<usize>c0 << 2), bias + (<usize>c0 << 2), xr, or + (<usize>c0 << 2), inDim, min(16, outDim - c0));
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

/**
 * Spike input (int8): event-driven for every binary row (`cnt` ≥ 0, see spike_scan) — per stream
 * and panel, the int8 columns of the active inputs are summed in int16 lanes (at most 256 columns
 * at a time, so |sum| ≤ 256·127 never overflows), widened into int32 totals in `acc` (scratch,
 * 256 bytes), then scaled: exact integer sums, faster than any dense int8 form at every density.
 * A non-binary row takes the weight-only dense form. Per-row choices: batch-invariant.
 */
export function matmul_i8_spikes(q: usize, scale: usize, bias: usize, x: usize, idx: usize, cnt: usize, out: usize, rows: i32, inDim: i32, outDim: i32, acc: usize): void {
  const panels = (outDim + 63) >> 6;
  const iRow = <usize>inDim << 2;
  const oRow = <usize>outDim << 2;
  for (let r = 0; r < rows; r++) {
    if (load<i32>(cnt + (<usize>r << 2)) < 0) matmulI8Row(q, scale, bias, x + <usize>r * iRow, out + <usize>r * oRow, inDim, outDim);
  }
  for (let p = 0; p < panels; p++) {
    const qp = q + <usize>p * <usize>inDim * PANEL_BYTES;
    for (let r = 0; r < rows; r++) {
      let ip = idx + <usize>r * iRow;
      const n = load<i32>(cnt + (<usize>r << 2));
      if (n < 0) continue;
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

/** Largest |qx|: 127·16383·1024 < 2^31, so 1024 inputs sum exactly in int32 lanes. */
const QX_MAX: f32 = 16383;
/** Input pairs per exact int32 block (1024 inputs). */
const BLOCK_PAIRS = 512;

/**
 * Quantise rows of x to int16 for matmul_i8: `qx` is [rows, pairs·2] (inDim rounded up to even,
 * the pad zero), `sx` [rows] the dequantisation factor max|x|/16383 (0 for an all-zero row).
 */
export function quantizeActivations_i16(x: usize, rows: i32, inDim: i32, qx: usize, sx: usize): void {
  const padded = (inDim + 1) & ~1;
  for (let r = 0; r < rows; r++) {
    const xr = x + <usize>r * (<usize>inDim << 2);
    const qr = qx + <usize>r * (<usize>padded << 1);
    let m = f32x4.splat(0);
    let i = 0;
    // max (not pmax): a NaN input makes the row NaN, as in the JS tier.
    for (; i + 4 <= inDim; i += 4) m = f32x4.max(m, f32x4.abs(v128.load(xr + (<usize>i << 2))));
    let maxabs = max(max(f32x4.extract_lane(m, 0), f32x4.extract_lane(m, 1)), max(f32x4.extract_lane(m, 2), f32x4.extract_lane(m, 3)));
    for (; i < inDim; i++) maxabs = max(maxabs, abs(load<f32>(xr + (<usize>i << 2))));
    const inv: f32 = maxabs > 0 ? QX_MAX / maxabs : 0;
    store<f32>(sx + (<usize>r << 2), maxabs / QX_MAX);
    const vinv = f32x4.splat(inv);
    i = 0;
    for (; i + 8 <= inDim; i += 8) {
      const a = i32x4.trunc_sat_f32x4_s(f32x4.nearest(f32x4.mul(v128.load(xr + (<usize>i << 2)), vinv)));
      const b = i32x4.trunc_sat_f32x4_s(f32x4.nearest(f32x4.mul(v128.load(xr + (<usize>i << 2), 16), vinv)));
      v128.store(qr + (<usize>i << 1), i16x8.narrow_i32x4_s(a, b));
    }
    for (; i < padded; i++) {
      const v: f32 = i < inDim ? nearest<f32>(load<f32>(xr + (<usize>i << 2)) * inv) : 0;
      store<i16>(qr + (<usize>i << 1), <i16><i32>v);
    }
  }
}

/**
 * Real-valued input on int8 weights packed for i32x4.dot_i16x8_s: panels of 16 outputs, inputs
 * in pairs, 32 bytes per (panel, pair):  q[((p·pairs + j)·16 + o)·2 + t] = Q[16p + o, 2j + t].
 * `qx`/`sx` from quantizeActivations_i16; scale and bias padded to 16·panels.
 */
export function matmul_i8(q: usize, scale: usize, bias: usize, qx: usize, sx: usize, out: usize, rows: i32, inDim: i32, outDim: i32): void {
  const panels = (outDim + 15) >> 4;
  const pairs = (inDim + 1) >> 1;
  const qRow = <usize>pairs << 2;
  const oRow = <usize>outDim << 2;
  for (let p = 0; p < panels; p++) {
    const qp = q + <usize>p * <usize>pairs * 32;
    const c0 = p << 4;
    const sc = scale + (<usize>c0 << 2);
    const bp = bias + (<usize>c0 << 2);
    const op = out + (<usize>c0 << 2);
    const cols = min(16, outDim - c0);
    let r = 0;
    for (; r + 4 <= rows; r += 4) {
      q4x8(qp, sc, bp, qx + <usize>r * qRow, qRow, sx + (<usize>r << 2), op + <usize>r * oRow, oRow, pairs, min(cols, 8));
      if (cols > 8) q4x8(qp + 16, sc + 32, bp + 32, qx + <usize>r * qRow, qRow, sx + (<usize>r << 2), op + <usize>r * oRow + 32, oRow, pairs, cols - 8);
    }
    for (; r < rows; r++) q1x16(qp, sc, bp, qx + <usize>r * qRow, load<f32>(sx + (<usize>r << 2)), op + <usize>r * oRow, pairs, cols);
  }
}

@inline function dot(w: v128, x: v128): v128 {
  return i32x4.dot_i16x8_s(w, x);
}

/** One stream, 16 outputs: four int32 accumulators, exact within each block of 1024 inputs. */
@inline function q1x16(qp: usize, sc: usize, bp: usize, xp: usize, s: f32, op: usize, pairs: i32, cols: i32): void {
  let f0 = f32x4.splat(0);
  let f1 = f32x4.splat(0);
  let f2 = f32x4.splat(0);
  let f3 = f32x4.splat(0);
  for (let j0 = 0; j0 < pairs; j0 += BLOCK_PAIRS) {
    const end = min(pairs, j0 + BLOCK_PAIRS);
    let a0 = i32x4.splat(0);
    let a1 = i32x4.splat(0);
    let a2 = i32x4.splat(0);
    let a3 = i32x4.splat(0);
    for (let j = j0; j < end; j++) {
      const x = v128.load32_splat(xp + (<usize>j << 2));
      a0 = i32x4.add(a0, dot(v128.load8x8_s(qp), x));
      a1 = i32x4.add(a1, dot(v128.load8x8_s(qp, 8), x));
      a2 = i32x4.add(a2, dot(v128.load8x8_s(qp, 16), x));
      a3 = i32x4.add(a3, dot(v128.load8x8_s(qp, 24), x));
      qp += 32;
    }
    f0 = f32x4.add(f0, f32x4.convert_i32x4_s(a0));
    f1 = f32x4.add(f1, f32x4.convert_i32x4_s(a1));
    f2 = f32x4.add(f2, f32x4.convert_i32x4_s(a2));
    f3 = f32x4.add(f3, f32x4.convert_i32x4_s(a3));
  }
  const vs = f32x4.splat(s);
  store16(op,
    f32x4.add(f32x4.mul(f0, f32x4.mul(v128.load(sc), vs)), v128.load(bp)),
    f32x4.add(f32x4.mul(f1, f32x4.mul(v128.load(sc, 16), vs)), v128.load(bp, 16)),
    f32x4.add(f32x4.mul(f2, f32x4.mul(v128.load(sc, 32), vs)), v128.load(bp, 32)),
    f32x4.add(f32x4.mul(f3, f32x4.mul(v128.load(sc, 48), vs)), v128.load(bp, 48)), cols);
}

/** Four streams × 8 outputs: each widened weight vector serves four streams. */
@inline function q4x8(qp: usize, sc: usize, bp: usize, xp: usize, xRow: usize, sxp: usize, op: usize, oRow: usize, pairs: i32, cols: i32): void {
  let f00 = f32x4.splat(0);
  let f01 = f32x4.splat(0);
  let f10 = f32x4.splat(0);
  let f11 = f32x4.splat(0);
  let f20 = f32x4.splat(0);
  let f21 = f32x4.splat(0);
  let f30 = f32x4.splat(0);
  let f31 = f32x4.splat(0);
  const x1 = xp + xRow;
  const x2 = x1 + xRow;
  const x3 = x2 + xRow;
  for (let j0 = 0; j0 < pairs; j0 += BLOCK_PAIRS) {
    const end = min(pairs, j0 + BLOCK_PAIRS);
    let a00 = i32x4.splat(0);
    let a01 = i32x4.splat(0);
    let a10 = i32x4.splat(0);
    let a11 = i32x4.splat(0);
    let a20 = i32x4.splat(0);
    let a21 = i32x4.splat(0);
    let a30 = i32x4.splat(0);
    let a31 = i32x4.splat(0);
    let w = qp + <usize>j0 * 32;
    for (let j = j0; j < end; j++) {
      const w0 = v128.load8x8_s(w);
      const w1 = v128.load8x8_s(w, 8);
      const o = <usize>j << 2;
      let x = v128.load32_splat(xp + o);
      a00 = i32x4.add(a00, dot(w0, x));
      a01 = i32x4.add(a01, dot(w1, x));
      x = v128.load32_splat(x1 + o);
      a10 = i32x4.add(a10, dot(w0, x));
      a11 = i32x4.add(a11, dot(w1, x));
      x = v128.load32_splat(x2 + o);
      a20 = i32x4.add(a20, dot(w0, x));
      a21 = i32x4.add(a21, dot(w1, x));
      x = v128.load32_splat(x3 + o);
      a30 = i32x4.add(a30, dot(w0, x));
      a31 = i32x4.add(a31, dot(w1, x));
      w += 32;
    }
    f00 = f32x4.add(f00, f32x4.convert_i32x4_s(a00));
    f01 = f32x4.add(f01, f32x4.convert_i32x4_s(a01));
    f10 = f32x4.add(f10, f32x4.convert_i32x4_s(a10));
    f11 = f32x4.add(f11, f32x4.convert_i32x4_s(a11));
    f20 = f32x4.add(f20, f32x4.convert_i32x4_s(a20));
    f21 = f32x4.add(f21, f32x4.convert_i32x4_s(a21));
    f30 = f32x4.add(f30, f32x4.convert_i32x4_s(a30));
    f31 = f32x4.add(f31, f32x4.convert_i32x4_s(a31));
  }
  const s0 = v128.load(sc);
  const s1 = v128.load(sc, 16);
  const b0 = v128.load(bp);
  const b1 = v128.load(bp, 16);
  let v = f32x4.splat(load<f32>(sxp));
  store8(op, f32x4.add(f32x4.mul(f00, f32x4.mul(s0, v)), b0), f32x4.add(f32x4.mul(f01, f32x4.mul(s1, v)), b1), cols);
  v = f32x4.splat(load<f32>(sxp, 4));
  store8(op + oRow, f32x4.add(f32x4.mul(f10, f32x4.mul(s0, v)), b0), f32x4.add(f32x4.mul(f11, f32x4.mul(s1, v)), b1), cols);
  v = f32x4.splat(load<f32>(sxp, 8));
  store8(op + 2 * oRow, f32x4.add(f32x4.mul(f20, f32x4.mul(s0, v)), b0), f32x4.add(f32x4.mul(f21, f32x4.mul(s1, v)), b1), cols);
  v = f32x4.splat(load<f32>(sxp, 12));
  store8(op + 3 * oRow, f32x4.add(f32x4.mul(f30, f32x4.mul(s0, v)), b0), f32x4.add(f32x4.mul(f31, f32x4.mul(s1, v)), b1), cols);
}
