// For each 4-bit mask m of active lanes, the lane numbers of its set bits in ascending order
// (padded with 0): the scan stores `first input of the group + LANES[m]` as one vector and
// advances its cursor by popcnt(m), a branch-free "compress store".
const LANES = memory.data<i32>([
  0, 0, 0, 0, 0, 0, 0, 0, 1, 0, 0, 0, 0, 1, 0, 0,
  2, 0, 0, 0, 0, 2, 0, 0, 1, 2, 0, 0, 0, 1, 2, 0,
  3, 0, 0, 0, 0, 3, 0, 0, 1, 3, 0, 0, 0, 1, 3, 0,
  2, 3, 0, 0, 0, 2, 3, 0, 1, 2, 3, 0, 0, 1, 2, 3,
]);

/**
 * Find the active inputs of a spike batch: for row r, the indices i with x[r, i] ≠ 0 go to
 * `idx + r·inDim·4` (i32, ascending) and their count to `cnt + r·4`, or −1 when some input of the
 * row is neither 0 nor 1 (that row then takes a dense kernel, which is right for any values).
 * Returns the number of active inputs over the binary rows. Four inputs per step, branch-free:
 * every group writes a whole vector of indices at the cursor (at most 4 past the last active
 * one, still inside the row's region), the cursor advances by the group's spike count.
 */
export function spike_scan(x: usize, rows: i32, inDim: i32, idx: usize, cnt: usize): i32 {
  const zero = f32x4.splat(0);
  const one = f32x4.splat(1);
  const four = i32x4.splat(4);
  let total = 0;
  for (let r = 0; r < rows; r++) {
    const xp = x + <usize>r * (<usize>inDim << 2);
    const ip = idx + <usize>r * (<usize>inDim << 2);
    let n = 0;
    let bad = i32x4.splat(0);
    let base = i32x4.splat(0);
    let i = 0;
    for (; i + 4 <= inDim; i += 4) {
      const v = v128.load(xp + (<usize>i << 2));
      const on = f32x4.ne(v, zero); // NaN counts as on, and as not binary
      bad = v128.or(bad, v128.and(on, f32x4.ne(v, one)));
      const m = i32x4.bitmask(on);
      v128.store(ip + (<usize>n << 2), i32x4.add(base, v128.load(LANES + (<usize>m << 4))));
      n += popcnt(m);
      base = i32x4.add(base, four);
    }
    let badTail = 0;
    for (; i < inDim; i++) {
      const v = load<f32>(xp + (<usize>i << 2));
      store<i32>(ip + (<usize>n << 2), i);
      const on = <i32>(v != 0);
      n += on;
      badTail |= on & <i32>(v != 1);
    }
    const isBad = v128.any_true(bad) || badTail != 0;
    store<i32>(cnt + (<usize>r << 2), isBad ? -1 : n);
    if (!isBad) total += n;
  }
  return total;
}
