import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { randomLmuformerModel } from '../../models/lmuformer/random_model.js';
import { Engine } from '../../runtime/engine/engine.js';
import type { WasmKernels } from '../../runtime/kernels/wasm/index.js';
import { loadModel } from '../../runtime/model/load_model.js';
import { Random } from '../../runtime/util/random.js';
import { wasmTiers } from '../helpers/kernel_tiers.js';

// Where a WASM-tier model keeps its bytes: weights prepared once per model and kernel instance,
// per-stream state in kernel memory (updated in place by the layers), given back when a stream ends.

const model = randomLmuformerModel({ variant: 'slmu_rnn_ms_conv1d', dim: 32, seed: 3 });
const frames = (n: number, seed: number): Float32Array[] => {
  const r = new Random(seed);
  return Array.from({ length: n }, () => r.fill(128, (q) => q.normal()));
};

describe('WASM programs: shared weights, state in kernel memory', async () => {
  for (const { tier, skip } of await wasmTiers()) {
    describe(tier, { skip }, () => {
      it('a second program (an engine\'s) adds its workspace, not another copy of the weights', async () => {
        const m = await loadModel(model.bytes, { backend: tier });
        const k = m.kernels as WasmKernels;
        const weights = k.memoryBytes; // the session program: weights + workspace
        const before = k.memoryBytes;
        m.createProgram({ maxBatch: 1 });
        const grew = k.memoryBytes - before;
        assert.ok(grew < weights / 4, `a second program grew the heap by ${grew} bytes (weights and first program: ${weights})`);
        // int8 weights are other layers: they are prepared (once) and give other outputs.
        const f32 = m.createProgram({ maxBatch: 1 });
        const i8 = m.createProgram({ maxBatch: 1, int8: true });
        const i8b = m.createProgram({ maxBatch: 1, int8: true });
        const run = (p: typeof f32): Float32Array => {
          const st = p.createState!();
          const out = new Float32Array(p.outputDim);
          const ready = new Uint8Array(1);
          for (const f of frames(8, 1)) p.step([st], 1, f, out, ready);
          return out;
        };
        const [a, b, c] = [run(f32), run(i8), run(i8b)];
        assert.notDeepEqual(Array.from(a), Array.from(b), 'the int8 program does not run the float32 layers');
        assert.deepEqual(Array.from(b), Array.from(c), 'two int8 programs share their layers');
      });

      it('a session snapshot continues bit-identically in a new session (state in kernel memory)', async () => {
        const m = await loadModel(model.bytes, { backend: tier });
        const input = frames(30, 2);
        const whole = m.createSession();
        const ref = input.flatMap((f) => whole.push(f)).concat(whole.flush());
        const first = m.createSession();
        const got = input.slice(0, 12).flatMap((f) => first.push(f));
        const resumed = m.restoreSession(first.snapshot());
        got.push(...input.slice(12).flatMap((f) => resumed.push(f)), ...resumed.flush());
        assert.deepEqual(got.map((o) => Array.from(o)), ref.map((o) => Array.from(o)));
        // the first session goes on independently of the restored one
        const more = input.slice(12).flatMap((f) => first.push(f)).concat(first.flush());
        assert.deepEqual(more.map((o) => Array.from(o)), ref.slice(got.length - more.length).map((o) => Array.from(o)));
      });

      it('an engine gives closed streams\' state memory back: open/close cycles do not grow the heap', async () => {
        const m = await loadModel(model.bytes, { backend: tier });
        const k = m.kernels as WasmKernels;
        const engine = await Engine.create(m, { maxBatch: 8 });
        const input = frames(6, 3);
        const cycle = async (c: number): Promise<void> => {
          const ids = Array.from({ length: 16 }, (_, i) => `c${c}-${i}`);
          for (const id of ids) engine.open(id);
          for (const f of input) for (const id of ids) engine.push(id, f);
          await Promise.all(ids.map((id) => engine.close(id)));
        };
        try {
          await cycle(0);
          const after1 = k.memoryBytes;
          for (let c = 1; c < 6; c++) await cycle(c);
          assert.equal(k.memoryBytes, after1, 'the heap did not grow over five more cycles of 16 streams');
        } finally {
          await engine.dispose();
        }
      });
    });
  }
});
