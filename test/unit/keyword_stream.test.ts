import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { from, lastValueFrom, toArray } from 'rxjs';
import { createKeywordSpotter, KeywordSpotter } from '../../runtime/tasks/keyword_spotter.js';
import { KeywordStream } from '../../runtime/decisions/keyword_stream.js';
import type { KeywordEvent } from '../../runtime/decisions/keyword_detector.js';
import { evaluateStream, parseStreamTruth } from '../../runtime/decisions/stream_evaluation.js';
import { computeFeatures } from '../../runtime/audio/compute_features.js';
import { readWavSamples } from '../../runtime/audio/wav_samples.js';
import { loadModel } from '../../runtime/model/load_model.js';
import { keywordSpotting } from '../../runtime/operators/keyword_spotting.js';
import type { AudioChunk } from '../../runtime/operators/types.js';
import { EdgestreamError } from '../../runtime/errors.js';
import { goldenModelBytes } from '../helpers/golden_model.js';
import { ROOT } from '../helpers/paths.js';
import { join } from 'node:path';

const PHRASE = join(ROOT, 'test/fixtures/kws-phrases/phrase-left.wav');
const model = await loadModel(goldenModelBytes('lmu_rnn_conv1d-d64'), { backend: 'js' });
const audio = readWavSamples(PHRASE);
// A random-weight model at threshold 0 fires as often as the refractory period allows: events to compare.
const DECISION = { threshold: 0, refractoryMs: 700 };

function featuresOf(samples: Float32Array): Float32Array[] {
  const f = computeFeatures(samples, model.frontend!, { normalize: true, inputRate: audio.rate });
  return Array.from({ length: f.frames }, (_, t) => f.data.subarray(t * f.featureSize, (t + 1) * f.featureSize));
}
const key = (e: KeywordEvent) => `${e.label}@${e.start_ms}-${e.end_ms}:${e.score}`;

describe('KeywordSpotter: audio in, events out', () => {
  it('gives what the keywordSpotting operator (listen, the service) gives, for any chunking, warm-up included', async () => {
    const chunks: AudioChunk[] = [];
    for (let i = 0; i < audio.samples.length; i += 320) {
      chunks.push({ device: 'd', kind: 'chunk', data: audio.samples.slice(i, i + 320), format: { encoding: 'f32le', rate: audio.rate, channels: 1 } });
    }
    const out = await lastValueFrom(from(chunks).pipe(keywordSpotting(model, { decision: DECISION }), toArray()));
    const viaOperator = out.filter((o) => o.type === 'keyword').map((o) => (o.type === 'keyword' ? key(o.event) : ''));
    assert.ok(viaOperator.length >= 2, `events: ${viaOperator.length}`);
    for (const step of [1, 777, 16000]) {
      const spotter = await createKeywordSpotter(model, { ...DECISION, inputRate: audio.rate });
      const got: KeywordEvent[] = [];
      for (let i = 0; i < audio.samples.length; i += step) got.push(...spotter.push(audio.samples.subarray(i, i + step)));
      got.push(...spotter.flush());
      spotter.close();
      assert.deepEqual(got.map(key), viaOperator, `chunks of ${step}`);
      assert.ok(got.every((e) => e.end_ms >= 1000), 'the first second is held back (warmupMs 1000)');
    }
  });

  it('warmupMs 0 keeps the first second; reset starts the stream over; a closed spotter refuses audio', async () => {
    const spotter = new KeywordSpotter(model, { ...DECISION, warmupMs: 0 });
    const first = [...spotter.push(audio.samples), ...spotter.flush()];
    assert.ok(first.some((e) => e.end_ms < 1000));
    spotter.reset();
    const again = [...spotter.push(audio.samples), ...spotter.flush()];
    assert.deepEqual(again.map(key), first.map(key));
    spotter.close();
    assert.throws(() => spotter.push(audio.samples), (e: unknown) => e instanceof EdgestreamError && e.code === 'E_SESSION_STATE');
  });

  it('createKeywordSpotter takes a shipped model by name and says which exist otherwise', async () => {
    await assert.rejects(createKeywordSpotter('no-such-model'), /E_IO|shipped models: .*kws/);
  });
});

