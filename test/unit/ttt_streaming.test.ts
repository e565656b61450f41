import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { loadReferenceModel } from '../../models/ttt/reference.js';
import { withRuntimeOptions } from '../../models/ttt/runtime_options.js';
import { isEdgestreamError } from '../../runtime/errors.js';
import { loadModel } from '../../runtime/model/load_model.js';
import { frame, maxDiff, run32, run64, tttGolden } from '../helpers/ttt_golden.js';


describe('TTT sessions: snapshot / restore mid-chunk', () => {
  const cases: [string, Record<string, unknown>][] = [
    ['ttt_linear', {}], ['ttt_mlp_mamba', {}], ['lact_layer', {}],
    ['lact_layer_use_muon_ttt_prenorm', { schedule: 'deferred', muon_spread_tokens: 5 }],
    ['lact_op_prenorm_muon_mom', {}],
  ];
  for (const [name, runtime] of cases) {
    it(`${name} ${JSON.stringify(runtime)}: a restored session continues bit-identically (float32 and float64)`, async () => {
      const { g, bytes: raw } = tttGolden(name);
      const bytes = withRuntimeOptions(raw, runtime);
      const model = await loadModel(bytes, { backend: 'js' });
      const ref: Float32Array[] = [];
      const a = model.createSession();
      for (let t = 0; t < g.tokens; t++) ref.push(...a.push(frame(g, t)));
      const refModel = loadReferenceModel(bytes);
      const ref64: Float64Array[] = [];
      const a64 = refModel.createSession();
      for (let t = 0; t < g.tokens; t++) ref64.push(a64.push(frame(g, t)));
      // Cut inside the first mini-batch, inside a later chunk (and inside a spread update), at the end.
      for (const cut of [5, 16 + 2, 32 + 7, g.tokens - 1]) {
        const b = model.createSession();
        const outs: Float32Array[] = [];
        for (let t = 0; t < cut; t++) outs.push(...b.push(frame(g, t)));
        const snap = b.snapshot();
        b.push(frame(g, 0)); // the snapshot must not alias the live state
        const c = model.restoreSession(snap);
        for (let t = cut; t < g.tokens; t++) outs.push(...c.push(frame(g, t)));
        assert.equal(outs.length, ref.length);
        for (let i = 0; i < ref.length; i++) assert.deepEqual(outs[i], ref[i], `cut ${cut}, token ${i}`);

        const b64 = refModel.createSession();
        for (let t = 0; t < cut; t++) b64.push(frame(g, t));
        const c64 = refModel.createSession();
        c64.restore(b64.snapshot());
        for (let t = cut; t < g.tokens; t++) assert.deepEqual(c64.push(frame(g, t)), ref64[t], `float64 cut ${cut}, token ${t}`);
      }
    });
  }

  it('reset() starts the stream over with identical results', async () => {
    const { g, bytes } = tttGolden('ttt_mlp');
    const s = (await loadModel(bytes, { backend: 'js' })).createSession();
    const run = (): Float32Array[] => { const o: Float32Array[] = []; for (let t = 0; t < g.tokens; t++) o.push(...s.push(frame(g, t))); return o; };
    const first = run();
    s.reset();
    assert.deepEqual(run(), first);
  });

  it('a snapshot of one model is refused by another (E_SNAPSHOT)', async () => {
    const a = (await loadModel(tttGolden('ttt_linear').bytes, { backend: 'js' })).createSession();
    const b = await loadModel(tttGolden('ttt_mlp').bytes, { backend: 'js' });
    assert.throws(() => b.restoreSession(a.snapshot()), (e) => isEdgestreamError(e, 'E_SNAPSHOT'));
  });
});

describe('LaCT schedules: incremental vs deferred vs spread', () => {
  for (const name of ['lact_layer', 'lact_layer_use_muon_ttt_prenorm', 'lact_op_postnorm_muon_mom']) {
    it(`${name}: incremental and deferred agree (float64 ≤ 1e-12, float32 ≤ 1e-5)`, async () => {
      const inc64 = run64(name, { schedule: 'incremental' });
      const def64 = run64(name, { schedule: 'deferred' });
      for (let t = 0; t < inc64.length; t++) assert.ok(maxDiff(inc64[t]!, def64[t]!) <= 1e-12, `token ${t}: ${maxDiff(inc64[t]!, def64[t]!)}`);
      const inc32 = await run32(name, { schedule: 'incremental' });
      const def32 = await run32(name, { schedule: 'deferred' });
      for (let t = 0; t < inc32.length; t++) assert.ok(maxDiff(inc32[t]!, def32[t]!) <= 1e-5, `token ${t}`);
    });
  }

  it('spreading the Muon update over S tokens: weights stay exact, only the first S−1 tokens of later chunks see the old weights', () => {
    const name = 'lact_layer_use_muon_ttt_prenorm';
    const S = 4;
    const chunk = 16;
    const exact = run64(name, { schedule: 'deferred' });
    const spread = run64(name, { schedule: 'deferred', muon_spread_tokens: S });
    let stale = 0;
    for (let t = 0; t < exact.length; t++) {
      const pos = t % chunk;
      const d = maxDiff(exact[t]!, spread[t]!);
      if (t >= chunk && pos < S - 1) {
        if (d > 1e-9) stale++;
      } else {
        assert.ok(d <= 1e-12, `token ${t} (position ${pos} in its chunk) should be exact, differs by ${d}`);
      }
    }
    assert.ok(stale > 0, 'the stale tokens should differ from the exact run');
  });

  it('bad runtime options are refused with E_CONFIG', async () => {
    const { bytes } = tttGolden('lact_layer');
    await assert.rejects(loadModel(withRuntimeOptions(bytes, { muon_spread_tokens: 17 }), { backend: 'js' }), (e) => isEdgestreamError(e, 'E_CONFIG'));
    await assert.rejects(loadModel(withRuntimeOptions(bytes, { schedule: 'incremental', muon_spread_tokens: 4 }), { backend: 'js' }), (e) => isEdgestreamError(e, 'E_CONFIG'));
    assert.throws(() => withRuntimeOptions(bytes, { schedule: 'sometimes' as never }), (e) => isEdgestreamError(e, 'E_CONFIG'));
  });

  it('frozen fast weights (fast_weight_updates: false) change the outputs after the first chunk only', () => {
    const name = 'lact_layer';
    const on = run64(name);
    const off = run64(name, { fast_weight_updates: false });
    for (let t = 0; t < 16; t++) assert.ok(maxDiff(on[t]!, off[t]!) <= 1e-15, `token ${t}`);
    assert.ok(maxDiff(on[on.length - 1]!, off[off.length - 1]!) > 1e-6);
  });
});
