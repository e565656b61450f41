import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, it } from 'node:test';
import { MODEL_PATH, runSensorDrift } from '../../examples/sensor-drift/run.js';
import { withRuntimeOptions } from '../../models/ttt/runtime_options.js';
import { loadModel } from '../../runtime/model/load_model.js';
import { ROOT } from '../helpers/paths.js';
import { tempDir } from '../helpers/tmp.js';

describe('examples/sensor-drift', () => {
  it('runs from the command line, prints the errors and writes the SVG plot', () => {
    const out = tempDir();
    const r = spawnSync(process.execPath, ['--import', 'tsx', 'examples/sensor-drift/run.ts', '--samples', '1200', '--out', out], {
      cwd: ROOT, encoding: 'utf8', env: { ...process.env, EDGESTREAM_LOG: 'silent' },
    });
    assert.equal(r.status, 0, r.stderr);
    assert.match(r.stdout, /one-step MSE\s+TTT learning \d+\.\d+\s+frozen \d+\.\d+/);
    for (const name of ['forecast.svg', 'error.svg']) {
      const svg = readFileSync(join(out, name), 'utf8');
      assert.match(svg, /^<svg /);
      assert.match(svg, /TTT learning/);
      assert.match(svg, /frozen/);
    }
  });

  it('test-time training beats the frozen fast weights on a stream with regime changes', async () => {
    const r = await runSensorDrift({ samples: 2000, seed: 7 });
    assert.ok(r.mseAdaptive < r.mseFrozen, `learning ${r.mseAdaptive} vs frozen ${r.mseFrozen}`);
    assert.ok(r.mseAdaptive < r.msePersistence, `learning ${r.mseAdaptive} vs persistence ${r.msePersistence}`);
  });

  it('the runtime reproduces the training recipe’s own PyTorch predictions (reference.json)', async () => {
    const ref = JSON.parse(readFileSync(join(ROOT, 'examples/sensor-drift/reference.json'), 'utf8')) as { signal: number[]; pred: number[]; frozen: number[] };
    const bytes = readFileSync(MODEL_PATH);
    for (const [which, model] of [['pred', await loadModel(bytes, { backend: 'js' })], ['frozen', await loadModel(withRuntimeOptions(bytes, { fast_weight_updates: false }), { backend: 'js' })]] as const) {
      const s = model.createSession();
      let err = 0;
      for (let t = 0; t < ref[which].length; t++) err = Math.max(err, Math.abs(s.push([ref.signal[t]!])[0]![0]! - ref[which][t]!));
      assert.ok(err <= 1e-4, `${which}: max abs difference ${err}`);
    }
    assert.ok(existsSync(MODEL_PATH));
  });
});
