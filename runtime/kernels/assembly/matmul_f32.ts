import { madd, store12, store16, store24, store8 } from './simd';

// float32 dense layers, `out[r, :] = W·x[r, :] + b`, on weights packed in panels of PANEL outputs:
//   w[(p·inDim + i)·PANEL + j] = W[PANEL·p + j, i]   (zero past outDim), bias padded to PANEL·panels.
// The kernels multiply a column of PANEL weights by a broadcast input. Spike layers keep only the
// row (transposed) layout of the event-driven kernel below. Pointers need no alignment.
// Activations are row-major [rows, dim].
//
// Summation order (every kernel of a tier): one multiply-add chain per output, input by input,
// acc = acc + w·x, then + bias. Every kernel keeps it, so a stream's sums are the same alone and
// in any batch (the engine's contract) while several streams share each weight load.
//
// The panel width and the register blocks are what V8 keeps in its 16 vector registers without
// spilling (it loads a loop body's weights before its arithmetic):
//  - baseline SIMD (mul + add; a chain step has add's 3-cycle latency): panels of 16, one stream
//    (4 chains) or two streams sharing each weight vector (8 chains);
//  - relaxed SIMD (fused multiply-add, 4-cycle latency: a stream needs 6 chains to keep both FMA
//    units busy): panels of 24, one stream (6 chains), or half panels of 12 for three streams (9).

/** Outputs per panel of this build (pack.ts packs with the same width: `panel_width()`). */
export const PANEL: i32 = ASC_FEATURE_RELAXED_SIMD ? 24 : 16;

export function panel_width(): i32 {
  return PANEL;
}

export function matmul_f32(w: usize, bias: usize, x: usize, out: usize, rows: i32, inDim: i32, outDim: i32): void {
  const panels = (outDim + PANEL - 1) / PANEL;
  const panelBytes = <usize>PANEL << 2;
  const xRow = <usize>inDim << 2;
  const oRow = <usize>outDim << 2;
  for (let p = 0; p < panels; p++) {
    // Panel-major: the panel stays in cache while every stream of the batch uses it.
    const wp = w + <usize>p * <usize>inDim * panelBytes;
    const bp = bias + <usize>p * panelBytes;
    const op = out + <usize>p * panelBytes;
    const cols = min(PANEL, outDim - p * PANEL);
    let r = 0;
    if (ASC_FEATURE_RELAXED_SIMD) {
      for (; r + 3 <= rows; r += 3) {
        const xr = x + <usize>r * xRow;
        const or = op + <usize>r * oRow;
        half3x12(wp, bp, xr, xRow, or, oRow, inDim, cols);
        if (cols > 12) half3x12(wp + 48, bp + 48, xr, xRow, or + 48, oRow, inDim, cols - 12);
      }
      for (; r < rows; r++) panel1x24(wp, bp, x + <usize>r * xRow, op + <usize>r * oRow, inDim, cols);
    } else {
      for (; r + 4 <= rows; r += 4) {
        panel4x8(wp, bp, x + <usize>r * xRow, xRow, op + <usize>r * oRow, oRow, inDim, cols);
        if (cols > 8) panel4x8(wp + 32, bp + 32, x + <usize>r * xRow, xRow, op + <usize>r * oRow + 32, oRow, inDim, cols - 8);
      }
      for (; r + 2 <= rows; r += 2) panel2x16(wp, bp, x + <usize>r * xRow, xRow, op + <usize>r * oRow, oRow, inDim, cols);
      for (; r < rows; r++) panel1x16(wp, 64, bp, x + <usize>r * xRow, op + <usize>r * oRow, inDim, cols);
    }
  }
}

/**
 * One stream, 16 outputs whose weights for input i are the 16 floats at `wp + i·stride` (a
 * baseline panel: stride 64; the row layout of spike layers: stride = its padded row).
 */
