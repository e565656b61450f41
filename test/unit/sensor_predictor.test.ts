import assert from 'node:assert/strict';
import { join } from 'node:path';
import { describe, it } from 'node:test';
import { createSensorPredictor } from '../../runtime/tasks/sensor_predictor.js';
import { loadModel } from '../../runtime/model/load_model.js';
import { EdgestreamError } from '../../runtime/errors.js';
import { Random } from '../../runtime/util/random.js';
import { ROOT } from '../helpers/paths.js';

const MODEL = join(ROOT, 'examples/sensor-drift/model.safetensors');

describe('SensorPredictor (task API for sensor/TTT streams)', () => {
  it('gives the session\'s outputs, continues bit for bit from a snapshot, and refuses bad samples without harm', async () => {
    const p = await createSensorPredictor(MODEL, { backend: 'js' });
    const model = await loadModel(MODEL, { backend: 'js' });
    const ref = model.createSession();
    const r = new Random(5);
    const samples = Array.from({ length: 200 }, () => Array.from({ length: p.inputDim }, () => r.normal()));
    const got: Float32Array[] = [];
    const want: Float32Array[] = [];
    let snap: Uint8Array | null = null;
    samples.forEach((s, i) => {
      got.push(...p.push(s));
      want.push(...ref.push(s));
      if (i === 120) snap = p.snapshot();
    });
    assert.ok(got.length > 150);
    assert.deepEqual(got, want);
    assert.throws(() => p.push(samples[0]!.map(() => Number.NaN)), (e: unknown) => e instanceof EdgestreamError && e.code === 'E_NONFINITE_INPUT');
    assert.throws(() => p.push(new Array(p.inputDim + 2).fill(1)), (e: unknown) => e instanceof EdgestreamError && e.code === 'E_INPUT_SHAPE');
    const resumed = await createSensorPredictor(model);
    resumed.restore(snap!);
    const tail = samples.slice(121).flatMap((s) => resumed.push(s));
    assert.deepEqual(tail, want.slice(want.length - tail.length));
    p.close();
    resumed.close();
    await assert.rejects(createSensorPredictor(join(ROOT, 'models/lmuformer/demo/kws35.safetensors')), /createKeywordSpotter/);
  });
});
