import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { firstValueFrom, from, toArray } from 'rxjs';
import { computeFeatures } from '../../runtime/audio/compute_features.js';
import { EngineWindowedScorer } from '../../runtime/decisions/engine_windowed_scorer.js';
import { WindowedScorer, type ScoredFrame } from '../../runtime/decisions/windowed_scorer.js';
import { Engine } from '../../runtime/engine/engine.js';
import { EngineStreamRouter } from '../../runtime/engine/stream_router.js';
import { loadModel } from '../../runtime/model/load_model.js';
import type { Model } from '../../runtime/model/model.js';
import { keywordSpotting } from '../../runtime/operators/keyword_spotting.js';
import type { AudioChunk, KeywordOutput } from '../../runtime/operators/types.js';
import { s16le, testSignal } from '../helpers/audio_signal.js';
import { randomLmuformerModel } from '../../models/lmuformer/random_model.js';

// The engine-backed scorer must score exactly like the in-thread WindowedScorer: same frames,
// same scores (bit for bit), same spans, for one stream or many interleaved, in-thread or on a worker.

function features(model: Model, seconds: number, seed: number): Float32Array[] {
  const m = computeFeatures(testSignal(16000, seconds, seed), model.frontend!, { inputRate: 16000 });
  return Array.from({ length: m.frames }, (_, t) => m.data.slice(t * m.featureSize, (t + 1) * m.featureSize));
}

function reference(model: Model, frames: Float32Array[], o: { windowFrames: number; minFrames: number }): ScoredFrame[] {
  const s = new WindowedScorer(model, o);
  const scored = frames.flatMap((f) => {
    const r = s.push(f);
    return r ? [r] : [];
  });
  return [...scored, ...s.flush()];
}

