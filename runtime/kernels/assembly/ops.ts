// Cheap per-frame element-wise ops on [rows, dim] activations, in place. Each has a JS twin in
// ../js/ (the oracle). None of them uses fused multiply-add, even in the relaxed build: LIF must
// round exactly as PyTorch does (a membrane a few ulp off can flip a spike).

/** x = x > 0 ? x : 0 (NaN → 0, as the JS tier). */
export function relu_f32(x: usize, n: i32): void {
  const zero = f32x4.splat(0);
  let i = 0;
  for (; i + 4 <= n; i += 4) {
    const p = x + (<usize>i << 2);
    const v = v128.load(p);
    v128.store(p, v128.and(v, f32x4.gt(v, zero)));
  }
  for (; i < n; i++) {
    const p = x + (<usize>i << 2);
    const v = load<f32>(p);
    store<f32>(p, v > 0 ? v : 0);
  }
}

/** dst += src. */
export function add_f32(dst: usize, src: usize, n: i32): void {
  let i = 0;
  for (; i + 4 <= n; i += 4) {
    const o = <usize>i << 2;
    v128.store(dst + o, f32x4.add(v128.load(dst + o), v128.load(src + o)));
  }
  for (; i < n; i++) {
    const o = <usize>i << 2;
    store<f32>(dst + o, load<f32>(dst + o) + load<f32>(src + o));
  }
}

/** x[r, c] = x[r, c]·scale[c] + shift[c] (an eval-mode BatchNorm). */
export function affine_f32(x: usize, rows: i32, dim: i32, scale: usize, shift: usize): void {
  for (let r = 0; r < rows; r++) {
    const xr = x + <usize>r * (<usize>dim << 2);
    let c = 0;
    for (; c + 4 <= dim; c += 4) {
      const o = <usize>c << 2;
      v128.store(xr + o, f32x4.add(f32x4.mul(v128.load(xr + o), v128.load(scale + o)), v128.load(shift + o)));
    }
    for (; c < dim; c++) {
      const o = <usize>c << 2;
      store<f32>(xr + o, load<f32>(xr + o) * load<f32>(scale + o) + load<f32>(shift + o));
    }
  }
}

/**
 * One step of multi-step LIF neurons (tau 2, decay_input, hard reset to 0), in place:
 *   x ← scale·x + shift (when scale ≠ 0);  h = v + (x − v)·0.5;  s = h ≥ θ;  v = s ? 0 : h;  x ← s
 * `x` and the membranes `v` are [rows, dim]; scale/shift (per channel) are optional.
 */
export function lif_f32(x: usize, v: usize, rows: i32, dim: i32, threshold: f32, scale: usize, shift: usize): void {
  for (let r = 0; r < rows; r++) lifRow(x + <usize>r * (<usize>dim << 2), v + <usize>r * (<usize>dim << 2), dim, threshold, scale, shift);
}

/**
 * `lif_f32` with each row's membranes where `table` points (i32 addresses, one per row): the
 * membranes stay in the streams' state, nothing is copied.
 */
export function lifState_f32(x: usize, table: usize, rows: i32, dim: i32, threshold: f32, scale: usize, shift: usize): void {
  for (let r = 0; r < rows; r++) lifRow(x + <usize>r * (<usize>dim << 2), <usize>load<i32>(table + (<usize>r << 2)), dim, threshold, scale, shift);
}

@inline function lifRow(xr: usize, vr: usize, dim: i32, threshold: f32, scale: usize, shift: usize): void {
  const half = f32x4.splat(0.5);
  const one = f32x4.splat(1);
  const th = f32x4.splat(threshold);
  let c = 0;
  for (; c + 4 <= dim; c += 4) {
    const o = <usize>c << 2;
    let xi = v128.load(xr + o);
    if (scale) xi = f32x4.add(f32x4.mul(xi, v128.load(scale + o)), v128.load(shift + o));
    const vi = v128.load(vr + o);
    const h = f32x4.add(vi, f32x4.mul(f32x4.sub(xi, vi), half));
    const fire = f32x4.ge(h, th);
    v128.store(vr + o, v128.andnot(h, fire));
    v128.store(xr + o, v128.and(fire, one));
  }
  for (; c < dim; c++) {
    const o = <usize>c << 2;
    let xi = load<f32>(xr + o);
    if (scale) xi = xi * load<f32>(scale + o) + load<f32>(shift + o);
    const vi = load<f32>(vr + o);
    const h = vi + (xi - vi) * 0.5;
    const fire = h >= threshold;
    store<f32>(vr + o, fire ? 0 : h);
    store<f32>(xr + o, fire ? 1 : 0);
  }
}

