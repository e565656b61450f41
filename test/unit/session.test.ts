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

  it('a NaN or Inf frame is rejected and leaves the stream intact', async () => {
    const model = await goldenModel('slmu_rnn_ms_conv1d-d64');
    const input = goldenInput('slmu_rnn_ms_conv1d-d64');
    const clean = model.createSession();
    const dirty = model.createSession();
    const a: Float32Array[] = [];
    const b: Float32Array[] = [];
    for (let t = 0; t < 40; t++) {
      a.push(...clean.push(frameOf(input, 0, t)));
      if (t === 17 || t === 18) {
        const bad = frameOf(input, 0, t);
        bad[t] = t === 17 ? Number.NaN : Number.POSITIVE_INFINITY;
        assert.throws(() => dirty.push(bad), (e) => isEdgestreamError(e, 'E_NONFINITE_INPUT'));
      }
      b.push(...dirty.push(frameOf(input, 0, t)));
    }
    assert.deepEqual(b, a);
    assert.throws(() => dirty.push(new Float32Array(127)), (e) => isEdgestreamError(e, 'E_INPUT_SHAPE'));
  });

  it('a snapshot from another model, a damaged or truncated snapshot are refused', async () => {
    const m1 = await goldenModel('slmu_rnn_ms_conv1d-d64');
    const m2 = await goldenModel('lmu_rnn_conv1d-d64');
    const input = goldenInput('slmu_rnn_ms_conv1d-d64');
    const s = m1.createSession();
    for (let t = 0; t < 9; t++) s.push(frameOf(input, 0, t));
    const snap = s.snapshot();
    assert.throws(() => m2.restoreSession(snap), (e) => isEdgestreamError(e, 'E_SNAPSHOT'));
    const flipped = snap.slice();
    flipped[100] = flipped[100]! ^ 1;
    assert.throws(() => m1.restoreSession(flipped), (e) => isEdgestreamError(e, 'E_SNAPSHOT') && /checksum/.test((e as Error).message));
    assert.throws(() => m1.restoreSession(snap.subarray(0, snap.length - 3)), (e) => isEdgestreamError(e, 'E_SNAPSHOT'));
    assert.throws(() => m1.restoreSession(new Uint8Array(10)), (e) => isEdgestreamError(e, 'E_SNAPSHOT'));
    // The refused restores did not disturb the original.
    assert.equal(s.push(frameOf(input, 0, 9)).length, 1);
  });

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
