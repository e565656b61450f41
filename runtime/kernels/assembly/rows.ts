// Row copies between batch buffers and the streams' own state, one call per layer and batch
// (the JS glue builds the tables: each stream's state address, and which source row feeds each
// destination row). Strides are in floats; a negative table entry is a row the glue copies itself.

/** dst row r (stride `dstStride`) ← `len` floats at `table[r]`. */
export function gather_rows(dst: usize, dstStride: i32, table: usize, len: i32, rows: i32): void {
  const bytes = <usize>len << 2;
  const step = <usize>dstStride << 2;
  for (let r = 0; r < rows; r++) {
    const p = load<i32>(table + (<usize>r << 2));
    if (p >= 0) copy(dst + <usize>r * step, <usize>p, bytes);
  }
}

/** `len` floats at `table[r]` ← src row s (stride `srcStride`), s = srcRows[r] (i32) or r when srcRows is 0. */
export function scatter_rows(src: usize, srcStride: i32, srcRows: usize, table: usize, len: i32, rows: i32): void {
  const bytes = <usize>len << 2;
  const step = <usize>srcStride << 2;
  for (let r = 0; r < rows; r++) {
    const p = load<i32>(table + (<usize>r << 2));
    const s = srcRows ? load<i32>(srcRows + (<usize>r << 2)) : r;
    if (p >= 0) copy(<usize>p, src + <usize>s * step, bytes);
  }
}

/** dst row r ← src row s, s = srcRows[r] (i32) or r when srcRows is 0. */
export function copy_rows(dst: usize, dstStride: i32, src: usize, srcStride: i32, srcRows: usize, len: i32, rows: i32): void {
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