@inline function panel1x16(wp: usize, stride: usize, bp: usize, xp: usize, op: usize, inDim: i32, cols: i32): void {
  let a0 = f32x4.splat(0);
  let a1 = f32x4.splat(0);
  let a2 = f32x4.splat(0);
  let a3 = f32x4.splat(0);
  for (let i = 0; i < inDim; i++) {
    const x0 = v128.load32_splat(xp);
    a0 = madd(v128.load(wp), x0, a0);
    a1 = madd(v128.load(wp, 16), x0, a1);
    a2 = madd(v128.load(wp, 32), x0, a2);
    a3 = madd(v128.load(wp, 48), x0, a3);
    wp += stride;
    xp += 4;
  }
  store16(op, f32x4.add(a0, v128.load(bp)), f32x4.add(a1, v128.load(bp, 16)), f32x4.add(a2, v128.load(bp, 32)), f32x4.add(a3, v128.load(bp, 48)), cols);
}

/** Baseline: two streams, one panel of 16, each weight vector loaded once for both. */
@inline function panel2x16(wp: usize, bp: usize, xp: usize, xRow: usize, op: usize, oRow: usize, inDim: i32, cols: i32): void {
  let a0 = f32x4.splat(0);
  let a1 = f32x4.splat(0);
  let a2 = f32x4.splat(0);
  let a3 = f32x4.splat(0);
  let b0 = f32x4.splat(0);
  let b1 = f32x4.splat(0);
  let b2 = f32x4.splat(0);
  let b3 = f32x4.splat(0);
  const x1 = xp + xRow;
  for (let i: usize = 0, n = <usize>inDim << 2; i < n; i += 4) {
    const w0 = v128.load(wp);
    const w1 = v128.load(wp, 16);
    const w2 = v128.load(wp, 32);
    const w3 = v128.load(wp, 48);
    let s = v128.load32_splat(xp + i);
    a0 = madd(w0, s, a0);
    a1 = madd(w1, s, a1);
    a2 = madd(w2, s, a2);
    a3 = madd(w3, s, a3);
    s = v128.load32_splat(x1 + i);
    b0 = madd(w0, s, b0);
    b1 = madd(w1, s, b1);
    b2 = madd(w2, s, b2);
    b3 = madd(w3, s, b3);
    wp += 64;
  }
  const c0 = v128.load(bp);
  const c1 = v128.load(bp, 16);
  const c2 = v128.load(bp, 32);
  const c3 = v128.load(bp, 48);
  store16(op, f32x4.add(a0, c0), f32x4.add(a1, c1), f32x4.add(a2, c2), f32x4.add(a3, c3), cols);
  store16(op + oRow, f32x4.add(b0, c0), f32x4.add(b1, c1), f32x4.add(b2, c2), f32x4.add(b3, c3), cols);
}

/** Baseline: four streams, half a panel (8 outputs at `wp`, panel stride 64). */
@inline function panel4x8(wp: usize, bp: usize, xp: usize, xRow: usize, op: usize, oRow: usize, inDim: i32, cols: i32): void {
  let a0 = f32x4.splat(0);
  let a1 = f32x4.splat(0);
  let b0 = f32x4.splat(0);
  let b1 = f32x4.splat(0);
  let c0 = f32x4.splat(0);
  let c1 = f32x4.splat(0);
  let d0 = f32x4.splat(0);
  let d1 = f32x4.splat(0);
  const x1 = xp + xRow;
  const x2 = x1 + xRow;
  const x3 = x2 + xRow;
  for (let i: usize = 0, n = <usize>inDim << 2; i < n; i += 4) {
    const w0 = v128.load(wp);
    const w1 = v128.load(wp, 16);
    let s = v128.load32_splat(xp + i);
    a0 = madd(w0, s, a0);
    a1 = madd(w1, s, a1);
    s = v128.load32_splat(x1 + i);
    b0 = madd(w0, s, b0);
    b1 = madd(w1, s, b1);
    s = v128.load32_splat(x2 + i);
    c0 = madd(w0, s, c0);
    c1 = madd(w1, s, c1);
    s = v128.load32_splat(x3 + i);
    d0 = madd(w0, s, d0);
    d1 = madd(w1, s, d1);
    wp += 64;
  }
  const e0 = v128.load(bp);
  const e1 = v128.load(bp, 16);
  store8(op, f32x4.add(a0, e0), f32x4.add(a1, e1), cols);
  store8(op + oRow, f32x4.add(b0, e0), f32x4.add(b1, e1), cols);
  store8(op + 2 * oRow, f32x4.add(c0, e0), f32x4.add(c1, e1), cols);
  store8(op + 3 * oRow, f32x4.add(d0, e0), f32x4.add(d1, e1), cols);
}

