/**
 * The LMU's memory matrices: the Legendre delay system (Voelker et al. 2019) with window theta,
 *   A_c[i, j] = (2i+1)/θ · (i < j ? −1 : (−1)^(i−j+1)),   B_c[i] = (2i+1)/θ · (−1)^i,
 * discretised by zero-order hold with dt = 1: [[A, B], [0, 1]] = expm([[A_c, B_c], [0, 0]]).
 * Official checkpoints carry A and B (computed by scipy's cont2discrete); this rebuilds them, for
 * random models and to check a checkpoint's buffers.
 */
const cache = new Map<string, { a: Float32Array; b: Float32Array }>();

export function legendreDelaySystem(memory: number, theta: number): { a: Float32Array; b: Float32Array } {
  const key = `${memory}/${theta}`;
  const hit = cache.get(key);
  if (hit) return { a: hit.a.slice(), b: hit.b.slice() };
  const n = memory + 1; // augmented with the input column
  const x = new Float64Array(n * n);
  for (let i = 0; i < memory; i++) {
    const r = (2 * i + 1) / theta;
    for (let j = 0; j < memory; j++) x[i * n + j] = r * (i < j ? -1 : (i - j + 1) % 2 === 0 ? 1 : -1);
    x[i * n + memory] = r * (i % 2 === 0 ? 1 : -1);
  }
  const e = expm(x, n);
  const a = new Float32Array(memory * memory);
  const b = new Float32Array(memory);
  for (let i = 0; i < memory; i++) {
    for (let j = 0; j < memory; j++) a[i * memory + j] = e[i * n + j]!;
    b[i] = e[i * n + memory]!;
  }
  cache.set(key, { a, b }); // a few seconds for M = 512: compute once per process
  return { a: a.slice(), b: b.slice() };
}

/** Matrix exponential by scaling and squaring with a degree-14 Taylor polynomial (float64). */
function expm(x: Float64Array, n: number): Float64Array {
  let norm = 0;
  for (let i = 0; i < n; i++) {
    let row = 0;
    for (let j = 0; j < n; j++) row += Math.abs(x[i * n + j]!);
    norm = Math.max(norm, row);
  }
  const s = Math.max(0, Math.ceil(Math.log2(norm / 0.5)));
  const scale = 2 ** -s;
  const y = x.map((v) => v * scale);
  // Horner: I + y(I + y/2(I + y/3(… )))
  let p = identity(n);
  for (let k = 14; k >= 1; k--) {
    const t = matmul(y, p, n);
    p = identity(n);
    for (let i = 0; i < n * n; i++) p[i] = p[i]! + t[i]! / k;
  }
  for (let i = 0; i < s; i++) p = matmul(p, p, n);
  return p;
}

function identity(n: number): Float64Array {
  const m = new Float64Array(n * n);
  for (let i = 0; i < n; i++) m[i * n + i] = 1;
  return m;
}

function matmul(a: Float64Array, b: Float64Array, n: number): Float64Array {
  const c = new Float64Array(n * n);
  for (let i = 0; i < n; i++) {
    for (let k = 0; k < n; k++) {
      const aik = a[i * n + k]!;
      if (aik === 0) continue;
      const bo = k * n;
      const co = i * n;
      for (let j = 0; j < n; j++) c[co + j] = c[co + j]! + aik * b[bo + j]!;
    }
  }
  return c;
}
