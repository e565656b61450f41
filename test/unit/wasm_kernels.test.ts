import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { isEdgestreamError } from '../../runtime/errors.js';
import { createJsKernels, quantizeRows } from '../../runtime/kernels/js/index.js';
import type { DenseOptions, Kernels } from '../../runtime/kernels/types.js';
import type { StreamState } from '../../runtime/stream/state.js';
import { Random } from '../../runtime/util/random.js';
import { wasmTiers } from '../helpers/kernel_tiers.js';

// Every WASM kernel against the JS oracle, on shapes that are and are not multiples of the
// vector width (4), of the panel widths (16 float32 / 64 int8 outputs) and of the 4-stream
// register block, at batch 1 and batched.

const js = createJsKernels();
const seeded = (seed: number): (() => number) => {
  const r = new Random(seed);
  return () => r.next();
};
const U = 2 ** -24; // float32 unit roundoff

/** Random `[rows, n]`: real values in (−1, 1), or spikes at `density` (exact 0/1). */
function data(rand: () => number, length: number, density: number | null): Float32Array {
  const x = new Float32Array(length);
  for (let i = 0; i < length; i++) x[i] = density === null ? 2 * rand() - 1 : rand() < density ? 1 : 0;
  return x;
}

/**
 * Run `dense + matmul` on a tier and on the oracle; check every output against the float32
 * summation bound |fl(Σ) − Σ| ≤ (n + 2)·u·Σ|terms| (any summation order, fused or not).
 */
function checkDense(k: Kernels, rand: () => number, outDim: number, inDim: number, rows: number, options: DenseOptions & { density?: number; bias?: boolean }): void {
  const w = data(rand, outDim * inDim, null);
  const b = options.bias === false ? null : data(rand, outDim, null);
  const x = data(rand, rows * inDim, options.density ?? null);
  const what = `${outDim}×${inDim}, ${rows} rows, ${options.int8 ? 'int8' : 'f32'}, ${options.input ?? 'real'}${options.density !== undefined ? ` at ${options.density}` : ''}`;
  const ref = new Float32Array(rows * outDim);
  const jl = js.dense(w, b, outDim, inDim, options);
  js.matmul(jl, x, ref, rows);
  const layer = k.dense(w, b, outDim, inDim, options);
  const kx = k.alloc(rows * inDim);
  kx.set(x);
  const out = k.alloc(rows * outDim);
  out.fill(NaN);
  k.matmul(layer, kx, out, rows);
  const wq = options.int8 ? quantizeRows(w, outDim, inDim) : null;
  for (let r = 0; r < rows; r++) {
    for (let o = 0; o < outDim; o++) {
      let mag = 0;
      for (let i = 0; i < inDim; i++) mag += Math.abs((wq ? wq.q[o * inDim + i]! * wq.scale[o]! : w[o * inDim + i]!) * x[r * inDim + i]!);
      const tol = (inDim + 3) * U * (mag + Math.abs(b?.[o] ?? 0)) + 1e-30;
      const got = out[r * outDim + o]!;
      const want = ref[r * outDim + o]!;
      assert.ok(Math.abs(got - want) <= tol, `${k.tier} ${what}: out[${r}, ${o}] = ${got}, oracle ${want} (tol ${tol})`);
    }
  }
  k.free(layer);
}

const SHAPES: [number, number][] = [[1, 1], [3, 5], [16, 16], [17, 33], [64, 7], [65, 130], [35, 256], [1, 256], [256, 1], [100, 300]];
const ROWS = [1, 2, 3, 4, 5, 9];