/** Relaxed: one stream, one panel of 24 (six chains). */
@inline function panel1x24(wp: usize, bp: usize, xp: usize, op: usize, inDim: i32, cols: i32): void {
  let a0 = f32x4.splat(0);
  let a1 = f32x4.splat(0);
  let a2 = f32x4.splat(0);
  let a3 = f32x4.splat(0);
  let a4 = f32x4.splat(0);
  let a5 = f32x4.splat(0);
  for (let i: usize = 0, n = <usize>inDim << 2; i < n; i += 4) {
    const s = v128.load32_splat(xp + i);
    a0 = madd(v128.load(wp), s, a0);
    a1 = madd(v128.load(wp, 16), s, a1);
    a2 = madd(v128.load(wp, 32), s, a2);
    a3 = madd(v128.load(wp, 48), s, a3);
    a4 = madd(v128.load(wp, 64), s, a4);
    a5 = madd(v128.load(wp, 80), s, a5);
    wp += 96;
  }
  store24(op,
    f32x4.add(a0, v128.load(bp)), f32x4.add(a1, v128.load(bp, 16)), f32x4.add(a2, v128.load(bp, 32)),
    f32x4.add(a3, v128.load(bp, 48)), f32x4.add(a4, v128.load(bp, 64)), f32x4.add(a5, v128.load(bp, 80)), cols);
}

/** Relaxed: three streams, one half panel (12 outputs at `wp`, panel stride 96), each weight vector loaded once for all three. */
@inline function half3x12(wp: usize, bp: usize, xp: usize, xRow: usize, op: usize, oRow: usize, inDim: i32, cols: i32): void {
  let a0 = f32x4.splat(0);
  let a1 = f32x4.splat(0);
  let a2 = f32x4.splat(0);
  let b0 = f32x4.splat(0);
  let b1 = f32x4.splat(0);
  let b2 = f32x4.splat(0);
  let c0 = f32x4.splat(0);
  let c1 = f32x4.splat(0);
  let c2 = f32x4.splat(0);
  const x1 = xp + xRow;
  const x2 = x1 + xRow;
  for (let i: usize = 0, n = <usize>inDim << 2; i < n; i += 4) {
    const w0 = v128.load(wp);
    const w1 = v128.load(wp, 16);
    const w2 = v128.load(wp, 32);
    let s = v128.load32_splat(xp + i);
    a0 = madd(w0, s, a0);
    a1 = madd(w1, s, a1);
    a2 = madd(w2, s, a2);
    s = v128.load32_splat(x1 + i);
    b0 = madd(w0, s, b0);
    b1 = madd(w1, s, b1);
    b2 = madd(w2, s, b2);
    s = v128.load32_splat(x2 + i);
    c0 = madd(w0, s, c0);
    c1 = madd(w1, s, c1);
    c2 = madd(w2, s, c2);
    wp += 96;
  }
  const d0 = v128.load(bp);
  const d1 = v128.load(bp, 16);
  const d2 = v128.load(bp, 32);
  store12(op, f32x4.add(a0, d0), f32x4.add(a1, d1), f32x4.add(a2, d2), cols);
  store12(op + oRow, f32x4.add(b0, d0), f32x4.add(b1, d1), f32x4.add(b2, d2), cols);
  store12(op + 2 * oRow, f32x4.add(c0, d0), f32x4.add(c1, d1), f32x4.add(c2, d2), cols);
}

