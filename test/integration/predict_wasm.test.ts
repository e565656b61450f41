import assert from 'node:assert/strict';
import { join } from 'node:path';
import { describe, it } from 'node:test';
import { compareFrames } from '../../models/lmuformer/conformance.js';
import { readFileBytes } from '../../runtime/io/files.js';
import { readNpy } from '../../runtime/io/npy.js';
import { runCli } from '../helpers/cli.js';
import { GOLDEN } from '../helpers/paths.js';
import { tempDir } from '../helpers/tmp.js';

// `edgestream predict --backend wasm` as a user runs it: import an official checkpoint, stream a
// golden input through the WASM kernels, compare with the official all_seq output.
describe('edgestream predict --backend wasm', () => {
  const dir = tempDir();
  for (const set of ['lmu_rnn_conv1d-d64', 'slmu_rnn_ms_conv1d-d64']) {
    it(set, () => {
      const golden = join(GOLDEN, 'lmuformer', set);
      const model = join(dir, `${set}.safetensors`);
      const imp = runCli(['import', join(golden, 'model.pth'), '--arch', set.replace(/-d64$/, ''), '-o', model]);
      assert.equal(imp.status, 0, imp.stderr);
      const out = join(dir, `${set}.npy`);
      const r = runCli(['predict', model, '--features', join(golden, 'input.npy'), '--out', out, '--backend', 'wasm']);
      assert.equal(r.status, 0, r.stderr);
      assert.match(r.stderr, /on wasm/);
      const got = readNpy(readFileBytes(out));
      const want = readNpy(readFileBytes(join(golden, 'all_seq.npy')));
      assert.deepEqual(got.shape, want.shape);
      const [frames, batch, K] = want.shape as [number, number, number];
      const cmp = compareFrames(got.data, want.data, frames * batch, K, 1e-4);
      assert.ok(cmp.maxAbsError <= 1e-4, `max abs error ${cmp.maxAbsError}`);
      assert.equal(cmp.argmaxMismatches, 0);
    });
  }

  it('an unavailable tier is a clear error (exit 2, E_BACKEND), not a crash', () => {
    // Without --experimental-wasm-relaxed-simd, Node 20 does not validate relaxed SIMD; on an
    // engine that does, the command succeeds instead.
    const golden = join(GOLDEN, 'lmuformer', 'lmu_rnn_conv1d-d64');
    const model = join(dir, 'relaxed.safetensors');
    assert.equal(runCli(['import', join(golden, 'model.pth'), '--arch', 'lmu_rnn_conv1d', '-o', model]).status, 0);
    const r = runCli(['predict', model, '--features', join(golden, 'input.npy'), '--out', join(dir, 'relaxed.npy'), '--backend', 'wasm-relaxed']);
    if (r.status === 0) return;
    assert.equal(r.status, 2, r.stderr);
    assert.match(r.stderr, /E_BACKEND: kernel tier "wasm-relaxed" needs relaxed SIMD/);
  });
});
