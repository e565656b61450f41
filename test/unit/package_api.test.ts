import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { goldenModelBytes } from '../helpers/golden_model.js';

// The package root as an installed user sees it: the built dist/ entry named in package.json.
describe('package root export (built)', () => {
  it('loads a model and streams through the public API only', async () => {
    // The package's own name resolves through package.json `exports` to the built entry.
    const api: Record<string, any> = await import('edgestream');
    for (const name of ['loadModel', 'Session', 'EdgestreamError', 'streamFrames', 'importLmuformerCheckpoint', 'readNpy']) {
      assert.ok(name in api, `missing export ${name}`);
    }
    const model = await api.loadModel(goldenModelBytes('lmu_rnn_conv1d-d64'), { backend: 'js' });
    assert.equal(model.labels.length, 35);
    const s = model.createSession();
    let n = 0;
    for (let t = 0; t < 8; t++) n += s.push(new Float32Array(128)).length;
    n += s.flush().length;
    assert.equal(n, 8);
    await assert.rejects(api.loadModel(new Uint8Array(3)), (e: unknown) => e instanceof api.EdgestreamError && (e as { code: string }).code === 'E_MODEL_FORMAT');
  });
});
