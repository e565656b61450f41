import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { isEdgestreamError } from '../../runtime/errors.js';
import { frameOf, goldenInput, goldenModel } from '../helpers/golden_model.js';

const SETS = ['lmu_rnn_conv1d-d64', 'slmu_rnn_ms_conv1d-d64'];

describe('Session streaming semantics', () => {
  for (const set of SETS) {
    it(`${set}: the output for frame t is ready after frame t+5; flush returns the last 5`, async () => {
      const model = await goldenModel(set);
      assert.equal(model.delay, 5);
      const input = goldenInput(set);
      const s = model.createSession();
      const T = input.shape[1]!;
      for (let t = 0; t < T; t++) {
        const outs = s.push(frameOf(input, 0, t));
        assert.equal(outs.length, t < 5 ? 0 : 1, `frame ${t}`);
      }
      const rest = s.flush();
      assert.equal(rest.length, 5);
      assert.equal(s.framesOut, T);
      assert.throws(() => s.push(frameOf(input, 0, 0)), (e) => isEdgestreamError(e, 'E_SESSION_STATE'));
      assert.throws(() => s.flush(), (e) => isEdgestreamError(e, 'E_SESSION_STATE'));
    });

    it(`${set}: streams shorter than the delay still produce one output per frame`, async () => {
      const model = await goldenModel(set);
      const input = goldenInput(set);
      for (const T of [1, 2, 3, 6]) {
        const s = model.createSession();
        let n = 0;
        for (let t = 0; t < T; t++) n += s.push(frameOf(input, 0, t)).length;
        n += s.flush().length;
        assert.equal(n, T, `${T} frames`);
      }
    });

    it(`${set}: snapshot mid-stream, restore into a new session, continue bit-identically`, async () => {
      const model = await goldenModel(set);
      const input = goldenInput(set);
      const T = input.shape[1]!;
      const a = model.createSession();
      const ref: Float32Array[] = [];
      for (let t = 0; t < T; t++) ref.push(...a.push(frameOf(input, 1, t)));
      ref.push(...a.flush());

      for (const cut of [0, 3, 5, 57, T - 1]) {
        const b = model.createSession();
        const outs: Float32Array[] = [];
        for (let t = 0; t < cut; t++) outs.push(...b.push(frameOf(input, 1, t)));
        const snap = b.snapshot();
        // Disturb the original session afterwards: the snapshot must be an independent copy.
        b.push(frameOf(input, 0, 0));
        const c = model.restoreSession(snap);
        assert.equal(c.framesIn, cut);
        for (let t = cut; t < T; t++) outs.push(...c.push(frameOf(input, 1, t)));
        outs.push(...c.flush());
        assert.equal(outs.length, ref.length);
        for (let i = 0; i < ref.length; i++) assert.deepEqual(outs[i], ref[i], `cut ${cut}, output ${i}`);
      }
    });

    it(`${set}: reset() starts an independent stream with identical results`, async () => {
      const model = await goldenModel(set);
      const input = goldenInput(set);
      const s = model.createSession();
      const run = (): Float32Array[] => {
        const outs: Float32Array[] = [];
        for (let t = 0; t < 20; t++) outs.push(...s.push(frameOf(input, 0, t)));
        outs.push(...s.flush());
        return outs;
      };
      const first = run();
      s.reset();
      assert.deepEqual(run(), first);
    });
  }

  it('interleaved sessions of one model do not share state', async () => {
    const model = await goldenModel('slmu_rnn_ms_conv1d-d64');
    const input = goldenInput('slmu_rnn_ms_conv1d-d64');
    const solo = model.createSession();
    const soloOut: Float32Array[] = [];
    for (let t = 0; t < 30; t++) soloOut.push(...solo.push(frameOf(input, 0, t)));
    const a = model.createSession();
    const b = model.createSession();
    const aOut: Float32Array[] = [];
    for (let t = 0; t < 30; t++) {
      aOut.push(...a.push(frameOf(input, 0, t)));
      b.push(frameOf(input, 1, t));
    }
    assert.deepEqual(aOut, soloOut);
  });
});
