import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { EdgestreamError } from '../../runtime/errors.js';
import { loadModel } from '../../runtime/model/load_model.js';
import { randomLmuformerModel } from '../../models/lmuformer/random_model.js';
import { availableTiers } from '../../runtime/kernels/registry.js';

const bytes = randomLmuformerModel({ variant: 'lmu_rnn_conv1d', dim: 32, classes: 12, seed: 1 }).bytes;
const frame = new Float32Array(128).fill(0.1);
const isSessionState = (e: unknown) => e instanceof EdgestreamError && e.code === 'E_SESSION_STATE';

describe('lifecycle: Session.close and Model.dispose', () => {
  it('10,000 sessions opened, used and closed: the kernel memory comes back (wasm)', async () => {
    if (!availableTiers().includes('wasm')) return;
    const model = await loadModel(bytes, { backend: 'wasm' });
    const kernels = model.kernels as unknown as { bytesInUse: number };
    for (const headWindow of [0, 128]) { // each kind of session has its program (workspace, head), made once
      const warm = model.createSession({ headWindow });
      warm.push(frame);
      warm.close();
    }
    const before = kernels.bytesInUse;
    for (let i = 0; i < 10_000; i++) {
      const s = model.createSession({ headWindow: i % 2 === 0 ? 0 : 128 });
      s.push(frame);
      s.close();
      s.close(); // twice is harmless
    }
    assert.equal(kernels.bytesInUse, before, 'every closed session gave its state back');
    // Without close, state is held until the session objects are collected: the heap grows.
    const one = model.createSession();
    const perSession = kernels.bytesInUse - before;
    assert.ok(perSession >= 1000, `a session holds its state in kernel memory (${perSession} bytes)`);
    const open = [one, ...Array.from({ length: 199 }, () => model.createSession())];
    assert.equal(kernels.bytesInUse, before + 200 * perSession, 'open sessions hold their state');
    for (const s of open) s.close();
    assert.equal(kernels.bytesInUse, before);
    model.dispose();
  });

  it('a closed session refuses use; a disposed model refuses new sessions, and its sessions stop', async () => {
    for (const backend of ['js', ...availableTiers().filter((t) => t === 'wasm')] as const) {
      const model = await loadModel(bytes, { backend });
      const s = model.createSession();
      s.push(frame);
      s.close();
      assert.ok(s.isClosed);
      assert.throws(() => s.push(frame), isSessionState);
      assert.throws(() => s.snapshot(), isSessionState);
      const live = model.createSession();
      model.dispose();
      model.dispose();
      assert.ok(model.isDisposed);
      assert.throws(() => model.createSession(), isSessionState);
      if (backend === 'wasm') assert.throws(() => { for (let i = 0; i < 10; i++) live.push(frame); }, isSessionState, 'weights are gone');
    }
  });

  it('the onnx backend releases its onnxruntime session on dispose', async () => {
    const model = await loadModel(bytes, { backend: 'onnx' });
    const s = model.createSession();
    for (let i = 0; i < 8; i++) s.push(frame);
    model.dispose();
    assert.throws(() => model.createSession(), isSessionState);
    assert.throws(() => { for (let i = 0; i < 8; i++) s.push(frame); }, 'a released onnxruntime session cannot run');
  });
});
