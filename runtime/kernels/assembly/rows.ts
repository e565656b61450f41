// Row copies between batch buffers and the streams' own state, one call per layer and batch
// (the JS glue builds the tables: each stream's state address, and which source row feeds each
// destination row). Strides are in floats; a negative table entry is a row the glue copies itself.

/** dst row r (stride `dstStride`) ← `len` floats at `table[r]`. */
export function gatherState_f32(dst: usize, dstStride: i32, table: usize, len: i32, rows: i32): void {
  const bytes = <usize>len << 2;
  const step = <usize>dstStride << 2;
  for (let r = 0; r < rows; r++) {
    const p = load<i32>(table + (<usize>r << 2));
    if (p >= 0) copy(dst + <usize>r * step, <usize>p, bytes);
  }
}

/** `len` floats at `table[r]` ← src row s (stride `srcStride`), s = srcRows[r] (i32) or r when srcRows is 0. */
export function scatterState_f32(src: usize, srcStride: i32, srcRows: usize, table: usize, len: i32, rows: i32): void {
  const bytes = <usize>len << 2;
  const step = <usize>srcStride << 2;
  for (let r = 0; r < rows; r++) {
    const p = load<i32>(table + (<usize>r << 2));
    const s = srcRows ? load<i32>(srcRows + (<usize>r << 2)) : r;
    if (p >= 0) copy(<usize>p, src + <usize>s * step, bytes);
  }
}

/** dst row r ← src row s, s = srcRows[r] (i32) or r when srcRows is 0. */
export function copyRows_f32(dst: usize, dstStride: i32, src: usize, srcStride: i32, srcRows: usize, len: i32, rows: i32): void {
  const bytes = <usize>len << 2;
  const dStep = <usize>dstStride << 2;
  const sStep = <usize>srcStride << 2;
  for (let r = 0; r < rows; r++) {
    const s = srcRows ? load<i32>(srcRows + (<usize>r << 2)) : r;
    copy(dst + <usize>r * dStep, src + <usize>s * sStep, bytes);
  }
}

/** memmove; short copies (a few floats) inline, longer ones through memory.copy. */
@inline function copy(dst: usize, src: usize, bytes: usize): void {
  if (bytes <= 16) {
    for (let k: usize = 0; k < bytes; k += 4) store<u32>(dst + k, load<u32>(src + k));
  } else {
    memory.copy(dst, src, bytes);
  }
}

/**
 * The state update of a kernel-3 convolution kept as partial sums (StreamingConv3), row by row:
 * S1 is the `dim` floats at `table[r]`, S0 the `dim` floats right after, and q row r holds the
 * new frame's three tap products [Q2 | Q1 | Q0]. out row outRows[r] (r when outRows is 0; none
 * when negative) ← S1 + Q2, then S1 ← S0 + Q1 and S0 ← Q0.
 */
export function convStep_f32(q: usize, table: usize, dim: i32, out: usize, outRows: usize, rows: i32): void {
  const d = <usize>dim << 2;
  for (let r = 0; r < rows; r++) {
    const s1 = <usize>load<i32>(table + (<usize>r << 2));
    const s0 = s1 + d;
    const q2 = q + <usize>r * 3 * d;
    const q1 = q2 + d;
    const q0 = q1 + d;
    const o = outRows ? load<i32>(outRows + (<usize>r << 2)) : r;
    if (o >= 0) {
      const op = out + <usize>o * d;
      let i: usize = 0;
      for (; i + 16 <= d; i += 16) v128.store(op + i, f32x4.add(v128.load(s1 + i), v128.load(q2 + i)));
      for (; i < d; i += 4) store<f32>(op + i, load<f32>(s1 + i) + load<f32>(q2 + i));
    }
    let i: usize = 0;
    for (; i + 16 <= d; i += 16) {
      v128.store(s1 + i, f32x4.add(v128.load(s0 + i), v128.load(q1 + i)));
      v128.store(s0 + i, v128.load(q0 + i));
    }
    for (; i < d; i += 4) {
      store<f32>(s1 + i, load<f32>(s0 + i) + load<f32>(q1 + i));
      store<f32>(s0 + i, load<f32>(q0 + i));
    }
  }
}
