/**
 * Large-scale bit-exactness check of torch_trig32.ts / torch_pow32.ts / rope.ts against this machine's
 * PyTorch (too slow for the unit tests; the fixture test covers a sample).
 *
 *   node --import tsx models/ttt/tools/verify_torch_rope.ts [--flat N]
 *
 * Asks /usr/bin/python3 (torch) for whole tables (torch_rope_reference.py dump) and recomputes every
 * element: a flat tensor of N mixed-magnitude angles in ±1e5 and the official RoPE tables for several
 * head dims, bases and lengths. Prints the element counts and mismatches; exits 1 on any mismatch.
 */
import { spawnSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { FlaRopeTable, inverseFrequencies, TttRopeTable } from '../layers/rope.js';
import { torchCosSinRange } from '../float32/torch_trig32.js';

type Case =
  | { kind: 'flat'; n: number; seed: number }
  | { kind: 'fla'; dim: number; theta: number; rows: number }
  | { kind: 'ttt'; dim: number; theta: number; K: number; L: number };

const flatArg = process.argv.indexOf('--flat');
const flatN = flatArg >= 0 ? Number(process.argv[flatArg + 1]) : 2_000_000;

const cases: Case[] = [
  { kind: 'flat', n: flatN, seed: 1 },
  { kind: 'fla', dim: 16, theta: 1e4, rows: 20000 },
  { kind: 'fla', dim: 20, theta: 1e4, rows: 20001 },
  { kind: 'fla', dim: 48, theta: 1e6, rows: 10000 },
  { kind: 'fla', dim: 64, theta: 5e5, rows: 20000 },
  { kind: 'fla', dim: 64, theta: 1e4, rows: 2000 },
  { kind: 'fla', dim: 128, theta: 1e6, rows: 8192 },
  { kind: 'ttt', dim: 64, theta: 1e4, K: 16, L: 2048 },
  { kind: 'ttt', dim: 20, theta: 1e4, K: 300, L: 20001 },
  { kind: 'ttt', dim: 24, theta: 1e4, K: 1024, L: 4096 },
];

const here = dirname(fileURLToPath(import.meta.url));
const dir = mkdtempSync(join(tmpdir(), 'torch-rope-'));
try {
  writeFileSync(join(dir, 'spec.json'), JSON.stringify(cases));
  const py = spawnSync('/usr/bin/python3', [join(here, 'torch_rope_reference.py'), 'dump', join(dir, 'spec.json'), dir], { encoding: 'utf8' });
  if (py.status !== 0) throw new Error(`torch_rope_reference.py failed: ${py.stderr}`);

  let failures = 0;
  for (const [i, c] of cases.entries()) {
    const words = new Uint32Array(new Uint8Array(readFileSync(join(dir, `${i}.bin`))).buffer);
    const n = words[0]!;
    const floats = new Float32Array(words.buffer);
    const angles = floats.subarray(1, 1 + n);
    const wantCos = floats.subarray(1 + n, 1 + 2 * n);
    const wantSin = floats.subarray(1 + 2 * n, 1 + 3 * n);
    const m = words[1 + 3 * n]!;
    const wantInv = floats.subarray(2 + 3 * n, 2 + 3 * n + m);
    const cos = new Float32Array(n);
    const sin = new Float32Array(n);
    let invBad = 0;
    const t0 = performance.now();
    if (c.kind === 'flat') {
      torchCosSinRange((k) => angles[k]!, 0, n, cos, sin, 0, n);
    } else {
      const inv = inverseFrequencies(c.dim, c.theta);
      for (let j = 0; j < m; j++) if (Math.fround(inv[j]!) !== wantInv[j]) invBad++;
      const width = c.kind === 'fla' ? c.dim / 2 : c.dim;
      const rows = n / width;
      const table = c.kind === 'fla' ? new FlaRopeTable(inv, rows) : new TttRopeTable(inv, c.K, c.L);
      for (let r = 0; r < rows; r++) table.row(r, cos, sin, r * width);
    }
    const ms = performance.now() - t0;
    let bad = 0;
    let maxAngle = 0;
    for (let k = 0; k < n; k++) {
      maxAngle = Math.max(maxAngle, Math.abs(angles[k]!));
      if (!Object.is(cos[k], wantCos[k]) || !Object.is(sin[k], wantSin[k])) bad++;
    }
    failures += bad + invBad;
    console.log(`${JSON.stringify(c)}: ${n} elements (|angle| ≤ ${maxAngle.toFixed(0)}), cos/sin mismatches ${bad}, inv_freq mismatches ${invBad}, ${(ms * 1000 / n).toFixed(2)} µs/element`);
  }
  console.log(failures === 0 ? 'all bit-identical to torch' : `${failures} mismatches`);
  process.exitCode = failures === 0 ? 0 : 1;
} finally {
  rmSync(dir, { recursive: true, force: true });
}