/**
 * Spike input (float32), per stream: event-driven when the stream has at most `maxActive` active
 * inputs, dense otherwise (a dense-heavy or non-binary row: `cnt` −1, see spike_scan). The choice
 * depends on the stream's own input only, so batching never changes a stream's outputs.
 *
 * Both read the row layout `wt[i·outPad + o] = W[o, i]` (outPad = outDim rounded up to 16, bias
 * padded alike), the only copy of a spike layer's weights. Event-driven: the contiguous weight
 * rows of the active inputs are summed four at a time into `acc` (scratch, outPad floats), which
 * starts as the bias; each active input costs one sequential sweep over its row. Dense: the
 * panel kernel over the same rows, 16 outputs at a time with the row length as its stride.
 */
export function matmul_f32_spikes(wt: usize, biasRows: usize, x: usize, idx: usize, cnt: usize, out: usize, rows: i32, inDim: i32, outDim: i32, acc: usize, maxActive: i32): void {
  const panels = (outDim + 15) >> 4;
  const stride = <usize>panels << 6;
  const xRow = <usize>inDim << 2;
  const oRow = <usize>outDim << 2;
  for (let r = 0; r < rows; r++) {
    const n = load<i32>(cnt + (<usize>r << 2));
    const or = out + <usize>r * oRow;
    if (n >= 0 && n <= maxActive) {
      rowsSparse(wt, biasRows, idx + <usize>r * xRow, n, or, outDim, acc);
    } else {
      const xr = x + <usize>r * xRow;
      for (let p = 0; p < panels; p++) {
        panel1x16(wt + (<usize>p << 6), stride, biasRows + (<usize>p << 6), xr, or + (<usize>p << 6), inDim, min(16, outDim - (p << 4)));
      }
    }
  }
}

@inline function rowsSparse(wt: usize, bias: usize, ip: usize, n: i32, out: usize, outDim: i32, acc: usize): void {
  const rowBytes = <usize>((outDim + 15) & ~15) << 2;
  const accEnd = acc + rowBytes;
  memory.copy(acc, bias, rowBytes);
  let k = 0;
  for (; k + 4 <= n; k += 4) {
    let pa = wt + <usize>load<i32>(ip) * rowBytes;
    let pb = wt + <usize>load<i32>(ip, 4) * rowBytes;
    let pc = wt + <usize>load<i32>(ip, 8) * rowBytes;
    let pd = wt + <usize>load<i32>(ip, 12) * rowBytes;
    for (let o = acc; o < accEnd; o += 64) {
      const s0 = f32x4.add(f32x4.add(v128.load(pa), v128.load(pb)), f32x4.add(v128.load(pc), v128.load(pd)));
      const s1 = f32x4.add(f32x4.add(v128.load(pa, 16), v128.load(pb, 16)), f32x4.add(v128.load(pc, 16), v128.load(pd, 16)));
      const s2 = f32x4.add(f32x4.add(v128.load(pa, 32), v128.load(pb, 32)), f32x4.add(v128.load(pc, 32), v128.load(pd, 32)));
      const s3 = f32x4.add(f32x4.add(v128.load(pa, 48), v128.load(pb, 48)), f32x4.add(v128.load(pc, 48), v128.load(pd, 48)));
      v128.store(o, f32x4.add(v128.load(o), s0));
      v128.store(o, f32x4.add(v128.load(o, 16), s1), 16);
      v128.store(o, f32x4.add(v128.load(o, 32), s2), 32);
      v128.store(o, f32x4.add(v128.load(o, 48), s3), 48);
      pa += 64;
      pb += 64;
      pc += 64;
      pd += 64;
    }
    ip += 16;
  }
  for (; k < n; k++) {
    let pa = wt + <usize>load<i32>(ip) * rowBytes;
    for (let o = acc; o < accEnd; o += 64) {
      v128.store(o, f32x4.add(v128.load(o), v128.load(pa)));
      v128.store(o, f32x4.add(v128.load(o, 16), v128.load(pa, 16)), 16);
      v128.store(o, f32x4.add(v128.load(o, 32), v128.load(pa, 32)), 32);
      v128.store(o, f32x4.add(v128.load(o, 48), v128.load(pa, 48)), 48);
      pa += 64;
    }
    ip += 4;
  }
  memory.copy(out, acc, <usize>outDim << 2);
}
