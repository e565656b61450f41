import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { compareFrames, LMUFORMER_TOL } from '../../models/lmuformer/conformance.js';
import { loadModel } from '../../runtime/model/load_model.js';
import { exportStepModel } from '../../runtime/onnx/exporters.js';
import { decodeOnnx, readStepModel } from '../../runtime/onnx/step_convention.js';
import { streamFrames } from '../../runtime/stream/stream_frames.js';
import { goldenInput, goldenModelBytes } from '../helpers/golden_model.js';

// The golden vectors on the onnx backend are in golden.test.ts (every backend, one suite); this is
// the export itself: a step graph that loads as a user's ONNX model and matches the js tier.
describe('ONNX export round trip', () => {
  for (const set of ['lmu_rnn_conv1d-d64', 'slmu_rnn_ms_conv1d-d64']) {
    it(`${set}: exported .onnx bytes load as a user step model and match the js tier`, async () => {
      const bytes = goldenModelBytes(set);
      const onnxBytes = exportStepModel(bytes);
      const info = readStepModel(decodeOnnx(onnxBytes, 'export'), 'export');
      assert.equal(info.delay, 5);
      assert.equal(info.inputDim, 128);
      assert.equal(info.batchLimit, Infinity);
      assert.equal(info.source?.arch, 'lmuformer');
      const fromOnnx = await loadModel(onnxBytes); // auto: recognised as ONNX
      const js = await loadModel(bytes, { backend: 'js' });
      assert.equal(fromOnnx.backend, 'onnx');
      assert.equal(fromOnnx.variant, js.variant);
      assert.deepEqual(fromOnnx.labels, js.labels);
      assert.deepEqual(fromOnnx.frontend, js.frontend);
      assert.ok(fromOnnx.stateBytes <= 32 * 1024);
      const input = goldenInput(set);
      const [B, T] = input.shape as [number, number];
      const a = streamFrames(fromOnnx, input.data, B, T);
      const b = streamFrames(js, input.data, B, T);
      const cmp = compareFrames(a, b, B * T, js.outputDim, LMUFORMER_TOL);
      assert.ok(cmp.maxAbsError <= 1e-5, `max abs difference onnx vs js ${cmp.maxAbsError}`);
      assert.equal(cmp.argmaxMismatches, 0);
    });
  }
});
