/**
 * Find the active inputs of a spike batch: for row r, the indices i with x[r, i] ≠ 0 go to
 * `idx + r·inDim·4` (i32) and their count to `cnt + r·4`, or −1 when some input of the row is
 * neither 0 nor 1 (that row then takes a dense kernel, which is right for any values). Returns
 * the number of active inputs over the binary rows. Branch-free: every index is written, the
 * cursor advances only on a spike.
 */
export function spike_scan(x: usize, rows: i32, inDim: i32, idx: usize, cnt: usize): i32 {
  let total = 0;
  for (let r = 0; r < rows; r++) {
    const xp = x + <usize>r * (<usize>inDim << 2);
    const ip = idx + <usize>r * (<usize>inDim << 2);
    let n = 0;
    let bad = 0;
    for (let i = 0; i < inDim; i++) {
      const v = load<f32>(xp + (<usize>i << 2));
      store<i32>(ip + (<usize>n << 2), i);
      const on = <i32>(v != 0);
      n += on;
      bad |= on & <i32>(v != 1);
    }
    store<i32>(cnt + (<usize>r << 2), bad ? -1 : n);
    if (!bad) total += n;
  }
  return total;
}