describe('KeywordStream restart', () => {
  it('after restart the detector and the model start fresh, with a new warm-up; frame numbers go on', () => {
    const frames = featuresOf(audio.samples);
    const events: KeywordEvent[] = [];
    const s = new KeywordStream<null>(model, { decision: DECISION, warmupMs: 500 }, { event: (e) => events.push(e) });
    const half = 150;
    frames.slice(0, half).forEach((f) => s.push(f, null));
    s.restart();
    frames.slice(half).forEach((f) => s.push(f, null));
    void s.end();
    // The same as a fresh stream over the second part, shifted by `half` frames.
    const alone: KeywordEvent[] = [];
    const t = new KeywordStream<null>(model, { decision: DECISION, warmupMs: 500 }, { event: (e) => alone.push(e) });
    frames.slice(half).forEach((f) => t.push(f, null));
    void t.end();
    const after = events.filter((e) => e.frame >= half);
    assert.ok(after.length >= 1);
    assert.deepEqual(after.map((e) => [e.label, e.frame - half, e.score]), alone.map((e) => [e.label, e.frame, e.score]));
    assert.ok(after.every((e) => e.end_ms >= half * 10 + 500), 'a new warm-up after the restart');
  });
});

describe('stream evaluation', () => {
  /** The events `listen` publishes for these frames (its KeywordStream), to judge the evaluation by. */
  function liveEvents(frames: Float32Array[], options: { decision: typeof DECISION & { thresholds?: Record<string, number> }; warmupMs?: number }): KeywordEvent[] {
    const out: KeywordEvent[] = [];
    const s = new KeywordStream<null>(model, options, { event: (e) => out.push(e) });
    frames.forEach((f) => s.push(f, null));
    void s.end();
    return out;
  }

  it('counts hits, wrong labels, repeats and false alarms against a truth file, and sweeps thresholds', () => {
    const frames = featuresOf(audio.samples);
    const probe = liveEvents(frames, { decision: DECISION });
    assert.ok(probe.length >= 3, `events: ${probe.length}`);
    // Truth: the first event's label was said just before it (a hit); another label was said
    // before the second (a wrong label); nothing near the others (false alarms); and one command
    // said where nothing fired (a miss).
    const other = model.labels.find((l) => l !== probe[1]!.label)!;
    const truth = parseStreamTruth({
      seconds: audio.samples.length / audio.rate,
      events: [
        { label: probe[0]!.label, start_ms: probe[0]!.end_ms - 400, end_ms: probe[0]!.end_ms - 100 },
        { label: other, start_ms: probe[1]!.end_ms - 300, end_ms: probe[1]!.end_ms - 50 },
        { label: 'not-a-label', start_ms: 0, end_ms: 100 },
      ],
    }, 'truth');
    const r = evaluateStream(model, frames, truth, { decision: DECISION, toleranceMs: 200 }); // events are ≥ 700 ms apart
    assert.equal(r.commands, 2, 'words the model has no label for are context, not commands');
    assert.equal(r.found, 1);
    assert.equal(r.wrongLabel, 1);
    assert.equal(r.falseAlarms, probe.length - 1);
    assert.equal(r.events.length, probe.length);
    assert.deepEqual(r.missed.map((m) => m.label), [other]);
    const zero = r.det.find((p) => p.threshold === 0)!;
    assert.equal(zero.falseAccepts, r.falseAlarms);
    assert.ok(r.det.at(-1)!.falseAccepts <= zero.falseAccepts);
    assert.throws(() => parseStreamTruth({ seconds: 3, events: [{ label: 'x', start_ms: 5, end_ms: 1 }] }, 't.json'), /E_TRUTH_FORMAT|end_ms before start_ms/);
    assert.throws(() => parseStreamTruth({ events: [] }, 't.json'), (e: unknown) => e instanceof EdgestreamError && e.code === 'E_TRUTH_FORMAT');
  });

  it('judges the events listen would publish at the given settings, per-label thresholds included', () => {
    const frames = featuresOf(audio.samples);
    const muted = liveEvents(frames, { decision: DECISION, warmupMs: 0 })[0]!.label;
    const decision = { ...DECISION, thresholds: { [muted]: 0.999 } };
    const truth = parseStreamTruth({ seconds: audio.samples.length / audio.rate, events: [] }, 'truth');
    const r = evaluateStream(model, frames, truth, { decision, warmupMs: 0 });
    assert.ok(!r.events.some((e) => e.label === muted), `the ${muted} threshold of 0.999 mutes it (random weights never score that high)`);
    assert.deepEqual(r.events.map(key), liveEvents(frames, { decision, warmupMs: 0 }).map(key));
  });
});
