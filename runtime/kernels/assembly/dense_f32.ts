import { madd, store16, store8 } from './simd';

// float32 dense layers, `out[r, :] = W·x[r, :] + b`, on weights packed in panels of 16 outputs:
//   w[(p·inDim + i)·16 + j] = W[16p + j, i]   (zero past outDim), bias padded to 16·panels.
// One panel row (16 floats, 64 bytes) is one cache line, so the same layout serves the dense
// kernels (a column of 16 weights times a broadcast input) and the spike kernels (a column of
// 16 weights per active input: the transposed layout of the event-driven formulation).
// Pointers need no alignment. Activations are row-major [rows, dim].

const PANEL_BYTES: usize = 64;

export function dense_f32(w: usize, bias: usize, x: usize, out: usize, rows: i32, inDim: i32, outDim: i32): void {
  const panels = (outDim + 15) >> 4;
  const xRow = <usize>inDim << 2;
  const oRow = <usize>outDim << 2;
  for (let p = 0; p < panels; p++) {
    const wp = w + <usize>p * <usize>inDim * PANEL_BYTES;
    const bp = bias + (<usize>p << 6);
    const op = out + (<usize>p << 6);
    const cols = min(16, outDim - (p << 4));
    let r = 0;
    // Four streams at a time share every weight load (register blocking over the batch).
    for (; r + 4 <= rows; r += 4) {
      const xr = x + <usize>r * xRow;
      const or = op + <usize>r * oRow;
      panel4x8(wp, bp, xr, xRow, or, oRow, inDim, min(cols, 8));
      if (cols > 8) panel4x8(wp + 32, bp + 32, xr, xRow, or + 32, oRow, inDim, cols - 8);
    }
    for (; r < rows; r++) panel1x16(wp, bp, x + <usize>r * xRow, op + <usize>r * oRow, inDim, cols);
  }
}

/**
 * One stream, one panel. Two inputs per iteration are summed before they reach the
 * accumulators, which halves the add-latency chain (the loop is compute-bound, not memory-bound:
 * this machine streams weights far faster than one core multiplies them).
 */
@inline function panel1x16(wp: usize, bp: usize, xp: usize, op: usize, inDim: i32, cols: i32): void {
  let a0 = f32x4.splat(0);
  let a1 = f32x4.splat(0);
  let a2 = f32x4.splat(0);
  let a3 = f32x4.splat(0);
  let i = 0;
  for (; i + 2 <= inDim; i += 2) {
    const x0 = v128.load32_splat(xp);
    const x1 = v128.load32_splat(xp, 4);
    a0 = f32x4.add(a0, madd(v128.load(wp, 64), x1, f32x4.mul(v128.load(wp), x0)));
    a1 = f32x4.add(a1, madd(v128.load(wp, 80), x1, f32x4.mul(v128.load(wp, 16), x0)));
    a2 = f32x4.add(a2, madd(v128.load(wp, 96), x1, f32x4.mul(v128.load(wp, 32), x0)));
    a3 = f32x4.add(a3, madd(v128.load(wp, 112), x1, f32x4.mul(v128.load(wp, 48), x0)));
    wp += 128;
    xp += 8;
  }
  if (i < inDim) {
    const x0 = v128.load32_splat(xp);
    a0 = madd(v128.load(wp), x0, a0);
    a1 = madd(v128.load(wp, 16), x0, a1);
    a2 = madd(v128.load(wp, 32), x0, a2);
    a3 = madd(v128.load(wp, 48), x0, a3);
  }
  store16(op, f32x4.add(a0, v128.load(bp)), f32x4.add(a1, v128.load(bp, 16)), f32x4.add(a2, v128.load(bp, 32)), f32x4.add(a3, v128.load(bp, 48)), cols);
}

/** Four streams, half a panel (8 outputs): 8 accumulators, each weight vector loaded once for 4 streams. */
@inline function panel4x8(wp: usize, bp: usize, xp: usize, xRow: usize, op: usize, oRow: usize, inDim: i32, cols: i32): void {
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
    const w0 = v128.load(wp);
    const w1 = v128.load(wp, 16);
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
    wp += PANEL_BYTES;
  }
  const b0 = v128.load(bp);
  const b1 = v128.load(bp, 16);
  store8(op, f32x4.add(a00, b0), f32x4.add(a01, b1), cols);
  store8(op + oRow, f32x4.add(a10, b0), f32x4.add(a11, b1), cols);
  store8(op + 2 * oRow, f32x4.add(a20, b0), f32x4.add(a21, b1), cols);
  store8(op + 3 * oRow, f32x4.add(a30, b0), f32x4.add(a31, b1), cols);
}

/**
 * Spike input, event-driven: for each stream only the panel rows (weight columns) of its active
 * inputs are read and added; `idx`/`cnt` come from `spike_scan`. Cost ∝ active inputs × outDim.
 */
export function dense_f32_sparse(w: usize, bias: usize, idx: usize, cnt: usize, out: usize, rows: i32, inDim: i32, outDim: i32): void {
  const panels = (outDim + 15) >> 4;
  const iRow = <usize>inDim << 2;
  const oRow = <usize>outDim << 2;
  // Panel-major: a panel (inDim·64 bytes) stays in cache while every stream of the batch uses it.
  for (let p = 0; p < panels; p++) {
    const wp = w + <usize>p * <usize>inDim * PANEL_BYTES;
    const bp = bias + (<usize>p << 6);
    const cols = min(16, outDim - (p << 4));
    for (let r = 0; r < rows; r++) {
      let ip = idx + <usize>r * iRow;
      const n = load<i32>(cnt + (<usize>r << 2));
      let a0 = f32x4.splat(0);
      let a1 = f32x4.splat(0);
      let a2 = f32x4.splat(0);
      let a3 = f32x4.splat(0);
      let k = 0;
      for (; k + 2 <= n; k += 2) {
        const pa = wp + (<usize>load<i32>(ip) << 6);
        const pb = wp + (<usize>load<i32>(ip, 4) << 6);
        a0 = f32x4.add(a0, f32x4.add(v128.load(pa), v128.load(pb)));
        a1 = f32x4.add(a1, f32x4.add(v128.load(pa, 16), v128.load(pb, 16)));
        a2 = f32x4.add(a2, f32x4.add(v128.load(pa, 32), v128.load(pb, 32)));
        a3 = f32x4.add(a3, f32x4.add(v128.load(pa, 48), v128.load(pb, 48)));
        ip += 8;
      }
      if (k < n) {
        const pa = wp + (<usize>load<i32>(ip) << 6);
        a0 = f32x4.add(a0, v128.load(pa));
        a1 = f32x4.add(a1, v128.load(pa, 16));
        a2 = f32x4.add(a2, v128.load(pa, 32));
        a3 = f32x4.add(a3, v128.load(pa, 48));
      }
      const op = out + <usize>r * oRow + (<usize>p << 6);
      store16(op, f32x4.add(a0, v128.load(bp)), f32x4.add(a1, v128.load(bp, 16)), f32x4.add(a2, v128.load(bp, 32)), f32x4.add(a3, v128.load(bp, 48)), cols);
    }
  }
}