describe('WASM kernels against the JS oracle', async () => {
  const tiers = await wasmTiers();
  for (const { tier, kernels, skip } of tiers) {
    describe(tier, { skip }, () => {
      const k = kernels!;
      it('float32 dense layers: random shapes, batch 1 and batched, with and without bias', () => {
        const rand = seeded(1);
        for (const [o, i] of SHAPES) for (const rows of ROWS) checkDense(k, rand, o, i, rows, { bias: rows % 2 === 0 });
        checkDense(k, rand, 256, 768, 64, {});
      });

      it('int8 dense layers (per-row scales, the oracle\'s quantisation)', () => {
        const rand = seeded(2);
        for (const [o, i] of SHAPES) for (const rows of ROWS) checkDense(k, rand, o, i, rows, { int8: true, bias: rows % 2 === 1 });
        checkDense(k, rand, 130, 200, 64, { int8: true });
      });

      it('spike layers at 0 %, 1 %, 30 %, 50 %, 100 % density (sparse and dense paths), float32 and int8', () => {
        const rand = seeded(3);
        for (const density of [0, 0.01, 0.3, 0.5, 1]) {
          for (const int8 of [false, true]) {
            for (const [o, i] of [[16, 16], [17, 33], [65, 130], [256, 768], [1024, 256], [35, 1]] as [number, number][]) {
              for (const rows of [1, 3, 4, 7]) checkDense(k, rand, o, i, rows, { input: 'spikes', density, int8 });
            }
            checkDense(k, rand, 256, 1024, 64, { input: 'spikes', density, int8 });
          }
        }
      });

      it('spike layers stay right when an input is not 0/1 (dense fallback)', () => {
        const rand = seeded(4);
        const w = data(rand, 20 * 30, null);
        for (const int8 of [false, true]) {
          const layer = k.dense(w, null, 20, 30, { input: 'spikes', int8 });
          const x = k.alloc(30);
          x[3] = 1;
          x[7] = 0.5;
          const out = k.alloc(20);
          k.matmul(layer, x, out, 1);
          const ref = new Float32Array(20);
          js.matmul(js.dense(w, null, 20, 30, { input: 'spikes', int8 }), Float32Array.from(x), ref, 1);
          for (let o = 0; o < 20; o++) assert.ok(Math.abs(out[o]! - ref[o]!) <= 1e-6, `int8 ${int8}, out[${o}]`);
        }
      });

      it('batch-invariant: a stream\'s outputs are bit-identical alone and in any batch', () => {
        const rand = seeded(7);
        const rows = 9;
        for (const int8 of [false, true]) {
          for (const input of ['real', 'spikes'] as const) {
            const [o, i] = [37, 70];
            const layer = k.dense(data(rand, o * i, null), data(rand, o, null), o, i, { int8, input });
            const x = k.alloc(rows * i);
            for (let r = 0; r < rows; r++) {
              // spikes: densities from 0 to 100 % across the batch (both float32 kernels), one non-binary row
              const row = input === 'real' ? data(rand, i, null) : data(rand, i, r / (rows - 1));
              if (input === 'spikes' && r === 4) row[5] = 0.25;
              x.set(row, r * i);
            }
            const batched = k.alloc(rows * o);
            k.matmul(layer, x, batched, rows);
            const one = k.alloc(o);
            const xr = k.alloc(i);
            for (let r = 0; r < rows; r++) {
              xr.set(x.subarray(r * i, (r + 1) * i));
              k.matmul(layer, xr, one, 1);
              assert.deepEqual(Array.from(batched.subarray(r * o, (r + 1) * o)), Array.from(one), `${int8 ? 'int8' : 'f32'} ${input}: row ${r}`);
            }
          }
        }
      });

      it('zero spikes give exactly the bias', () => {
        const rand = seeded(5);
        const b = data(rand, 40, null);
        for (const int8 of [false, true]) {
          const layer = k.dense(data(rand, 40 * 50, null), b, 40, 50, { input: 'spikes', int8 });
          const out = k.alloc(3 * 40);
          k.matmul(layer, k.alloc(3 * 50), out, 3);
          for (let r = 0; r < 3; r++) assert.deepEqual(out.subarray(r * 40, (r + 1) * 40), b);
        }
      });

      it('relu, add and affine match the oracle; LIF is bit-identical (spikes and membranes)', () => {
        const rand = seeded(6);
        for (const n of [1, 3, 4, 5, 17, 1023]) {
          const x = data(rand, n, null).map((v) => v * 3);
          x[0] = -0;
          const kx = k.alloc(n);
          kx.set(x);
          k.relu(kx, n);
          const jx = Float32Array.from(x);
          js.relu(jx, n);
          assert.deepEqual(Array.from(kx), Array.from(jx), `relu ${n}`);

          const y = data(rand, n, null);
          const ky = k.alloc(n);
          ky.set(y);
          k.add(kx, ky, n);
          js.add(jx, y, n);
          assert.deepEqual(Array.from(kx), Array.from(jx), `add ${n}`);
        }
        let fired = 0;
        let seen = 0;
        for (const [rows, dim] of [[1, 1], [1, 5], [3, 17], [4, 256], [7, 1024]]) {
          const scale = data(rand, dim, null);
          const shift = data(rand, dim, null);
          const ks = k.alloc(dim);
          ks.set(scale);
          const kt = k.alloc(dim);
          kt.set(shift);
          const x = data(rand, rows * dim, null).map((v) => v * 4);
          const kx = k.alloc(rows * dim);
          kx.set(x);
          k.affine(kx, rows, dim, ks, kt);
          const jx = Float32Array.from(x);
          js.affine(jx, rows, dim, scale, shift);
          for (let i = 0; i < rows * dim; i++) assert.ok(Math.abs(kx[i]! - jx[i]!) <= 2 * U * (Math.abs(x[i]! * scale[i % dim]!) + Math.abs(shift[i % dim]!)), `affine ${rows}×${dim} [${i}]`);

          for (const [threshold, affine] of [[1, false], [0.5, true], [1, true]] as const) {
            const kv = k.alloc(rows * dim);
            const jv = new Float32Array(rows * dim);
            for (let step = 0; step < 20; step++) {
              const input = data(rand, rows * dim, null).map((v) => v * 2 + 0.5);
              kx.set(input);
              k.lif(kx, kv, rows, dim, threshold, affine ? ks : null, affine ? kt : null);
              jx.set(input);
              js.lif(jx, jv, rows, dim, threshold, affine ? scale : null, affine ? shift : null);
              assert.deepEqual(Array.from(kx), Array.from(jx), `lif spikes ${rows}×${dim} step ${step}`);
              assert.deepEqual(Array.from(kv), Array.from(jv), `lif membranes ${rows}×${dim} step ${step}`);
              fired += jx.reduce((a, v) => a + v, 0);
              seen += rows * dim;
            }
          }
        }
        assert.ok(fired > 0.05 * seen && fired < 0.95 * seen, `the LIF inputs fire some neurons but not all (${fired}/${seen})`);
      });

      it('GELU matches the exact (erf) form to float32 precision', () => {
        let worst = 0;
        for (const n of [1, 3, 5, 4096 + 3]) {
          const x = new Float32Array(n);
          for (let i = 0; i < n; i++) x[i] = n === 1 ? 0.7 : -8 + (16 * i) / (n - 1);
          const kx = k.alloc(n);
          kx.set(x);
          k.gelu(kx, n);
          const jx = Float32Array.from(x);
          js.gelu(jx, n);
          for (let i = 0; i < n; i++) {
            const err = Math.abs(kx[i]! - jx[i]!);
            worst = Math.max(worst, err / (1 + Math.abs(x[i]!)));
            assert.ok(err <= 4e-7 * (1 + Math.abs(x[i]!)), `gelu(${x[i]}) = ${kx[i]}, oracle ${jx[i]}`);
          }
        }
        assert.ok(worst > 0, 'an approximation that is never off would be suspicious: is the kernel running?');
        const special = k.alloc(4);
        special.set([Infinity, -Infinity, NaN, 0]);
        k.gelu(special, 4);
        assert.equal(special[0], Infinity);
        assert.ok(Number.isNaN(special[1]) && Number.isNaN(special[2]));
        assert.equal(special[3], 0);
      });

      it('row ops read and write stream state in place, in kernel memory or not (mixed batches), as the oracle does', () => {
        const rand = seeded(8);
        const size = 300;
        // Rows 0, 2, 3 in kernel memory (allocState), rows 1 and 4 plain arrays (e.g. a restored snapshot).
        const mk = (own: boolean): StreamState => ({ f32: own ? k.allocState(size) : new Float32Array(size), f64: new Float64Array(1) });
        const states = [mk(true), mk(false), mk(true), mk(true), mk(false)];
        const twins = states.map(() => ({ f32: new Float32Array(size), f64: new Float64Array(1) }));
        const rows = states.length;
        for (let r = 0; r < rows; r++) {
          const v = data(rand, size, null);
          states[r]!.f32.set(v);
          twins[r]!.f32.set(v);
        }
        const same = (what: string): void => {
          for (let r = 0; r < rows; r++) assert.deepEqual(Array.from(states[r]!.f32), Array.from(twins[r]!.f32), `${k.tier} ${what}: state of row ${r}`);
        };
        for (const [offset, len] of [[0, 1], [3, 17], [40, 64], [7, 256]] as const) {
          // gather into a strided buffer at an offset
          const stride = len + 3;
          const dst = k.alloc(2 + rows * stride);
          const ref = new Float32Array(2 + rows * stride);
          k.gatherState(dst, 2, stride, states, offset, len, rows);
          js.gatherState(ref, 2, stride, twins, offset, len, rows);
          assert.deepEqual(Array.from(dst), Array.from(ref), `gatherState ${offset}+${len}`);
          // scatter from permuted source rows
          const src = k.alloc(1 + rows * stride);
          src.set(data(rand, src.length, null));
          const perm = [3, 0, 4, 1, 2];
          k.scatterState(src, 1, stride, perm, states, offset, len, rows);
          js.scatterState(Float32Array.from(src), 1, stride, perm, twins, offset, len, rows);
          same(`scatterState ${offset}+${len}`);
          k.scatterState(src, 0, stride, null, states, offset, len, rows);
          js.scatterState(Float32Array.from(src), 0, stride, null, twins, offset, len, rows);
          same(`scatterState identity ${offset}+${len}`);
          // copyRows between kernel buffers
          const cdst = k.alloc(3 + rows * (len + 1));
          const cref = new Float32Array(cdst.length);
          k.copyRows(cdst, 3, len + 1, src, 1, stride, perm, len, rows);
          js.copyRows(cref, 3, len + 1, Float32Array.from(src), 1, stride, perm, len, rows);
          assert.deepEqual(Array.from(cdst), Array.from(cref), `copyRows ${offset}+${len}`);
        }
        // Kernel-3 conv partial sums: out rows permuted or skipped (−1), states in place or staged
        for (const [offset, dim] of [[2, 5], [11, 64]] as const) {
          for (const outRows of [null, [2, -1, 0, 3, 1], [-1, -1, -1, -1, -1]]) {
            const q = k.alloc(rows * 3 * dim);
            q.set(data(rand, q.length, null));
            const out = k.alloc(rows * dim);
            const ref = new Float32Array(rows * dim);
            k.convStep(q, states, offset, dim, out, outRows, rows);
            js.convStep(Float32Array.from(q), twins, offset, dim, ref, outRows, rows);
            assert.deepEqual(Array.from(out), Array.from(ref), `convStep out ${dim} ${outRows}`);
            same(`convStep partials ${dim} ${outRows}`);
          }
        }
        assert.throws(() => k.convStep(k.alloc(3), states.slice(0, 1), 0, 1, k.alloc(1), [1.5], 1), (e) => isEdgestreamError(e, 'E_INPUT_SHAPE'));
        // LIF with membranes in the state, against lif on gathered membranes
        for (const [offset, dim, affine] of [[5, 3, false], [20, 256, true], [1, 33, true]] as const) {
          const scale = k.alloc(dim);
          const shift = k.alloc(dim);
          scale.set(data(rand, dim, null));
          shift.set(data(rand, dim, null));
          for (let step = 0; step < 5; step++) {
            const input = data(rand, rows * dim, null).map((v) => 2 * v + 0.5);
            const x = k.alloc(rows * dim);
            x.set(input);
            k.lifState(x, states, offset, rows, dim, 0.75, affine ? scale : null, affine ? shift : null);
            const jx = Float32Array.from(input);
            js.lifState(jx, twins, offset, rows, dim, 0.75, affine ? Float32Array.from(scale) : null, affine ? Float32Array.from(shift) : null);
            assert.deepEqual(Array.from(x), Array.from(jx), `lifState spikes ${dim} step ${step}`);
            same(`lifState membranes ${dim} step ${step}`);
          }
        }
        assert.throws(() => k.copyRows(k.alloc(4), 0, 4, k.alloc(4), 0, 4, [1], 4, 1), (e) => isEdgestreamError(e, 'E_INPUT_SHAPE'));
        assert.throws(() => k.gatherState(new Float32Array(8), 0, 4, states, 0, 4, 2), (e) => isEdgestreamError(e, 'E_BACKEND'));
        const short = [{ f32: k.allocState(10), f64: new Float64Array(1) }, { f32: new Float32Array(10), f64: new Float64Array(1) }];
        for (const tk of [k, js]) {
          for (const st of short) {
            assert.throws(() => tk.gatherState(tk.alloc(8), 0, 8, [st], 4, 8, 1), (e) => isEdgestreamError(e, 'E_INPUT_SHAPE'), `${tk.tier}: a state too short for the slot`);
            assert.throws(() => tk.lifState(tk.alloc(8), [st], 4, 1, 8, 1, null, null), (e) => isEdgestreamError(e, 'E_INPUT_SHAPE'));
          }
        }
      });

      it('released state memory is reused, and comes back zeroed', () => {
        const a = k.allocState(5000);
        a.fill(7);
        k.release(a);
        const b = k.allocState(5000);
        assert.ok(b.every((v) => v === 0), 'a reused block is zero');
        const c = k.alloc(3000);
        c.fill(9);
        k.release(c); // at the top of the heap: the next block starts where it did
        const d = k.alloc(3000);
        assert.ok(d.every((v) => v === 0), 'a block released at the top comes back zeroed');
        k.release(b);
        k.release(d);
        k.release(d); // twice: ignored
        k.release(new Float32Array(4)); // not ours: ignored
      });

      it('rejects buffers that are not its own, wrong sizes, and layers of another instance', async () => {
        const layer = k.dense(new Float32Array(6), null, 2, 3);
        const out = k.alloc(2);
        assert.throws(() => k.matmul(layer, new Float32Array(3), out, 1), (e) => isEdgestreamError(e, 'E_BACKEND'));
        assert.throws(() => k.matmul(layer, k.alloc(3), out, 2), (e) => isEdgestreamError(e, 'E_INPUT_SHAPE'));
        assert.throws(() => k.matmul(layer, k.alloc(3), out, 1.5), (e) => isEdgestreamError(e, 'E_INPUT_SHAPE'));
        assert.throws(() => k.relu(new Float32Array(4), 4), (e) => isEdgestreamError(e, 'E_BACKEND'));
        assert.throws(() => k.relu(k.alloc(4), 5), (e) => isEdgestreamError(e, 'E_INPUT_SHAPE'));
        assert.throws(() => k.dense(new Float32Array(5), null, 2, 3), (e) => isEdgestreamError(e, 'E_ARCH_MISMATCH'));
        const other = (await wasmTiers()).find((t) => t.tier === tier)!.kernels!;
        assert.throws(() => other.matmul(layer, other.alloc(3), other.alloc(2), 1), (e) => isEdgestreamError(e, 'E_BACKEND'));
        k.free(layer);
        assert.throws(() => k.matmul(layer, k.alloc(3), out, 1), (e) => isEdgestreamError(e, 'E_BACKEND'));
      });

      it('views handed out earlier stay valid while the memory grows', () => {
        const early = k.alloc(64);
        early.fill(2);
        const layer = k.dense(new Float32Array(64).fill(1), null, 1, 64);
        for (let i = 0; i < 40; i++) k.alloc(1 << 20); // 160 MiB more: several grows
        const out = k.alloc(1);
        k.matmul(layer, early, out, 1);
        assert.equal(early.length, 64, 'the early view was not detached');
        assert.equal(out[0], 128);
      });

      it('reuses freed weight memory, zeroed', () => {
        const a = k.dense(new Float32Array(32 * 32).fill(3), null, 32, 32);
        k.free(a);
        const b = k.dense(new Float32Array(32 * 32).fill(1), null, 32, 32);
        const x = k.alloc(32);
        x.fill(1);
        const out = k.alloc(32);
        k.matmul(b, x, out, 1);
        assert.deepEqual(Array.from(out), new Array(32).fill(32));
        const z = k.alloc(1000);
        assert.ok(z.every((v) => v === 0));
      });
    });
  }
});