describe('EngineWindowedScorer', () => {
  let bytes: Uint8Array;
  let model: Model;
  const engines: Engine[] = [];
  before(async () => {
    bytes = randomLmuformerModel({ variant: 'slmu_rnn_ms_conv1d', dim: 32, seed: 12 }).bytes;
    model = await loadModel(bytes, { backend: 'js' });
  });
  after(async () => {
    for (const e of engines) await e.dispose();
  });

  for (const workers of [0, 1]) {
    it(`scores exactly like WindowedScorer, several streams interleaved (workers: ${workers})`, async () => {
      // queueFrames ≥ the frames a scorer keeps in flight: the engine must never drop (maxPending enforces it in use).
      const engine = workers === 0
        ? await Engine.create(model, { maxBatch: 16, queueFrames: 4096, headWindow: 60 })
        : await Engine.create(bytes, { workers, backend: 'js', maxBatch: 16, queueFrames: 4096, headWindow: 60 });
      engines.push(engine);
      const router = new EngineStreamRouter(engine);
      const opts = { windowFrames: 60, minFrames: 20, activation: 'sigmoid' as const };
      const streams = [features(model, 2.5, 1), features(model, 1.6, 2), features(model, 2.1, 3)];
      const got: ScoredFrame[][] = streams.map(() => []);
      const scorers = streams.map((_, i) => new EngineWindowedScorer<number>(router, `s${i}`, { ...opts, delay: model.delay, maxPending: 10_000 }, (r, tag) => {
        const last = streams[i]!.length - 1;
        assert.equal(tag, Math.min(r.frame + model.delay, last), 'the tag of the push that completed the score');
        got[i]!.push({ frame: r.frame, scores: Float32Array.from(r.scores), span: r.span });
      }));
      const longest = Math.max(...streams.map((s) => s.length));
      for (let t = 0; t < longest; t++) {
        streams.forEach((frames, i) => { if (t < frames.length) assert.ok(scorers[i]!.push(frames[t]!, t)); });
        if (t % 25 === 0) await new Promise((r) => setImmediate(r)); // let the engine step meanwhile
      }
      await Promise.all(scorers.map((s) => s.close()));
      streams.forEach((frames, i) => {
        const ref = reference(model, frames, opts);
        assert.ok(ref.length > 50);
        assert.equal(got[i]!.length, ref.length, `stream ${i}`);
        ref.forEach((r, k) => {
          assert.equal(got[i]![k]!.frame, r.frame);
          assert.equal(got[i]![k]!.span, r.span, `stream ${i} frame ${r.frame} span`);
          assert.deepEqual(got[i]![k]!.scores, r.scores, `stream ${i} frame ${r.frame}`);
        });
      });
      router.detach();
    });
  }

  it('refuses frames beyond maxPending (the caller restarts the stream) and recovers after reset', async () => {
    const engine = await Engine.create(model, { headWindow: 60 });
    engines.push(engine);
    const router = new EngineStreamRouter(engine);
    const scored: number[] = [];
    const s = new EngineWindowedScorer<number>(router, 'x', { windowFrames: 60, minFrames: 20, activation: 'sigmoid', delay: model.delay, maxPending: 8 }, (r) => scored.push(r.frame));
    const frames = features(model, 1, 4);
    let refused = 0;
    // Synchronously, so the engine cannot step meanwhile: once 8 frames wait in its queue, the rest are refused.
    for (const f of frames.slice(0, 60)) {
      if (!s.push(f, 0)) refused++;
      assert.ok(s.pending <= 8);
    }
    assert.ok(refused > 0);
    assert.equal(60 - refused, 8 + model.delay, 'the look-ahead frames plus 8 queued');
    s.reset();
    for (const f of frames.slice(0, 30)) {
      s.push(f, 0);
      await new Promise((r) => setImmediate(r));
    }
    await s.close();
    assert.ok(scored.length > 0, 'scores after the reset');
    router.detach();
  });

  it('keywordSpotting on an engine gives the same outputs as in-thread', async () => {
    const engine = await Engine.create(model, { maxBatch: 8, queueFrames: 64, headWindow: model.frontend!.clipFrames });
    engines.push(engine);
    const router = new EngineStreamRouter(engine);
    const bytes16 = s16le(testSignal(16000, 2.5, 9));
    const chunks: AudioChunk[] = [];
    for (let o = 0; o < bytes16.length; o += 640) chunks.push({ device: 'd', kind: 'chunk', data: bytes16.subarray(o, o + 640), format: { encoding: 's16le', rate: 16000, channels: 1 } });
    const decision = { threshold: 0.0, refractoryMs: 300 };
    const key = (o: KeywordOutput): string => (o.type === 'keyword' ? `k:${o.event.label}@${o.event.end_ms}/${o.event.score}` : `s:${o.scores.end_ms}:${o.scores.scores.join(',')}`);
    const plain = await firstValueFrom(from(chunks).pipe(keywordSpotting(model, { decision, emitScores: true }), toArray()));
    // All at once: the frames wait in the operator's backlog, a few at a time go to the engine.
    let overloads = 0;
    const viaEngine = await firstValueFrom(from(chunks).pipe(keywordSpotting(model, { decision, emitScores: true, engine: router, maxBacklog: 1000, onOverload: () => overloads++ }), toArray()));
    assert.equal(overloads, 0);
    assert.equal((await engine.stats()).dropped, 0);
    // With a small backlog the same burst overflows it: dropped, counted, and the stream restarts.
    const dropped: number[] = [];
    const small = await firstValueFrom(from(chunks).pipe(keywordSpotting(model, { decision, emitScores: true, engine: router, maxBacklog: 30, onOverload: (n) => dropped.push(n) }), toArray()));
    assert.ok(dropped.length > 0 && dropped.every((n) => n === 30), JSON.stringify(dropped));
    assert.ok(small.filter((o) => o.type === 'scores').length < plain.filter((o) => o.type === 'scores').length);
    assert.ok(plain.some((o) => o.type === 'keyword'));
    assert.deepEqual(viaEngine.map(key), plain.map(key));
    router.detach();
  });
});
