/**
 * The LMU's memory matrices as the official code builds them (LMUFormer src: the Legendre delay
 * system of order M over a window `theta`, discretised with scipy's zero-order hold, dt = 1):
 *   A_c[i, j] = (2i+1)/θ · (i < j ? −1 : (−1)^(i−j+1)),   B_c[i] = (2i+1)/θ · (−1)^i
 *   [[A, B], [0, 1]] = expm([[A_c, B_c], [0, 0]]·dt)
 * Checkpoints carry A and B, so the runtime never needs this; it builds random-weight models
 * (benchmarks, tests) whose memory behaves like the real one.
 */
export function legendreMemory(order: number, theta = 128, dt = 1): { a: Float32Array; b: Float32Array } {
  // Cached per process: the order-512 exponential takes seconds in plain JS.
  const key = `${order}/${theta}/${dt}`;
  const hit = cache.get(key);
  if (hit) return hit;
  const m = computeLegendreMemory(order, theta, dt);
  cache.set(key, m);
  return m;
}

const cache = new Map<string, { a: Float32Array; b: Float32Array }>();

function computeLegendreMemory(order: number, theta: number, dt: number): { a: Float32Array; b: Float32Array } {
  const M = order;
  const N = M + 1;
  const x = new Float64Array(N * N);
  for (let i = 0; i < M; i++) {
    const r = (2 * i + 1) / theta;
    for (let j = 0; j < M; j++) x[i * N + j] = dt * r * (i < j ? -1 : (i - j + 1) % 2 === 0 ? 1 : -1);
    x[i * N + M] = dt * r * (i % 2 === 0 ? 1 : -1);
  }
  const e = expm(x, N);
  const a = new Float32Array(M * M);
  const b = new Float32Array(M);
  for (let i = 0; i < M; i++) {
    for (let j = 0; j < M; j++) a[i * M + j] = e[i * N + j]!;
    b[i] = e[i * N + M]!;
  }
  return { a, b };
}

/** Matrix exponential (float64, n×n row-major): scaling and squaring over a Taylor series. */
export function expm(x: Float64Array, n: number): Float64Array {
  let norm = 0;
  for (let j = 0; j < n; j++) {
    let s = 0;
    for (let i = 0; i < n; i++) s += Math.abs(x[i * n + j]!);
    norm = Math.max(norm, s);
  }
  const squarings = Math.max(0, Math.ceil(Math.log2(norm / 0.5)));
  const scaled = x.map((v) => v / 2 ** squarings);
  // Horner: I + X(I + X/2(I + X/3(… (I + X/K)))); with ‖X‖₁ ≤ 1/2 the K = 13 remainder is < 1e-14.
  let acc = identity(n);
  for (let k = 13; k >= 1; k--) {
    acc = k === 13 ? Float64Array.from(scaled) : matmul(scaled, acc, n);
    for (let i = 0; i < n * n; i++) acc[i]! /= k;
    for (let i = 0; i < n; i++) acc[i * n + i]! += 1;
  }
  for (let s = 0; s < squarings; s++) acc = matmul(acc, acc, n);
  return acc;
}

function identity(n: number): Float64Array {
  const m = new Float64Array(n * n);
  for (let i = 0; i < n; i++) m[i * n + i] = 1;
  return m;
}

function matmul(a: Float64Array, b: Float64Array, n: number): Float64Array {
  const c = new Float64Array(n * n);
  const row = new Float64Array(n);
  for (let i = 0; i < n; i++) {
    row.fill(0);
    const ai = i * n;
    let k = 0;
    // Four rows of b per pass: a quarter of the loads and stores of the accumulator row.
    for (; k + 4 <= n; k += 4) {
      const a0 = a[ai + k]!, a1 = a[ai + k + 1]!, a2 = a[ai + k + 2]!, a3 = a[ai + k + 3]!;
      const b0 = k * n, b1 = b0 + n, b2 = b1 + n, b3 = b2 + n;
      for (let j = 0; j < n; j++) row[j]! += a0 * b[b0 + j]! + a1 * b[b1 + j]! + a2 * b[b2 + j]! + a3 * b[b3 + j]!;
    }
    for (; k < n; k++) {
      const a0 = a[ai + k]!;
      const b0 = k * n;
      for (let j = 0; j < n; j++) row[j]! += a0 * b[b0 + j]!;
    }
    c.set(row, ai);
  }
  return c;
}
