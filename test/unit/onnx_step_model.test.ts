import assert from 'node:assert/strict';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, it } from 'node:test';
import { Engine } from '../../runtime/engine/engine.js';
import { isEdgestreamError } from '../../runtime/errors.js';
import { loadModel } from '../../runtime/model/load_model.js';
import { exportStepModel } from '../../runtime/onnx/exporters.js';
import { goldenModelBytes } from '../helpers/golden_model.js';
import { lookaheadSumStepModel, plainOnnxModel } from '../helpers/step_models.js';
import { tempDir } from '../helpers/tmp.js';

const D = 3;
const frames = Array.from({ length: 6 }, (_, t) => Float32Array.from({ length: D }, (_, i) => t * 10 + i));
/** y[t] = x[t] + x[t+1], x[T] = 0. */
const expected = frames.map((x, t) => Float32Array.from(x, (v, i) => v + (frames[t + 1]?.[i] ?? 0)));

describe("a user's ONNX step model (step convention)", () => {
  for (const batch of ['N', 1] as const) {
    it(`runs through Session with look-ahead and end steps (batch dimension ${batch})`, async () => {
      const model = await loadModel(lookaheadSumStepModel(D, batch));
      assert.equal(model.backend, 'onnx');
      assert.equal(model.arch, 'onnx-step');
      assert.equal(model.delay, 1);
      assert.equal(model.inputDim, D);
      assert.equal(model.stateBytes, (D + 1) * 4);
      const s = model.createSession();
      const outs: Float32Array[] = [];
      for (const [t, f] of frames.entries()) {
        const o = s.push(f);
        assert.equal(o.length, t === 0 ? 0 : 1);
        outs.push(...o);
      }
      outs.push(...s.flush());
      assert.deepEqual(outs, expected);
    });
  }

  it('batches in an engine (fixed batch 1 is stepped row by row)', async () => {
    const model = await loadModel(lookaheadSumStepModel(D, 1));
    const engine = await Engine.create(model, { maxBatch: 4 });
    const got = new Map<string, Float32Array[]>();
    engine.onOutput((o) => { got.set(o.stream, [...(got.get(o.stream) ?? []), o.values]); });
    for (const id of ['a', 'b', 'c']) engine.open(id);
    for (const f of frames) for (const id of ['a', 'b', 'c']) engine.push(id, f);
    for (const id of ['a', 'b', 'c']) await engine.close(id);
    for (const id of ['a', 'b', 'c']) assert.deepEqual(got.get(id), expected);
    assert.ok((await engine.stats()).meanBatch > 1);
    await engine.dispose();
  });

  it('loads from a .onnx path, with labels from its metadata', async () => {
    const dir = tempDir();
    const p = join(dir, 'user.onnx');
    writeFileSync(p, lookaheadSumStepModel(D, 'N', { 'edgestream.delay': '1', 'edgestream.labels': '["a","b","c"]' }));
    const model = await loadModel(p);
    assert.deepEqual(model.labels, ['a', 'b', 'c']);
    await assert.rejects(loadModel(p, { backend: 'js' }), (e) => isEdgestreamError(e, 'E_BACKEND') && /onnx backend/.test(e.message));
  });
});

describe('bad ONNX input', () => {
  const rejects = (bytes: Uint8Array, pattern: RegExp, what = 'model.onnx') =>
    assert.rejects(loadModel(bytes, { backend: 'onnx' }), (e) => isEdgestreamError(e, 'E_ONNX_MODEL') && pattern.test(e.message), what);

  it('corrupted and truncated files', async () => {
    const good = exportStepModel(goldenModelBytes('lmu_rnn_conv1d-d64'));
    await rejects(good.subarray(0, good.length >> 1), /corrupted or truncated/);
    const flipped = Uint8Array.from(good);
    for (let i = 100; i < 400; i += 7) flipped[i] = 0xff;
    await rejects(flipped, /ONNX|onnxruntime/);
    await rejects(new Uint8Array([0x08, 0x07]), /no graph|protobuf/);
    const dir = tempDir();
    const p = join(dir, 'random.onnx');
    writeFileSync(p, Uint8Array.from({ length: 64 }, (_, i) => (i * 37 + 11) & 0xff));
    await assert.rejects(loadModel(p), (e) => isEdgestreamError(e, 'E_ONNX_MODEL'));
  });

  it('a model without the state convention names what is missing', async () => {
    await rejects(plainOnnxModel(), /step convention.*unexpected input "x"/);
  });

  it('inconsistent shapes and metadata', async () => {
    await rejects(lookaheadSumStepModel(D, 2), /batch dimension must be symbolic or 1/);
    await rejects(lookaheadSumStepModel(D, 'N', { 'edgestream.delay': '-1' }), /edgestream.delay/);
    await rejects(lookaheadSumStepModel(D, 'N', { 'edgestream.labels': '["only one"]' }), /labels/);
    await rejects(lookaheadSumStepModel(D, 'N', { 'edgestream.frontend': '{"kind":"nope"}' }), /edgestream.frontend/);
    await rejects(lookaheadSumStepModel(D, 'N', { 'edgestream.step_convention': '99' }), /newer/);
  });
});
