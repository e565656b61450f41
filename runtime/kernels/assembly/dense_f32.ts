import { madd, store16 } from './simd';

// float32 dense layers, `out[r, :] = W·x[r, :] + b`, on weights packed in panels of 16 outputs:
//   w[(p·inDim + i)·16 + j] = W[16p + j, i]   (zero past outDim), bias padded to 16·panels.
// One panel row (16 floats, 64 bytes) is one cache line: the kernels multiply a column of 16
// weights by a broadcast input. Spike layers also keep the row (transposed) layout of the
// event-driven kernel below. Pointers need no alignment. Activations are row-major [rows, dim].

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
    // Panel-major: the panel stays in cache while every stream of the batch uses it. A stream's
    // sums run in the same order whatever its batch (the engine's contract), so register
    // blocking is only possible where the blocked kernel keeps the single-stream order.
    let r = 0;
    if (!ASC_FEATURE_RELAXED_SIMD) {
      // Baseline SIMD: one multiply-add chain per output, in input order, both alone and here
      // two streams at a time sharing every weight load.
      for (; r + 2 <= rows; r += 2) panel2x16(wp, bp, x + <usize>r * xRow, xRow, op + <usize>r * oRow, oRow, inDim, cols);
    }
    for (; r < rows; r++) panel1x16(wp, bp, x + <usize>r * xRow, op + <usize>r * oRow, inDim, cols);
  }
}

/**
 * One stream, one panel: the summation order of this tier (every float32 dense kernel of a tier
 * keeps it, so results are batch-invariant).
 *  - relaxed SIMD (fused multiply-add, 4-cycle latency here): two inputs are combined before they
 *    reach the accumulator, acc += w₁x₁ + w₀x₀, halving the dependency chain;
 *  - baseline SIMD: acc = acc + w·x input by input, which two streams can share (panel2x16).
 * Measured on the bench machine (GMAC/s, batch 1 / 64): relaxed tree 14.3 / 14.6, relaxed chain
 * 11.2 / 20.0; baseline tree 13.2 / 13.6, baseline chain 12.7 / 16.1.
 */
@inline function panel1x16(wp: usize, bp: usize, xp: usize, op: usize, inDim: i32, cols: i32): void {
  let a0 = f32x4.splat(0);
  let a1 = f32x4.splat(0);
  let a2 = f32x4.splat(0);
  let a3 = f32x4.splat(0);
  let i = 0;
  if (ASC_FEATURE_RELAXED_SIMD) {
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
  }
  for (; i < inDim; i++) {
    const x0 = v128.load32_splat(xp);
    a0 = madd(v128.load(wp), x0, a0);
    a1 = madd(v128.load(wp, 16), x0, a1);
    a2 = madd(v128.load(wp, 32), x0, a2);
    a3 = madd(v128.load(wp, 48), x0, a3);
    wp += PANEL_BYTES;
    xp += 4;
  }
  store16(op, f32x4.add(a0, v128.load(bp)), f32x4.add(a1, v128.load(bp, 16)), f32x4.add(a2, v128.load(bp, 32)), f32x4.add(a3, v128.load(bp, 48)), cols);
}

/** Two streams, one panel, baseline order (see panel1x16): 8 accumulators, each weight vector loaded once for both. */
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
    wp += PANEL_BYTES;
  }
  const c0 = v128.load(bp);
  const c1 = v128.load(bp, 16);
  const c2 = v128.load(bp, 32);
  const c3 = v128.load(bp, 48);
  store16(op, f32x4.add(a0, c0), f32x4.add(a1, c1), f32x4.add(a2, c2), f32x4.add(a3, c3), cols);
  store16(op + oRow, f32x4.add(b0, c0), f32x4.add(b1, c1), f32x4.add(b2, c2), f32x4.add(b3, c3), cols);
}

/**
 * Spike input (float32), per stream: event-driven when the stream has at most `maxActive` active
 * inputs, dense otherwise (a dense-heavy or non-binary row: `cnt` −1, see spike_scan). The choice
 * depends on the stream's own input only, so batching never changes a stream's outputs.
 *
 * Event-driven, on the row layout `wt[i·outPad + o] = W[o, i]` (outPad = outDim rounded up to 16,
 * bias padded alike): the contiguous weight rows of the active inputs are summed four at a time
 * into `acc` (scratch, outPad floats), which starts as the bias. Each active input costs one
 * sequential sweep over its row: at the natural spike rates (15–40 %) this beats the panel
 * layout, which reads one scattered line per panel and active input.
 */
export function dense_f32_spikes(w: usize, bias: usize, wt: usize, biasRows: usize, x: usize, idx: usize, cnt: usize, out: usize, rows: i32, inDim: i32, outDim: i32, acc: usize, maxActive: i32): void {
  const panels = (outDim + 15) >> 4;
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
        panel1x16(w + <usize>p * <usize>inDim * PANEL_BYTES, bias + (<usize>p << 6), xr, or + (<usize>p << 6), inDim, min(16, outDim - (p << 4)));
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
