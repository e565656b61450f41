import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { KeywordDetector } from '../../runtime/decisions/keyword_detector.js';
import { resolveDecisionOptions } from '../../runtime/decisions/options.js';
import { WindowedScorer } from '../../runtime/decisions/windowed_scorer.js';
import { classifyFrames } from '../../runtime/decisions/clip_classifier.js';
import { sigmoid } from '../../runtime/layers/activations.js';
import { frameOf, goldenInput, goldenModel } from '../helpers/golden_model.js';

const LABELS = ['yes', 'no', '_unknown_'];

function run(detector: KeywordDetector, series: number[][]): { frame: number; label: string }[] {
  const out: { frame: number; label: string }[] = [];
  series.forEach((s, t) => {
    const e = detector.push(t, s, 50);
    if (e) out.push({ frame: e.frame, label: e.label });
  });
  return out;
}

describe('KeywordDetector', () => {
  it('fires once on the rising edge, re-arms only below threshold − hysteresis', () => {
    const d = new KeywordDetector(LABELS, resolveDecisionOptions({ threshold: 0.5, smoothFrames: 1, hysteresis: 0.2, refractoryMs: 0 }));
    const yes = [0.1, 0.6, 0.9, 0.45, 0.55, 0.2, 0.7, 0.1];
    const events = run(d, yes.map((v) => [v, 0, 0]));
    // 0.45 is not low enough to re-arm (0.5 − 0.2 = 0.3), 0.2 is.
    assert.deepEqual(events, [{ frame: 1, label: 'yes' }, { frame: 6, label: 'yes' }]);
  });

  it('the refractory period suppresses any label right after an event', () => {
    const d = new KeywordDetector(LABELS, resolveDecisionOptions({ threshold: 0.5, smoothFrames: 1, hysteresis: 0, refractoryMs: 100 }));
    const series = Array.from({ length: 30 }, (_, t) => (t === 2 ? [0.9, 0, 0] : t === 8 ? [0, 0.9, 0] : t === 20 ? [0, 0.9, 0] : [0, 0, 0]));
    assert.deepEqual(run(d, series), [{ frame: 2, label: 'yes' }, { frame: 20, label: 'no' }]);
  });

  it('smoothing ignores a one-frame blip; per-label thresholds and ignored labels apply', () => {
    const d = new KeywordDetector(LABELS, resolveDecisionOptions({ threshold: 0.5, thresholds: { no: 0.95 }, smoothFrames: 3, refractoryMs: 0 }));
    const series = [[0.9, 0.9, 0.99], [0, 0.9, 0.99], [0, 0.9, 0.99], [0, 0.9, 0.99]];
    assert.deepEqual(run(d, series), []); // 'yes' blip averages to 0.3; 'no' never reaches 0.95; '_unknown_' is ignored
    const e = new KeywordDetector(LABELS, resolveDecisionOptions({ threshold: 0.5, smoothFrames: 3, refractoryMs: 0 }));
    assert.deepEqual(run(e, [[0.9, 0, 0], [0.9, 0, 0], [0.9, 0, 0]]), [{ frame: 1, label: 'yes' }]);
  });

  it('NaN scores count as 0 and the event carries stream times', () => {
    const d = new KeywordDetector(LABELS, resolveDecisionOptions({ smoothFrames: 1, refractoryMs: 0 }), { shift: 10, length: 25 });
    assert.equal(d.push(0, [Number.NaN, 0, 0], 10), null);
    const ev = d.push(100, [0.8, 0, 0], 40)!;
    assert.equal(ev.event_type, 'yes');
    assert.equal(ev.end_ms, 100 * 10 + 25);
    assert.equal(ev.start_ms, 1025 - 40 * 10 - 25);
    assert.equal(ev.threshold, 0.5);
  });
});

describe('WindowedScorer', () => {
  it('with one session its scores are the plain session scores inside the first window', async () => {
    const model = await goldenModel('lmu_rnn_conv1d-d64');
    const input = goldenInput('lmu_rnn_conv1d-d64');
    const scorer = new WindowedScorer(model, { windowFrames: 64, sessions: 1, minFrames: 10 });
    const plain = model.createSession();
    const plainOut: Float32Array[] = [];
    const scored = new Map<number, Float32Array>();
    for (let t = 0; t < 128; t++) {
      plainOut.push(...plain.push(frameOf(input, 0, t)));
      const r = scorer.push(frameOf(input, 0, t));
      if (r) scored.set(r.frame, r.scores);
    }
    // Frames 10 … 58 of the first window (64 − delay 5) come from the un-reset session.
    for (let f = 10; f < 59; f++) {
      const want = plainOut[f]!;
      const got = scored.get(f);
      assert.ok(got, `frame ${f} scored`);
      for (let c = 0; c < 35; c++) assert.ok(Math.abs(got[c]! - sigmoid(want[c]!)) < 1e-6);
    }
    // The reset at frame 64 restarts the mean: the next scored frame is the 10th of the new window.
    const after = [...scored.keys()].filter((f) => f > 58).sort((a, b) => a - b);
    assert.equal(after[0], 64 + 9);
  });

  it('staggered sessions cover every frame after warm-up', async () => {
    const model = await goldenModel('slmu_rnn_ms_conv1d-d64');
    const input = goldenInput('slmu_rnn_ms_conv1d-d64');
    const scorer = new WindowedScorer(model, { windowFrames: 32, sessions: 4, minFrames: 8 });
    const frames: number[] = [];
    for (let rep = 0; rep < 3; rep++) {
      for (let t = 0; t < 128; t++) {
        const r = scorer.push(frameOf(input, rep % 2, t));
        if (r) frames.push(r.frame);
      }
    }
    const first = frames[0]!;
    assert.ok(first <= 8 + 1);
    for (let i = 1; i < frames.length; i++) assert.equal(frames[i], frames[i - 1]! + 1, 'no gaps');
    assert.equal(frames.at(-1), 3 * 128 - 1 - model.delay);
  });
});

describe('classifyFrames', () => {
  it('pads a short clip like the official loader and scores the whole-clip logits', async () => {
    const model = await goldenModel('lmu_rnn_conv1d-d64');
    const input = goldenInput('lmu_rnn_conv1d-d64');
    const frames = Array.from({ length: 128 }, (_, t) => frameOf(input, 1, t));
    const r = classifyFrames(model, frames, { threshold: 0.0 });
    const s = model.createSession();
    let last: Float32Array | null = null;
    for (const f of frames) for (const o of s.push(f)) last = o;
    for (const o of s.flush()) last = o;
    let best = 0;
    for (let c = 1; c < 35; c++) if (last![c]! > last![best]!) best = c;
    assert.equal(r.label, model.labels[best]);
    assert.ok(Math.abs(r.score - sigmoid(last![best]!)) < 1e-4);
    assert.equal(r.detected, true);
    const strict = classifyFrames(model, frames, { threshold: 1 });
    assert.equal(strict.label, '_unknown_');
    assert.equal(strict.detected, false);
  });
});
