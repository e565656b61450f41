import assert from 'node:assert/strict';
import { readdirSync } from 'node:fs';
import { join } from 'node:path';
import { describe, it } from 'node:test';
import { compareFrames, lmuformerGoldenRunner } from '../../models/lmuformer/conformance.js';
import { streamFrames } from '../../runtime/stream/stream_frames.js';
import { goldenInput, goldenModel } from '../helpers/golden_model.js';
import { wasmTiers } from '../helpers/kernel_tiers.js';
import { GOLDEN } from '../helpers/paths.js';

// The official golden vectors on the WASM tiers, through the public API frame by frame: the same
// pass criteria as the JS reference tier (lmuformer_golden.test.ts).
const root = join(GOLDEN, 'lmuformer');
const sets = readdirSync(root).filter((d) => lmuformerGoldenRunner.matches(join(root, d))).sort();

describe('LMUFormer golden vectors on the WASM tiers', async () => {
  for (const { tier, skip } of await wasmTiers()) {
    describe(tier, { skip }, () => {
      it('finds the golden sets', () => assert.ok(sets.length >= 4));
      for (const set of sets) {
        it(set, async () => {
          const r = await lmuformerGoldenRunner.run(join(root, set), { backend: tier as 'wasm' | 'wasm-relaxed' });
          assert.ok(r.pass, `${set}: ${r.kind} max abs error ${r.maxAbsError} (tol ${r.tol}); ${r.note}`);
          assert.ok(r.note.includes(`on ${tier}`), r.note);
        });
      }
      // int8 weights: the WASM int8 kernels compute the JS tier's int8 math (same quantised
      // weights and scales, same int16 activation rounding; kernel by kernel they agree to float
      // rounding, see wasm_kernels.test.ts). Through a whole model, float rounding upstream can
      // move an activation across an int16 rounding boundary, so the two int8 models differ by a
      // few such steps: far less than int8 differs from float32.
      it('int8 weights: the JS tier\'s int8 reference, through a whole model (lmu_rnn_conv1d-d64)', async () => {
        const set = 'lmu_rnn_conv1d-d64';
        const input = goldenInput(set);
        const [batch, frames] = input.shape as [number, number];
        const n = batch * frames;
        const ref = streamFrames(await goldenModel(set, { backend: 'js', int8: true }), input.data, batch, frames);
        const got = streamFrames(await goldenModel(set, { backend: tier as 'wasm', int8: true }), input.data, batch, frames);
        const f32 = streamFrames(await goldenModel(set, { backend: 'js' }), input.data, batch, frames);
        const quantisation = compareFrames(ref, f32, n, 35, 0).maxAbsError;
        const implementations = compareFrames(got, ref, n, 35, 0);
        assert.ok(quantisation > 1e-3, `int8 really quantises (differs from float32 by ${quantisation})`);
        assert.ok(implementations.maxAbsError <= quantisation / 20, `wasm int8 vs js int8: ${implementations.maxAbsError}; int8 vs float32: ${quantisation}`);
        assert.equal(implementations.argmaxMismatches, 0);
      });
    });
  }
});