// erf(z) ≈ z·P(z²)/Q(z²) on |z| ≤ 3.925 (beyond it erf rounds to ±1 in float32): a rational
// fit made for this project (iteratively reweighted least squares on Chebyshev nodes, see the
// docs/kernels.md). Max abs error 4.5e-8 in exact arithmetic, 3.4e-7 evaluated in float32.
const ERF_ZMAX: f32 = 3.925;
const P0: f32 = 1.1283787488937378;
const P1: f32 = 0.1994357854127884;
const P2: f32 = 0.05391184613108635;
const P3: f32 = 0.004147409927099943;
const P4: f32 = 0.0002925642766058445;
const P5: f32 = 1.967034449990024e-6;
const Q1: f32 = 0.5100749731063843;
const Q2: f32 = 0.11781561374664307;
const Q3: f32 = 0.015729784965515137;
const Q4: f32 = 0.0012536979047581553;
const Q5: f32 = 3.7636811612173915e-5;

@inline function erf4(z: v128): v128 {
  // pmin/pmax (one instruction each, NaN in the first operand passes through) rather than
  // min/max, whose exact NaN and ±0 rules cost V8 several instructions each.
  z = f32x4.pmin(f32x4.pmax(z, f32x4.splat(-ERF_ZMAX)), f32x4.splat(ERF_ZMAX));
  const s = f32x4.mul(z, z);
  let p = f32x4.add(f32x4.mul(f32x4.splat(P5), s), f32x4.splat(P4));
  p = f32x4.add(f32x4.mul(p, s), f32x4.splat(P3));
  p = f32x4.add(f32x4.mul(p, s), f32x4.splat(P2));
  p = f32x4.add(f32x4.mul(p, s), f32x4.splat(P1));
  p = f32x4.add(f32x4.mul(p, s), f32x4.splat(P0));
  let q = f32x4.add(f32x4.mul(f32x4.splat(Q5), s), f32x4.splat(Q4));
  q = f32x4.add(f32x4.mul(q, s), f32x4.splat(Q3));
  q = f32x4.add(f32x4.mul(q, s), f32x4.splat(Q2));
  q = f32x4.add(f32x4.mul(q, s), f32x4.splat(Q1));
  q = f32x4.add(f32x4.mul(q, s), f32x4.splat(1));
  const e = f32x4.div(f32x4.mul(z, p), q);
  return f32x4.pmin(f32x4.pmax(e, f32x4.splat(-1)), f32x4.splat(1));
}

/** GELU, erf form (PyTorch's nn.GELU()): x·(1 + erf(x/√2))/2. */
export function gelu_f32(x: usize, n: i32): void {
  const half = f32x4.splat(0.5);
  const one = f32x4.splat(1);
  const rsqrt2 = f32x4.splat(0.7071067811865476);
  let i = 0;
  for (; i + 4 <= n; i += 4) {
    const p = x + (<usize>i << 2);
    const v = v128.load(p);
    v128.store(p, f32x4.mul(f32x4.mul(v, half), f32x4.add(one, erf4(f32x4.mul(v, rsqrt2)))));
  }
  for (; i < n; i++) {
    // The tail lane by lane through the same vector code.
    const p = x + (<usize>i << 2);
    const v = f32x4.splat(load<f32>(p));
    store<f32>(p, f32x4.extract_lane(f32x4.mul(f32x4.mul(v, half), f32x4.add(one, erf4(f32x4.mul(v, rsqrt2)))), 0));
  }
}
